"""The pure planners grow linearly with tasks and instances, shown without a clock: by counting
the work that would make them grow faster (validations of names and values, zone look-ups, scans
of the snapshot's tasks and instances) at two sizes of the same cluster."""

from __future__ import annotations

import dataclasses
import gc
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from builders import host, snapshot, task
from ecsfleet.agents.plan import Options, decide, version_key
from ecsfleet.dns import names, records
from ecsfleet.dns.endpoints import snapshot_endpoints, snapshot_values
from ecsfleet.dns.filters import NameRules, screen
from ecsfleet.dns.plan import desired_records, pack, plan, screened_records
from ecsfleet.dns.records import RecordKey, RecordSet, Zone, registry_key, registry_record
from ecsfleet.lbsync.plan import HealthCheck, Listener, LoadBalancer
from ecsfleet.lbsync.plan import plan as lb_plan
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.snapshot import ClusterSnapshot
from support import in_fresh_interpreter

ZONE = Zone("Z1", "example.com.", False)
SERVICES = 10
HOSTS = 50


class Scanned(tuple):  # type: ignore[type-arg]
    """A snapshot's tasks or instances, counting the items every scan of them goes through."""

    items = 0

    def __iter__(self) -> Iterator[Any]:
        for item in super().__iter__():
            Scanned.items += 1
            yield item


def cluster(tasks: int, hosts: int, scanned: bool = False) -> ClusterSnapshot:
    """`tasks` tasks of SERVICES services on `hosts` hosts, each asking for an SRV name and an A
    name of its service: 10 names of each type, whatever the number of tasks."""
    machines = [host(n) for n in range(1, hosts + 1)]
    found = [task(n, machines[n % hosts], 32768 + n // hosts, family=f"svc{n % SERVICES}",
                  container=f"svc{n % SERVICES}", service=f"svc{n % SERVICES}",
                  env={"SERVICE_PORT_80": f"_svc{n % SERVICES}._tcp.example.com",
                       "SERVICE_FQDN_LOCAL": f"svc{n % SERVICES}.example.com"})
             for n in range(tasks)]
    snap = snapshot(machines, found)
    if scanned:
        return ClusterSnapshot(snap.cluster, snap.region, snap.taken_at, Scanned(snap.instances), Scanned(snap.tasks))
    return snap


def dns_pass(snap: ClusterSnapshot, converged: bool = False) -> int:
    """dns-sync's planning from the snapshot to the change batches, as its controller runs it."""
    endpoints, _ = snapshot_endpoints(snap)
    kept, _ = screen(endpoints, [ZONE], NameRules())
    desired, _ = desired_records(kept, [ZONE], 10)
    return batches(desired, converged)


def dns_values_pass(snap: ClusterSnapshot, converged: bool = False) -> int:
    """The same planning from the values grouped as the containers are read (`snapshot_values`)."""
    values, _ = snapshot_values(snap)
    desired, _, _ = screened_records(values, [ZONE], NameRules(), 10)
    return batches(desired, converged)


def batches(desired: dict[tuple[str, RecordKey], RecordSet], converged: bool) -> int:
    """The change batches that make an empty zone (or, `converged`, one already holding every
    desired record set, ours) what `desired` says."""
    existing = {}
    if converged:
        existing = dict(desired)
        existing.update({(z, registry_key(k)): registry_record(k, "me", 300) for z, k in desired})
    result = plan(desired, existing, "me")
    return sum(len(pack(groups)) for groups in result.groups_by_zone.values())


def counted(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, arg: int = 0) -> list[Any]:
    """The `arg`-th (first by default) arguments of every call of `module.name` from now on."""
    calls: list[Any] = []
    original: Callable[..., Any] = getattr(module, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[arg])
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counting)
    return calls


