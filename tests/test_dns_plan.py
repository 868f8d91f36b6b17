"""dns-sync's pure parts: endpoints from env, desired record sets, the diff, batching."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

import builders
from ecsfleet.dns.docker_source import parse_container
from ecsfleet.dns.endpoints import Endpoint, Host, container_endpoints, snapshot_endpoints
from ecsfleet.dns.names import Checked, name_problem, value_problem
from ecsfleet.dns.plan import Change, desired_records, pack, per_host_records, plan
from ecsfleet.dns.records import RecordKey, RecordSet, Zone, registry_key, registry_record
from ecsfleet.snapshot import PortBinding

ZONE = Zone("Z1", "example.com.", False)
HOST = Host("i-1", "54.0.0.1", "10.0.0.1", "ip-10-0-0-1.ec2.internal")


def test_ecsd_conventions_both_readings_of_the_port() -> None:
    env = {"SERVICE_FQDN": "web.example.com", "SERVICE_FQDN_LOCAL": "web.internal.example.com",
           "SERVICE_PORT_8080": "_web._tcp.example.com", "SERVICE_PORT_80": "_legacy._tcp.example.com"}
    # 8080 is a container port bound to 32768; 80 is no container port but a published host port (ecsd's reading).
    bindings = [PortBinding(8080, 32768), PortBinding(9000, 80)]
    found, warnings = container_endpoints("c", env, bindings, HOST)
    assert warnings == []
    assert set(found) == {
        Endpoint("web.example.com.", "A", "54.0.0.1", "i-1", False),
        Endpoint("web.internal.example.com.", "A", "10.0.0.1", "i-1", True),
        Endpoint("_web._tcp.example.com.", "SRV", "1 1 32768 ip-10-0-0-1.ec2.internal.", "i-1", True),
        Endpoint("_legacy._tcp.example.com.", "SRV", "1 1 80 ip-10-0-0-1.ec2.internal.", "i-1", True),
    }


def test_no_public_ip_is_a_warning() -> None:
    found, warnings = container_endpoints("task t container web", {"SERVICE_FQDN": "web.example.com"}, [],
                                          Host("i-2", None, "10.0.0.2", "h.internal"))
    assert found == [] and warnings == ["task t container web: SERVICE_FQDN='web.example.com': host i-2 has no "
                                        "public IP"]


def test_desired_record_sets_merge_hosts_and_cap_at_400() -> None:
    endpoints = [Endpoint("web.example.com.", "A", f"10.0.{i // 250}.{i % 250}", f"i-{i}", True) for i in range(450)]
    desired, warnings = desired_records(endpoints, [ZONE], 10)
    (record,) = desired.values()
    assert len(record.values) == 400 and "450 values" in warnings[0] and "50 are left out" in warnings[0]


def test_converged_plan_is_empty_and_changes_are_minimal() -> None:
    want = RecordSet("web.example.com.", "A", 10, ("10.0.0.1", "10.0.0.2"))
    desired = {("Z1", want.key): want}
    created = plan(desired, {}, "me")
    assert [c.action for _, c in created.changes] == ["CREATE", "CREATE"]
    existing = {("Z1", want.key): want, ("Z1", registry_key(want.key)): registry_record(want.key, "me", 300)}
    assert plan(desired, existing, "me").changes == []
    grown = RecordSet("web.example.com.", "A", 10, ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
    assert [c.action for _, c in plan({("Z1", grown.key): grown}, existing, "me").changes] == ["UPSERT"]
    assert [c.action for _, c in plan({}, existing, "me").changes] == ["DELETE", "DELETE"]
    assert plan({}, existing, "me", policy="upsert-only").changes == []
    assert plan({}, existing, "someone-else").changes == []


def test_per_host_records_keep_ecsd_shape_where_it_exists() -> None:
    a = Endpoint("web.example.com.", "A", "10.0.0.1", "i-1", True)
    srv = Endpoint("_web._tcp.example.com.", "SRV", "1 1 32768 ip-10-0-0-1.ec2.internal.", "i-1", True)
    ecsd = RecordSet("web.example.com.", "A", 10, ("10.0.0.9",), "10.0.0.9", weight=100)
    desired, _ = per_host_records([a, srv], [ZONE], 10, {("Z1", ecsd.key): ecsd})
    by_type = {r.record_type: r for r in desired.values()}
    assert (by_type["A"].set_identifier, by_type["A"].weight, by_type["A"].multivalue) == ("10.0.0.1", 100, False)
    assert (by_type["SRV"].set_identifier, by_type["SRV"].multivalue) == ("ip-10-0-0-1.ec2.internal:32768", True)


def test_adopting_ecsd_records_writes_only_the_registry() -> None:
    ecsd = RecordSet("web.example.com.", "A", 10, ("10.0.0.1",), "10.0.0.1", weight=100)
    desired, _ = per_host_records([Endpoint("web.example.com.", "A", "10.0.0.1", "i-1", True)], [ZONE], 10,
                                  {("Z1", ecsd.key): ecsd})
    refused = plan(desired, {("Z1", ecsd.key): ecsd}, "host/i-1")
    assert refused.changes == [] and "not owned" in refused.warnings[0]
    adopted = plan(desired, {("Z1", ecsd.key): ecsd}, "host/i-1", adopt=True)
    assert [(c.action, c.record.record_type) for _, c in adopted.changes] == [("CREATE", "TXT")]
    assert adopted.changes[0][1].record.set_identifier == "10.0.0.1"


def test_batches_respect_route53_limits_and_keep_groups_whole() -> None:
    groups = [(Change("CREATE", RecordSet(f"n{i}.example.com.", "A", 10, tuple(f"10.0.0.{j}" for j in range(9)))),
               Change("CREATE", registry_record(RecordKey(f"n{i}.example.com.", "A"), "me", 300)))
              for i in range(150)]
    batches = pack(groups)
    assert len(batches) == 2
    for batch in batches:
        assert sum(c.cost[0] for g in batch for c in g) <= 1000
    upserts = [(Change("UPSERT", RecordSet(f"u{i}.example.com.", "A", 10, ("10.0.0.1",) * 300)),) for i in range(4)]
    assert [len(b) for b in pack(upserts)] == [1, 1, 1, 1]  # an UPSERT of 300 values counts 600


def test_invalid_output_is_never_sent() -> None:
    bad = RecordSet("web.example.com.", "SRV", 10, ("1 1 99999 host.example.com.",))
    result = plan({("Z1", bad.key): bad}, {}, "me")
    assert result.changes == [] and "0-65535" in result.warnings[0]


def test_docker_inspect_ports_are_deduped() -> None:
    attrs = {"Id": "abc", "Name": "/echo", "Config": {"Env": ["SERVICE_PORT_8080=_e._tcp.example.com", "A=b=c"]},
             "NetworkSettings": {"Ports": {"8080/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"},
                                                        {"HostIp": "::", "HostPort": "32768"}], "9090/tcp": None}}}
    container = parse_container(attrs)
    assert container.name == "echo" and container.environment["A"] == "b=c"
    assert container.bindings == (PortBinding(8080, 32768, "tcp"),)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["SERVICE_FQDN", "SERVICE_FQDN_LOCAL", "SERVICE_PORT_80", "SERVICE_PORT_x",
                                        "SERVICE_PORT_8080", "SERVICE_PORT_", "SERVICE_PORT_99999"]),
                       st.text(max_size=80)))
def test_any_env_values_give_valid_endpoints_or_warnings(env: dict[str, str]) -> None:
    found, warnings = container_endpoints("c", env, [PortBinding(8080, 32768)], HOST)
    for endpoint in found:
        assert name_problem(endpoint.name) is None
        assert value_problem(endpoint.record_type, endpoint.value) is None
    assert len(found) + len(warnings) <= len(env)


def test_values_are_capped_so_an_upsert_of_the_set_fits_one_batch() -> None:
    host = "ip-10-0-0-1.eu-west-1.compute.internal"  # 49 characters a value: 400 of them do not fit
    endpoints = [Endpoint("_w._tcp.example.com.", "SRV", f"1 1 {30000 + i} {host}.", f"i-{i}", True)
                 for i in range(400)]
    desired, warnings = desired_records(endpoints, [ZONE], 10)
    (record,) = desired.values()
    assert sum(len(v) for v in record.values) <= 16000 < sum(len(e.value) for e in endpoints)
    assert "left out" in warnings[0]
    assert pack([(Change("UPSERT", record),)])[0][0][0].cost[1] <= 32000


def test_a_converged_name_still_retires_what_lies_beside_its_set() -> None:
    """A simple set already as wanted is skipped without a second look only when nothing else is
    under its name: a registry record left by one of our per-value sets (its set deleted by hand)
    is still deleted, and someone else's is still reported."""
    want = RecordSet("web.example.com.", "A", 10, ("10.0.0.1",))
    existing = {("Z1", want.key): want, ("Z1", registry_key(want.key)): registry_record(want.key, "me", 300)}
    left = RecordKey("web.example.com.", "A", "10.0.0.9")
    orphan = {("Z1", registry_key(left)): registry_record(left, "me", 300)}
    result = plan({("Z1", want.key): want}, existing | orphan, "me")
    assert [(c.action, c.record.record_type, c.record.set_identifier) for _, c in result.changes] == [
        ("DELETE", "TXT", "10.0.0.9")]
    assert plan({("Z1", want.key): want}, existing | orphan, "me", policy="upsert-only").changes == []


