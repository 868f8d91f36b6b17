"""lb-sync against the sandbox, over HTTP, as a user runs it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.lbsync import LbSync, handler
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances, running_tasks, task_definition

ELB_WRITES = {
    "RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer", "ConfigureHealthCheck",
    "DeleteLoadBalancerListeners", "CreateLoadBalancerListeners", "SetLoadBalancerPoliciesOfListener",
    "SetLoadBalancerPoliciesForBackendServer",
}
WEB = ServiceEntry(serviceName="web", family="web", exposedContainerName="web", loadBalancerName="web-lb")


def elb_writes(sb: Sandbox) -> list[str]:
    return [op for service, op in sb.call_sequence("elb") if op in ELB_WRITES]


def make_lb(sb: Sandbox, name: str = "web-lb") -> None:
    elb = sb.client("elb")
    elb.create_load_balancer(
        LoadBalancerName=name, AvailabilityZones=[f"{sb.region}a"],
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}])
    elb.create_lb_cookie_stickiness_policy(LoadBalancerName=name, PolicyName="sticky", CookieExpirationPeriod=60)
    elb.set_load_balancer_policies_of_listener(LoadBalancerName=name, LoadBalancerPort=80, PolicyNames=["sticky"])
    elb.configure_health_check(LoadBalancerName=name, HealthCheck={
        "Target": "HTTP:8080/healthz", "Interval": 7, "Timeout": 3, "UnhealthyThreshold": 4, "HealthyThreshold": 2})


def describe_lb(sb: Sandbox, name: str = "web-lb") -> dict[str, Any]:
    doc: dict[str, Any] = sb.client("elb").describe_load_balancers(LoadBalancerNames=[name])[
        "LoadBalancerDescriptions"][0]
    return doc


def web_world(sb: Sandbox, hosts: int = 2, desired: int = 1, **container: Any) -> list[str]:
    ec2_ids = cluster_with_instances(sb, count=hosts)
    make_lb(sb)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web", ports=[(80, 0)], **container))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=desired,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(2)
    return ec2_ids


def host_of(sb: Sandbox, task: dict[str, Any]) -> str:
    ci = sb.client("ecs").describe_container_instances(
        cluster="test", containerInstances=[task["containerInstanceArn"]])["containerInstances"][0]
    return str(ci["ec2InstanceId"])


def controller(clients: Clients, host: str | None = None) -> LbSync:
    return LbSync(clients, "test", lambda: [WEB], host)


def test_started_service_registers_host_and_moves_ports(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    (task,) = running_tasks(sb, "test")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]
    sb.reset_calls()

    report = safe_pass(controller(clients), dry_run=False)

    assert report.ok, report.summary()
    # One snapshot plus one DescribeLoadBalancers per pass.
    assert sb.count("elb", "DescribeLoadBalancers") == 1
    assert sb.count("ecs", "DescribeTasks") == 1
    lb = describe_lb(sb)
    assert [i["InstanceId"] for i in lb["Instances"]] == [host_of(sb, task)]
    listener = lb["ListenerDescriptions"][0]
    assert listener["Listener"]["InstancePort"] == port and listener["Listener"]["LoadBalancerPort"] == 80
    assert listener["PolicyNames"] == ["sticky"]
    assert lb["HealthCheck"] == {"Target": f"HTTP:{port}/healthz", "Interval": 7, "Timeout": 3,
                                 "UnhealthyThreshold": 4, "HealthyThreshold": 2}
    assert elb_writes(sb) == ["RegisterInstancesWithLoadBalancer", "ConfigureHealthCheck",
                              "DeleteLoadBalancerListeners", "CreateLoadBalancerListeners",
                              "SetLoadBalancerPoliciesOfListener"]

    sb.reset_calls()
    assert safe_pass(controller(clients), dry_run=False).outcomes == ()
    assert elb_writes(sb) == []


def test_rolling_deploy_moves_traffic_only_once_the_new_task_is_healthy(sb: Sandbox, clients: Clients) -> None:
    check = {"command": ["CMD", "true"], "interval": 10, "timeout": 2, "retries": 3}
    web_world(sb, hosts=1, healthCheck=check)
    sb.advance(10)  # HEALTHY
    assert safe_pass(controller(clients), dry_run=False).ok
    old_port = describe_lb(sb)["ListenerDescriptions"][0]["Listener"]["InstancePort"]
    ecs = sb.client("ecs")
    v2 = ecs.register_task_definition(**task_definition("web", ports=[(80, 0)], env={"V": "2"}, healthCheck=check))
    ecs.update_service(cluster="test", service="web", taskDefinition=v2["taskDefinition"]["taskDefinitionArn"])
    sb.reset_calls()

    sb.advance(2)  # the new task runs, but is not healthy yet: the old one keeps the traffic
    assert safe_pass(controller(clients), dry_run=False).outcomes == ()
    assert describe_lb(sb)["ListenerDescriptions"][0]["Listener"]["InstancePort"] == old_port

    sb.advance(10)  # healthy: the scheduler stops the old task, and lb-sync moves traffic at once
    report = safe_pass(controller(clients), dry_run=False)
    assert report.ok
    new_port = describe_lb(sb)["ListenerDescriptions"][0]["Listener"]["InstancePort"]
    assert new_port != old_port
    assert {t["containers"][0]["networkBindings"][0]["hostPort"] for t in running_tasks(sb, "test")} == {new_port}
    assert elb_writes(sb) == ["ConfigureHealthCheck", "DeleteLoadBalancerListeners", "CreateLoadBalancerListeners",
                              "SetLoadBalancerPoliciesOfListener"]
    assert describe_lb(sb)["HealthCheck"]["Target"] == f"HTTP:{new_port}/healthz"


def test_stopped_task_deregisters_its_host_while_it_still_runs(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    assert safe_pass(controller(clients), dry_run=False).ok
    (task,) = running_tasks(sb, "test")
    sb.client("ecs").update_service(cluster="test", service="web", desiredCount=0)
    described = sb.client("ecs").describe_tasks(cluster="test", tasks=[task["taskArn"]])["tasks"][0]
    assert described["lastStatus"] == "RUNNING"  # still serving its last requests
    sb.reset_calls()
    assert safe_pass(controller(clients), dry_run=False).ok
    assert describe_lb(sb)["Instances"] == []
    assert elb_writes(sb) == ["DeregisterInstancesFromLoadBalancer"]


def test_draining_host_is_deregistered_before_its_task_stops(sb: Sandbox, clients: Clients) -> None:
    web_world(sb, hosts=2, desired=2)
    assert safe_pass(controller(clients), dry_run=False).ok
    registered = {i["InstanceId"] for i in describe_lb(sb)["Instances"]}
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster="test")["containerInstanceArns"]
    draining = ecs.describe_container_instances(cluster="test", containerInstances=[arns[0]])["containerInstances"][0]
    ecs.update_container_instances_state(cluster="test", containerInstances=[arns[0]], status="DRAINING")
    assert safe_pass(controller(clients), dry_run=False).ok
    after = {i["InstanceId"] for i in describe_lb(sb)["Instances"]}
    assert after == registered - {draining["ec2InstanceId"]}
    on_draining = [t for t in running_tasks(sb, "test") if t["containerInstanceArn"] == arns[0]]
    assert on_draining and on_draining[0]["lastStatus"] == "RUNNING"


def test_per_host_mode_leaves_other_hosts_alone(sb: Sandbox, clients: Clients) -> None:
    ec2_ids = web_world(sb, hosts=2, desired=2)
    sb.client("elb").register_instances_with_load_balancer(
        LoadBalancerName="web-lb", Instances=[{"InstanceId": i} for i in ec2_ids])
    tasks = running_tasks(sb, "test")
    mine = host_of(sb, tasks[0])
    other = next(i for i in ec2_ids if i != mine)
    sb.client("ecs").stop_task(cluster="test", task=tasks[0]["taskArn"])  # the scheduler replaces it later
    sb.reset_calls()
    assert safe_pass(controller(clients, host=mine), dry_run=False).ok
    assert {i["InstanceId"] for i in describe_lb(sb)["Instances"]} == {other}
    # A per-host read costs two list calls and two describes, whatever the cluster's size.
    assert sb.count("ecs", "ListContainerInstances") == 1 and sb.count("ecs", "ListTasks") == 1


def test_dry_run_changes_nothing(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    sb.reset_calls()
    report = safe_pass(controller(clients), dry_run=True)
    assert len(report.planned) == 3 and report.outcomes == ()
    assert elb_writes(sb) == []
    assert describe_lb(sb)["Instances"] == []


def test_missing_load_balancer_is_named_and_others_still_reconcile(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    ghost = ServiceEntry(family="web", exposedContainerName="web", loadBalancerName="ghost-lb")
    report = safe_pass(LbSync(clients, "test", lambda: [ghost, WEB]), dry_run=False)
    assert not report.ok
    assert report.errors == ("load balancer 'ghost-lb' does not exist",)
    assert len(describe_lb(sb)["Instances"]) == 1


def test_a_failing_load_balancer_does_not_stop_the_others(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    make_lb(sb, "api-lb")
    api = ServiceEntry(family="web", exposedContainerName="web", loadBalancerName="api-lb")
    sb.fail("elb", "RegisterInstancesWithLoadBalancer", times=5)  # beyond the retries: the first LB's fails
    report = safe_pass(LbSync(clients, "test", lambda: [api, WEB]), dry_run=False)
    assert not report.ok
    failed = [o for o in report.outcomes if not o.ok]
    assert [o.target for o in failed] == ["api-lb"]
    assert all(o.skipped for o in report.outcomes if o.target == "api-lb" and o.ok)
    assert describe_lb(sb, "web-lb")["Instances"] != []
    # The next pass, with the fault gone, converges.
    assert safe_pass(LbSync(clients, "test", lambda: [api, WEB]), dry_run=False).ok
    assert describe_lb(sb, "api-lb")["Instances"] != []


def test_throttling_is_retried(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    sb.throttle("elb", "DescribeLoadBalancers", times=2)
    sb.throttle("elb", "CreateLoadBalancerListeners", times=2)
    assert safe_pass(controller(clients), dry_run=False).ok
    assert describe_lb(sb)["Instances"] != []


@pytest.fixture
def metadata_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A local IMDSv2: a PUT for the token, then GETs that must carry it."""
    answers: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            self._reply(200, "token-1")

        def do_GET(self) -> None:
            if self.headers.get("X-aws-ec2-metadata-token") != "token-1":
                self._reply(401, "")
                return
            key = self.path.removeprefix("/latest/meta-data/")
            self._reply(200 if key in answers else 404, answers.get(key, ""))

        def _reply(self, status: int, body: str) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    yield answers
    server.shutdown()


