"""dns-sync against a Route53 that refuses what AWS refuses (the sandbox's rules layer): it never
sends a batch Route53 would refuse where it can know better, and it survives the refusals it
cannot foresee. Every test counts ChangeResourceRecordSets calls: a refused batch is split and
resent, so a refusal shows as extra calls (and as a failed outcome), never silently."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.dns import DnsSync
from ecsfleet.dns.docker_source import DockerDnsSync
from ecsfleet.dns.endpoints import Endpoint, Host
from ecsfleet.dns.plan import DnsPlan, desired_records, per_host_records, plan
from ecsfleet.dns.route53 import apply, read_records, read_zones
from ecsfleet.runner import PassReport, safe_pass
from ecsfleet.sandbox import Sandbox
from faults import ATTEMPTS, RetryWaits, before_first, fault_suite
from ownership import all_records
from support import cluster_with_instances, running_tasks, task_definition

ZONE = "example.com"
OWNER = "ecs-cluster/test"
CHANGE = ("route53", "ChangeResourceRecordSets")
HOST = Host("i-0123456789abcdef0", "54.1.2.3", "10.0.0.7", "ip-10-0-0-7.ec2.internal")


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


# ---- building worlds ------------------------------------------------------------------------------

def zone(sb: Sandbox) -> str:
    return str(sb.client("route53").create_hosted_zone(Name=ZONE, CallerReference=ZONE)["HostedZone"]["Id"]
               .rsplit("/", 1)[-1])


def change(sb: Sandbox, zone_id: str, *records: dict[str, Any], action: str = "CREATE") -> None:
    sb.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": action, "ResourceRecordSet": r} for r in records]})


def weighted(name: str, kind: str, value: str, set_id: str, ttl: int) -> dict[str, Any]:
    return {"Name": name, "Type": kind, "TTL": ttl, "SetIdentifier": set_id, "Weight": 100,
            "ResourceRecords": [{"Value": value}]}


def ecsd_a(name: str, ip: str) -> dict[str, Any]:
    """ecsd's A record: weighted, SetIdentifier the IP, Weight 100, TTL 10."""
    return weighted(name, "A", ip, ip, 10)


def ecsd_srv(name: str, host: str, port: int) -> dict[str, Any]:
    """ecsd's SRV record: weighted, SetIdentifier `<host>:<port>`, Weight 100, TTL 0."""
    return weighted(name, "SRV", f"1 1 {port} {host}.", f"{host}:{port}", 0)


def multivalue(name: str, ip: str, ttl: int = 60) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": ttl, "SetIdentifier": ip, "MultiValueAnswer": True,
            "ResourceRecords": [{"Value": ip}]}


def sets(sb: Sandbox, zone_id: str, name: str, kind: str) -> dict[str | None, dict[str, Any]]:
    """The record sets of one name and type, by SetIdentifier."""
    return {key[2]: r for key, r in all_records(sb, zone_id).items() if key[:2] == (name, kind)}


def values(record: dict[str, Any]) -> list[str]:
    return sorted(v["Value"] for v in record["ResourceRecords"])


def writes(sb: Sandbox) -> int:
    return sb.count(*CHANGE)


def ecs_pass(sb: Sandbox, **kwargs: Any) -> PassReport:
    clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
    return safe_pass(DnsSync(clients, "test", OWNER, **kwargs), dry_run=False)


