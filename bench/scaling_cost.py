"""Scaling cost: one synthetic day replayed through the sandbox, three times, each time with a
different scaler deciding the capacity of the same fleet, and what each day cost.

The day, and what the numbers rest on (read these before quoting a number):

- Fleet: `shop`, one version deployed and active (the same infra.yml for all three runs, below):
  an on-demand Auto Scaling group pinned at one t3.medium (min = max = 1, the reserved base no
  scaler may touch) and a spot fleet of t3.medium, weight 1, from 0 to 20. So every scaler acts on
  one thing, the spot fleet's target capacity, and instance-hours compare like for like.
- Load: two ECS services, `web` (256 CPU units, 512 MiB) and `api` (512, 1,024 MiB: the largest
  task, the one the thresholds count in), binpacked on memory (the sandbox's default placement),
  minimumHealthyPercent 100 and maximumPercent 200 (ECS's defaults). Their desired counts follow a
  daily cosine (lowest at 04:00; `api` an hour behind `web`), move by a small deterministic jitter
  every 10 minutes (the noise a service autoscaler makes), and carry two bursts: `web` +20 from
  10:00 to 10:20, `api` +9 from 19:30 to 20:00.
- When a service scales in, the sandbox stops tasks on the instance running the most of that
  service's tasks; ECS with binpack stops them where the most resources are left free, which
  empties instances sooner. So instances seldom become empty here, which matters most to the
  capacity provider: it only ever removes empty instances.
- Spot interruptions at 03:00, 11:30, 14:00 and 19:40: each hits the spot instance running the most
  tasks at that moment (none: skipped, and counted). AWS terminates it 120 s after the warning and
  the fleet (type `maintain`) launches a replacement.
- The nodes' user data sets ECS_ENABLE_SPOT_INSTANCE_DRAINING=true (ecsfleet's template does, as
  the seed's did), so in all three runs the ECS agent sets an interrupted instance DRAINING at the
  warning; the sandbox does not emulate that agent setting, so this script does it. ecsfleet's
  controller also receives the warning (as it would from `--events-queue`).
- Boot time: a launched instance joins the cluster 120 s after launch (EC2 boot plus the ECS
  agent starting; the sandbox alone would register it at once). It is billed from launch.
- Time: the sandbox clock (realtime=False) moves in 10 s steps; each scaler decides once a
  simulated minute; every metric is sampled every 10 s. A 30-minute warm-up at the day's first
  load runs before the measured 24 hours, so no run is measured while it sizes the fleet for the
  first time.
- Measured: instance-hours (EC2 instances pending or running, booting and draining ones
  included); peak pending tasks and task-seconds pending, where pending = Σ over services of
  max(0, desired - running - pending), what ECS reports as not placed (a task still running on a
  draining host counts as running, as ECS counts it); scale actions (capacity raised, capacity
  removed or an instance drained to remove it); "quick reversals": capacity added within 10
  minutes after capacity was removed (flapping); tasks killed: tasks still running on an instance
  when it terminated (stop code TerminationNotice), split between instances a scaler removed and
  instances lost to a spot interruption.
- The lower bound row: every minute, the fewest t3.medium hosts that hold every desired task
  (first-fit decreasing on CPU and memory, at least the one on-demand host), with instant boots.

The three scalers (the two baselines are models written here for comparison, not product code):

1. ecsfleet: `FleetController.reconcile` once a minute (README, `ecsfleet fleet`, step 5).
2. seed: ecs-cluster-deployer's threshold scaler as its source reads (DESIGN.md): metric =
   Σ over ACTIVE container instances of min(remaining CPU / task CPU, remaining memory / task
   memory) for the largest service task, as a fraction; averaged over the last 4 one-minute
   values; above task_threshold_in (10) -> spot target - 1, below task_threshold_out (3) -> + 2;
   clamped to min/max weight and never to 0 while tasks run; 300 s cooldown after each change. It
   lowers the target with ModifySpotFleetRequest and the default excess-capacity policy, so the
   spot fleet terminates instances without draining them (the sandbox, like moto, picks the
   oldest instances).
3. capacity provider: ECS managed scaling with targetCapacity 100, modelled on the spot fleet:
   CapacityProviderReservation = M / N x 100, with N = ACTIVE container instances and M = the
   instances running tasks, or, when tasks cannot be placed (counted per service as desired
   minus tasks on ACTIVE instances: what ECS would hold in PROVISIONING), N plus the new instances
   they need (first-fit decreasing). Evaluated every minute. M > N: capacity is raised to M at
   once (instances still booting, and draining ones until they are gone, count as capacity: what
   the 300 s warm-up achieves). M < N for 15 consecutive minutes: one empty instance is drained
   (managed draining), then removed when it has no tasks (target - 1 with noTermination, then
   TerminateInstances), and the 15 minutes start again: one step at a time.

`--hours`, `--step`, `--boot` and `--trace DIR` (a CSV per scaler, one row a minute) change the
replay; the defaults are what docs/benchmarks.md reports. The three runs go in parallel
processes (moto keeps its state per process, so each has its own sandbox).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from moto.moto_api._internal import mock_random

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.plan import Options
from ecsfleet.fleet.rollout import RolloutSettings, rollout
from ecsfleet.fleet.schema import Infra, parse_infra
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.ecs import Ec2Facts, EcsRegion
from ecsfleet.sandbox.moto_bridge import ec2_facts

CLUSTER = "shop"
VERSION = "v1"
INFRA_YML = f"""\
cluster:
  name: {CLUSTER}