@pytest.mark.parametrize("tasks", [1_000, 2_000])
def test_each_distinct_name_and_value_is_validated_once(monkeypatch: pytest.MonkeyPatch, tasks: int) -> None:
    snap = cluster(tasks, HOSTS)
    name_calls = counted(monkeypatch, names, "name_problem")
    value_calls = counted(monkeypatch, names, "value_problem")
    head_calls = counted(monkeypatch, names, "srv_head_problem")
    target_calls = counted(monkeypatch, names, "srv_target_problem")
    assert dns_pass(snap) > 0
    # 1,000 or 2,000 containers share 10 SRV and 10 A names: each validated once where a
    # container asks for it, once as a record set's name, once as its registry record's name;
    # and each host's name once as an SRV target.
    assert sorted(set(name_calls)) == sorted(name_calls)
    assert len(name_calls) == 2 * SERVICES + 2 * 2 * SERVICES + HOSTS
    # Each host's address once; an SRV value (new for every task: its own host port) by its
    # parts, each distinct 'priority weight port' and target once.
    assert value_calls.count("A") == HOSTS
    assert len(head_calls) == tasks // HOSTS and len(target_calls) == HOSTS


@pytest.mark.parametrize("tasks", [1_000, 2_000])
def test_each_name_is_placed_in_its_zones_once(monkeypatch: pytest.MonkeyPatch, tasks: int) -> None:
    placed = counted(monkeypatch, records, "zones_for")
    dns_pass(cluster(tasks, HOSTS))
    # Once by the name filter (for the apex), once by the record sets; per name, not per task.
    assert len(placed) == 2 * 2 * SERVICES


def scans(work: Callable[[], object]) -> int:
    Scanned.items = 0
    work()
    return Scanned.items


@pytest.mark.parametrize("size", [1, 4])
def test_planners_scan_the_snapshot_a_fixed_number_of_times(size: int) -> None:
    """Per task and instance, each planner walks the snapshot's tasks and instances a number of
    times that does not grow with the cluster (or with the number of services: no planner scans
    every task once per service, or every instance once per task)."""
    tasks, hosts = 500 * size, 50 * size
    snap = cluster(tasks, hosts, scanned=True)
    services = [ServiceEntry(serviceName=f"svc{n}", family=f"svc{n}", exposedContainerName=f"svc{n}",
                             loadBalancerName=f"svc{n}-lb") for n in range(SERVICES)]
    lbs = {s.loadBalancerName: LoadBalancer(s.loadBalancerName, (Listener("HTTP", 80, "HTTP", 8080),),
                                            HealthCheck("HTTP:8080/", 10, 5, 2, 3), frozenset())
           for s in services}
    scope = {i.ec2_instance_id for i in snap.instances}
    size_of = tasks + hosts
    # lb-sync goes through the tasks once, in their order, for every service at a time.
    assert scans(lambda: lb_plan(snap, services, lbs, scope)) == size_of
    assert scans(lambda: dns_pass(snap)) <= 2 * size_of
    assert scans(lambda: decide(snap, Options())) <= 5 * hosts