def echo_service(sb: Sandbox, count: int) -> list[tuple[str, str, int]]:
    """`echo` on `count` hosts, publishing an A record (private IP) and an SRV record; returns
    (private IP, host name, host port) of each task."""
    cluster_with_instances(sb, count=count)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("echo", ports=[(8080, 0)], memory=16, cpu=8, env={
        "SERVICE_FQDN_LOCAL": f"echo.{ZONE}", "SERVICE_PORT_8080": f"_echo._tcp.{ZONE}"}))
    ecs.create_service(cluster="test", serviceName="echo", taskDefinition="echo", desiredCount=count,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(sb.timings.task_start_seconds)
    found = []
    for task in running_tasks(sb, "test"):
        ci = ecs.describe_container_instances(cluster="test", containerInstances=[task["containerInstanceArn"]])[
            "containerInstances"][0]
        instance = sb.client("ec2").describe_instances(InstanceIds=[ci["ec2InstanceId"]])["Reservations"][0][
            "Instances"][0]
        found.append((instance["PrivateIpAddress"], instance["PrivateDnsName"],
                      task["containers"][0]["networkBindings"][0]["hostPort"]))
    return sorted(found)


class FakeContainer:
    def __init__(self, attrs: dict[str, Any]) -> None:
        self.attrs, self.id = attrs, attrs["Id"]


class FakeEngine:
    """The part of docker.DockerClient the Docker source reads: the running containers, inspected."""

    def __init__(self) -> None:
        self.running: list[FakeContainer] = []
        self.containers = self

    def list(self, all: bool = False, sparse: bool = False) -> list[FakeContainer]:
        return list(self.running)

    def run(self, name: str, env: dict[str, str], ports: dict[int, int] | None = None) -> None:
        self.running.append(FakeContainer({
            "Id": name, "Name": f"/{name}", "Config": {"Env": [f"{k}={v}" for k, v in env.items()]},
            "NetworkSettings": {"Ports": {f"{c}/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(h)}]
                                          for c, h in (ports or {}).items()}}}))


def docker_agent(sb: Sandbox, engine: FakeEngine, adopt: bool = False, ttl: int = 10,
                 srv_ttl: int | None = None) -> DockerDnsSync:
    return DockerDnsSync(Clients(AwsTarget(sb.region, sb.endpoint_url)), engine, HOST, f"host/{HOST.id}",
                         ttl=ttl, adopt_ecsd=adopt, srv_ttl=srv_ttl)


def assert_clean(report: PassReport, calls: int, sb: Sandbox) -> None:
    """The pass applied everything it planned, in `calls` batches: none was refused."""
    assert report.ok, report.summary()
    assert writes(sb) == calls, (writes(sb), report.summary())


# ---- ecsd's records --------------------------------------------------------------------------------

def test_ecsd_weighted_a_and_srv_are_converted_in_one_atomic_batch(sb: Sandbox) -> None:
    zone_id = zone(sb)
    hosts = echo_service(sb, 2)
    change(sb, zone_id, *[ecsd_a(f"echo.{ZONE}", ip) for ip, _, _ in hosts],
           *[ecsd_srv(f"_echo._tcp.{ZONE}", host, port) for _, host, port in hosts])
    served = {"A": sorted(ip for ip, _, _ in hosts), "SRV": sorted(f"1 1 {p} {h}." for _, h, p in hosts)}
    before = all_records(sb, zone_id)
    sb.reset_calls()

    # Not ours without --adopt-ecsd: left alone, said so, and no refused CREATE beside them.
    report = ecs_pass(sb)
    assert_clean(report, 0, sb)
    assert all_records(sb, zone_id) == before
    assert sum("weighted record set(s)" in w and "--adopt-ecsd" in w for w in report.warnings) == 2, report.warnings

    # Adopted: each name's weighted sets deleted and its one set created in the same batch (Route53
    # applies it whole), so every value ecsd served keeps answering throughout.
    report = ecs_pass(sb, adopt_ecsd=True)
    assert_clean(report, 1, sb)
    assert sorted(o.detail.split()[0] for o in report.outcomes) == ["CREATE"] * 4 + ["DELETE"] * 4
    for name, kind in ((f"echo.{ZONE}.", "A"), (f"_echo._tcp.{ZONE}.", "SRV")):
        (simple,) = sets(sb, zone_id, name, kind).items()
        # ecsd's TTLs kept when adopting: 0 for SRV (--srv-ttl changes it), 10 for A.
        assert simple[0] is None and values(simple[1]) == served[kind] and simple[1]["TTL"] == (0 if kind == "SRV"
                                                                                               else 10)
        assert [s for s in sets(sb, zone_id, f"_ecsfleet-{kind.lower()}.{name}", "TXT")] == [None]

    sb.reset_calls()
    assert_clean(ecs_pass(sb, adopt_ecsd=True), 0, sb)  # converged


def test_docker_agent_adopts_its_ecsd_sets_in_place_and_keeps_the_group_ttl(sb: Sandbox) -> None:
    zone_id = zone(sb)
    srv, a = f"_echo._tcp.{ZONE}.", f"echo.{ZONE}."
    # ecsd on this host and on two others: weighted SRV sets at TTL 0, A sets at TTL 10.
    change(sb, zone_id, ecsd_srv(srv, HOST.hostname or "", 32768), ecsd_srv(srv, "ip-10-0-0-8.ec2.internal", 32770),
           ecsd_srv(srv, "ip-10-0-0-9.ec2.internal", 32771), ecsd_a(a, HOST.private_ip or ""),
           ecsd_a(a, "10.0.0.8"), ecsd_a(a, "10.0.0.9"))
    others = {k: v for k, v in all_records(sb, zone_id).items() if HOST.private_ip not in (k[2] or "")
              and HOST.hostname not in (k[2] or "")}
    engine = FakeEngine()
    engine.run("echo", {"SERVICE_PORT_8080": srv, "SERVICE_FQDN_LOCAL": a}, {8080: 32768})
    sb.reset_calls()

    report = safe_pass(docker_agent(sb, engine, adopt=True), dry_run=False)

    # Only the registry records are written (no delete and re-create); the SRV set keeps TTL 0,
    # the TTL of the weighted group it belongs to (ecsfleet's 10 would be refused beside the others).
    assert_clean(report, 1, sb)
    assert sorted(o.detail.split()[:3] for o in report.outcomes) == [
        ["CREATE", f"_ecsfleet-a.{a}", "TXT"], ["CREATE", f"_ecsfleet-srv.{srv}", "TXT"]]
    assert sets(sb, zone_id, srv, "SRV")[f"{HOST.hostname}:32768"]["TTL"] == 0
    assert {k: v for k, v in all_records(sb, zone_id).items() if k in others} == others

    # A second container on this host joins the weighted group at its TTL and weight.
    engine.run("echo2", {"SERVICE_PORT_8080": srv}, {8080: 32769})
    sb.reset_calls()
    assert_clean(safe_pass(docker_agent(sb, engine, adopt=True), dry_run=False), 1, sb)
    joined = sets(sb, zone_id, srv, "SRV")[f"{HOST.hostname}:32769"]
    assert (joined["TTL"], joined["Weight"], values(joined)) == (0, 100, [f"1 1 32769 {HOST.hostname}."])
    assert len(sets(sb, zone_id, srv, "SRV")) == 4


def test_weighted_group_ttl_changes_for_all_its_sets_in_one_batch(sb: Sandbox) -> None:
    zone_id = zone(sb)
    srv = f"_echo._tcp.{ZONE}."
    neighbour = ecsd_srv(srv, "ip-10-0-0-8.ec2.internal", 32770)
    change(sb, zone_id, ecsd_srv(srv, HOST.hostname or "", 32768), neighbour)
    engine = FakeEngine()
    engine.run("echo", {"SERVICE_PORT_8080": srv}, {8080: 32768})
    engine.run("echo2", {"SERVICE_PORT_8080": srv}, {8080: 32769})
    # --srv-ttl 10: ecsfleet's TTL once the group is all its own (ecsd's 0 is the default when adopting).
    assert safe_pass(docker_agent(sb, engine, adopt=True, srv_ttl=10), dry_run=False).ok
    assert {s["TTL"] for s in sets(sb, zone_id, srv, "SRV").values()} == {0}

    # The neighbour's ecsd goes away with its record: the group is all ours, and takes our TTL.
    # An UPSERT of one set to TTL 10 beside its sibling at 0 is refused; both are deleted and
    # created again in one batch instead.
    change(sb, zone_id, neighbour, action="DELETE")
    sb.reset_calls()
    report = safe_pass(docker_agent(sb, engine, adopt=True, srv_ttl=10), dry_run=False)
    assert_clean(report, 1, sb)
    assert [o.detail.split()[0] for o in report.outcomes] == ["DELETE", "DELETE", "CREATE", "CREATE"]
    assert {s["TTL"] for s in sets(sb, zone_id, srv, "SRV").values()} == {10}
    sb.reset_calls()
    assert_clean(safe_pass(docker_agent(sb, engine, adopt=True, srv_ttl=10), dry_run=False), 0, sb)


# ---- names someone else serves ------------------------------------------------------------------------

def test_name_served_by_someone_elses_multivalue_sets_is_left_alone(sb: Sandbox) -> None:
    zone_id = zone(sb)
    echo_service(sb, 2)
    change(sb, zone_id, multivalue(f"echo.{ZONE}", "192.0.2.1"), multivalue(f"echo.{ZONE}", "192.0.2.2"))
    before = sets(sb, zone_id, f"echo.{ZONE}.", "A")
    sb.reset_calls()

    report = ecs_pass(sb, adopt_ecsd=True)  # adopting ecsd's sets does not take these: not ecsd's shape

    # One batch, with the SRV name only: no refused CREATE of a simple set beside the multivalue ones.
    assert_clean(report, 1, sb)
    published = {o.detail.split()[1] for o in report.outcomes}
    assert published == {f"_echo._tcp.{ZONE}.", f"_ecsfleet-srv._echo._tcp.{ZONE}."}
    assert sets(sb, zone_id, f"echo.{ZONE}.", "A") == before
    (warning,) = [w for w in report.warnings if f"echo.{ZONE}. A" in w]
    assert "2 multivalue record set(s)" in warning and "left alone" in warning and "--adopt-ecsd" not in warning


def test_docker_agent_never_adds_a_set_beside_a_simple_set_or_a_cname(sb: Sandbox) -> None:
    zone_id = zone(sb)
    change(sb, zone_id, {"Name": f"web.{ZONE}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.5"}]},
           {"Name": f"alias.{ZONE}", "Type": "CNAME", "TTL": 300, "ResourceRecords": [{"Value": "web.example.com"}]})
    engine = FakeEngine()
    engine.run("web", {"SERVICE_FQDN_LOCAL": f"web.{ZONE}"})
    engine.run("alias", {"SERVICE_FQDN": f"alias.{ZONE}"})
    engine.run("ok", {"SERVICE_FQDN": f"ok.{ZONE}"})
    sb.reset_calls()

    report = safe_pass(docker_agent(sb, engine), dry_run=False)

    assert_clean(report, 1, sb)
    assert {o.detail.split()[1] for o in report.outcomes} == {f"ok.{ZONE}.", f"_ecsfleet-a.ok.{ZONE}."}
    assert any(f"web.{ZONE}. A" in w and "simple record set" in w for w in report.warnings), report.warnings
    assert any(f"alias.{ZONE}. A" in w and "CNAME" in w for w in report.warnings), report.warnings


