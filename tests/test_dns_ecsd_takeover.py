"""Switching from ecsd: ecsd-shaped records (weighted A and SRV, SRV at TTL 0 without a trailing
dot, values of a host that is gone, names no container asks for any more) taken over by each
source on the strict sandbox, with no batch refused and no served value missing from DNS after
any change Route53 applies."""

from __future__ import annotations

from typing import Any

import pytest

from ecsd_world import ZONE, NeverMissing, ecsd_a, ecsd_srv, make_zone, plant, served
from ecsfleet.aws import Clients
from ecsfleet.dns import DnsSync
from ecsfleet.dns.docker_source import DockerDnsSync
from ecsfleet.dns.endpoints import Host
from ecsfleet.runner import PassReport, safe_pass
from ecsfleet.sandbox import Sandbox
from faults import RetryWaits, fault_suite
from ownership import all_records
from support import cluster_with_instances, running_tasks, task_definition

OWNER = "ecs-cluster/test"
CHANGE = ("route53", "ChangeResourceRecordSets")
ECHO, SRV, OLD = f"echo.{ZONE}.", f"_echo._tcp.{ZONE}.", f"old.{ZONE}."
GONE_IP, GONE_HOST = "10.0.9.9", "ip-10-0-9-9.ec2.internal"  # a host ecsd ran on, terminated since


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


def hosts(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """The cluster's EC2 instances by id."""
    ecs, ec2 = sb.client("ecs"), sb.client("ec2")
    arns = ecs.list_container_instances(cluster="test")["containerInstanceArns"]
    ids = [c["ec2InstanceId"] for c in ecs.describe_container_instances(cluster="test", containerInstances=arns)[
        "containerInstances"]]
    return {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]}


def echo_endpoints(sb: Sandbox) -> set[tuple[str, str, str]]:
    """What the running echo tasks serve: (name, type, value)."""
    ecs = sb.client("ecs")
    found = set()
    world = hosts(sb)
    for task in running_tasks(sb, "test", serviceName="echo"):
        ci = ecs.describe_container_instances(cluster="test", containerInstances=[task["containerInstanceArn"]])[
            "containerInstances"][0]
        host = world[ci["ec2InstanceId"]]
        port = task["containers"][0]["networkBindings"][0]["hostPort"]
        found |= {(ECHO, "A", host["PrivateIpAddress"]), (SRV, "SRV", f"1 1 {port} {host['PrivateDnsName']}")}
    return found


def ecs_pass(clients: Clients, **kwargs: Any) -> PassReport:
    return safe_pass(DnsSync(clients, "test", OWNER, **kwargs), dry_run=False)


