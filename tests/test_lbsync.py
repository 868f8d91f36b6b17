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
from ecsfleet.sandbox.seed import launch_instances, network
from faults import before_first
from support import rule_to_queue, running_tasks, task_definition

ELB_WRITES = {
    "RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer", "ConfigureHealthCheck",
    "DeleteLoadBalancerListeners", "CreateLoadBalancerListeners", "SetLoadBalancerPoliciesOfListener",
    "SetLoadBalancerPoliciesForBackendServer", "AddTags", "RemoveTags",
}
# One listener's move: recorded on the load balancer (a tag) before the first change, the record
# removed after the last, so a process killed in between leaves the next pass what to finish.
MOVE = ["AddTags", "DeleteLoadBalancerListeners", "CreateLoadBalancerListeners", "SetLoadBalancerPoliciesOfListener",
        "RemoveTags"]
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


def three_listeners(sb: Sandbox) -> dict[int, dict[str, Any]]:
    """web-lb with HTTP:80 (stickiness policy), HTTPS:443 (a certificate) and TCP:9000, all on
    the old port 8080 with a backend policy, and the health check on 8080: the listeners as they
    were, by load balancer port."""
    elb = sb.client("elb")
    certificate = sb.client("iam").upload_server_certificate(
        ServerCertificateName="web", CertificateBody="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        PrivateKey="-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    )["ServerCertificateMetadata"]["Arn"]
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[
        {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 8080,
         "SSLCertificateId": certificate},
        {"Protocol": "TCP", "LoadBalancerPort": 9000, "InstanceProtocol": "TCP", "InstancePort": 8080}])
    elb.create_load_balancer_policy(LoadBalancerName="web-lb", PolicyName="proxy",
                                    PolicyTypeName="ProxyProtocolPolicyType",
                                    PolicyAttributes=[{"AttributeName": "ProxyProtocol", "AttributeValue": "true"}])
    elb.set_load_balancer_policies_for_backend_server(LoadBalancerName="web-lb", InstancePort=8080,
                                                      PolicyNames=["proxy"])
    return {d["Listener"]["LoadBalancerPort"]: d for d in describe_lb(sb)["ListenerDescriptions"]}


def describe_lb(sb: Sandbox, name: str = "web-lb") -> dict[str, Any]:
    doc: dict[str, Any] = sb.client("elb").describe_load_balancers(LoadBalancerNames=[name])[
        "LoadBalancerDescriptions"][0]
    return doc