# ---- the 100 weighted or multivalue sets of one name and type ------------------------------------------

def test_never_a_101st_multivalue_set(sb: Sandbox) -> None:
    zone_id = zone(sb)
    name = f"wide.{ZONE}."
    crowd = [multivalue(name, f"192.0.2.{i}") for i in range(1, 101)]
    change(sb, zone_id, *crowd)
    engine = FakeEngine()
    engine.run("wide", {"SERVICE_FQDN_LOCAL": name})
    sb.reset_calls()

    report = safe_pass(docker_agent(sb, engine), dry_run=False)

    # Route53 holds at most 100 multivalue sets per name and type: the 101st is not planned, it is
    # warned about (and published as soon as there is room).
    assert_clean(report, 0, sb)
    assert any(name in w and "at most 100" in w and HOST.private_ip in w for w in report.warnings), report.warnings
    change(sb, zone_id, crowd[0], action="DELETE")
    sb.reset_calls()
    report = safe_pass(docker_agent(sb, engine), dry_run=False)
    assert_clean(report, 1, sb)
    mine = sets(sb, zone_id, name, "A")[HOST.private_ip]
    assert (mine["TTL"], mine["MultiValueAnswer"]) == (60, True)  # the group's TTL
    assert len(sets(sb, zone_id, name, "A")) == 100