def test_statika_files_from_s3_and_env_run_unchanged(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, metadata_server: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    web_world(sb)
    (task,) = running_tasks(sb, "test")
    metadata_server["instance-id"] = host_of(sb, task)
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="ops")
    s3.put_object(Bucket="ops", Key="statika-config.json", Body=json.dumps({"cluster": "test", "sleepTimeSeconds": 5}))
    s3.put_object(Bucket="ops", Key="statika-services.json", Body=json.dumps([
        {"serviceName": "web", "family": "web", "exposedContainerName": "web", "loadBalancerName": "web-lb"}]))
    monkeypatch.setenv("CONFIGURATION_URL", "s3://ops/statika-config.json")
    monkeypatch.setenv("SERVICES_URL", "s3://ops/statika-services.json")

    assert main(["lb-sync", "--once"]) == 0
    assert [i["InstanceId"] for i in describe_lb(sb)["Instances"]] == [metadata_server["instance-id"]]
    assert "3 change(s) applied, 0 failed" in capsys.readouterr().out
    assert main(["lb-sync", "--once"]) == 0
    assert "0 change(s) applied, 0 failed, converged" in capsys.readouterr().out


def test_broken_services_file_is_an_error_naming_the_field(
    sb: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    services = tmp_path / "services.json"
    services.write_text(json.dumps([{"family": "web", "loadBalancerName": "web-lb"}]))
    assert main(["lb-sync", "--once", "--cluster", "test", "--all-instances", "--services", str(services)]) == 2
    err = capsys.readouterr().err
    assert str(services) in err and "0.exposedContainerName" in err and "Field required" in err


def test_lambda_handler_runs_a_cluster_wide_pass(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    web_world(sb)
    services = tmp_path / "services.json"
    services.write_text(json.dumps([WEB.model_dump(exclude_none=True)]))
    monkeypatch.setenv("SERVICES_URL", str(services))
    monkeypatch.setenv("ECSFLEET_CLUSTER", "test")
    summary = handler({"detail-type": "ECS Task State Change"}, None)
    assert summary["ok"] and len(summary["applied"]) == 3
    assert handler({}, None)["applied"] == []


def test_daemon_wakes_on_ecs_events_and_serves_metrics(sb: Sandbox, clients: Clients) -> None:
    import time
    import urllib.request

    from ecsfleet.runner import Metrics, SqsWakeups, run_forever
    from ecsfleet.sandbox.emulator import free_port

    web_world(sb, desired=0)
    sqs, events = sb.client("sqs"), sb.client("events")
    queue = sqs.create_queue(QueueName="lb-sync-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="ecs-tasks", EventPattern=json.dumps({"source": ["aws.ecs"],
                                                               "detail-type": ["ECS Task State Change"]}))
    events.put_targets(Rule="ecs-tasks", Targets=[{"Id": "q", "Arn": arn}])
    port = free_port()
    metrics = Metrics("lb-sync", port)
    wakeups = SqsWakeups(clients, queue).start()
    stop = threading.Event()
    daemon = threading.Thread(target=run_forever, daemon=True,
                              args=(controller(clients), 3600.0, False, wakeups.wake, metrics, stop))
    daemon.start()
    try:
        sb.client("ecs").update_service(cluster="test", service="web", desiredCount=1)
        sb.advance(2)  # RUNNING: the event reaches the queue, the daemon looks again long before its interval
        deadline = time.monotonic() + 30
        while not describe_lb(sb)["Instances"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert describe_lb(sb)["Instances"] != []
        # The registration lands before the pass ends and is counted: wait for the pass to finish.
        text = ""
        while 'kind="register",outcome="ok"} 1.0' not in text and time.monotonic() < deadline:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            time.sleep(0.05)
        assert 'ecsfleet_reconciles_total{capability="lb-sync",outcome="ok"}' in text
        assert 'ecsfleet_actions_total{capability="lb-sync",kind="register",outcome="ok"} 1.0' in text
        assert "ecsfleet_seconds_since_last_success" in text
    finally:
        stop.set()
        wakeups.stop()
        daemon.join(timeout=5)