def test_a_name_held_by_an_alias_or_a_cname_is_left_alone() -> None:
    alias = RecordSet("web.example.com.", "A", 0, (), alias=True)
    cname = RecordSet("api.example.com.", "CNAME", 300, ("web.example.com.",))
    desired = {("Z1", RecordKey(n, "A")): RecordSet(n, "A", 10, ("10.0.0.1",))
               for n in ("web.example.com.", "api.example.com.")}
    result = plan(desired, {("Z1", alias.key): alias, ("Z1", cname.key): cname}, "me")
    assert result.changes == []
    assert any("web.example.com. A" in w and "not owned" in w for w in result.warnings)
    assert any("api.example.com. A" in w and "CNAME" in w for w in result.warnings)


def test_converting_our_per_value_sets_deletes_them_before_creating_the_one_set() -> None:
    mine = [RecordSet("web.example.com.", "A", 60, (ip,), ip, multivalue=True) for ip in ("10.0.0.1", "10.0.0.2")]
    existing = {("Z1", r.key): r for r in mine}
    existing |= {("Z1", registry_key(r.key)): registry_record(r.key, "me", 300) for r in mine}
    want = RecordSet("web.example.com.", "A", 10, ("10.0.0.2", "10.0.0.3"))
    result = plan({("Z1", want.key): want}, existing, "me", policy="upsert-only")
    (group,) = result.groups_by_zone["Z1"]  # one group: one batch, all or nothing
    assert [(c.action, c.record.record_type, c.record.set_identifier) for c in group] == [
        ("DELETE", "A", "10.0.0.1"), ("DELETE", "TXT", "10.0.0.1"), ("DELETE", "A", "10.0.0.2"),
        ("DELETE", "TXT", "10.0.0.2"), ("CREATE", "A", None), ("CREATE", "TXT", None)]