# ---- refusals dns-sync cannot foresee ---------------------------------------------------------------------

def test_prior_request_not_complete_is_retried_and_the_change_lands(sb: Sandbox, waits: RetryWaits) -> None:
    zone_id = zone(sb)
    echo_service(sb, 2)
    assert ecs_pass(sb).ok  # the zone's change stays PENDING (the sandbox clock does not move)
    sb.client("ecs").update_service(cluster="test", service="echo", desiredCount=1)
    sb.prior_request_not_complete(times=1)
    sb.reset_calls()
    waits.backoffs.clear()

    report = ecs_pass(sb)

    # botocore's retry budget resends the same batch after a backoff: two calls, one change.
    assert_clean(report, 2, sb)
    assert len(waits.backoffs) == 1
    assert len(values(sets(sb, zone_id, f"echo.{ZONE}.", "A")[None])) == 1

    # Refused on every attempt of the budget: reported as failed, nothing half-done; the next
    # pass plans it again and it lands.
    sb.client("ecs").update_service(cluster="test", service="echo", desiredCount=2)
    sb.advance(sb.timings.task_start_seconds)
    sb.prior_request_not_complete(times=ATTEMPTS)
    sb.reset_calls()
    report = ecs_pass(sb)
    assert not report.ok and writes(sb) == ATTEMPTS
    assert report.outcomes and all("PriorRequestNotComplete" in (o.error or "") for o in report.outcomes)
    assert len(values(sets(sb, zone_id, f"echo.{ZONE}.", "A")[None])) == 1
    sb.reset_calls()
    assert_clean(ecs_pass(sb), 1, sb)
    assert len(values(sets(sb, zone_id, f"echo.{ZONE}.", "A")[None])) == 2


