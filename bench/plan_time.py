"""Planning time and memory of each pure planner on a synthetic cluster of 10,000 tasks on 1,000
instances (built in memory: no sandbox, no I/O), for a first pass (nothing in place yet) and a
converged pass (everything in place: the planner must find nothing to do). lb-sync's planner is
also timed with five times as many services over the same tasks: its cost grows with services
times tasks."""

from __future__ import annotations

import dataclasses
import tracemalloc
from collections.abc import Callable, Mapping

from _support import OWNER, ZONE, converged_zone, machine, markdown_table, measure, synthetic_snapshot
from ecsfleet.agents.plan import Options, decide
from ecsfleet.dns.endpoints import snapshot_endpoints
from ecsfleet.dns.plan import desired_records, pack
from ecsfleet.dns.plan import plan as dns_plan
from ecsfleet.dns.records import RecordKey, RecordSet, Zone
from ecsfleet.lbsync.plan import (
    Action,
    Deregister,
    HealthCheck,
    Listener,
    LoadBalancer,
    MoveListener,
    Register,
    SetHealthCheck,
)
from ecsfleet.lbsync.plan import plan as lb_plan
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.snapshot import ClusterSnapshot

TASKS, INSTANCES, SERVICES = 10_000, 1_000, 50
MANY_SERVICES = 250
RUNS = 5
DNS_ZONE = Zone("Z1", f"{ZONE}.", False)


def applied(load_balancers: Mapping[str, LoadBalancer], actions: tuple[Action, ...]) -> dict[str, LoadBalancer]:
    """The load balancers as lb-sync's actions leave them."""
    state = dict(load_balancers)
    for action in actions:
        lb = state[action.load_balancer]
        match action:
            case Register(_, ids):
                lb = dataclasses.replace(lb, instances=lb.instances | set(ids))
            case Deregister(_, ids):
                lb = dataclasses.replace(lb, instances=lb.instances - set(ids))
            case SetHealthCheck(_, check, _):
                lb = dataclasses.replace(lb, health_check=check)
            case MoveListener(_, listener, port):
                lb = dataclasses.replace(lb, listeners=tuple(
                    dataclasses.replace(item, instance_port=port) if item == listener else item
                    for item in lb.listeners))
        state[lb.name] = lb
    return state


def lbsync_cases(snap: ClusterSnapshot) -> list[tuple[str, Callable[[], int]]]:
    """The first and the converged pass of lb-sync's planner, one load balancer per family."""
    families = sorted({t.family for t in snap.tasks})
    services = [ServiceEntry(serviceName=f, family=f, exposedContainerName=f, loadBalancerName=f"{f}-lb")
                for f in families]
    fresh = {f"{f}-lb": LoadBalancer(f"{f}-lb", (Listener("HTTP", 80, "HTTP", 8080),),
                                     HealthCheck("HTTP:8080/health", 10, 5, 2, 3), frozenset())
             for f in families}
    scope = {i.ec2_instance_id for i in snap.instances}
    first = lb_plan(snap, services, fresh, scope)
    done = applied(fresh, first.actions)
    again = lb_plan(snap, services, done, scope)
    assert not again.actions, again.actions
    label = f"lb-sync plan, {len(services)} services"
    return [
        (f"{label}, 1st pass", lambda: len(lb_plan(snap, services, fresh, scope).actions)),
        (f"{label}, converged", lambda: len(lb_plan(snap, services, done, scope).actions)),
    ]


def dns_changes(snap: ClusterSnapshot, existing: Mapping[tuple[str, RecordKey], RecordSet]) -> int:
    """What dns-sync's ECS source computes between its reads and its writes: endpoints, record
    sets, the diff, and the change batches."""
    endpoints, _ = snapshot_endpoints(snap)
    desired, _ = desired_records(endpoints, [DNS_ZONE], 10)
    result = dns_plan(desired, existing, OWNER)
    for groups in result.groups_by_zone.values():
        pack(groups)
    return len(result.changes)


def dns_cases(snap: ClusterSnapshot) -> list[tuple[str, Callable[[], int]]]:
    desired, _ = desired_records(snapshot_endpoints(snap)[0], [DNS_ZONE], 10)
    zone = converged_zone(desired)
    assert dns_changes(snap, zone) == 0
    return [
        (f"dns-sync endpoints + plan + pack, {SERVICES} services, 1st pass", lambda: dns_changes(snap, {})),
        (f"dns-sync endpoints + plan + pack, {SERVICES} services, converged", lambda: dns_changes(snap, zone)),
    ]


def agents_cases(snap: ClusterSnapshot) -> list[tuple[str, Callable[[], int]]]:
    return [("agents decide", lambda: len(decide(snap, Options()).candidates))]


def main() -> None:
    tracemalloc.start()
    snap = synthetic_snapshot(TASKS, INSTANCES, SERVICES)
    snapshot_mib = tracemalloc.get_traced_memory()[0] / 2**20
    tracemalloc.stop()
    many = lbsync_cases(synthetic_snapshot(TASKS, INSTANCES, MANY_SERVICES))[1:]
    rows = []
    for name, work in lbsync_cases(snap) + many + dns_cases(snap) + agents_cases(snap):
        result = measure(work, RUNS)
        rows.append((name, work(), f"{result.median_ms:.1f}", f"{result.peak_mib:.1f}"))
    print(f"Pure planners on {TASKS:,} tasks, {INSTANCES:,} instances, {SERVICES} services ({machine()}; "
          f"the snapshot itself holds {snapshot_mib:.0f} MiB)")
    print(markdown_table(["planner", "actions / changes / candidates", f"median ms ({RUNS} runs)", "peak MiB"], rows))


if __name__ == "__main__":
    main()