ec2_instances:
  autoscaling: true
  auto_scaling_groups:
    - name: base
      instance_type: t3.medium
      desired_instances: 1
      min_size: 1
      max_size: 1
  spot_fleets:
    - name: spot
      timeout: 2m
      desired_weight: 2
      min_weight: 0
      max_weight: 20
      task_threshold_out: 3
      task_threshold_in: 10
      bids:
        - instance_type: t3.medium
          price: 0.02
"""

DAY_MINUTES = 24 * 60
WARM_UP_MINUTES = 30
SAMPLE_SECONDS = 10.0
SPOT_NOTICE_SECONDS = 120.0
REVERSAL_WINDOW_MINUTES = 10
INTERRUPTIONS = (3 * 60, 11 * 60 + 30, 14 * 60, 19 * 60 + 40)  # minutes of the day
TERMINATED = "TerminationNotice"  # the stop code of tasks on an instance that went away
SEED = 8


# ---- the day's load -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Burst:
    start: int  # minute of the day
    minutes: int
    extra: int


@dataclass(frozen=True)
class ServiceLoad:
    name: str
    cpu: int
    memory: int
    low: int
    high: int
    lag_hours: float
    jitter: int
    bursts: tuple[Burst, ...] = ()

    def desired(self, minute: int) -> int:
        hour = (minute / 60 - self.lag_hours) % 24
        daily = 0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4) / 24)  # 0 at 04:00, 1 at 16:00
        # A fixed pseudo-random nudge per 10-minute block: the same in every run.
        nudge = random.Random(f"{self.name}-{minute // 10}").randint(-self.jitter, self.jitter)
        extra = sum(b.extra for b in self.bursts if b.start <= minute < b.start + b.minutes)
        return max(1, round(self.low + (self.high - self.low) * daily) + nudge + extra)


LOAD = (
    ServiceLoad("web", cpu=256, memory=512, low=6, high=36, lag_hours=0, jitter=2,
                bursts=(Burst(10 * 60, 20, 20),)),
    ServiceLoad("api", cpu=512, memory=1024, low=3, high=15, lag_hours=1, jitter=1,
                bursts=(Burst(19 * 60 + 30, 30, 9),)),
)


def pack(sizes: Iterable[tuple[int, int]], host_cpu: int, host_memory: int) -> int:
    """Hosts needed for tasks of (cpu, memory), first-fit decreasing."""
    bins: list[list[int]] = []
    for cpu, memory in sorted(sizes, key=lambda s: (s[1], s[0]), reverse=True):
        spot = next((b for b in bins if b[0] >= cpu and b[1] >= memory), None)
        if spot is None:
            spot = [host_cpu, host_memory]
            bins.append(spot)
        spot[0] -= cpu
        spot[1] -= memory
    return len(bins)


def lower_bound_hours(minutes: int, host_cpu: int, host_memory: int) -> tuple[float, int]:
    """Instance-hours and peak hosts of a perfect scaler: every minute exactly the hosts that hold
    the desired tasks, at least the on-demand one."""
    hosts = [max(1, pack([(s.cpu, s.memory) for s in LOAD for _ in range(s.desired(m))], host_cpu, host_memory))
             for m in range(minutes)]
    return sum(hosts) / 60, max(hosts)


# ---- the sandbox world ------------------------------------------------------------------------------

class BootDelay:
    """Hides a new EC2 instance from the sandbox's ECS agents for `seconds` after it was first
    seen, so it registers as late as a real one would. Installed in place of the region's EC2
    view (the sandbox registers instances the moment moto launches them)."""

    def __init__(self, sb: Sandbox, seconds: float) -> None:
        self.sb = sb
        self.seconds = seconds
        self.region = sb.ecs(sb.region)
        self.inner: Callable[[], list[Ec2Facts]] = self.region._ec2_facts
        self.first_seen: dict[str, float] = {}
        self.region._ec2_facts = self

    def __call__(self) -> list[Ec2Facts]:
        now = self.sb.now()
        facts = []
        for fact in self.inner():
            seen = self.first_seen.setdefault(fact.instance_id, now)
            booting = fact.state == "running" and now - seen < self.seconds
            facts.append(replace(fact, state="pending") if booting else fact)
        return facts


@dataclass
class World:
    sb: Sandbox
    clients: Clients
    infra: Infra
    region: EcsRegion
    spot_fleet: str

    def spot_instances(self) -> list[str]:
        answer = self.clients("ec2").describe_spot_fleet_instances(SpotFleetRequestId=self.spot_fleet)
        return [i["InstanceId"] for i in answer["ActiveInstances"]]

    def spot_target(self) -> int:
        answer = self.clients("ec2").describe_spot_fleet_requests(SpotFleetRequestIds=[self.spot_fleet])
        return int(answer["SpotFleetRequestConfigs"][0]["SpotFleetRequestConfig"]["TargetCapacity"])

    def set_spot_target(self, target: int, terminate: bool) -> None:
        args: dict[str, Any] = {"SpotFleetRequestId": self.spot_fleet, "TargetCapacity": target}
        if not terminate:
            args["ExcessCapacityTerminationPolicy"] = "noTermination"
        # Without the policy AWS (and moto) apply the default one: excess instances are terminated.
        self.clients("ec2").modify_spot_fleet_request(**args)

    def set_desired(self, minute: int) -> None:
        """What the services' own autoscaling would do: UpdateService when a count changes (the
        sandbox's state tells whether it changed, so the replay adds no describe calls)."""
        ecs = self.clients("ecs")
        for load in LOAD:
            service = next(s for s in self.region.services.values() if s.name == load.name)
            if service.desired_count != load.desired(minute):
                ecs.update_service(cluster=CLUSTER, service=load.name, desiredCount=load.desired(minute))


