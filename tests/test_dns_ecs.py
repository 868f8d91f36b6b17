"""dns-sync with the ECS source, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.cli import main
from ecsfleet.dns import DnsSync, handler
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances, fresh, running_tasks, task_definition

ZONE = "example.com"
OWNER = "ecs-cluster/test"


@pytest.fixture(scope="module")
def dns_sandbox() -> Iterator[Sandbox]:
    """A sandbox that also answers its zones over DNS (UDP)."""
    with Sandbox(dns_port=0) as sb:
        yield sb


@pytest.fixture
def dsb(dns_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return fresh(dns_sandbox, monkeypatch)


def zone(sb: Sandbox, name: str = ZONE, private: bool = False) -> str:
    args: dict[str, Any] = {"Name": name, "CallerReference": f"{name}-{private}"}
    if private:
        vpc = sb.client("ec2").create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        args["VPC"] = {"VPCRegion": sb.region, "VPCId": vpc}
        args["HostedZoneConfig"] = {"PrivateZone": True, "Comment": "private"}
    return str(sb.client("route53").create_hosted_zone(**args)["HostedZone"]["Id"].rsplit("/", 1)[-1])


def records(sb: Sandbox, zone_id: str) -> dict[tuple[str, str], list[str]]:
    found = {}
    for page in sb.client("route53").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for r in page["ResourceRecordSets"]:
            if r["Type"] in ("A", "SRV", "TXT"):
                found[(r["Name"], r["Type"])] = sorted(v["Value"] for v in r["ResourceRecords"])
    return found


def service(sb: Sandbox, name: str, count: int, env: dict[str, str], port: int = 8080, **kwargs: Any) -> None:
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition(name, ports=[(port, 0)], env=env, memory=16, cpu=8))
    ecs.create_service(cluster="test", serviceName=name, taskDefinition=name, desiredCount=count,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}], **kwargs)
    sb.advance(2)


def sync(sb: Sandbox, **kwargs: Any) -> Any:
    clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
    dry = kwargs.pop("dry", False)
    return safe_pass(DnsSync(clients, "test", kwargs.pop("owner", OWNER), **kwargs), dry_run=dry)


def writes(sb: Sandbox) -> int:
    return sb.count("route53", "ChangeResourceRecordSets")


def srv_values(sb: Sandbox, zone_id: str, name: str) -> list[str]:
    return records(sb, zone_id).get((name, "SRV"), [])


def test_three_hosts_share_one_name_and_records_follow_scaling(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=3)
    env = {"SERVICE_PORT_8080": f"_echo._tcp.{ZONE}", "SERVICE_FQDN_LOCAL": f"echo.{ZONE}",
           "SERVICE_FQDN": f"public-echo.{ZONE}"}
    service(dsb, "echo", 3, env)
    tasks = running_tasks(dsb, "test")
    ports = sorted(t["containers"][0]["networkBindings"][0]["hostPort"] for t in tasks)

    report = sync(dsb)

    assert report.ok, report.summary()
    srv = srv_values(dsb, zone_id, f"_echo._tcp.{ZONE}.")
    assert len(srv) == 3 and sorted(int(v.split()[2]) for v in srv) == ports
    assert all(v.startswith("1 1 ") and v.endswith(".") for v in srv)
    snap_ips = records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]
    assert len(snap_ips) == 3 and all(ip.startswith("10.10.") for ip in snap_ips)
    assert len(records(dsb, zone_id)[(f"public-echo.{ZONE}.", "A")]) == 3
    assert records(dsb, zone_id)[(f"_ecsfleet-srv._echo._tcp.{ZONE}.", "TXT")] == [
        f'"heritage=ecsfleet,ecsfleet/owner={OWNER}"']

    dsb.reset_calls()
    assert sync(dsb).outcomes == () and writes(dsb) == 0

    dsb.client("ecs").update_service(cluster="test", service="echo", desiredCount=1)
    assert sync(dsb).ok
    assert len(srv_values(dsb, zone_id, f"_echo._tcp.{ZONE}.")) == 1
    assert len(records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]) == 1
    dsb.client("ecs").update_service(cluster="test", service="echo", desiredCount=3)
    dsb.advance(2)
    assert sync(dsb).ok
    ports = sorted(t["containers"][0]["networkBindings"][0]["hostPort"] for t in running_tasks(dsb, "test"))
    assert sorted(int(v.split()[2]) for v in srv_values(dsb, zone_id, f"_echo._tcp.{ZONE}.")) == ports
    assert len(records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]) == 3
    dsb.client("ecs").update_service(cluster="test", service="echo", desiredCount=0)
    assert sync(dsb).ok
    left = records(dsb, zone_id)
    assert (f"_echo._tcp.{ZONE}.", "SRV") not in left and (f"_ecsfleet-srv._echo._tcp.{ZONE}.", "TXT") not in left


def test_one_controller_kept_across_passes_writes_what_a_new_one_would(dsb: Sandbox) -> None:
    """A daemon keeps one controller, and with it the hosts and SRV texts of its last pass
    (endpoints.Places): through a scale-in, a scale-out on new host ports and a host drained, each
    of its passes leaves the zone as a controller new to the cluster finds it, with nothing to do."""
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=3)
    service(dsb, "echo", 3, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}", "SERVICE_PORT_8080": f"_echo._tcp.{ZONE}"})
    clients = Clients(AwsTarget(dsb.region, dsb.endpoint_url))
    daemon = DnsSync(clients, "test", OWNER)
    ecs = dsb.client("ecs")
    steps = [lambda: None, lambda: ecs.update_service(cluster="test", service="echo", desiredCount=1),
             lambda: ecs.update_service(cluster="test", service="echo", desiredCount=3),
             lambda: ecs.update_container_instances_state(cluster="test", status="DRAINING",
                                                          containerInstances=[drained])]
    drained = ecs.list_container_instances(cluster="test")["containerInstanceArns"][0]
    ec2_id = ecs.describe_container_instances(cluster="test", containerInstances=[drained])["containerInstances"][0][
        "ec2InstanceId"]
    name = dsb.client("ec2").describe_instances(InstanceIds=[ec2_id])["Reservations"][0]["Instances"][0][
        "PrivateDnsName"]
    for step in steps:
        step()
        dsb.advance(2)
        assert safe_pass(daemon, dry_run=False).ok
        assert safe_pass(DnsSync(clients, "test", OWNER), dry_run=True).planned == ()
    srv = srv_values(dsb, zone_id, f"_echo._tcp.{ZONE}.")
    assert len(srv) == 3 and not any(value.endswith(f" {name}.") for value in srv)


def test_stopping_task_leaves_dns_while_it_still_runs(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=3)
    service(dsb, "echo", 3, {"SERVICE_PORT_8080": f"_echo._tcp.{ZONE}", "SERVICE_FQDN_LOCAL": f"echo.{ZONE}"})
    assert sync(dsb).ok
    victim = running_tasks(dsb, "test")[0]
    ec2_id = dsb.client("ecs").describe_container_instances(
        cluster="test", containerInstances=[victim["containerInstanceArn"]])["containerInstances"][0]["ec2InstanceId"]
    instance = dsb.client("ec2").describe_instances(InstanceIds=[ec2_id])["Reservations"][0]["Instances"][0]
    dsb.client("ecs").stop_task(cluster="test", task=victim["taskArn"])
    assert main(["dns-sync", "--cluster", "test", "--once"]) == 0
    described = dsb.client("ecs").describe_tasks(cluster="test", tasks=[victim["taskArn"]])["tasks"][0]
    assert described["lastStatus"] == "RUNNING"
    srv = srv_values(dsb, zone_id, f"_echo._tcp.{ZONE}.")
    assert len(srv) == 2 and not any(v.split()[3] == instance["PrivateDnsName"] + "." for v in srv)
    a_values = records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]
    assert len(a_values) == 2 and instance["PrivateIpAddress"] not in a_values


def test_draining_host_values_leave_before_its_tasks_are_replaced(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=3)
    service(dsb, "echo", 3, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}", "SERVICE_PORT_8080": f"_echo._tcp.{ZONE}"})
    assert sync(dsb).ok
    ecs = dsb.client("ecs")
    arn = ecs.list_container_instances(cluster="test")["containerInstanceArns"][0]
    ec2_id = ecs.describe_container_instances(cluster="test", containerInstances=[arn])["containerInstances"][0][
        "ec2InstanceId"]
    instance = dsb.client("ec2").describe_instances(InstanceIds=[ec2_id])["Reservations"][0]["Instances"][0]
    (draining,) = [t for t in running_tasks(dsb, "test") if t["containerInstanceArn"] == arn]
    ecs.update_container_instances_state(cluster="test", containerInstances=[arn], status="DRAINING")
    assert main(["dns-sync", "--cluster", "test", "--once"]) == 0
    assert instance["PrivateIpAddress"] not in records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]
    srv = srv_values(dsb, zone_id, f"_echo._tcp.{ZONE}.")
    assert len(srv) == 2 and not any(v.split()[3] == instance["PrivateDnsName"] + "." for v in srv)
    # The task on the draining host has not even been told to stop: its replacement is not running yet.
    now = ecs.describe_tasks(cluster="test", tasks=[draining["taskArn"]])["tasks"][0]
    assert (now["desiredStatus"], now["lastStatus"]) == ("RUNNING", "RUNNING")
    assert len([t for t in running_tasks(dsb, "test") if t["lastStatus"] == "RUNNING"]) == 3


def test_foreign_records_are_never_touched(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=1)
    route53 = dsb.client("route53")
    foreign = {"Name": f"mail.{ZONE}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.1"}]}
    taken = {"Name": f"taken.{ZONE}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.2"}]}
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": foreign}, {"Action": "CREATE", "ResourceRecordSet": taken}]})
    service(dsb, "taken", 1, {"SERVICE_FQDN_LOCAL": f"taken.{ZONE}"})
    before = records(dsb, zone_id)

    report = sync(dsb)

    after = records(dsb, zone_id)
    assert after[(f"mail.{ZONE}.", "A")] == before[(f"mail.{ZONE}.", "A")] == ["192.0.2.1"]
    assert after[(f"taken.{ZONE}.", "A")] == ["192.0.2.2"]
    assert any("taken.example.com. A" in w and "not owned" in w for w in report.warnings)
    # Records another ecsfleet owns are left alone too, even when no container asks for them any more.
    service(dsb, "mine", 1, {"SERVICE_FQDN_LOCAL": f"mine.{ZONE}"})
    assert sync(dsb).ok
    owned = records(dsb, zone_id)
    assert (f"mine.{ZONE}.", "A") in owned
    dsb.client("ecs").update_service(cluster="test", service="mine", desiredCount=0)
    dsb.reset_calls()
    report = sync(dsb, owner="someone-else")
    assert report.ok and report.outcomes == () and writes(dsb) == 0
    assert records(dsb, zone_id) == owned


def test_500_containers_cost_at_most_two_change_batches(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=25, instance_type="m5.2xlarge")
    ecs = dsb.client("ecs")
    for n in range(50):
        name = f"svc{n}"
        ecs.register_task_definition(**task_definition(name, ports=[(8080, 0)], memory=16, cpu=8, env={
            "SERVICE_PORT_8080": f"_{name}._tcp.{ZONE}", "SERVICE_FQDN_LOCAL": f"{name}.{ZONE}"}))
        ecs.create_service(cluster="test", serviceName=name, taskDefinition=name, desiredCount=10)
    dsb.advance(2)
    assert len(running_tasks(dsb, "test")) == 500
    dsb.reset_calls()

    assert sync(dsb).ok
    assert 1 <= writes(dsb) <= 2
    assert sum(len(v) for (name, kind), v in records(dsb, zone_id).items() if kind == "SRV") == 500

    dsb.reset_calls()
    assert sync(dsb).outcomes == () and writes(dsb) == 0


def test_upsert_only_never_deletes(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=2)
    service(dsb, "echo", 2, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"})
    assert sync(dsb).ok
    dsb.client("ecs").update_service(cluster="test", service="echo", desiredCount=0)
    assert sync(dsb, policy="upsert-only").outcomes == ()
    assert len(records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]) == 2


def test_bad_variables_warn_and_hold_nothing_else_back(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=1)
    service(dsb, "echo", 1, {"SERVICE_PORT_http": f"_x._tcp.{ZONE}", "SERVICE_PORT_9999": f"_y._tcp.{ZONE}",
                             "SERVICE_FQDN_LOCAL": "bad_name!.example.com", "SERVICE_FQDN": "echo.elsewhere.org",
                             "SERVICE_PORT_8080": f"_ok._tcp.{ZONE}"})
    report = sync(dsb)
    assert report.ok
    text = "\n".join(report.warnings)
    assert "SERVICE_PORT_http: 'http' is not a port number" in text
    assert "SERVICE_PORT_9999" in text and "port 9999 is not published" in text
    assert "SERVICE_FQDN_LOCAL='bad_name!.example.com'" in text
    assert "echo.elsewhere.org. is in no managed hosted zone" in text
    assert "container echo" in text
    assert len(srv_values(dsb, zone_id, f"_ok._tcp.{ZONE}.")) == 1


def test_longest_suffix_and_split_horizon_zones(dsb: Sandbox) -> None:
    parent = zone(dsb, ZONE)
    child = zone(dsb, f"svc.{ZONE}")
    private = zone(dsb, f"svc.{ZONE}", private=True)
    cluster_with_instances(dsb, count=1)
    service(dsb, "echo", 1, {"SERVICE_FQDN": f"echo.svc.{ZONE}", "SERVICE_FQDN_LOCAL": f"echo-local.svc.{ZONE}"})
    assert sync(dsb).ok
    assert (f"echo.svc.{ZONE}.", "A") in records(dsb, child)
    assert (f"echo-local.svc.{ZONE}.", "A") in records(dsb, private)
    assert (f"echo-local.svc.{ZONE}.", "A") not in records(dsb, child)
    assert not [k for k in records(dsb, parent) if k[1] == "A"]


def test_a_failed_batch_is_reported_and_retried_next_pass(dsb: Sandbox) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=1)
    service(dsb, "echo", 1, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"})
    dsb.fail("route53", "ChangeResourceRecordSets", times=10)
    report = sync(dsb)
    assert not report.ok and all(not o.ok for o in report.outcomes)
    assert (f"echo.{ZONE}.", "A") not in records(dsb, zone_id)
    dsb.reset()  # faults gone; state rebuilt the same way
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=1)
    service(dsb, "echo", 1, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"})
    dsb.throttle("route53", "ChangeResourceRecordSets", times=2)
    assert sync(dsb).ok
    assert (f"echo.{ZONE}.", "A") in records(dsb, zone_id)


def test_records_answer_real_dns_queries(dsb: Sandbox) -> None:
    from dnslib import QTYPE, DNSRecord

    zone(dsb)
    cluster_with_instances(dsb, count=2)
    service(dsb, "echo", 2, {"SERVICE_PORT_8080": f"_echo._tcp.{ZONE}"})
    assert sync(dsb).ok
    assert dsb.dns_port
    answer = DNSRecord.parse(DNSRecord.question(f"_echo._tcp.{ZONE}", "SRV").send("127.0.0.1", dsb.dns_port,
                                                                                  timeout=5))
    srv = [r for r in answer.rr if r.rtype == QTYPE.SRV]
    assert len(srv) == 2 and {r.rdata.port for r in srv} == {
        t["containers"][0]["networkBindings"][0]["hostPort"] for t in running_tasks(dsb, "test")}


def test_cli_dry_run_and_lambda_handler(dsb: Sandbox, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=1)
    service(dsb, "echo", 1, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"})
    assert main(["dns-sync", "--cluster", "test", "--once", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 change(s) planned" in out and f"CREATE echo.{ZONE}. A" in out
    assert records(dsb, zone_id).get((f"echo.{ZONE}.", "A")) is None
    monkeypatch.setenv("ECSFLEET_CLUSTER", "test")
    summary = handler({}, None)
    assert summary["ok"] and len(summary["applied"]) == 2
    assert main(["dns-sync", "--cluster", "test", "--once"]) == 0
    assert "converged" in capsys.readouterr().out
    monkeypatch.delenv("ECSFLEET_CLUSTER")
    assert main(["dns-sync", "--once"]) == 2
    assert "no cluster" in capsys.readouterr().err
