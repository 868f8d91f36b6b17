"""dns-sync's grouped read: a cluster's values gathered straight into their record sets' groups
(`snapshot_values`, `screened_records`) give what reading every container into endpoints, then
screening and grouping them, gives; and they hold nothing per task that the collector walks."""

from __future__ import annotations

import ast
import builtins
import dataclasses
import gc
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import builders
from ecsfleet.dns import plan
from ecsfleet.dns.endpoints import Places, snapshot_endpoints, snapshot_values
from ecsfleet.dns.filters import NameRules, screen
from ecsfleet.dns.plan import Ordered, desired_records, screened_records
from ecsfleet.dns.records import Zone
from ecsfleet.snapshot import ClusterSnapshot, Container
from support import in_fresh_interpreter

# A public and a private zone sharing a suffix (split horizon), and a zone a longer name lands in.
ZONES = [Zone("Z1", "example.com.", False), Zone("Z2", "example.com.", True), Zone("Z3", "corp.example.com.", False)]
NAMES = ["web.example.com", "_w._tcp.example.com", "bad..name", "x", "API.Example.com.", "example.com",
         "corp.example.com", "*.example.com", "a.corp.example.com", "web.elsewhere.org"]
ENVS = st.dictionaries(st.sampled_from(["SERVICE_FQDN", "SERVICE_FQDN_LOCAL", "SERVICE_PORT_80", "SERVICE_PORT_x",
                                        "SERVICE_PORT_8080", "OTHER"]),
                       st.sampled_from(NAMES), max_size=4)
RULES = st.sampled_from([NameRules(), NameRules.of(["corp.example.com"]), NameRules(allow_apex=True),
                         NameRules(allow_wildcard=True, allow_apex=True)])


def cluster(containers: list[tuple[dict[str, str], int, int, bool]], shared: bool = False,
            changed: int = 0) -> ClusterSnapshot:
    """A task per (env, host, port, serving): hosts without a public IP, without a host name, or
    DRAINING; tasks stopping or not. `shared`: equal containers are one object, on whatever host
    their tasks run, as the snapshot's reader gives them. `changed` (1 to 4): that host is read
    with its addresses, host name and status as another pass might find them (a new public IP,
    a host name gained or lost, ACTIVE again); 0: none."""
    hosts = [builders.host(1), dataclasses.replace(builders.host(2), public_ip=None),
             dataclasses.replace(builders.host(3), private_dns_name=None), builders.host(4, status="DRAINING")]
    if changed:
        was = hosts[changed - 1]
        hosts[changed - 1] = dataclasses.replace(
            was, status="ACTIVE", public_ip=None if was.public_ip else "54.1.0.9", private_ip=f"10.1.0.{changed}",
            private_dns_name=None if was.private_dns_name else f"ip-10-1-0-{changed}.ec2.internal")
    tasks = [builders.task(n, hosts[h], port, env=env, container="c", container_port=80,
                           desired="RUNNING" if serving else "STOPPED")
             for n, (env, h, port, serving) in enumerate(containers)]
    if shared:
        one: dict[object, Container] = {}
        tasks = [dataclasses.replace(t, containers=tuple(
            one.setdefault((c.name, c.last_status, c.bindings, tuple(sorted(c.environment.items()))), c)
            for c in t.containers)) for t in tasks]
    return builders.snapshot(hosts, tasks)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ENVS, st.integers(0, 3), st.sampled_from([80, 8080, 32768, 32769]), st.booleans()),
                min_size=1, max_size=10),
       RULES, st.sampled_from([None, 0]), st.booleans())
def test_the_grouped_read_plans_what_the_endpoints_plan(
        containers: list[tuple[dict[str, str], int, int, bool]], rules: NameRules, srv_ttl: int | None,
        shared: bool) -> None:
    snap = cluster(containers, shared)
    endpoints, source = snapshot_endpoints(snap)
    kept, refused = screen(endpoints, ZONES, rules)
    desired, unplaced = desired_records(kept, ZONES, 10, srv_ttl)

    values, grouped_source = snapshot_values(snap)
    assert grouped_source == source
    assert {kind: sorted(found) for kind, found in values.items()} == {
        kind: sorted({e.value for e in endpoints if (e.name, e.record_type, e.private) == kind})
        for kind in {(e.name, e.record_type, e.private) for e in endpoints}}
    assert screened_records(values, ZONES, rules, 10, srv_ttl) == (desired, refused, unplaced)


CONTAINERS = st.lists(st.tuples(ENVS, st.integers(0, 3), st.sampled_from([80, 8080, 32768, 32769]), st.booleans()),
                      min_size=1, max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(CONTAINERS, st.integers(0, 4), st.booleans()), min_size=2, max_size=4))
def test_what_a_controller_keeps_from_pass_to_pass_reads_what_a_fresh_read_reads(
        passes: list[tuple[list[tuple[dict[str, str], int, int, bool]], int, bool]]) -> None:
    """The hosts and SRV texts a controller keeps (`Places`) give each pass the values and
    warnings of a read that kept nothing, whatever moved between passes: tasks, host ports,
    a host's addresses, host name or status."""
    kept, ordered = Places(), Ordered()
    for containers, changed, shared in passes:
        snap = cluster(containers, shared, changed)
        values = snapshot_values(snap, kept)
        assert values == snapshot_values(snap)
        assert screened_records(values[0], ZONES, NameRules(), 10, ordered=ordered) == screened_records(
            values[0], ZONES, NameRules(), 10)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.integers(0, 900), max_size=900), min_size=2, max_size=4), st.randoms())
