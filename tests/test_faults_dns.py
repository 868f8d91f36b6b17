"""dns-sync (ECS source) under faults: throttling and 5xx on every operation it calls, tasks and
hosts that go away mid-pass, containers with broken SERVICE_* values; records it does not own,
in its zones and in others, checked unchanged after each scenario."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from ecsfleet.aws import Clients
from ecsfleet.dns import DnsSync
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
from ownership import Foreign, all_records, plant_dns, txt
from support import cluster_with_instances, running_tasks, task_definition

PUBLIC, PRIVATE = "example.com", "svc.internal"
OWNER = "ecs-cluster/test"
REGISTRY = txt(f"heritage=ecsfleet,ecsfleet/owner={OWNER}")
ECHO_ENV = {"SERVICE_FQDN": f"echo.{PUBLIC}", "SERVICE_FQDN_LOCAL": f"echo.{PRIVATE}",
            "SERVICE_PORT_8080": f"_echo._tcp.{PRIVATE}"}

# What one pass over `dns_world` calls: every operation dns-sync's ECS source uses. A test checks
# this against a clean pass, so the list cannot go stale.
CLEAN_PASS: Counter[Op] = Counter({
    ("ecs", "ListContainerInstances"): 1, ("ecs", "ListTasks"): 1, ("ecs", "DescribeContainerInstances"): 1,
    ("ecs", "DescribeTasks"): 1, ("ecs", "DescribeTaskDefinition"): 2, ("ec2", "DescribeInstances"): 1,
    ("route53", "ListHostedZones"): 1, ("route53", "ListResourceRecordSets"): 2,
    ("route53", "ChangeResourceRecordSets"): 2,
})
OPS = sorted(CLEAN_PASS)


@dataclass
class DnsWorld:
    public: str
    private: str
    foreign: Foreign


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


def record(name: str, kind: str, values: list[str], ttl: int = 10) -> dict[str, Any]:
    return {"Name": name, "Type": kind, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values]}


def create(sb: Sandbox, zone_id: str, *records: dict[str, Any]) -> None:
    sb.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in records]})


def dns_world(sb: Sandbox) -> DnsWorld:
    """Two hosts run `echo` (public and private A records, an SRV record); a public and a private
    zone. A previous pass left a record that is no longer wanted and one with an old value, so a
    pass creates, updates and deletes, in both zones. `greedy` asks for a name someone else owns."""
    cluster_with_instances(sb, count=2)
    route53 = sb.client("route53")
    public = route53.create_hosted_zone(Name=PUBLIC, CallerReference="public")["HostedZone"]["Id"].rsplit("/")[-1]
    vpc = sb.client("ec2").create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    private = route53.create_hosted_zone(
        Name=PRIVATE, CallerReference="private", VPC={"VPCRegion": sb.region, "VPCId": vpc},
        HostedZoneConfig={"PrivateZone": True, "Comment": "private"})["HostedZone"]["Id"].rsplit("/")[-1]
    create(sb, public, record(f"gone.{PUBLIC}", "A", ["192.0.2.50"]),
           {**record(f"_ecsfleet-a.gone.{PUBLIC}", "TXT", []), "TTL": 300, "ResourceRecords": REGISTRY})
    create(sb, private, record(f"echo.{PRIVATE}", "A", ["10.99.99.99"]),
           {**record(f"_ecsfleet-a.echo.{PRIVATE}", "TXT", []), "TTL": 300, "ResourceRecords": REGISTRY})
    ecs = sb.client("ecs")
    for name, count, env in (("echo", 2, ECHO_ENV), ("greedy", 1, {"SERVICE_FQDN": f"theirs.{PUBLIC}"})):
        ecs.register_task_definition(**task_definition(name, ports=[(8080, 0)], env=env, memory=16, cpu=8))
        ecs.create_service(cluster="test", serviceName=name, taskDefinition=name, desiredCount=count,
                           placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(sb.timings.task_start_seconds)
    return DnsWorld(public, private, plant_dns(sb, public, PUBLIC, OWNER))


def controller(clients: Clients, world: DnsWorld) -> DnsSync:
    return DnsSync(clients, "test", OWNER, zone_ids=(world.public, world.private))


def values(sb: Sandbox, zone_id: str, name: str, kind: str) -> list[str] | None:
    found = all_records(sb, zone_id).get((name, kind, None))
    return sorted(v["Value"] for v in found["ResourceRecords"]) if found else None


def serving_hosts(sb: Sandbox) -> list[tuple[dict[str, Any], int]]:
    """(EC2 instance, host port) of each `echo` task that runs and is not stopping."""
    ecs, ec2 = sb.client("ecs"), sb.client("ec2")
    found = []
    for t in running_tasks(sb, "test", serviceName="echo"):
        if t["lastStatus"] != "RUNNING":
            continue
        ci = ecs.describe_container_instances(cluster="test", containerInstances=[t["containerInstanceArn"]])[
            "containerInstances"][0]
        instance = ec2.describe_instances(InstanceIds=[ci["ec2InstanceId"]])["Reservations"][0]["Instances"][0]
        found.append((instance, t["containers"][0]["networkBindings"][0]["hostPort"]))
    return found


def assert_converged(sb: Sandbox, world: DnsWorld, clients: Clients) -> None:
    """Every zone holds what a fault-free pass leaves: one record set per name with the value of
    every serving `echo` task and its ownership record, the unwanted record gone; a further pass
    changes nothing; nothing foreign changed."""
    hosts = serving_hosts(sb)
    assert hosts
    assert values(sb, world.public, f"echo.{PUBLIC}.", "A") == sorted({i["PublicIpAddress"] for i, _ in hosts})
    assert values(sb, world.private, f"echo.{PRIVATE}.", "A") == sorted({i["PrivateIpAddress"] for i, _ in hosts})
    assert values(sb, world.private, f"_echo._tcp.{PRIVATE}.", "SRV") == sorted(
        f"1 1 {port} {i['PrivateDnsName']}." for i, port in hosts)
    for zone_id, name, kind in ((world.public, f"echo.{PUBLIC}.", "a"), (world.private, f"echo.{PRIVATE}.", "a"),
                                (world.private, f"_echo._tcp.{PRIVATE}.", "srv")):
        assert values(sb, zone_id, f"_ecsfleet-{kind}.{name}", "TXT") == [REGISTRY[0]["Value"]]
    assert values(sb, world.public, f"gone.{PUBLIC}.", "A") is None
    assert values(sb, world.public, f"_ecsfleet-a.gone.{PUBLIC}.", "TXT") is None
    sb.reset_calls()
    again = safe_pass(controller(clients, world), dry_run=False)
    assert again.ok and again.planned == (), again.summary()
    assert sb.count("route53", "ChangeResourceRecordSets") == 0
    world.foreign.assert_unchanged()


def test_the_fault_list_is_exactly_what_a_clean_pass_calls(sb: Sandbox, clients: Clients) -> None:
    world = dns_world(sb)
    sb.reset_calls()
    report = safe_pass(controller(clients, world), dry_run=False)
    assert report.ok, report.summary()
    assert sb.calls() == CLEAN_PASS
    assert {o.detail.split()[0] for o in report.outcomes} == {"CREATE", "UPSERT", "DELETE"}
    # The name someone else owns is asked for, refused, and said so.
    assert any(f"theirs.{PUBLIC}. A" in w and "not owned" in w for w in report.warnings)
    assert_converged(sb, world, clients)


@pytest.mark.parametrize("op", OPS, ids=op_id)
def test_every_operation_throttled_or_failing_loses_no_change(
    sb: Sandbox, clients: Clients, waits: RetryWaits, op: Op
) -> None:
    world = dns_world(sb)
    sb.reset_calls()
    exhaust(sb, op)

    report = safe_pass(controller(clients, world), dry_run=False)

    # 5xx on every attempt: retried to the end of the budget, then reported, naming the call.
    assert not report.ok
    assert len(waits.backoffs) == ATTEMPTS - 1
    assert op[1] in report_text(report), report.summary()
    if op == ("route53", "ChangeResourceRecordSets"):
        # One zone's batch failed, every change in it named; the other zone's batch still landed.
        failed = {o.target for o in report.outcomes if not o.ok}
        assert len(failed) == 1 and all(op[1] in (o.error or "") for o in report.outcomes if not o.ok)
        landed = [o for o in report.outcomes if o.target not in failed]
        assert landed and all(o.ok and not o.skipped for o in landed)
    else:
        # Without this read there is no plan: nothing is changed, and the error says which call failed.
        assert report.outcomes == () and len(report.errors) == 1
        assert sb.count("route53", "ChangeResourceRecordSets") == 0

    # The next pass meets throttles and 5xx on the same call for all but the last attempt of
    # its budget: it retries them away, finishes, and leaves the world as a fault-free pass would.
    waits.backoffs.clear()
    within_budget(sb, op)
    report = safe_pass(controller(clients, world), dry_run=False)
    assert report.ok, report.summary()
    assert len(waits.backoffs) == ATTEMPTS - 1
    assert_converged(sb, world, clients)


def test_task_stopped_between_observe_and_apply(sb: Sandbox, clients: Clients) -> None:
    world = dns_world(sb)
    victim = running_tasks(sb, "test", serviceName="echo")[0]
    port = victim["containers"][0]["networkBindings"][0]["hostPort"]
    before_first(clients, ("route53", "ChangeResourceRecordSets"),
                 lambda: sb.client("ecs").stop_task(cluster="test", task=victim["taskArn"]))

    report = safe_pass(controller(clients, world), dry_run=False)

    # The plan was right when made: the stopping task's values land, and the next pass takes them out.
    assert report.ok, report.summary()
    assert any(v.split()[2] == str(port) for v in values(sb, world.private, f"_echo._tcp.{PRIVATE}.", "SRV") or [])
    report = safe_pass(controller(clients, world), dry_run=False)
    assert report.ok and [o.detail.split()[0] for o in report.outcomes] == ["UPSERT"] * 3, report.summary()
    assert len(values(sb, world.private, f"_echo._tcp.{PRIVATE}.", "SRV") or []) == 1
    sb.advance(0)
    sb.advance(sb.timings.task_start_seconds)  # the replacement runs
    assert safe_pass(controller(clients, world), dry_run=False).ok
    assert_converged(sb, world, clients)


@pytest.mark.parametrize("moment", [("ec2", "DescribeInstances"), ("route53", "ChangeResourceRecordSets")],
                         ids=["while-observing", "before-applying"])
def test_instance_terminated_mid_pass(sb: Sandbox, clients: Clients, moment: Op) -> None:
    world = dns_world(sb)
    victim = running_tasks(sb, "test", serviceName="echo")[0]
    doomed = sb.client("ecs").describe_container_instances(
        cluster="test", containerInstances=[victim["containerInstanceArn"]])["containerInstances"][0]["ec2InstanceId"]
    before_first(clients, moment, lambda: sb.terminate_instance(doomed))

    report = safe_pass(controller(clients, world), dry_run=False)

    # No crash; whatever the pass could not honour for the dead host is said, naming it.
    assert report.errors == (), report.summary()
    assert all(o.ok for o in report.outcomes), report.summary()
    if moment[0] == "ec2":  # ECS still listed the host, EC2 no longer gives its public address
        assert any(doomed in w and "has no public IP" in w for w in report.warnings), report.warnings
    sb.advance(0)
    sb.advance(sb.timings.task_start_seconds)  # its tasks run again on the surviving host
    assert safe_pass(controller(clients, world), dry_run=False).ok
    assert all(i["InstanceId"] != doomed for i, _ in serving_hosts(sb))
    assert_converged(sb, world, clients)


def test_broken_variables_are_named_and_hold_nothing_else_back(sb: Sandbox, clients: Clients) -> None:
    world = dns_world(sb)
    broken = {
        "SERVICE_PORT_²": f"_sq._tcp.{PRIVATE}", "SERVICE_PORT_80 ": f"_sp._tcp.{PRIVATE}",
        "SERVICE_FQDN_LOCAL": f"web\n.{PRIVATE}", "SERVICE_FQDN": "no-dot",
        "SERVICE_PORT_99999": f"_big._tcp.{PRIVATE}", "SERVICE_PORT_9090": f"_unbound._tcp.{PRIVATE}",
    }
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("odd", ports=[(8080, 0)], memory=16, cpu=8,
                                                   env={**broken, "SERVICE_PORT_8080": f"_ok._tcp.{PRIVATE}"}))
    ecs.run_task(cluster="test", taskDefinition="odd")
    sb.advance(sb.timings.task_start_seconds)
    (odd,) = running_tasks(sb, "test", family="odd")

    report = safe_pass(controller(clients, world), dry_run=False)

    assert report.ok, report.summary()
    for variable in broken:
        assert any(w.startswith("task ") and "(odd:1) container odd: " + variable in w for w in report.warnings), \
            variable
    # Everything else is published: echo's records, and the good variable of `odd` beside the broken.
    port = odd["containers"][0]["networkBindings"][0]["hostPort"]
    (srv,) = values(sb, world.private, f"_ok._tcp.{PRIVATE}.", "SRV") or [None]
    assert srv is not None and srv.split()[2] == str(port)
    names = {key[0] for zone in (world.public, world.private) for key in all_records(sb, zone)}
    assert not any("\n" in n or "²" in n or "sq" in n or "big" in n for n in names)
    assert_converged(sb, world, clients)