def test_a_refused_change_is_pinned_by_splitting_and_the_others_land(sb: Sandbox, clients: Clients) -> None:
    zone_id = zone(sb)
    echo_service(sb, 1)
    registry = [{"Value": f'"heritage=ecsfleet,ecsfleet/owner={OWNER}"'}]
    gone = {"Name": f"gone.{ZONE}", "Type": "A", "TTL": 10, "ResourceRecords": [{"Value": "192.0.2.50"}]}
    change(sb, zone_id, gone, {"Name": f"_ecsfleet-a.gone.{ZONE}", "Type": "TXT", "TTL": 300,
                               "ResourceRecords": registry})
    # After the pass has read `gone`, someone changes its value: the pass's DELETE carries stale
    # values, and Route53 refuses the whole batch holding it.
    moved = {**gone, "ResourceRecords": [{"Value": "192.0.2.51"}]}
    before_first(clients, CHANGE, lambda: change(sb, zone_id, moved, action="UPSERT"))
    sb.reset_calls()

    report = safe_pass(DnsSync(clients, "test", OWNER), dry_run=False)

    # Three change groups (_echo SRV, echo A, gone) in one batch, refused; split into [_echo SRV]
    # and [echo A, gone]: the first lands, the second is refused and split again: [echo A] lands,
    # [gone] is refused alone and reported. 1 + 2 + 2 calls (and the meddler's UPSERT); a group
    # (a record and its registry record) is never split.
    assert writes(sb) == 1 + 5
    failed = [o for o in report.outcomes if not o.ok]
    assert [o.detail.split()[:2] for o in failed] == [["DELETE", f"gone.{ZONE}."],
                                                      ["DELETE", f"_ecsfleet-a.gone.{ZONE}."]]
    assert all("InvalidChangeBatch" in (o.error or "") for o in failed)
    assert len([o for o in report.outcomes if o.ok]) == 4
    assert values(sets(sb, zone_id, f"gone.{ZONE}.", "A")[None]) == ["192.0.2.51"]
    assert sets(sb, zone_id, f"echo.{ZONE}.", "A") and sets(sb, zone_id, f"_echo._tcp.{ZONE}.", "SRV")

    # The next pass reads the new value: its DELETE matches, and it converges.
    sb.reset_calls()
    assert_clean(safe_pass(DnsSync(clients, "test", OWNER), dry_run=False), 1, sb)
    assert not sets(sb, zone_id, f"gone.{ZONE}.", "A") and not sets(sb, zone_id, f"_ecsfleet-a.gone.{ZONE}.", "TXT")


# ---- any starting point: whatever the zone holds, the planned batches are accepted -----------------------

_seq = iter(range(10**9))


@st.composite
def name_states(draw: st.DrawFn) -> list[dict[str, Any]]:
    """What a zone may hold under `p.example.com. A` (and its registry name), as Route53 allows it:
    one routing policy per name and type, one TTL for a weighted group; each set ours, another
    owner's, or nobody's (and then maybe in ecsd's shape)."""
    routing = draw(st.sampled_from(["none", "simple", "weighted", "multivalue"]))
    name, registry = f"p.{ZONE}.", f"_ecsfleet-a.p.{ZONE}."
    if routing == "none":
        return []
    group_ttl = draw(st.sampled_from([0, 10, 60]))
    count = 1 if routing == "simple" else draw(st.integers(1, 4))
    records: list[dict[str, Any]] = []
    for i in range(count):
        ip = draw(st.sampled_from(["10.0.0.7", "10.0.0.8", "10.0.0.9", "192.0.2.1"]))
        owner = draw(st.sampled_from(["me", "other", "nobody", "ecsd"]))
        set_id = None if routing == "simple" else (ip if owner == "ecsd" or draw(st.booleans()) else f"id-{i}")
        if set_id is not None and any(r.get("SetIdentifier") == set_id for r in records):
            continue
        record: dict[str, Any] = {"Name": name, "Type": "A", "ResourceRecords": [{"Value": ip}],
                                  "TTL": group_ttl if routing != "multivalue" else draw(st.sampled_from([0, 10, 60]))}
        if routing == "weighted":
            record.update(SetIdentifier=set_id, Weight=100 if owner == "ecsd" else draw(st.sampled_from([100, 5])))
        elif routing == "multivalue":
            record.update(SetIdentifier=set_id, MultiValueAnswer=True)
        records.append(record)
        if owner in ("me", "other"):
            txt_value = f'"heritage=ecsfleet,ecsfleet/owner={OWNER if owner == "me" else "someone-else"}"'
            registry_set: dict[str, Any] = {"Name": registry, "Type": "TXT", "TTL": 300,
                                            "ResourceRecords": [{"Value": txt_value}]}
            if set_id is not None:
                registry_set.update(SetIdentifier=set_id, MultiValueAnswer=True)
            records.append(registry_set)
    return records