def build_world(sb: Sandbox, boot_seconds: float) -> World:
    os.environ.update(sb.env())
    clients = Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))
    infra = parse_infra("scaling_cost.infra.yml", INFRA_YML)
    rollout(clients, infra, VERSION, resolve_network(clients, infra), lambda _: None,
            RolloutSettings(follow=False, poll=5), sleep=sb.advance)
    fleet = read_world(clients, infra).fleet(VERSION)
    assert fleet is not None and fleet.active and fleet.spot_fleets
    ecs = clients("ecs")
    for load in LOAD:
        ecs.register_task_definition(family=load.name, containerDefinitions=[{
            "name": load.name, "image": "nginx", "cpu": load.cpu, "memory": load.memory,
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}])
        ecs.create_service(cluster=CLUSTER, serviceName=load.name, taskDefinition=load.name,
                           desiredCount=load.desired(0),
                           deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    BootDelay(sb, boot_seconds)
    sb.advance(0)
    return World(sb, clients, infra, sb.ecs(sb.region), fleet.spot_fleets[0].request_id)


# ---- what the baselines observe, through the ECS and EC2 APIs ----------------------------------

@dataclass(frozen=True)
class Host:
    arn: str
    ec2_id: str
    status: str
    tasks: int
    remaining_cpu: int
    remaining_memory: int
    cpu: int
    memory: int


def _resource(doc: dict[str, Any], key: str, name: str) -> int:
    return int(next(r["integerValue"] for r in doc[key] if r["name"] == name))


def read_hosts(clients: Clients) -> list[Host]:
    ecs = clients("ecs")
    arns = [a for page in ecs.get_paginator("list_container_instances").paginate(cluster=CLUSTER)
            for a in page["containerInstanceArns"]]
    hosts = []
    for start in range(0, len(arns), 100):
        for doc in ecs.describe_container_instances(cluster=CLUSTER, containerInstances=arns[start:start + 100])[
                "containerInstances"]:
            hosts.append(Host(doc["containerInstanceArn"], doc["ec2InstanceId"], doc["status"],
                              int(doc["runningTasksCount"]) + int(doc["pendingTasksCount"]),
                              _resource(doc, "remainingResources", "CPU"),
                              _resource(doc, "remainingResources", "MEMORY"),
                              _resource(doc, "registeredResources", "CPU"),
                              _resource(doc, "registeredResources", "MEMORY")))
    return hosts


@dataclass(frozen=True)
class ServiceCounts:
    name: str
    desired: int
    running: int
    pending: int
    cpu: int
    memory: int


class TaskSizes:
    """Task definition sizes as the seed's metrics Lambda reads them: the sum of the containers'
    CPU and of max(memory, memoryReservation); read once per task definition (they never change)."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.known: dict[str, tuple[int, int]] = {}

    def __call__(self, arn: str) -> tuple[int, int]:
        if arn not in self.known:
            body = self.clients("ecs").describe_task_definition(taskDefinition=arn)["taskDefinition"]
            containers = body["containerDefinitions"]
            self.known[arn] = (sum(int(c.get("cpu", 0)) for c in containers),
                               sum(max(int(c.get("memory") or 0), int(c.get("memoryReservation") or 0))
                                   for c in containers))
        return self.known[arn]


def read_services(clients: Clients, sizes: TaskSizes) -> list[ServiceCounts]:
    docs = clients("ecs").describe_services(cluster=CLUSTER, services=[s.name for s in LOAD])["services"]
    return [ServiceCounts(d["serviceName"], int(d["desiredCount"]), int(d["runningCount"]), int(d["pendingCount"]),
                          *sizes(d["taskDefinition"])) for d in docs if d["status"] == "ACTIVE"]


# ---- the scalers ------------------------------------------------------------------------------------

@dataclass
class Tally:
    """Decisions a scaler took: (minute, "out" | "in"), and whatever it warned about."""

    actions: list[tuple[int, str]] = field(default_factory=list)
    warnings: dict[str, int] = field(default_factory=dict)

    def warn(self, text: str) -> None:
        self.warnings[text] = self.warnings.get(text, 0) + 1


class Scaler(Protocol):
    tally: Tally

    def interrupted(self, ec2_id: str) -> None: ...

    def tick(self, minute: int) -> None: ...


class EcsfleetScaler:
    def __init__(self, world: World) -> None:
        self.world = world
        self.controller = FleetController(world.clients, world.infra, Options(), now=world.sb.now)
        self.tally = Tally()

    def interrupted(self, ec2_id: str) -> None:
        self.controller.inbox.add([ec2_id])

    def tick(self, minute: int) -> None:
        report = self.controller.reconcile(dry_run=False)
        for outcome in report.outcomes:
            if not outcome.ok:
                self.tally.warn(f"{outcome.kind} failed: {outcome.error}")
            elif outcome.kind == "scale":
                self.tally.actions.append((minute, "out" if "scale out" in outcome.detail else "in"))
            elif outcome.kind == "drain" and "[scale-in]" in outcome.detail:
                self.tally.actions.append((minute, "in"))
        for warning in report.warnings:
            # Instance ids and counts vary; the kind of warning is what matters here.
            self.tally.warn(" ".join(w for w in warning.split() if not w.startswith("i-") and not w.isdigit()))


class SeedScaler:
    """ecs-cluster-deployer's metrics and scaler Lambdas, one minute apart."""

    AVERAGE_OVER = 4  # one-minute datapoints
    COOLDOWN = 300.0

    def __init__(self, world: World) -> None:
        self.world = world
        spot = world.infra.ec2_instances.spot_fleets[0]
        self.low, self.high = spot.min_weight, spot.max_weight
        self.threshold_out, self.threshold_in = spot.task_threshold_out, spot.task_threshold_in
        self.sizes = TaskSizes(world.clients)
        self.metric: list[float] = []
        self.last_change = -math.inf
        self.tally = Tally()

    def interrupted(self, ec2_id: str) -> None:
        pass  # the seed had no interruption handling beyond the agent's own draining

    def schedulable(self, hosts: Sequence[Host], services: Sequence[ServiceCounts]) -> float:
        sized = [(s.memory, s.cpu) for s in services if s.desired > 0]
        if not sized:
            return 0.0
        memory, cpu = max(sized)  # the largest task by memory, then CPU
        return sum(min(h.remaining_cpu / cpu if cpu else math.inf, h.remaining_memory / memory)
                   for h in hosts if h.status == "ACTIVE")

    def tick(self, minute: int) -> None:
        hosts, services = read_hosts(self.world.clients), read_services(self.world.clients, self.sizes)
        self.metric.append(self.schedulable(hosts, services))
        now = self.world.sb.now()
        if now - self.last_change < self.COOLDOWN:
            return
        average = sum(self.metric[-self.AVERAGE_OVER:]) / len(self.metric[-self.AVERAGE_OVER:])
        target = self.world.spot_target()
        if average > self.threshold_in:
            wanted, kind = target - 1, "in"
        elif average < self.threshold_out:
            wanted, kind = target + 2, "out"
        else:
            return
        wanted = max(self.low, min(self.high, wanted))
        if wanted == 0 and any(h.tasks for h in hosts):
            wanted = 1
        if wanted == target:
            return
        self.world.set_spot_target(wanted, terminate=True)
        self.tally.actions.append((minute, kind))
        self.last_change = now


class CapacityProviderScaler:
    """ECS managed scaling with targetCapacity 100 and managed draining, on the spot fleet."""

    TARGET = 100
    SCALE_IN_AFTER = 15  # consecutive one-minute datapoints below the target

    def __init__(self, world: World) -> None:
        self.world = world
        spot = world.infra.ec2_instances.spot_fleets[0]
        self.low, self.high = spot.min_weight, spot.max_weight
        self.on_demand = world.infra.ec2_instances.auto_scaling_groups[0].desired_instances
        self.sizes = TaskSizes(world.clients)
        self.below = 0
        self.draining: set[str] = set()  # EC2 ids it drained to remove
        self.tally = Tally()

    def interrupted(self, ec2_id: str) -> None:
        pass  # the agent drains it; the capacity provider sees the tasks it must place

    def unplaced(self, hosts: Sequence[Host], services: Sequence[ServiceCounts]) -> list[tuple[int, int]]:
        """Tasks ECS would hold in PROVISIONING: desired minus tasks on ACTIVE instances."""
        ecs = self.world.clients("ecs")
        active = {h.arn for h in hosts if h.status == "ACTIVE"}
        arns = [a for page in ecs.get_paginator("list_tasks").paginate(cluster=CLUSTER, desiredStatus="RUNNING")
                for a in page["taskArns"]]
        placed: dict[str, int] = {}
        for start in range(0, len(arns), 100):
            for task in ecs.describe_tasks(cluster=CLUSTER, tasks=arns[start:start + 100])["tasks"]:
                if task.get("containerInstanceArn") in active and task.get("group", "").startswith("service:"):
                    name = task["group"].removeprefix("service:")
                    placed[name] = placed.get(name, 0) + 1
        return [(s.cpu, s.memory) for s in services for _ in range(max(0, s.desired - placed.get(s.name, 0)))]

    def tick(self, minute: int) -> None:
        hosts, services = read_hosts(self.world.clients), read_services(self.world.clients, self.sizes)
        for host in hosts:  # managed draining: remove a drained instance once its tasks are gone
            if host.ec2_id in self.draining and host.status == "DRAINING" and host.tasks == 0:
                self.world.set_spot_target(max(self.low, self.world.spot_target() - 1), terminate=False)
                self.world.clients("ec2").terminate_instances(InstanceIds=[host.ec2_id])
                self.draining.discard(host.ec2_id)
        active = [h for h in hosts if h.status == "ACTIVE"]
        n = len(active)
        waiting = self.unplaced(hosts, services)
        if waiting:
            cpu, memory = max(((h.cpu, h.memory) for h in hosts), default=(2048, 3904))
            m = n + pack(waiting, cpu, memory)
        else:
            m = sum(1 for h in active if h.tasks)
        target = self.world.spot_target()
        if n == 0 or m > n:
            self.below = 0
            wanted = max(self.low, min(self.high, m - self.on_demand))
            if wanted > target:  # instances still booting count: the warm-up keeps it from adding them twice
                self.world.set_spot_target(wanted, terminate=False)
                self.tally.actions.append((minute, "out"))
            return
        if m == n:
            self.below = 0
            return
        self.below += 1
        if self.below < self.SCALE_IN_AFTER or self.draining or target <= self.low:
            return
        spot = set(self.world.spot_instances())
        empty = [h for h in active if h.ec2_id in spot and h.tasks == 0]
        if empty:
            self.world.clients("ecs").update_container_instances_state(
                cluster=CLUSTER, containerInstances=[empty[0].arn], status="DRAINING")
            self.draining.add(empty[0].ec2_id)
            self.tally.actions.append((minute, "in"))
            self.below = 0


SCALERS: dict[str, Callable[[World], Scaler]] = {
    "ecsfleet": EcsfleetScaler,
    "seed threshold scaler": SeedScaler,
    "capacity provider (target 100)": CapacityProviderScaler,
}


# ---- the replay -------------------------------------------------------------------------------------

@dataclass
class Result:
    scaler: str
    instance_hours: float = 0.0
    peak_instances: int = 0
    peak_pending: int = 0
    pending_task_seconds: float = 0.0
    scale_outs: int = 0
    scale_ins: int = 0
    reversals: int = 0
    killed_by_scaler: int = 0
    killed_at_spot: int = 0
    interruptions_hit: int = 0
    warnings: dict[str, int] = field(default_factory=dict)
    host_cpu: int = 0
    host_memory: int = 0
    wall_seconds: float = 0.0
    # One row a minute: minute, desired tasks, pending tasks, EC2 instances, ACTIVE container instances.
    trace: list[tuple[int, int, int, int, int]] = field(default_factory=list)


class Meter:
    """Reads the sandbox's own state (no API calls, so the scalers' call patterns stay untouched)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.region = world.region
        self.killed: set[str] = set()
        self.interrupted: set[str] = set()

    def instances(self) -> int:
        return sum(1 for f in ec2_facts(self.world.sb.region) if f.state in ("pending", "running"))

    def pending(self) -> int:
        missing = 0
        for svc in self.region.services.values():
            if svc.status == "ACTIVE":
                placed = sum(1 for t in self.region.service_tasks(svc) if t.last_status in ("PENDING", "RUNNING"))
                missing += max(0, svc.desired_count - placed)
        return missing

    def new_kills(self) -> tuple[int, int]:
        """Tasks newly found stopped because their host went away: (by the scaler, at a spot interruption).
        Stopped tasks stay visible for an hour, so a look once a minute misses none."""
        by_scaler = at_spot = 0
        for task in list(self.region.tasks.values()):
            if task.stop_code != TERMINATED or task.arn in self.killed:
                continue
            self.killed.add(task.arn)
            host = (self.region.instances.get(task.container_instance_arn)
                    or self.region.inactive_instances.get(task.container_instance_arn))
            ec2_id = host.ec2_instance_id if host else ""
            # Only spot interruptions and the scaler terminate instances in this replay.
            if ec2_id in self.interrupted:
                at_spot += 1
            else:
                by_scaler += 1
        return by_scaler, at_spot


def interrupt(world: World, meter: Meter, scaler: Scaler) -> bool:
    """Interrupt the spot instance running the most tasks; the agent drains it at once."""
    spot = set(world.spot_instances())
    hosts = [ci for ci in world.region.instances.values() if ci.ec2_instance_id in spot and ci.status == "ACTIVE"]
    if not hosts:
        return False
    victim = max(hosts, key=lambda ci: (len(ci.task_arns), -ci.registered_at))
    world.sb.interrupt_spot(victim.ec2_instance_id, SPOT_NOTICE_SECONDS)
    meter.interrupted.add(victim.ec2_instance_id)
    world.clients("ecs").update_container_instances_state(cluster=CLUSTER, containerInstances=[victim.arn],
                                                          status="DRAINING")
    scaler.interrupted(victim.ec2_instance_id)
    return True


def replay(name: str, minutes: int, step: int, boot_seconds: float) -> Result:
    started = time.perf_counter()
    result = Result(name)
    with Sandbox() as sb:
        # moto draws every id from one seedable generator: the same ids make every run the same
        # (ecsfleet breaks ties between instances by id).
        mock_random.seed(SEED)
        world = build_world(sb, boot_seconds)
        scaler = SCALERS[name](world)
        meter = Meter(world)
        samples_per_minute = round(60 / SAMPLE_SECONDS)
        for minute in range(-WARM_UP_MINUTES, minutes):
            world.set_desired(max(0, minute))
            if minute in INTERRUPTIONS:
                result.interruptions_hit += interrupt(world, meter, scaler)
            if minute % step == 0:
                scaler.tick(minute)
            sb.advance(0)  # new instances are seen (and their boot starts) when launched
            for _ in range(samples_per_minute):
                sb.advance(SAMPLE_SECONDS)
                if minute >= 0:
                    count, pending = meter.instances(), meter.pending()
                    result.instance_hours += count * SAMPLE_SECONDS / 3600
                    result.peak_instances = max(result.peak_instances, count)
                    result.peak_pending = max(result.peak_pending, pending)
                    result.pending_task_seconds += pending * SAMPLE_SECONDS
            by_scaler, at_spot = meter.new_kills()
            if minute >= 0:
                result.killed_by_scaler += by_scaler
                result.killed_at_spot += at_spot
                active = sum(1 for ci in world.region.instances.values() if ci.status == "ACTIVE")
                result.trace.append((minute, sum(s.desired(minute) for s in LOAD), meter.pending(),
                                     meter.instances(), active))
        actions = [(m, kind) for m, kind in scaler.tally.actions if m >= 0]
        result.scale_outs = sum(1 for _, kind in actions if kind == "out")
        result.scale_ins = sum(1 for _, kind in actions if kind == "in")
        result.reversals = sum(1 for m, kind in actions if kind == "out" and any(
            k == "in" and 0 <= m - earlier <= REVERSAL_WINDOW_MINUTES for earlier, k in actions))
        result.warnings = scaler.tally.warnings
        host = next(iter(world.region.instances.values()))
        result.host_cpu, result.host_memory = host.registered_cpu, host.registered_memory
    result.wall_seconds = time.perf_counter() - started
    return result


# ---- output -----------------------------------------------------------------------------------------

def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|:---|" + "---:|" * (len(headers) - 1)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def write_trace(directory: Path, result: Result) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (result.scaler.split()[0] + ".csv")
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["minute", "desired_tasks", "pending_tasks", "ec2_instances", "active_instances"])
        writer.writerows(result.trace)


@contextlib.contextmanager
def pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    # spawn: every worker starts without moto's state, and starts its own sandbox.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as executor:
        yield executor


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--hours", type=float, default=24.0, help="length of the measured replay")
    parser.add_argument("--step", type=int, default=1, help="minutes between two decisions of a scaler")
    parser.add_argument("--boot", type=float, default=120.0, help="seconds from launch to joining the cluster")
    parser.add_argument("--jobs", type=int, default=len(SCALERS), help="replays run at once")
    parser.add_argument("--trace", type=Path, help="write a CSV per scaler, one row a minute, into this folder")
    args = parser.parse_args(argv)
    minutes = round(args.hours * 60)
    started = time.perf_counter()
    with pool(args.jobs) as executor:
        futures = [executor.submit(replay, name, minutes, args.step, args.boot) for name in SCALERS]
        results = [f.result() for f in futures]
    bound_hours, bound_peak = lower_bound_hours(minutes, results[0].host_cpu, results[0].host_memory)
    headers = ["scaler", "instance-hours", "peak instances", "peak pending tasks", "task-seconds pending",
               "scale-outs", "scale-ins", f"out within {REVERSAL_WINDOW_MINUTES} min of an in",
               "tasks killed by scale-in", "tasks killed at spot termination", "wall s"]
    rows: list[list[object]] = [
        [r.scaler, r.instance_hours, r.peak_instances, r.peak_pending, round(r.pending_task_seconds),
         r.scale_outs, r.scale_ins, r.reversals, r.killed_by_scaler, r.killed_at_spot, r.wall_seconds]
        for r in results]
    rows.append(["lower bound (perfect packing, instant boot)", bound_hours, bound_peak, 0, 0, "", "", "", "", "",
                 ""])
    task_hours = sum(s.desired(m) for s in LOAD for m in range(minutes)) / 60
    print(f"{args.hours:g} h replayed, a decision every {args.step} min, {args.boot:g} s boot; "
          f"{task_hours:.0f} task-hours wanted; spot interruptions that found a spot instance: "
          + ", ".join(f"{r.scaler} {r.interruptions_hit}/{sum(1 for m in INTERRUPTIONS if m < minutes)}"
                      for r in results))
    print(markdown_table(headers, rows))
    for r in results:
        for warning, count in sorted(r.warnings.items()):
            print(f"{r.scaler}: warned {count}x: {warning}")
        if args.trace:
            write_trace(args.trace, r)
    print(f"wall time {time.perf_counter() - started:.0f} s ({args.jobs} processes), "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