def default_vpc_cluster(sb: Sandbox, count: int = 2) -> list[str]:
    """Cluster "test" with `count` hosts in the default VPC, where the load balancers made with
    AvailabilityZones live: ELB registers only instances of its own VPC."""
    ec2 = sb.client("ec2")
    subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]},
                                           {"Name": "availability-zone", "Values": [f"{sb.region}a"]}])["Subnets"][0]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                                                  {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    sb.client("ecs").create_cluster(clusterName="test")
    return launch_instances(sb, "test", count, subnet["SubnetId"], group["GroupId"])


def web_world(sb: Sandbox, hosts: int = 2, desired: int = 1, **container: Any) -> list[str]:
    ec2_ids = default_vpc_cluster(sb, count=hosts)
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
    assert elb_writes(sb) == ["RegisterInstancesWithLoadBalancer", "ConfigureHealthCheck", *MOVE]

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
    assert elb_writes(sb) == ["ConfigureHealthCheck", *MOVE]
    assert describe_lb(sb)["HealthCheck"]["Target"] == f"HTTP:{new_port}/healthz"


def test_update_service_across_hosts_moves_traffic_once_the_new_task_runs(sb: Sandbox, clients: Clients) -> None:
    ec2_ids = web_world(sb, hosts=2, desired=1)
    (old,) = running_tasks(sb, "test")
    old_host, old_port = host_of(sb, old), old["containers"][0]["networkBindings"][0]["hostPort"]
    assert safe_pass(controller(clients), dry_run=False).ok
    ecs = sb.client("ecs")
    # Another task holds the idle host's first dynamic port, so the new web task gets another one.
    ecs.register_task_definition(**task_definition("other", ports=[(80, 0)]))
    idle_arn = next(a for a in ecs.list_container_instances(cluster="test")["containerInstanceArns"]
                    if a != old["containerInstanceArn"])
    ecs.start_task(cluster="test", taskDefinition="other", containerInstances=[idle_arn])
    v2 = ecs.register_task_definition(**task_definition("web", ports=[(80, 0)], env={"V": "2"}))
    ecs.update_service(cluster="test", service="web", taskDefinition=v2["taskDefinition"]["taskDefinitionArn"])
    sb.reset_calls()

    # The new task is PENDING (no port yet): nothing moves.
    assert safe_pass(controller(clients), dry_run=False).outcomes == ()
    lb = describe_lb(sb)
    assert [i["InstanceId"] for i in lb["Instances"]] == [old_host]
    assert lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == old_port
    assert elb_writes(sb) == []

    sb.advance(2)  # the new task runs on the other host; the scheduler stops the old one
    (new,) = [t for t in running_tasks(sb, "test", serviceName="web") if t["taskArn"] != old["taskArn"]]
    new_host, new_port = host_of(sb, new), new["containers"][0]["networkBindings"][0]["hostPort"]
    assert new_host != old_host and set(ec2_ids) == {old_host, new_host} and new_port != old_port
    sb.reset_calls()
    assert safe_pass(controller(clients), dry_run=False).ok

    # Every ELB call of the pass, in order: the new host joins and the health check follows it
    # before the listener moves (delete and create back to back, recorded first), and the old host
    # leaves last.
    assert [op for _, op in sb.call_sequence("elb")] == [
        "DescribeLoadBalancers", "DescribeTags", "RegisterInstancesWithLoadBalancer", "ConfigureHealthCheck",
        *MOVE, "DeregisterInstancesFromLoadBalancer",
    ]
    lb = describe_lb(sb)
    assert [i["InstanceId"] for i in lb["Instances"]] == [new_host]
    assert lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == new_port
    assert lb["HealthCheck"]["Target"] == f"HTTP:{new_port}/healthz"
    sb.reset_calls()
    assert safe_pass(controller(clients), dry_run=False).outcomes == () and elb_writes(sb) == []


def test_every_listener_keeps_protocols_certificate_and_policies(sb: Sandbox, clients: Clients) -> None:
    web_world(sb)
    before = three_listeners(sb)
    certificate = before[443]["Listener"]["SSLCertificateId"]
    (task,) = running_tasks(sb, "test")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]

    assert safe_pass(controller(clients), dry_run=False).ok

    after = {d["Listener"]["LoadBalancerPort"]: d for d in describe_lb(sb)["ListenerDescriptions"]}
    assert set(after) == {80, 443, 9000}
    for lb_port, description in after.items():
        assert description["Listener"] == {**before[lb_port]["Listener"], "InstancePort": port}
        assert description["PolicyNames"] == before[lb_port]["PolicyNames"]
    assert after[443]["Listener"]["SSLCertificateId"] == certificate and after[80]["PolicyNames"] == ["sticky"]
    assert {"InstancePort": port, "PolicyNames": ["proxy"]} in describe_lb(sb)["BackendServerDescriptions"]
    sb.reset_calls()
    assert safe_pass(controller(clients), dry_run=False).outcomes == () and elb_writes(sb) == []


def test_a_listener_of_the_other_instance_protocol_kind_stays_and_the_rest_converges(
        sb: Sandbox, clients: Clients) -> None:
    # HTTP:80 to HTTP instances (the health check speaks HTTP) beside SSL:8443 to SSL instances on
    # a port of its own: AWS refuses the two kinds on one instance port, so moving both to the
    # task's port failed at every pass and held back the load balancer's other changes.
    web_world(sb, hosts=2, desired=1)
    certificate = sb.client("iam").upload_server_certificate(
        ServerCertificateName="tls", CertificateBody="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        PrivateKey="-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    )["ServerCertificateMetadata"]["Arn"]
    tls = {"Protocol": "SSL", "LoadBalancerPort": 8443, "InstanceProtocol": "SSL", "InstancePort": 8443,
           "SSLCertificateId": certificate}
    sb.client("elb").create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[tls])
    (task,) = running_tasks(sb, "test")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]

    report = safe_pass(controller(clients), dry_run=False)

    assert report.ok and all(o.ok for o in report.outcomes), report.summary()
    after = {d["Listener"]["LoadBalancerPort"]: d["Listener"] for d in describe_lb(sb)["ListenerDescriptions"]}
    assert after[80]["InstancePort"] == port and after[8443] == tls
    assert [i["InstanceId"] for i in describe_lb(sb)["Instances"]] == [host_of(sb, task)]
    (warning,) = report.warnings
    assert warning.startswith("web-lb: listener 8443 (SSL to SSL instances) stays on instance port 8443")
    sb.reset_calls()
    again = safe_pass(controller(clients), dry_run=False)
    assert again.outcomes == () and elb_writes(sb) == [] and again.warnings == report.warnings


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


