"""lb-sync under faults: throttling and 5xx on every operation it calls, hosts and tasks that go
away between observe and apply, broken services files in S3; foreign load balancers,
listeners and registrations untouched throughout."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.config import Reloading
from ecsfleet.lbsync import LbSync
from ecsfleet.lbsync.services import ServiceEntry, parse_services
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from faults import (
    ATTEMPTS,
    Op,
    RetryWaits,
    before_first,
    exhaust,
    fault_suite,
    op_id,
    report_text,
    within_budget,
)
from ownership import Foreign, plant_elb
from support import running_tasks, task_definition
from test_lbsync import ELB_WRITES, default_vpc_cluster, describe_lb, elb_writes, host_of, make_lb

SERVICES = [ServiceEntry(serviceName=name, exposedContainerName=name, loadBalancerName=f"{name}-lb")
            for name in ("web", "api")]

# What one pass over `lb_world` calls, and how often: every operation lb-sync uses (the services
# file's conditional re-read from S3 included), each write once per load balancer. A test checks
# this against a clean pass, so the list cannot go stale.
CLEAN_PASS: Counter[Op] = Counter({
    ("s3", "GetObject"): 1,
    ("ecs", "ListContainerInstances"): 1, ("ecs", "ListTasks"): 1, ("ecs", "DescribeContainerInstances"): 1,
    ("ecs", "DescribeTasks"): 1, ("ecs", "DescribeTaskDefinition"): 2,
    ("elb", "DescribeLoadBalancers"): 1, ("elb", "DescribeTags"): 1,
    ("elb", "AddTags"): 2, ("elb", "RemoveTags"): 2,
    ("elb", "RegisterInstancesWithLoadBalancer"): 2, ("elb", "ConfigureHealthCheck"): 2,
    ("elb", "DeleteLoadBalancerListeners"): 2, ("elb", "CreateLoadBalancerListeners"): 2,
    ("elb", "SetLoadBalancerPoliciesOfListener"): 2, ("elb", "SetLoadBalancerPoliciesForBackendServer"): 2,
    ("elb", "DeregisterInstancesFromLoadBalancer"): 2,
})
OPS = sorted(CLEAN_PASS)


@dataclass
class LbWorld:
    hosts: list[str]
    services_url: str
    foreign: Foreign


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


def lb_world(sb: Sandbox) -> LbWorld:
    """Two hosts; `web` and `api` run one task each, behind their own load balancer whose listener
    (with a stickiness policy, and a backend policy on its port) and health check still point at
    the old port 8080, and which still has the host without the task registered. So one pass
    needs every write lb-sync can make."""
    hosts = default_vpc_cluster(sb, count=2)
    ecs, elb = sb.client("ecs"), sb.client("elb")
    for entry in SERVICES:
        name = entry.loadBalancerName
        make_lb(sb, name)
        elb.create_load_balancer_policy(LoadBalancerName=name, PolicyName="proxy",
                                        PolicyTypeName="ProxyProtocolPolicyType",
                                        PolicyAttributes=[{"AttributeName": "ProxyProtocol", "AttributeValue": "true"}])
        elb.set_load_balancer_policies_for_backend_server(LoadBalancerName=name, InstancePort=8080,
                                                          PolicyNames=["proxy"])
        family = entry.exposedContainerName
        ecs.register_task_definition(**task_definition(family, ports=[(80, 0)]))
        ecs.create_service(cluster="test", serviceName=family, taskDefinition=family, desiredCount=1)
    sb.advance(2)
    for entry in SERVICES:
        serving = {host_of(sb, t) for t in running_tasks(sb, "test", serviceName=entry.serviceName)}
        idle = [{"InstanceId": h} for h in hosts if h not in serving]
        elb.register_instances_with_load_balancer(LoadBalancerName=entry.loadBalancerName, Instances=idle)
    url = put(sb, "services.json", json.dumps([s.model_dump(exclude_none=True) for s in SERVICES]).encode())
    foreign = plant_elb(sb, [e.loadBalancerName for e in SERVICES], cluster_host=hosts[0])
    return LbWorld(hosts, url, foreign)


def put(sb: Sandbox, key: str, body: bytes) -> str:
    s3 = sb.client("s3")
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket="ops")
    s3.put_object(Bucket="ops", Key=key, Body=body)
    return f"s3://ops/{key}"


def settle(sb: Sandbox) -> None:
    """Let the scheduler replace stopped tasks and the replacements start."""
    sb.advance(0)
    sb.advance(sb.timings.task_start_seconds)


def controller(clients: Clients, world: LbWorld) -> LbSync:
    """As the daemon runs it: the services file read from S3 once at start, then re-read
    (conditionally) every pass, keeping the last good version."""
    document = Reloading(world.services_url, parse_services, clients, every=0)
    document.get()
    return LbSync(clients, "test", document.get, config_warning=lambda: document.last_error)


def assert_converged(sb: Sandbox, world: LbWorld, clients: Clients, sync: LbSync | None = None) -> None:
    """Each load balancer is where a fault-free pass leaves it: the hosts running its service's
    task (and the hand-registered outsider), every listener and the health check on the task's
    port with their policies kept; a further pass plans nothing; nothing foreign changed."""
    for entry in SERVICES:
        tasks = [t for t in running_tasks(sb, "test", serviceName=entry.serviceName) if t["desiredStatus"] == "RUNNING"]
        ports = {b["hostPort"] for t in tasks for c in t["containers"] for b in c.get("networkBindings", [])}
        (port,) = ports
        lb = describe_lb(sb, entry.loadBalancerName)
        assert {i["InstanceId"] for i in lb["Instances"]} == {host_of(sb, t) for t in tasks} | {world.foreign.outsider}
        (listener,) = lb["ListenerDescriptions"]
        assert listener["Listener"] == {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
                                        "InstancePort": port}
        assert listener["PolicyNames"] == ["sticky"]
        assert {"InstancePort": port, "PolicyNames": ["proxy"]} in lb["BackendServerDescriptions"]
        assert lb["HealthCheck"] == {"Target": f"HTTP:{port}/healthz", "Interval": 7, "Timeout": 3,
                                     "UnhealthyThreshold": 4, "HealthyThreshold": 2}
    sb.reset_calls()
    again = safe_pass(sync or controller(clients, world), dry_run=False)
    assert again.ok and again.planned == (), again.summary()
    assert elb_writes(sb) == []
    world.foreign.assert_unchanged()


def test_the_fault_list_is_exactly_what_a_clean_pass_calls(sb: Sandbox, clients: Clients) -> None:
    world = lb_world(sb)
    sync = controller(clients, world)
    sb.reset_calls()
    report = safe_pass(sync, dry_run=False)
    assert report.ok, report.summary()
    assert sb.calls() == CLEAN_PASS
    assert {op for service, op in OPS if service == "elb"} >= ELB_WRITES
    assert_converged(sb, world, clients)


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_every_operation_throttled_or_failing_loses_no_change(
    sb: Sandbox, clients: Clients, waits: RetryWaits, op: Op
) -> None:
    world = lb_world(sb)
    sync = controller(clients, world)
    sb.reset_calls()
    exhaust(sb, op)

    report = safe_pass(sync, dry_run=False)

    # 5xx on every attempt: retried to the end of the budget, then reported, naming the call.
    assert len(waits.backoffs) == ATTEMPTS - 1 and sb.count(*op) >= ATTEMPTS
    assert op[1] in report_text(report), report.summary()
    if op == ("s3", "GetObject"):
        # The services file could not be re-read: the last good version governs this pass, and
        # the warning names the file.
        assert report.ok and any(w.startswith(f"{world.services_url}: ") for w in report.warnings)
        assert len(report.outcomes) == len(report.planned) > 0
    elif op[1] in ELB_WRITES:
        # Pinned to one load balancer's change; that load balancer's later changes wait for the
        # next pass (their order keeps traffic flowing), the other load balancer's all ran.
        (failed,) = [o for o in report.outcomes if not o.ok]
        assert op[1] in (failed.error or "")
        others = [o for o in report.outcomes if o.target != failed.target]
        assert others and all(o.ok and not o.skipped for o in others)
        after = report.outcomes[report.outcomes.index(failed) + 1:]
        assert all(o.skipped for o in after if o.target == failed.target)
    else:
        # Without this read there is no plan: nothing is changed, and the error says which call failed.
        assert not report.ok and report.outcomes == () and len(report.errors) == 1
        assert elb_writes(sb) == []

    # The next pass meets throttles and 5xx on the same call for all but the last attempt of
    # its budget: it retries them away, finishes, and leaves the world as a fault-free pass would.
    waits.backoffs.clear()
    within_budget(sb, op)
    report = safe_pass(sync, dry_run=False)
    assert report.ok, report.summary()
    assert len(waits.backoffs) == ATTEMPTS - 1
    assert_converged(sb, world, clients)


def test_a_listener_that_cannot_be_put_back_is_re_created_by_the_next_pass(
    sb: Sandbox, clients: Clients, waits: RetryWaits
) -> None:
    world = lb_world(sb)
    # The move's create fails to the end of its budget, and so does the create putting it back.
    sb.fail("elb", "CreateLoadBalancerListeners", times=2 * ATTEMPTS)
    put(sb, "services.json", json.dumps([SERVICES[0].model_dump(exclude_none=True)]).encode())
    sync = controller(clients, world)
    report = safe_pass(sync, dry_run=False)
    (failed,) = [o for o in report.outcomes if not o.ok]
    assert failed.kind == "move-listener" and failed.target == "web-lb"
    assert "putting listener HTTP:80 back failed too" in (failed.error or "")
    assert "the next pass re-creates it from the ecsfleet:move-80 tag" in (failed.error or "")
    assert describe_lb(sb, "web-lb")["ListenerDescriptions"] == []
    # The record of the move is on the load balancer: the next pass (of any process) finishes it.
    report = safe_pass(controller(clients, world), dry_run=False)
    assert report.ok and any(o.kind == "resume-move" for o in report.outcomes), report.summary()
    (listener,) = describe_lb(sb, "web-lb")["ListenerDescriptions"]
    (task,) = running_tasks(sb, "test", serviceName="web")
    assert listener["Listener"]["InstancePort"] == task["containers"][0]["networkBindings"][0]["hostPort"]
    assert listener["PolicyNames"] == ["sticky"]
    assert sb.client("elb").describe_tags(LoadBalancerNames=["web-lb"])["TagDescriptions"][0]["Tags"] == []
    world.foreign.assert_unchanged()


def test_instance_terminated_between_observe_and_apply(sb: Sandbox, clients: Clients) -> None:
    world = lb_world(sb)
    (web,) = running_tasks(sb, "test", serviceName="web")
    doomed = host_of(sb, web)
    # The pass has read the cluster and the load balancers; its host dies before the first change.
    before_first(clients, ("elb", "RegisterInstancesWithLoadBalancer"), lambda: sb.terminate_instance(doomed))

    report = safe_pass(controller(clients, world), dry_run=False)

    # ELB refuses the dead host (InvalidInstance); that registration fails alone: every other
    # change of the pass, listener moves and health checks included, still runs.
    failed = [o for o in report.outcomes if not o.ok]
    assert failed, report.summary()
    assert all(o.kind == "register" and doomed in o.detail and (o.error or "").startswith("InvalidInstance: ")
               for o in failed), report.summary()
    assert not any(o.skipped for o in report.outcomes)
    assert {o.target for o in report.outcomes if o.kind == "move-listener" and o.ok} == {"web-lb", "api-lb"}
    settle(sb)  # the scheduler replaces the lost tasks on the surviving host
    report = safe_pass(controller(clients, world), dry_run=False)
    assert report.ok, report.summary()
    (survivor,) = [h for h in world.hosts if h != doomed]
    web_lb = describe_lb(sb, "web-lb")
    (port,) = {b["hostPort"] for t in running_tasks(sb, "test", serviceName="web", desiredStatus="RUNNING")
               for b in t["containers"][0]["networkBindings"]}
    assert web_lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == port
    assert f"register {survivor} with web-lb" in report_text(report)
    # The dead host left the cluster, so it is outside lb-sync's scope like any host it does
    # not manage: its registration is AWS's to clear, never lb-sync's to guess.
    assert survivor in {i["InstanceId"] for i in web_lb["Instances"]}
    again = safe_pass(controller(clients, world), dry_run=False)
    assert again.ok and again.planned == ()
    world.foreign.assert_unchanged()


def test_task_stopped_between_observe_and_apply(sb: Sandbox, clients: Clients) -> None:
    world = lb_world(sb)
    (web,) = running_tasks(sb, "test", serviceName="web")
    old_port = web["containers"][0]["networkBindings"][0]["hostPort"]
    before_first(clients, ("elb", "RegisterInstancesWithLoadBalancer"),
                 lambda: sb.client("ecs").stop_task(cluster="test", task=web["taskArn"]))

    report = safe_pass(controller(clients, world), dry_run=False)

    # The plan was right when made: the stopping task's port is applied, and the next pass moves on.
    assert report.ok and f"-> {old_port}" in report_text(report), report.summary()
    settle(sb)  # the replacement runs
    report = safe_pass(controller(clients, world), dry_run=False)
    assert report.ok, report.summary()
    (replacement,) = running_tasks(sb, "test", serviceName="web", desiredStatus="RUNNING")
    new_port = replacement["containers"][0]["networkBindings"][0]["hostPort"]
    assert new_port != old_port and f"instance port {old_port} -> {new_port}" in report_text(report)
    sb.advance(60)  # the stopped task is gone
    assert safe_pass(controller(clients, world), dry_run=False).ok
    assert_converged(sb, world, clients)


NOT_JSON = [b"", b"\xff\xfe not text", b"<services/>", b"[{\"serviceName\": \"web\",", b"{\"serviceName\": \"web\"}",
            b"[" * 100_000]


def test_services_objects_in_s3_that_are_not_json_are_one_line_errors(
    sb: Sandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    world = lb_world(sb)
    for body in NOT_JSON:
        url = put(sb, "services.json", body)
        sb.reset_calls()
        assert main(["lb-sync", "--once", "--cluster", "test", "--all-instances", "--services", url]) == 2, body[:20]
        err = capsys.readouterr().err
        assert err.startswith(f"error: {url}: ") and "Traceback" not in err, err
        # Refused before anything was read from ECS or changed in ELB.
        assert elb_writes(sb) == [] and sb.calls("ecs") == Counter()
    world.foreign.assert_unchanged()


def test_a_broken_new_services_version_keeps_the_last_good_one(sb: Sandbox, clients: Clients) -> None:
    world = lb_world(sb)
    daemon = controller(clients, world)
    assert safe_pass(daemon, dry_run=False).ok
    broken = [{"serviceName": "web", "exposedContainerName": "web", "loadBalancerName": "foreign-lb!"}]
    for body in (b"\x00not json", json.dumps(broken).encode()):
        put(sb, "services.json", body)
        sb.reset_calls()
        report = safe_pass(daemon, dry_run=False)
        # Reported with the file's name; the last good list still governs, and it is converged.
        assert report.ok and report.outcomes == ()
        assert any(w.startswith(f"{world.services_url}: ") for w in report.warnings), report.warnings
        assert elb_writes(sb) == []
    assert "0.loadBalancerName" in report.warnings[-1]
    assert_converged(sb, world, clients, daemon)