_SRV_PARTS = st.one_of(st.text(max_size=30), st.builds(
    lambda p, w, port, target, sep: f"{p}{sep}{w} {port} {target}",
    st.integers(0, 99999), st.integers(0, 70000), st.integers(0, 123456),
    st.sampled_from(["host.example.com.", "h", "a..b", "ip-10-0-0-1.ec2.internal", "x\n", "-bad-.com", ""]),
    st.sampled_from([" ", "  ", "\t"])))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "SRV", "TXT"]), _SRV_PARTS), max_size=12))
def test_values_checked_once_a_pass_say_what_each_check_says(values: list[tuple[str, str]]) -> None:
    """A pass's checks, memoized by value and by SRV part, find exactly what checking each
    value on its own finds, in whatever order the values come."""
    checked = Checked()
    for record_type, value in values + values:
        assert checked.value(record_type, value) == value_problem(record_type, value)
    for kind in ("A", "SRV", "TXT"):
        mine = [v for t, v in values if t == kind]
        assert checked.values(kind, mine) == [p for v in mine if (p := value_problem(kind, v))]


_ENVS = st.dictionaries(st.sampled_from(["SERVICE_FQDN", "SERVICE_FQDN_LOCAL", "SERVICE_PORT_80", "SERVICE_PORT_x",
                                         "SERVICE_PORT_8080", "OTHER"]),
                        st.sampled_from(["web.example.com", "_w._tcp.example.com", "bad..name", "x",
                                         "API.Example.com."]),
                        max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_ENVS, st.integers(0, 2)), min_size=1, max_size=8))
def test_a_snapshot_reads_as_its_containers_one_by_one(containers: list[tuple[dict[str, str], int]]) -> None:
    """Reading a whole snapshot (each distinct variable interpreted once) gives each container's
    endpoints and warnings exactly as reading that container alone does."""
    hosts = [builders.host(1), dataclasses.replace(builders.host(2), public_ip=None),
             dataclasses.replace(builders.host(3), private_dns_name=None)]
    tasks = [builders.task(n, hosts[h], 32768 + n, env=env, container="c") for n, (env, h) in enumerate(containers)]
    endpoints, warnings = snapshot_endpoints(builders.snapshot(hosts, tasks))
    one_by_one: tuple[list[Endpoint], list[str]] = ([], [])
    for t, (_, h) in zip(tasks, containers, strict=True):
        i = hosts[h]
        found, problems = container_endpoints(f"task {t.id} ({t.family}:{t.revision}) container c",
                                              t.containers[0].environment, t.containers[0].bindings,
                                              Host(i.ec2_instance_id, i.public_ip, i.private_ip, i.private_dns_name))
        one_by_one[0].extend(found)
        one_by_one[1].extend(problems)
    assert (endpoints, warnings) == one_by_one