def test_a_terminated_host_does_not_stop_the_listener_move(sb: Sandbox, clients: Clients) -> None:
    web_world(sb, hosts=2, desired=2)  # one task per host, each on its host's first dynamic port
    tasks = running_tasks(sb, "test")
    (port,) = {t["containers"][0]["networkBindings"][0]["hostPort"] for t in tasks}
    doomed, survivor = host_of(sb, tasks[0]), host_of(sb, tasks[1])
    # The pass has read the cluster and the load balancer; one host dies before the first change.
    before_first(clients, ("elb", "RegisterInstancesWithLoadBalancer"), lambda: sb.terminate_instance(doomed))
    sb.reset_calls()

    report = safe_pass(controller(clients), dry_run=False)

    # AWS refuses the whole batch for the dead host; the survivor is registered on its own, the
    # dead host's registration fails with AWS's reason, and the health check and listener move.
    (failed,) = [o for o in report.outcomes if not o.ok]
    assert failed.kind == "register" and failed.detail == f"register {doomed} with web-lb"
    assert (failed.error or "").startswith("InvalidInstance: ") and doomed in (failed.error or "")
    assert not any(o.skipped for o in report.outcomes)
    lb = describe_lb(sb)
    assert [i["InstanceId"] for i in lb["Instances"]] == [survivor]
    assert lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == port
    assert lb["ListenerDescriptions"][0]["PolicyNames"] == ["sticky"]
    assert lb["HealthCheck"]["Target"] == f"HTTP:{port}/healthz"
    assert elb_writes(sb) == ["RegisterInstancesWithLoadBalancer"] * 3 + [
        "ConfigureHealthCheck", *MOVE]


def test_a_host_elb_refuses_is_held_back_with_a_doubling_wait(sb: Sandbox, clients: Clients) -> None:
    (home,) = web_world(sb, hosts=1, desired=1)
    (task,) = running_tasks(sb, "test")
    # A cluster host in another VPC than the load balancer: ELB refuses it on every try.
    _, subnet, group = network(sb)
    (elsewhere,) = launch_instances(sb, "test", 1, subnet, group)
    sb.client("ecs").update_service(cluster="test", service="web", desiredCount=2)
    sb.advance(2)
    sync = controller(clients)  # one controller for every pass, as the daemon runs it

    tried = []
    for number in range(1, 9):
        sb.reset_calls()
        report = safe_pass(sync, dry_run=False)
        refused = [o for o in report.outcomes if not o.ok]
        if refused:
            tried.append(number)
            (outcome,) = refused
            assert outcome.detail == f"register {elsewhere} with web-lb"
            assert outcome.error == ("InvalidInstance: An error occurred (InvalidInstance) when calling the "
                                     "RegisterInstancesWithLoadBalancer operation: EC2 instance "
                                     f"{elsewhere} is not in the same VPC as ELB.")
        else:
            # Held back: no call, a warning naming the host and ELB's reason, and a clean pass.
            assert report.ok and elb_writes(sb) == [], report.summary()
            (warning,) = report.warnings
            assert warning.startswith(f"{elsewhere} is not registered with web-lb: ELB refused it (InvalidInstance")
    assert tried == [1, 3, 7]
    # The host in the load balancer's VPC was registered on the first pass, and traffic moved.
    lb = describe_lb(sb)
    assert lb["Instances"] == [{"InstanceId": home}]
    assert lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == \
        task["containers"][0]["networkBindings"][0]["hostPort"]