def test_agents_parse_each_distinct_agent_version_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cluster's hosts run a few agent versions: each is parsed once, not once a host (it was
    most of a pass at 5,000 hosts), and the order stays oldest first, then by instance id."""
    versions = ("1.88.0", "1.9.1", "1.70.2")
    snap = cluster(1_000, HOSTS)
    snap = dataclasses.replace(snap, instances=tuple(
        dataclasses.replace(i, agent_version=versions[n % 3]) for n, i in enumerate(snap.instances)))
    parsed = counted(monkeypatch, re, "findall", arg=1)  # the text parsed
    version_key.cache_clear()
    candidates = decide(snap, Options()).candidates
    # (re.findall is the process's: only the versions' own parses are counted, not another thread's)
    assert sorted(text for text in parsed if text in versions) == sorted(versions)
    assert [i.agent_version for i in candidates[:3]] == ["1.9.1"] * 3 and candidates[-1].agent_version == "1.88.0"
    assert [i.ec2_instance_id for i in candidates[:2]] == ["i-0002", "i-0005"]


def test_a_converged_pass_sends_nothing_at_any_size() -> None:
    for tasks in (1_000, 2_000):
        assert dns_pass(cluster(tasks, HOSTS), converged=True) == 0


def collected_after(passes: str) -> int:
    """What the collector frees after `passes` (Python, with this module's names) ran over a
    1,000-task cluster, in an interpreter of its own: in the test process, the threads of other
    tests (a sandbox's server, a daemon's) make cyclic garbage of their own at any moment."""
    return int(in_fresh_interpreter(
        "import gc\nfrom test_plan_scaling import *\nsnap = cluster(1_000, HOSTS)\ngc.collect()\n"
        f"{passes}\nassert gc.isenabled()\nprint(gc.collect())\n").split()[-1])


def test_a_dns_pass_leaves_no_reference_cycle_for_the_collector() -> None:
    """What lets the endpoints' read pause automatic collection: a pass frees all it allocates
    by reference counting alone, so a paused collector misses nothing."""
    snap = cluster(1_000, HOSTS)
    dns_pass(snap)
    assert gc.isenabled()  # resumed after the read
    assert collected_after("dns_pass(snap)\ndns_pass(snap, converged=True)") == 0


def lb_pass(snap: ClusterSnapshot) -> int:
    """lb-sync's first pass over SERVICES services, each with its load balancer."""
    services = [ServiceEntry(serviceName=f"svc{n}", exposedContainerName=f"svc{n}", loadBalancerName=f"svc{n}-lb")
                for n in range(SERVICES)]
    lbs = {s.loadBalancerName: LoadBalancer(s.loadBalancerName, (Listener("HTTP", 80, "HTTP", 8080),),
                                            HealthCheck("HTTP:8080/", 10, 5, 2, 3), frozenset())
           for s in services}
    return len(lb_plan(snap, services, lbs, {i.ec2_instance_id for i in snap.instances}).actions)


def test_an_lbsync_pass_leaves_no_reference_cycle_for_the_collector() -> None:
    """What lets lb-sync's pass over the tasks pause automatic collection."""
    snap = cluster(1_000, HOSTS)
    assert lb_pass(snap) == 3 * SERVICES  # register, aim the check, move the listener
    assert gc.isenabled()
    assert collected_after("lb_pass(snap)") == 0


@pytest.mark.parametrize("tasks", [1_000, 2_000])
def test_the_grouped_pass_validates_and_places_each_distinct_name_and_value_once(
        monkeypatch: pytest.MonkeyPatch, tasks: int) -> None:
    snap = cluster(tasks, HOSTS, scanned=True)
    expected = dns_pass(cluster(tasks, HOSTS))
    name_calls = counted(monkeypatch, names, "name_problem")
    value_calls = counted(monkeypatch, names, "value_problem")
    head_calls = counted(monkeypatch, names, "srv_head_problem")
    target_calls = counted(monkeypatch, names, "srv_target_problem")
    placed = counted(monkeypatch, records, "zones_for")
    Scanned.items = 0
    assert dns_values_pass(snap) == expected > 0
    # As the endpoints' pass: each name where a container asks for it, as a record set's name and
    # as its registry record's name; each host's name as an SRV target; each address and SRV
    # 'priority weight port' once; each name placed once (the filter and the record sets share
    # the pass's placement).
    assert sorted(set(name_calls)) == sorted(name_calls)
    assert len(name_calls) == 2 * SERVICES + 2 * 2 * SERVICES + HOSTS
    assert value_calls.count("A") == HOSTS
    assert len(head_calls) == tasks // HOSTS and len(target_calls) == HOSTS
    assert len(placed) == 2 * SERVICES
    # Each task and instance read once.
    assert Scanned.items == tasks + HOSTS


def test_a_converged_grouped_pass_sends_nothing_and_leaves_no_cycle() -> None:
    snap = cluster(1_000, HOSTS)
    assert dns_values_pass(snap, converged=True) == 0
    assert dns_values_pass(snap) > 0
    assert gc.isenabled()
    assert collected_after("dns_values_pass(snap, converged=True)\ndns_values_pass(snap)") == 0


def test_the_sandbox_records_load_without_moto_ec2() -> None:
    """bench/plan_time.py's process imports the sandbox (its snapshots come from the sandbox's
    records) and reports its peak memory as the planners' cost: moto's EC2 models, 150 MiB, are
    imported only where an instance type outside the sandbox's table is read, not at import."""
    loaded = in_fresh_interpreter(
        "import sys\nimport ecsfleet.sandbox.emulator, ecsfleet.sandbox.ecs_model, ecsfleet.sandbox.rules\n"
        "print(sorted(m for m in sys.modules if m.startswith('moto.ec2')))\n")
    assert loaded.strip() == "[]"
