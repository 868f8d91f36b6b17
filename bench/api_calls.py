"""API calls per reconcile pass of lb-sync, dns-sync (ECS source) and agents, by cluster size,
counted by the sandbox.

For each cluster: a first pass (which converges it) and a converged pass (which must write
nothing), beside the floor (the fewest list/describe calls that can see that state, from the
APIs' page sizes and batch maxima) and beside the call pattern of the seed tool each capability
replaces (statika, ecsd, ecstatic), which is a model computed from their documented behaviour,
not a measurement. A last table gives the sandbox's own time per call during the converged
passes (its rules, ECS emulation or moto, and the response; not the client's work), its slowest
call of all the passes, the longest pause of the garbage collector (the sandbox serves from this
process: a pause is in the time of the call it falls in), and the time to seed each cluster. The
seeded cluster is frozen out of the collector's scans (`gc.freeze`) until the next row. Every pass is a real one, writes
included, at every size.

The sandbox counts each request it serves: a call the client sent again (a read timeout, a
throttle) counts twice. The client's own retries are counted too and, with any pass that reads
other than its floor, listed per operation under the tables.

`python bench/api_calls.py 50000:5000` measures only the sizes named (TASKS:INSTANCES).
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from _support import (
    CLUSTER,
    OWNER,
    ServedTime,
    World,
    agents_floor,
    build_world,
    dns_floor,
    ecsd_calls,
    ecstatic_run,
    is_read,
    lbsync_floor,
    machine,
    markdown_table,
    reads_and_writes,
    statika_calls_per_loop,
)
from ecsfleet.agents.rollout import AgentUpdates
from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.dns import DnsSync
from ecsfleet.lbsync import LbSync
from ecsfleet.runner import PassReport, Reconciler, safe_pass
from ecsfleet.sandbox import Sandbox

SIZES = [(10, 5), (100, 20), (1000, 100), (5000, 500), (50000, 5000)]
REFUSED = ("current", "in-progress")  # agents' outcomes for an UpdateContainerAgent ECS refused
SERVICES = ("ecs", "ec2", "elb", "route53")  # the clients the three capabilities use
# The calls whose sandbox time is shown, as (service, operation).
TIMED = (("ecs", "ListContainerInstances"), ("ecs", "DescribeContainerInstances"), ("ecs", "ListTasks"),
         ("ecs", "DescribeTasks"), ("ec2", "DescribeInstances"), ("elb", "DescribeLoadBalancers"),
         ("route53", "ListResourceRecordSets"))


class Retries:
    """Attempts the client made beyond the first, per (service, operation), from botocore's
    RetryAttempts: each is one more request the sandbox counted."""

    def __init__(self, clients: Clients) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        for service in SERVICES:
            clients(service).meta.events.register(f"after-call.{service}", self._after_call)

    def _after_call(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        attempts = parsed.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        if attempts:
            self.counts[(model.service_model.endpoint_prefix, model.name)] += attempts


class CollectorPauses:
    """The longest pause of Python's garbage collector since the last reset. The sandbox runs in
    this process: a collection while it serves a call (scanning its objects and the client's)
    is in that call's time, and a long one can outlast the client's read timeout."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._started = 0.0
        gc.callbacks.append(self._phase)

    def _phase(self, phase: str, _: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._started)


@dataclass
class Meter:
    """The sandbox's call counter and its time per call, and that time in the converged passes;
    the client's retries, and notes on passes that read other than their floor."""

    sb: Sandbox
    served: ServedTime
    retries: Retries
    converged_ms: dict[tuple[str, str], float] = field(default_factory=dict)
    slowest: tuple[float, str] = (0.0, "")
    notes: list[str] = field(default_factory=list)


def counted(meter: Meter, controller: Reconciler, what: str, floor: int | None = None
            ) -> tuple[PassReport, int, int]:
    """One pass and the reads and writes the sandbox served for it; a note when it read other
    than its `floor` (with its reads per operation) or the client sent a call again."""
    sb = meter.sb
    meter.served.reset()
    meter.retries.counts.clear()
    report = safe_pass(controller, False)
    if not report.ok:
        raise RuntimeError(f"{controller.capability} pass failed: {report.summary()}")
    meter.slowest = max(meter.slowest, meter.served.slowest())
    reads, writes = reads_and_writes(sb)
    if floor is not None and reads != floor:
        read = Counter({call: n for call, n in sb.calls().items() if is_read(call[1])})
        meter.notes.append(f"{what}: {reads} reads for a floor of {floor}: {by_operation(read)}")
    if meter.retries.counts:
        meter.notes.append(f"{what}: the client sent again {by_operation(meter.retries.counts)}")
    return report, reads, writes


def by_operation(calls: Counter[tuple[str, str]]) -> str:
    return ", ".join(f"{op} x{n}" for (_, op), n in sorted(calls.items()))


def lbsync_row(meter: Meter, world: World, clients: Clients) -> Sequence[object]:
    services = world.services
    started = time.perf_counter()
    controller = LbSync(clients, CLUSTER, lambda: services)
    floor = lbsync_floor(world.instances, world.tasks, len(services))
    at = f"{world.tasks} tasks"
    _, first_reads, first_writes = counted(meter, controller, f"lb-sync 1st pass, {at}", floor + len(world.families))
    _, reads, writes = counted(meter, controller, f"lb-sync converged pass, {at}", floor)
    meter.converged_ms.update(meter.served.per_call_ms())
    elapsed = time.perf_counter() - started
    per_host = LbSync(clients, CLUSTER, lambda: services, ec2_instance_id=world.instance_ids[0])
    # Its first pass fills its task definition cache; the cluster-wide passes converged its host.
    counted(meter, per_host, f"lb-sync per-host 1st pass, {at}")
    _, host_reads, _ = counted(meter, per_host, f"lb-sync per-host pass, {at}")
    return (world.tasks, world.instances, len(services), first_reads, floor + len(world.families), first_writes,
            reads, floor, writes, host_reads, statika_calls_per_loop(world.instances, len(services)), elapsed)


def dns_row(meter: Meter, world: World, clients: Clients) -> Sequence[object]:
    started = time.perf_counter()
    controller = DnsSync(clients, CLUSTER, OWNER, (world.zone_id,))
    record_sets = 4 * len(world.families)  # an SRV and an A name per family, each with its TXT registry record
    floor = dns_floor(world.instances, world.tasks, 1, record_sets)
    first_floor = dns_floor(world.instances, world.tasks, 1, 0) + len(world.families)  # the zone starts empty
    at = f"{world.tasks} tasks"
    _, first_reads, first_writes = counted(meter, controller, f"dns-sync 1st pass, {at}", first_floor)
    _, reads, writes = counted(meter, controller, f"dns-sync converged pass, {at}", floor)
    meter.converged_ms.update(meter.served.per_call_ms())
    elapsed = time.perf_counter() - started
    return (world.tasks, world.instances, record_sets, first_reads, first_floor, first_writes,
            reads, floor, writes, ecsd_calls(world.tasks), elapsed)


def agents_row(meter: Meter, world: World, clients: Clients) -> Sequence[object]:
    sb = meter.sb
    started = time.perf_counter()
    controller = AgentUpdates(clients, [CLUSTER])
    floor, at = agents_floor(world.instances), f"{world.tasks} tasks"
    # Every agent is older than the latest; then the update just asked for is in flight.
    _, first_reads, first_writes = counted(meter, controller, f"agents 1st pass, {at}", floor)
    _, rolling_reads, rolling_writes = counted(meter, controller, f"agents in-flight pass, {at}", floor)
    sb.advance(60)  # the update completes
    latest = sb.timings.latest_agent_version
    sb.timings.latest_agent_version = sb.timings.initial_agent_version  # every agent is now current
    try:
        report, reads, calls = counted(meter, controller, f"agents converged pass, {at}", floor)
    finally:
        sb.timings.latest_agent_version = latest
    elapsed = time.perf_counter() - started
    refused = sum(1 for o in report.outcomes if o.kind in REFUSED)
    old, current = ecstatic_run(world.instances, False), ecstatic_run(world.instances, True)
    return (world.tasks, world.instances, first_reads, first_writes, f"{rolling_reads} / {rolling_writes}", reads,
            calls - refused, refused, floor, f"{old.reads} / {old.writes}",
            f"{current.reads} / {current.writes}", current.instances_seen, elapsed)


def sizes(args: Sequence[str]) -> list[tuple[int, int]]:
    """TASKS:INSTANCES pairs from the command line, or every size."""
    return [(int(a.split(":")[0]), int(a.split(":")[1])) for a in args] or SIZES


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    lb_rows, dns_rows, agent_rows, sandbox_rows = [], [], [], []
    notes: list[str] = []
    pauses = CollectorPauses()
    with Sandbox() as sb:
        served = ServedTime(sb)
        for tasks, instances in sizes(sys.argv[1:]):
            gc.unfreeze()  # the previous cluster's objects can be collected again
            started = time.perf_counter()
            world = build_world(sb, tasks, instances)
            seeded = time.perf_counter() - started
            # The seeded cluster lives until the next row: kept out of every collection's scan, as
            # AWS's state is out of the client's process (at 50,000 tasks a scan of it takes seconds).
            gc.collect()
            gc.freeze()
            pauses.longest = 0.0
            clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
            meter = Meter(sb, served, Retries(clients))
            lb_rows.append(lbsync_row(meter, world, clients))
            dns_rows.append(dns_row(meter, world, clients))
            agent_rows.append(agents_row(meter, world, clients))
            slowest_ms, slowest_call = meter.slowest
            sandbox_rows.append((tasks, instances, seeded, *(meter.converged_ms.get(call, 0.0) for call in TIMED),
                                 f"{slowest_ms:.0f} ({slowest_call})", 1000 * pauses.longest))
            notes += meter.notes
            print(f"# {tasks} tasks on {instances} instances measured", file=sys.stderr, flush=True)
    print(f"API calls per reconcile pass, counted by the sandbox ({machine()})")
    print("\nlb-sync, cluster-wide controller, one Classic ELB per service")
    print(markdown_table(
        ["tasks", "instances", "load balancers", "1st pass reads", "1st pass floor", "1st pass writes",
         "converged reads", "converged floor", "converged writes", "per-host mode reads, one host",
         "statika calls/loop, all hosts (model)", "wall s (2 passes)"], lb_rows))
    print("\ndns-sync, ECS source, one hosted zone")
    print(markdown_table(
        ["tasks", "instances", "record sets", "1st pass reads", "1st pass floor", "1st pass writes",
         "converged reads", "converged floor", "converged writes", "ecsd calls for the same starts (model)",
         "wall s (2 passes)"], dns_rows))
    print("\nagents, one cluster named")
    print(markdown_table(
        ["tasks", "instances", "1st pass reads", "1st pass writes", "in-flight pass reads / writes",
         "converged reads", "converged writes", "converged refused probes", "floor reads",
         "ecstatic 1st run reads / writes (model)", "ecstatic converged run reads / writes (model)",
         "instances ecstatic sees (model)", "wall s (3 passes)"], agent_rows))
    print("\nthe sandbox's own time: seeding the cluster (s), ms per call served in the converged passes, the slowest"
          " call served in any pass, and the longest pause of the garbage collector (ms)")
    print(markdown_table(["tasks", "instances", "seeding s", *(f"{op} ms" for _, op in TIMED),
                          "slowest call ms, any pass", "longest collector pause ms"], sandbox_rows))
    print("\nPasses that read other than their floor, and calls the client sent again:")
    print("\n".join(f"- {note}" for note in notes) if notes else "- none")


if __name__ == "__main__":
    main()