def outsider(sb: Sandbox) -> str:
    """An EC2 instance that is in no ECS cluster (user data without ECS_CLUSTER)."""
    from ecsfleet.sandbox.seed import any_image

    ec2 = sb.client("ec2")
    return str(ec2.run_instances(ImageId=any_image(ec2), MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"])


def test_per_host_mode_leaves_other_hosts_alone(sb: Sandbox, clients: Clients) -> None:
    ec2_ids = web_world(sb, hosts=2, desired=1)
    (task,) = running_tasks(sb, "test")
    mine = host_of(sb, task)
    idle = next(i for i in ec2_ids if i != mine)  # in the cluster, runs no web task
    stranger = outsider(sb)
    sb.client("elb").register_instances_with_load_balancer(
        LoadBalancerName="web-lb", Instances=[{"InstanceId": i} for i in (*ec2_ids, stranger)])
    everyone = {*ec2_ids, stranger}
    sb.reset_calls()

    # The agent on the host that runs the task moves the ports, and leaves the idle host registered
    # (a cluster-wide pass would deregister it).
    assert safe_pass(controller(clients, host=mine), dry_run=False).ok
    assert {i["InstanceId"] for i in describe_lb(sb)["Instances"]} == everyone
    assert describe_lb(sb)["ListenerDescriptions"][0]["Listener"]["InstancePort"] == \
        task["containers"][0]["networkBindings"][0]["hostPort"]
    assert "DeregisterInstancesFromLoadBalancer" not in elb_writes(sb)
    # A per-host read costs two list calls and two describes, whatever the cluster's size.
    assert sb.count("ecs", "ListContainerInstances") == 1 and sb.count("ecs", "ListTasks") == 1
    assert sb.count("ecs", "DescribeTasks") == 1 and sb.count("ecs", "DescribeContainerInstances") == 1

    # The idle host's agent deregisters its own host, and only it.
    sb.reset_calls()
    assert safe_pass(controller(clients, host=idle), dry_run=False).ok
    assert {i["InstanceId"] for i in describe_lb(sb)["Instances"]} == {mine, stranger}
    assert elb_writes(sb) == ["DeregisterInstancesFromLoadBalancer"]

    # Even cluster-wide, an instance outside the cluster is never touched.
    sb.client("ecs").update_service(cluster="test", service="web", desiredCount=0)
    assert safe_pass(controller(clients), dry_run=False).ok
    assert {i["InstanceId"] for i in describe_lb(sb)["Instances"]} == {stranger}


def test_dry_run_changes_nothing(sb: Sandbox, clients: Clients, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    web_world(sb)
    sb.reset_calls()
    report = safe_pass(controller(clients), dry_run=True)
    assert len(report.planned) == 3 and report.outcomes == ()
    assert elb_writes(sb) == []
    assert describe_lb(sb)["Instances"] == []

    services = tmp_path / "services.json"
    services.write_text(json.dumps([WEB.model_dump(exclude_none=True)]))
    assert main(["lb-sync", "--once", "--dry-run", "--all-instances", "--cluster", "test",
                 "--services", str(services)]) == 0
    out = capsys.readouterr().out
    assert "dry run, 3 change(s) planned, nothing applied" in out
    assert "plan: register" in out and "plan: listener HTTP:80 of web-lb: instance port 8080 ->" in out
    assert elb_writes(sb) == [] and describe_lb(sb)["Instances"] == []


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
    # The next pass, with the fault gone, converges; both load balancers are read in one call.
    sb.reset_calls()
    assert safe_pass(LbSync(clients, "test", lambda: [api, WEB]), dry_run=False).ok
    assert sb.count("elb", "DescribeLoadBalancers") == 1
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
    queue = rule_to_queue(sb, "lb-sync-events", {"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]})
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


def test_daemon_survives_aws_errors_and_logs_one_line_per_action(
    sb: Sandbox, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import time

    from ecsfleet.runner import Metrics, run_forever

    web_world(sb)
    sb.fail("ecs", "ListContainerInstances", times=5)  # every attempt of the first pass
    sb.fail("elb", "DescribeLoadBalancers", times=5)   # every attempt of the second
    metrics = Metrics("lb-sync", None)
    reports: list[Any] = []
    stop = threading.Event()
    daemon = threading.Thread(target=run_forever, daemon=True, kwargs={
        "reconciler": controller(clients), "interval": 1.0, "metrics": metrics, "stop": stop,
        "on_report": reports.append})
    with caplog.at_level(logging.INFO, logger="ecsfleet"):
        daemon.start()
        try:
            deadline = time.monotonic() + 60
            while not any(r.ok for r in reports) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            daemon.join(timeout=30)
    assert not daemon.is_alive()
    assert [r.ok for r in reports[:3]] == [False, False, True]
    assert "ListContainerInstances" in reports[0].errors[0] and "DescribeLoadBalancers" in reports[1].errors[0]
    assert describe_lb(sb)["Instances"] != []
    failed = {"capability": "lb-sync", "outcome": "error"}
    assert metrics.registry.get_sample_value("ecsfleet_reconciles_total", failed) == 2
    # One structured line per applied action.
    lines = [r.getMessage() for r in caplog.records if "action=" in r.getMessage()]
    assert [line.split()[1] for line in lines] == [
        "action=register", "action=health-check", "action=move-listener"]
    assert all("target=web-lb result=ok" in line for line in lines)


def test_a_load_balancer_with_ten_tags_still_gets_its_listener_moved(sb: Sandbox, clients: Clients,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """ELB allows 10 tags a load balancer: with no room for the move's record, the listener still
    follows the task (a listener on a port nothing serves is an outage), with a warning."""
    web_world(sb)
    sb.client("elb").add_tags(LoadBalancerNames=["web-lb"], Tags=[{"Key": f"team{n}", "Value": "x"}
                                                                  for n in range(10)])
    (task,) = running_tasks(sb, "test")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]

    report = safe_pass(controller(clients), dry_run=False)

    assert report.ok, report.summary()
    listener = describe_lb(sb)["ListenerDescriptions"][0]
    assert listener["Listener"]["InstancePort"] == port and listener["PolicyNames"] == ["sticky"]
    assert "maximum of 10 tags" in caplog.text
    tags = sb.client("elb").describe_tags(LoadBalancerNames=["web-lb"])["TagDescriptions"][0]["Tags"]
    assert sorted(t["Key"] for t in tags) == sorted(f"team{n}" for n in range(10))
