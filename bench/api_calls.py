"""API calls per reconcile pass of lb-sync, dns-sync (ECS source) and agents, by cluster size,
counted by the sandbox.

For each cluster: a first pass (which converges it) and a converged pass (which must write
nothing), beside the floor (the fewest list/describe calls that can see that state, from the
APIs' page sizes and batch maxima) and beside the call pattern of the seed tool each capability
replaces (statika, ecsd, ecstatic), which is a model computed from their documented behaviour,
not a measurement.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from _support import (
    CLUSTER,
    OWNER,
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

SIZES = [(10, 5), (100, 20), (1000, 100), (5000, 500)]
REFUSED = ("current", "in-progress")  # agents' outcomes for an UpdateContainerAgent ECS refused


def counted(sb: Sandbox, controller: Reconciler, dry_run: bool = False) -> tuple[PassReport, int, int]:
    """One pass and the reads and writes the sandbox served for it."""
    sb.reset_calls()
    report = safe_pass(controller, dry_run)
    if not report.ok:
        raise RuntimeError(f"{controller.capability} pass failed: {report.summary()}")
    return (report, *reads_and_writes(sb))


def lbsync_row(sb: Sandbox, world: World, clients: Clients) -> Sequence[object]:
    services = world.services
    started = time.perf_counter()
    controller = LbSync(clients, CLUSTER, lambda: services)
    _, first_reads, first_writes = counted(sb, controller)
    _, reads, writes = counted(sb, controller)
    elapsed = time.perf_counter() - started
    host = sb.client("ec2").describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
    per_host = LbSync(clients, CLUSTER, lambda: services, ec2_instance_id=host)
    counted(sb, per_host, dry_run=True)  # fills its task definition cache
    _, host_reads, _ = counted(sb, per_host, dry_run=True)
    floor = lbsync_floor(world.instances, world.tasks, len(services))
    return (world.tasks, world.instances, len(services), first_reads, floor + len(world.families), first_writes,
            reads, floor, writes, host_reads, statika_calls_per_loop(world.instances, len(services)), elapsed)


def dns_row(sb: Sandbox, world: World, clients: Clients) -> Sequence[object]:
    started = time.perf_counter()
    controller = DnsSync(clients, CLUSTER, OWNER, (world.zone_id,))
    _, first_reads, first_writes = counted(sb, controller)
    _, reads, writes = counted(sb, controller)
    elapsed = time.perf_counter() - started
    record_sets = 4 * len(world.families)  # an SRV and an A name per family, each with its TXT registry record
    floor = dns_floor(world.instances, world.tasks, 1, record_sets)
    return (world.tasks, world.instances, record_sets, first_reads, floor + len(world.families), first_writes,
            reads, floor, writes, ecsd_calls(world.tasks), elapsed)


def agents_row(sb: Sandbox, world: World, clients: Clients) -> Sequence[object]:
    started = time.perf_counter()
    controller = AgentUpdates(clients, [CLUSTER])
    _, first_reads, first_writes = counted(sb, controller)  # every agent is older than the latest
    _, rolling_reads, rolling_writes = counted(sb, controller)  # the update just asked for is in flight
    sb.advance(60)  # the update completes
    latest = sb.timings.latest_agent_version
    sb.timings.latest_agent_version = sb.timings.initial_agent_version  # every agent is now current
    try:
        report, reads, calls = counted(sb, controller)
    finally:
        sb.timings.latest_agent_version = latest
    elapsed = time.perf_counter() - started
    refused = sum(1 for o in report.outcomes if o.kind in REFUSED)
    old, current = ecstatic_run(world.instances, False), ecstatic_run(world.instances, True)
    return (world.tasks, world.instances, first_reads, first_writes, f"{rolling_reads} / {rolling_writes}", reads,
            calls - refused, refused, agents_floor(world.instances), f"{old.reads} / {old.writes}",
            f"{current.reads} / {current.writes}", current.instances_seen, elapsed)


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    lb_rows, dns_rows, agent_rows = [], [], []
    with Sandbox() as sb:
        for tasks, instances in SIZES:
            world = build_world(sb, tasks, instances)
            clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
            lb_rows.append(lbsync_row(sb, world, clients))
            dns_rows.append(dns_row(sb, world, clients))
            agent_rows.append(agents_row(sb, world, clients))
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


if __name__ == "__main__":
    main()