def test_ecs_source_takes_over_ecsd_records_and_removes_what_no_task_serves(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    cluster_with_instances(sb, count=3)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("echo", ports=[(8080, 0)], memory=16, cpu=8, env={
        "SERVICE_FQDN_LOCAL": ECHO, "SERVICE_PORT_8080": SRV}))
    ecs.create_service(cluster="test", serviceName="echo", taskDefinition="echo", desiredCount=2,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(sb.timings.task_start_seconds)
    live = echo_endpoints(sb)
    idle = next(h for h in hosts(sb).values() if (ECHO, "A", h["PrivateIpAddress"]) not in live)
    # ecsd's records: the two serving hosts, a host that is gone, and a name that only the idle
    # host of this cluster (and a host outside it) published before their containers went away.
    plant(sb, zone_id, *[ecsd_a(ECHO, v) for n, k, v in live if k == "A"], ecsd_a(ECHO, GONE_IP),
          *[ecsd_srv(SRV, v.split()[3], int(v.split()[2])) for n, k, v in live if k == "SRV"],
          ecsd_srv(SRV, GONE_HOST, 31000), ecsd_a(OLD, idle["PrivateIpAddress"]), ecsd_a(OLD, "192.0.2.77"))
    watch = NeverMissing(sb, zone_id, clients, lambda: echo_endpoints(sb))
    sb.reset_calls()

    report = ecs_pass(clients, adopt_ecsd=True)

    # One batch, accepted whole: echo's weighted sets (the gone host's too) become its one set per
    # type, and the idle host's left-over under the old name goes; the outside host's stays.
    assert report.ok and sb.count(*CHANGE) == 1, report.summary()
    watch.assert_none_missing()
    after = all_records(sb, zone_id)
    assert served(sb, zone_id) == live | {(OLD, "A", "192.0.2.77")}
    assert after[(ECHO, "A", None)]["TTL"] == 10 and after[(SRV, "SRV", None)]["TTL"] == 0  # ecsd's TTLs
    assert (OLD, "A", idle["PrivateIpAddress"]) not in after and (OLD, "A", "192.0.2.77") in after
    assert {k for k in after if k[1] == "TXT"} == {(f"_ecsfleet-a.{ECHO}", "TXT", None),
                                                   (f"_ecsfleet-srv.{SRV}", "TXT", None)}

    # Converged: nothing more to send. Then the service moves: still no value missing.
    sb.reset_calls()
    assert ecs_pass(clients, adopt_ecsd=True).ok and sb.count(*CHANGE) == 0
    ecs.update_service(cluster="test", service="echo", desiredCount=3)
    sb.advance(sb.timings.task_start_seconds)
    assert ecs_pass(clients, adopt_ecsd=True).ok
    assert served(sb, zone_id) == echo_endpoints(sb) | {(OLD, "A", "192.0.2.77")}
    watch.assert_none_missing()


def test_ecs_source_without_adopt_leaves_ecsd_records_alone_and_says_how(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    cluster_with_instances(sb, count=1)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("echo", ports=[(8080, 0)], memory=16, cpu=8, env={
        "SERVICE_FQDN_LOCAL": ECHO}))
    ecs.run_task(cluster="test", taskDefinition="echo")
    sb.advance(sb.timings.task_start_seconds)
    idle_ip = next(iter(hosts(sb).values()))["PrivateIpAddress"]
    plant(sb, zone_id, ecsd_a(ECHO, GONE_IP), ecsd_a(OLD, idle_ip))
    before = all_records(sb, zone_id)
    sb.reset_calls()

    report = ecs_pass(clients)

    assert report.ok and sb.count(*CHANGE) == 0 and all_records(sb, zone_id) == before
    assert any(ECHO in w and "--adopt-ecsd" in w for w in report.warnings), report.warnings


# ---- the Docker source (one agent per host) ---------------------------------------------------------

HOST = Host("i-0123456789abcdef0", "54.1.2.3", "10.0.0.7", "ip-10-0-0-7.ec2.internal")
OTHER = ("10.0.0.8", "ip-10-0-0-8.ec2.internal")


class Engine:
    """The part of docker.DockerClient the agent reads (the real engine's tests are in
    test_dns_docker.py): running containers, inspected."""

    def __init__(self) -> None:
        self.running: list[Any] = []
        self.containers = self

    def list(self, all: bool = False, sparse: bool = False) -> list[Any]:
        return list(self.running)

    def run(self, name: str, env: dict[str, str], ports: dict[int, int] | None = None, host_net: bool = False) -> None:
        container = type("Container", (), {})()
        container.id = name
        container.attrs = {
            "Id": name, "Name": f"/{name}", "Config": {"Env": [f"{k}={v}" for k, v in env.items()]},
            "HostConfig": {"NetworkMode": "host" if host_net else "bridge"},
            "NetworkSettings": {"Ports": {f"{c}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(h)}]
                                          for c, h in (ports or {}).items()}}}
        self.running.append(container)


def agent(clients: Clients, engine: Engine, **kwargs: Any) -> DockerDnsSync:
    return DockerDnsSync(clients, engine, HOST, f"host/{HOST.id}", **kwargs)


def test_docker_agent_takes_over_this_hosts_ecsd_records_and_removes_its_left_overs(
    sb: Sandbox, clients: Clients
) -> None:
    zone_id = make_zone(sb)
    engine = Engine()
    engine.run("echo", {"SERVICE_FQDN_LOCAL": ECHO, "SERVICE_PORT_8080": SRV}, {8080: 32768})
    hostname = HOST.hostname or ""
    plant(sb, zone_id,
          ecsd_a(ECHO, HOST.private_ip or ""), ecsd_srv(SRV, hostname, 32768),  # what still runs here
          ecsd_srv(SRV, hostname, 8080),  # ecsd's literal reading of SERVICE_PORT_8080: nothing listens there
          ecsd_a(OLD, HOST.private_ip or ""),  # a container that died while ecsd was down
          ecsd_a(ECHO, OTHER[0]), ecsd_srv(SRV, OTHER[1], 32770))  # another host's: its own agent's business
    theirs = {(ECHO, "A", OTHER[0]), (SRV, "SRV", f"1 1 32770 {OTHER[1]}")}
    mine = {(ECHO, "A", HOST.private_ip or ""), (SRV, "SRV", f"1 1 32768 {hostname}")}
    watch = NeverMissing(sb, zone_id, clients, lambda: mine | theirs)
    sb.reset_calls()

    report = safe_pass(agent(clients, engine, adopt_ecsd=True), dry_run=False)

    assert report.ok and sb.count(*CHANGE) == 1, report.summary()
    watch.assert_none_missing()
    assert served(sb, zone_id) == mine | theirs
    after = all_records(sb, zone_id)
    # Its own sets kept in place, weighted, in their group's TTL (ecsd's 0 for SRV), now with the
    # registry records that make them its own; the target gets its trailing dot.
    mine_srv = after[(SRV, "SRV", f"{hostname}:32768")]
    assert (mine_srv["TTL"], mine_srv["Weight"]) == (0, 100)
    assert (f"_ecsfleet-srv.{SRV}", "TXT", f"{hostname}:32768") in after
    assert (f"_ecsfleet-a.{ECHO}", "TXT", HOST.private_ip) in after
    assert not [k for k in after if k[0] == OLD]
    sb.reset_calls()
    assert safe_pass(agent(clients, engine, adopt_ecsd=True), dry_run=False).ok and sb.count(*CHANGE) == 0

    # Its container stops: its values leave, the other host's stay.
    engine.running.clear()
    assert safe_pass(agent(clients, engine, adopt_ecsd=True), dry_run=False).ok
    assert served(sb, zone_id) == theirs


def test_docker_agent_without_adopt_or_upsert_only_removes_nothing_of_ecsds(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    engine = Engine()
    plant(sb, zone_id, ecsd_a(OLD, HOST.private_ip or ""), ecsd_srv(SRV, HOST.hostname or "", 8080))
    before = all_records(sb, zone_id)
    for kwargs in ({}, {"adopt_ecsd": True, "policy": "upsert-only"}):
        sb.reset_calls()
        assert safe_pass(agent(clients, engine, **kwargs), dry_run=False).ok
        assert sb.count(*CHANGE) == 0 and all_records(sb, zone_id) == before


def test_host_network_container_publishes_srv_at_its_own_port(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    engine = Engine()
    engine.run("hostnet", {"SERVICE_PORT_9090": SRV}, host_net=True)  # --net=host: no bindings at all
    engine.run("bridged", {"SERVICE_PORT_9091": f"_other._tcp.{ZONE}"})  # not published: warned about

    report = safe_pass(agent(clients, engine), dry_run=False)

    assert report.ok
    assert served(sb, zone_id) == {(SRV, "SRV", f"1 1 9090 {HOST.hostname}")}
    assert any("SERVICE_PORT_9091" in w and "not published" in w for w in report.warnings), report.warnings


def test_srv_ttl(sb: Sandbox, clients: Clients) -> None:
    zone_id = make_zone(sb)
    engine = Engine()
    engine.run("echo", {"SERVICE_PORT_8080": SRV, "SERVICE_FQDN_LOCAL": ECHO}, {8080: 32768})
    assert safe_pass(agent(clients, engine, srv_ttl=30), dry_run=False).ok
    ttls = {k[1]: r["TTL"] for k, r in all_records(sb, zone_id).items() if k[1] in ("A", "SRV")}
    assert ttls == {"A": 10, "SRV": 30}
