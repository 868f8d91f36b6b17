"""API calls per reconcile pass of lb-sync, dns-sync (ECS source) and agents, by cluster size,
counted by the sandbox.

For each cluster: a first pass (which converges it) and a converged pass (which must write
nothing), beside the floor (the fewest list/describe calls that can see that state, from the
APIs' page sizes and batch maxima) and beside the call pattern of the seed tool each capability
replaces (statika, ecsd, ecstatic), which is a model computed from their documented behaviour,
not a measurement. A last table gives the sandbox's own time per call during the converged
passes (its rules, ECS emulation or moto, and the response; not the client's work), and the time
to seed each cluster.

`python bench/api_calls.py 50000:5000` measures only the sizes named (TASKS:INSTANCES).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

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
# Above this many instances lb-sync's passes are dry runs: the sandbox's ELB rules look each
# registered instance up among all of moto's EC2 instances, so registering 5,000 hosts outlasts
# the client's read timeout. A dry run reads what a converged pass reads.
LBSYNC_WRITES_UP_TO = 500
# The calls whose sandbox time is shown, as (service, operation).
TIMED = (("ecs", "ListContainerInstances"), ("ecs", "DescribeContainerInstances"), ("ecs", "ListTasks"),
         ("ecs", "DescribeTasks"), ("ec2", "DescribeInstances"), ("elb", "DescribeLoadBalancers"),
         ("route53", "ListResourceRecordSets"))


@dataclass
class Meter:
    """The sandbox's call counter and its time per call, and that time in the converged passes."""

    sb: Sandbox
    served: ServedTime
    converged_ms: dict[tuple[str, str], float] = field(default_factory=dict)


def counted(meter: Meter, controller: Reconciler, dry_run: bool = False) -> tuple[PassReport, int, int]:
    """One pass and the reads and writes the sandbox served for it."""
    sb = meter.sb
    meter.served.reset()
    report = safe_pass(controller, dry_run)
    if not report.ok:
        raise RuntimeError(f"{controller.capability} pass failed: {report.summary()}")
    return (report, *reads_and_writes(sb))


def lbsync_row(meter: Meter, world: World, clients: Clients) -> Sequence[object]:
    services = world.services
    started = time.perf_counter()
    controller = LbSync(clients, CLUSTER, lambda: services)
    dry_run = world.instances > LBSYNC_WRITES_UP_TO
    _, first_reads, first_writes = counted(meter, controller, dry_run)
    _, reads, writes = counted(meter, controller, dry_run)
    meter.converged_ms.update(meter.served.per_call_ms())
    elapsed = time.perf_counter() - started
    per_host = LbSync(clients, CLUSTER, lambda: services, ec2_instance_id=world.instance_ids[0])
    counted(meter, per_host, dry_run=True)  # fills its task definition cache
    _, host_reads, _ = counted(meter, per_host, dry_run=True)
    floor = lbsync_floor(world.instances, world.tasks, len(services))
    skipped = "- (dry run)"
    return (world.tasks, world.instances, len(services), first_reads, floor + len(world.families),
            skipped if dry_run else first_writes, reads, floor, skipped if dry_run else writes, host_reads,
            statika_calls_per_loop(world.instances, len(services)), elapsed)


def dns_row(meter: Meter, world: World, clients: Clients) -> Sequence[object]:
    started = time.perf_counter()
    controller = DnsSync(clients, CLUSTER, OWNER, (world.zone_id,))
    _, first_reads, first_writes = counted(meter, controller)
    _, reads, writes = counted(meter, controller)
    meter.converged_ms.update(meter.served.per_call_ms())
    elapsed = time.perf_counter() - started
    record_sets = 4 * len(world.families)  # an SRV and an A name per family, each with its TXT registry record
    floor = dns_floor(world.instances, world.tasks, 1, record_sets)
    first_floor = dns_floor(world.instances, world.tasks, 1, 0) + len(world.families)  # the zone starts empty
    return (world.tasks, world.instances, record_sets, first_reads, first_floor, first_writes,
            reads, floor, writes, ecsd_calls(world.tasks), elapsed)


def agents_row(meter: Meter, world: World, clients: Clients) -> Sequence[object]:
    sb = meter.sb
    started = time.perf_counter()
    controller = AgentUpdates(clients, [CLUSTER])
    _, first_reads, first_writes = counted(meter, controller)  # every agent is older than the latest
    _, rolling_reads, rolling_writes = counted(meter, controller)  # the update just asked for is in flight
    sb.advance(60)  # the update completes
    latest = sb.timings.latest_agent_version
    sb.timings.latest_agent_version = sb.timings.initial_agent_version  # every agent is now current
    try:
        report, reads, calls = counted(meter, controller)
    finally:
        sb.timings.latest_agent_version = latest
    elapsed = time.perf_counter() - started
    refused = sum(1 for o in report.outcomes if o.kind in REFUSED)
    old, current = ecstatic_run(world.instances, False), ecstatic_run(world.instances, True)
    return (world.tasks, world.instances, first_reads, first_writes, f"{rolling_reads} / {rolling_writes}", reads,
            calls - refused, refused, agents_floor(world.instances), f"{old.reads} / {old.writes}",
            f"{current.reads} / {current.writes}", current.instances_seen, elapsed)


def sizes(args: Sequence[str]) -> list[tuple[int, int]]:
    """TASKS:INSTANCES pairs from the command line, or every size."""
    return [(int(a.split(":")[0]), int(a.split(":")[1])) for a in args] or SIZES


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    lb_rows, dns_rows, agent_rows, sandbox_rows = [], [], [], []
    with Sandbox() as sb:
        served = ServedTime(sb)
        for tasks, instances in sizes(sys.argv[1:]):
            started = time.perf_counter()
            world = build_world(sb, tasks, instances)
            seeded = time.perf_counter() - started
            clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
            meter = Meter(sb, served)
            lb_rows.append(lbsync_row(meter, world, clients))
            dns_rows.append(dns_row(meter, world, clients))
            agent_rows.append(agents_row(meter, world, clients))
            sandbox_rows.append((tasks, instances, seeded, *(meter.converged_ms.get(call, 0.0) for call in TIMED)))
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
    print("\nthe sandbox's own time: seeding the cluster (s), and ms per call served in the converged passes")
    print(markdown_table(["tasks", "instances", "seeding s", *(f"{op} ms" for _, op in TIMED)], sandbox_rows))


if __name__ == "__main__":
    main()