def _planted(routing: str, *sets: tuple[str, str | None, int, str | None]) -> list[dict[str, Any]]:
    """(value, SetIdentifier, TTL, owner or None) -> the records `name_states` would draw."""
    found: list[dict[str, Any]] = []
    for ip, set_id, ttl, owner in sets:
        record: dict[str, Any] = {"Name": f"p.{ZONE}.", "Type": "A", "TTL": ttl, "ResourceRecords": [{"Value": ip}]}
        if set_id is not None:
            record.update({"SetIdentifier": set_id, routing: 100 if routing == "Weight" else True})
        found.append(record)
        if owner:
            registry: dict[str, Any] = {"Name": f"_ecsfleet-a.p.{ZONE}.", "Type": "TXT", "TTL": 300,
                                        "ResourceRecords": [{"Value": f'"heritage=ecsfleet,ecsfleet/owner={owner}"'}]}
            found.append({**registry, "SetIdentifier": set_id, "MultiValueAnswer": True} if set_id else registry)
    return found


ECSD_PAIR = _planted("Weight", ("10.0.0.7", "10.0.0.7", 10, None), ("10.0.0.9", "10.0.0.9", 10, None))
OURS_MULTIVALUE = _planted("MultiValueAnswer", ("10.0.0.7", "10.0.0.7", 60, OWNER), ("10.0.0.9", "x", 0, OWNER))
THEIRS_AND_OURS = _planted("Weight", ("10.0.0.8", "10.0.0.8", 0, "someone-else"), ("10.0.0.7", "10.0.0.7", 0, OWNER))
OUR_SIMPLE = _planted("Weight", ("10.0.0.9", None, 60, OWNER))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@example(planted=ECSD_PAIR, cluster_wide=True, wanted={"10.0.0.7", "10.0.0.8"}, sync=True, adopt=True)
@example(planted=ECSD_PAIR, cluster_wide=False, wanted={"10.0.0.7", "10.0.0.8"}, sync=True, adopt=True)
@example(planted=OURS_MULTIVALUE, cluster_wide=True, wanted={"10.0.0.8"}, sync=False, adopt=False)
@example(planted=OURS_MULTIVALUE, cluster_wide=False, wanted={"10.0.0.8"}, sync=True, adopt=False)
@example(planted=THEIRS_AND_OURS, cluster_wide=False, wanted={"10.0.0.7", "10.0.0.8"}, sync=True, adopt=False)
@example(planted=OUR_SIMPLE, cluster_wide=False, wanted={"10.0.0.7"}, sync=True, adopt=False)
@given(planted=name_states(), cluster_wide=st.booleans(), wanted=st.sets(st.sampled_from(["10.0.0.7", "10.0.0.8"])),
       sync=st.booleans(), adopt=st.booleans())
def test_any_zone_state_gets_only_batches_route53_accepts(
    sb: Sandbox, planted: list[dict[str, Any]], cluster_wide: bool, wanted: set[str], sync: bool, adopt: bool
) -> None:
    route53 = sb.client("route53")
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference=f"prop-{next(_seq)}")["HostedZone"]["Id"]
    if planted:
        change(sb, zone_id, *planted)
    zones = read_zones(route53, [zone_id])
    endpoints = [Endpoint(f"p.{ZONE}.", "A", ip, "i-1", True) for ip in sorted(wanted)]
    policy = "sync" if sync else "upsert-only"

    def one_pass() -> tuple[DnsPlan, list[Any]]:
        existing = read_records(route53, zones)
        if cluster_wide:
            desired, _ = desired_records(endpoints, zones, 10)
        else:
            desired, _ = per_host_records(endpoints, zones, 10, existing)
        result = plan(desired, existing, OWNER, policy, adopt=adopt)
        return result, apply(route53, result)

    first, outcomes = one_pass()
    assert all(o.ok for o in outcomes), (planted, first.changes, [o.error for o in outcomes if not o.ok])
    second, outcomes = one_pass()
    assert second.changes == [], (planted, first.changes, second.changes)
