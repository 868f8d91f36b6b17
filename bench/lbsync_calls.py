"""API calls per lb-sync reconcile, by cluster size, against the sandbox.

Prints a table: reads and writes of a first (converging) pass and of a converged pass for a
cluster-wide controller, beside the floor (the fewest list/describe calls that can see the
state) and beside statika's pattern (per host, per loop: ListTasks + DescribeTasks, then per
service DescribeLoadBalancers + ListTasks).
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.lbsync import LbSync
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances, task_definition

SIZES = [(10, 5), (100, 20), (1000, 100), (5000, 500)]
SERVICES = 5
WRITES = {"RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer", "ConfigureHealthCheck",
          "DeleteLoadBalancerListeners", "CreateLoadBalancerListeners", "SetLoadBalancerPoliciesOfListener"}


def world(sb: Sandbox, tasks: int, instances: int) -> list[ServiceEntry]:
    cluster_with_instances(sb, "bench", instances, instance_type="m5.2xlarge")
    ecs, elb = sb.client("ecs"), sb.client("elb")
    entries = []
    for n in range(SERVICES):
        name = f"svc{n}"
        ecs.register_task_definition(**task_definition(name, memory=16, cpu=8))
        ecs.create_service(cluster="bench", serviceName=name, taskDefinition=name, desiredCount=tasks // SERVICES)
        elb.create_load_balancer(LoadBalancerName=f"{name}-lb", AvailabilityZones=[f"{sb.region}a"], Listeners=[
            {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}])
        entries.append(ServiceEntry(serviceName=name, family=name, exposedContainerName=name,
                                    loadBalancerName=f"{name}-lb"))
    sb.advance(2)
    return entries


def split(sb: Sandbox) -> tuple[int, int]:
    calls = sb.calls()
    writes = sum(n for (svc, op), n in calls.items() if op in WRITES)
    return sum(calls.values()) - writes, writes


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    rows = []
    with Sandbox() as sb:
        os.environ.update(sb.env())
        for tasks, instances in SIZES:
            sb.reset()
            entries = world(sb, tasks, instances)
            clients = Clients(AwsTarget(sb.region, sb.endpoint_url))
            controller = LbSync(clients, "bench", lambda entries=entries: entries)
            sb.reset_calls()
            started = time.perf_counter()
            first = safe_pass(controller, dry_run=False)
            first_reads, first_writes = split(sb)
            sb.reset_calls()
            converged = safe_pass(controller, dry_run=False)
            elapsed = time.perf_counter() - started
            reads, writes = split(sb)
            assert first.ok and converged.ok and writes == 0, (first.summary(), converged.summary())
            floor = 2 * math.ceil(instances / 100) + 2 * math.ceil(tasks / 100) + math.ceil(instances / 200) \
                + math.ceil(SERVICES / 20)
            statika = instances * (2 + 2 * SERVICES)
            rows.append((tasks, instances, first_reads, first_writes, reads, writes, floor, statika, elapsed))
    print(f"lb-sync, cluster-wide, {SERVICES} services/load balancers (sandbox, {time.strftime('%Y-%m-%d')})")
    print("| tasks | instances | 1st pass reads | 1st pass writes | converged reads | converged writes "
          "| floor reads | statika calls/loop | wall s (2 passes) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")
    print("(first-pass reads include one DescribeTaskDefinition per task definition; later passes reuse the cache."
          " Writes are the same at every size: each of the 5 load balancers is registered, aimed and moved once.)")


if __name__ == "__main__":
    main()