def test_record_sets_kept_in_order_are_those_sorted_again(passes: list[list[int]], shuffle: Any) -> None:
    """A record set takes the order its values had at the pass before only when they are the
    same values, in whatever order they come now; past Route53's 400 values, the same ones are
    left out, with the same warning."""
    ordered = Ordered()
    for ports in passes:
        shuffle.shuffle(ports)
        grouped = {("_web._tcp.example.com.", "SRV", True): dict.fromkeys(f"1 1 {p} h{p % 7}." for p in ports),
                   ("web.example.com.", "A", True): dict.fromkeys(f"10.0.{p // 250}.{p % 250}" for p in ports)}
        grouped = {kind: found for kind, found in grouped.items() if found}
        assert plan.record_sets(grouped, ZONES, 10, ordered=ordered) == plan.record_sets(grouped, ZONES, 10)


def test_a_set_with_the_values_of_the_pass_before_is_not_sorted_again(monkeypatch: pytest.MonkeyPatch) -> None:
    sorts: list[int] = []
    monkeypatch.setattr(plan, "sorted", lambda items, **kw: sorts.append(len(items)) or builtins.sorted(items, **kw),
                        raising=False)
    values = [f"1 1 {port} ip-10-0-0-{port % 9}.ec2.internal." for port in range(32768, 32968)]
    ordered = Ordered()
    for order in (values, values[::-1]):
        plan.record_sets({("_web._tcp.example.com.", "SRV", True): dict.fromkeys(order)}, ZONES, 10, ordered=ordered)
    assert sorts.count(200) == 1  # the first pass's; the second found the same values in another order


def test_what_is_kept_is_bounded_by_the_last_snapshot() -> None:
    """A host gone from the cluster is dropped at the next pass, and a host whose tasks keep
    coming back on new host ports keeps no more SRV texts than a few a task it runs."""
    kept = Places()
    env = {"SERVICE_PORT_80": "_web._tcp.example.com"}
    one, two = builders.host(1), builders.host(2)
    texts = set()
    for n in range(300):  # a task a pass on host 1, each on a port of its own; one on host 2
        snap = builders.snapshot([dataclasses.replace(one, running_tasks=1), two],
                                 [builders.task(n, one, 32768 + n, env=env), builders.task(1000, two, 32768, env=env)])
        grouped, _ = snapshot_values(snap, kept)
        (values,) = grouped.values()
        assert list(values) == [f"1 1 {32768 + n} ip-10-0-0-1.ec2.internal.", "1 1 32768 ip-10-0-0-2.ec2.internal."]
        texts.add(id(list(values)[1]))
    assert len(texts) == 1  # host 2's text was made once, and read from what was kept at every pass after
    places = kept.of(builders.snapshot([one], []))
    assert list(places) == [one.arn]
    assert len(places[one.arn].srv) <= 64 + 4


def services(tasks: int) -> ClusterSnapshot:
    hosts = [builders.host(n) for n in range(1, 51)]
    return builders.snapshot(hosts, [
        builders.task(n, hosts[n % 50], 32768 + n // 50, family=f"svc{n % 10}", container=f"svc{n % 10}",
                      env={"SERVICE_PORT_80": f"_svc{n % 10}._tcp.example.com",
                           "SERVICE_FQDN_LOCAL": f"svc{n % 10}.example.com"})
        for n in range(tasks)])


def left_alive(snap: ClusterSnapshot) -> Counter[str]:
    """The objects the collector tracks that a read allocates and leaves alive, by type. Both
    lists of objects are taken with no comprehension running: in Python 3.11 a comprehension is
    a function object, alive while its iterable (here the list of objects) is built, so a
    comprehension around the second list counted itself unless it happened to reuse the address
    of the first one's, which depends on what the read allocated (a CI run counted it at 1,000
    tasks and not at 2,000)."""
    gc.collect()
    gc.disable()
    try:
        before = set(map(id, gc.get_objects()))
        values, warnings = snapshot_values(snap)
        after = gc.get_objects()
        alive = Counter(type(o).__name__ for o in after if id(o) not in before)
    finally:
        gc.enable()
    assert not any(gc.is_tracked(found) for found in values.values())
    assert not warnings
    return alive


def test_the_grouped_read_keeps_no_object_per_task_for_the_collector() -> None:
    """Each task's values are strings in dicts the collector does not track: what a read leaves
    alive is a few objects per kind of record set (10 services, an SRV and an A name each), as
    many at 2,000 tasks as at 1,000, so a pass gives the collector nothing to walk and nothing
    that makes it sweep the heap."""
    # In an interpreter of its own: other tests' threads allocate objects at any moment.
    found = in_fresh_interpreter(
        "from test_dns_values import left_alive, services\n"
        "left_alive(services(10))  # what a process makes once, on its first read\n"
        "few, many = left_alive(services(1_000)), left_alive(services(2_000))\n"
        "print(repr((dict(few), dict(many))))\n")
    few, many = ast.literal_eval(found.strip().splitlines()[-1])
    assert many == few and sum(few.values()) <= 2 * 10 + 5, few
