"""Scaling cost: synthetic days replayed through the sandbox, each several times, each time with a
different scaler deciding the capacity of the same fleet, and what each day cost in
instance-hours and in dollars.

The days (bench/_days.py: each its fleet as an infra.yml, its services' desired counts minute by
minute, its spot interruptions; `--infra DAY` prints a day's infra.yml):

- `today`: the day this benchmark has always replayed, unchanged so its numbers stay comparable.
  Fleet `shop`: an on-demand Auto Scaling group pinned at one t3.medium and a spot fleet of
  t3.medium (weight 1, 0 to 20). `web` (256 CPU units, 512 MiB) and `api` (512, 1,024 MiB) on a
  daily cosine (lowest at 04:00, `api` an hour behind), a jitter every 10 minutes, two bursts
  (`web` +20 at 10:00 for 20 minutes, `api` +9 at 19:30 for 30), interruptions at 03:00, 11:30,
  14:00 and 19:40.
- `large-task`: the same kind of fleet (t3.medium, spot 0 to 24) with three services, one a large
  worker (1,024 CPU units, 1,536 MiB: two to a t3.medium) peaking at 02:00; a lunchtime burst
  (`web` +10, 12:00-12:45) and an evening one (`api` +6, 19:00-20:00); interruptions at 02:30,
  12:20 and 19:30.
- `spiky`: t3.medium again; a flat-ish load with 14 bursts of 2 to 6 minutes (+4 to +20 tasks)
  between 07:00 and 23:00, about as long as a boot plus a decision; interruptions at 09:10 and
  17:45.
- `batch-mixed`: one on-demand t3.medium pinned, and a spot fleet bidding on m5.large and r5.large
  (weight 2) and c5.xlarge and m5.xlarge (weight 4), 0 to 64; a small `web` service beside batch
  work in waves, modelled as services whose desired count rises and falls: `thumbs` (256, 1,024)
  10 to 30 tasks for 6 minutes every 20 minutes from 07:00 to 22:00, `etl` (1,024, 2,048) 6 to
  14 tasks for 15 minutes every hour, `report` (2,048, 4,096) 5 or 6 tasks for two hours at 01:00
  and 17:00; interruptions at 01:30, 10:10 and 15:05.
- `office`, held out: designed after the placement scaler's constants were chosen on the four
  days above, to see whether they hold on a day they were not fitted to. One on-demand t3.medium
  pinned, and a spot fleet bidding on t3.medium (weight 1) and r5.large (weight 2), 0 to 32.
  `web` (512, 1,024) 2 to 20 tasks peaking at 14:00 with a jitter of 2 every 10 minutes and +12
  from 16:00 to 17:30; `queue` (256, 2,048: memory-bound) 2 to 12 peaking at 19:00, with a
  jitter of 3; the two jitter apart. Interruptions at 05:00, 13:30 and 21:15.
- `many-services`, held out too, designed after `office`: the other days have two to four
  services, and the reserve a consolidation keeps combines the services' rises. 24 small services
  (a team's microservices) of four sizes in turn (128 CPU units and 256 MiB, 256 and 512, 256 and
  1,024, 512 and 1,024), each from 1 task to a peak of 2 to 6 on its own daily curve (lows spread
  over the day) with a jitter of a task every 10 minutes, `svc03` +6 at 11:15 for 40 minutes and
  `svc17` +5 at 20:00 for 25; one on-demand t3.medium pinned, and a spot fleet bidding on
  t3.medium (weight 1) and m5.large (weight 2), 0 to 40. Interruptions at 04:20, 12:00 and 18:40.

What every replay rests on (read these before quoting a number):

- Every scaler acts on the same things: the spot fleet's target capacity (and, for ecsfleet,
  whatever its planner changes); the on-demand group (min = max) is the reserved base no scaler
  may touch in these fleets, so every day compares like for like.
- The services are binpacked on memory (the sandbox's default placement), minimumHealthyPercent
  100 and maximumPercent 200 (ECS's defaults). When a service scales in, the sandbox stops tasks
  as ECS with binpack does: where the most memory is left free after the task stops, which
  empties instances sooner; that matters most to the capacity provider, which only ever removes
  empty instances. Rows measured before 2026-12-01 stopped tasks on the instance running the
  most of the service's tasks instead, and are not comparable with later ones.
- Spot interruptions: each hits the spot instance running the most tasks at that moment (none:
  skipped, and counted). AWS terminates it 120 s after the warning and the fleet (type
  `maintain`) launches a replacement. The nodes' user data sets
  ECS_ENABLE_SPOT_INSTANCE_DRAINING=true (ecsfleet's template does, as the seed's did), so in
  every run the ECS agent sets an interrupted instance DRAINING at the warning; the sandbox does
  not emulate that agent setting, so this script does it. ecsfleet's controller also receives the
  warning (as it would from `--events-queue`).
- Which instance types a spot fleet launches is the sandbox's choice, the same for every scaler:
  moto's `diversified` allocation takes the fleet's overrides in turn from the first for each raise
  of the target, and ecsfleet's template writes one override per bid and subnet, so a raise of
  less than (subnets x the first bid's weight) launches only the first bid's type (AWS would
  spread it over the pools). The on-demand group's instances carry no type in the sandbox
  (ecsfleet's launch template names none, see docs/benchmarks.md): they register as a t3.medium,
  the type every day's on-demand group names, and are billed as such.
- Boot time: a launched instance joins the cluster 120 s after launch (EC2 boot plus the ECS
  agent starting; the sandbox alone would register it at once). It is billed from launch.
- Time: the sandbox clock (realtime=False) moves in 10 s steps; each scaler decides once a
  simulated minute; every metric is sampled every 10 s. A 30-minute warm-up at the day's first
  load runs before the measured 24 hours.
- Measured: instance-hours (EC2 instances pending or running, booting and draining ones
  included) and dollars (the same samples, each instance at its type's price: on-demand for the
  Auto Scaling group's, spot for the spot fleet's; PRICES in bench/_days.py, with their source;
  the sandbox's spot market is set to the same spot prices, so what ecsfleet's placement mode
  reads with DescribeSpotPriceHistory is what the replay bills);
  peak pending tasks and task-seconds pending, where pending = sum over services of
  max(0, desired - running - pending), what ECS reports as not placed (a task still running on a
  draining host counts as running, as ECS counts it); scale actions: a raise of any group's
  capacity (out), an instance drained to be removed or a target lowered (in); "quick reversals":
  capacity raised within 10 minutes after capacity was removed (flapping); tasks killed: tasks
  still running on an instance when it terminated (stop code TerminationNotice), split between
  instances a scaler removed and instances lost to a spot interruption.
- The lower bound row: every minute, the cheapest packing found of the desired tasks (first-fit
  decreasing on CPU and memory): the on-demand base filled first, then, for each type the spot
  fleet bids on, new hosts of that type, each then swapped for the cheapest bid type that still
  holds what it got; the cheapest of those per minute, at spot prices, with instant boots. On a
  one-type fleet it is the fewest hosts that hold the desired tasks. It is a heuristic packing,
  not a proven optimum, and knows nothing of boots, interruptions or placement constraints.

The scalers (the seed's and the capacity provider are models written here for comparison, not
product code):

1. ecsfleet: `FleetController.reconcile` once a minute (README, `ecsfleet fleet`, step 5), as the
   tree has it. If infra.yml has a `scaling` key (a choice of modes), every mode is replayed,
   each its own row.
2. seed: ecs-cluster-deployer's threshold scaler as its source reads (DESIGN.md): metric =
   sum over ACTIVE container instances of min(remaining CPU / task CPU, remaining memory / task
   memory) for the largest service task, as a fraction; averaged over the last 4 one-minute
   values; above task_threshold_in -> spot target - 1, below task_threshold_out -> + 2 (weight
   units); clamped to min/max weight and never to 0 while tasks run; 300 s cooldown after each
   change. It lowers the target with ModifySpotFleetRequest and the default excess-capacity
   policy, so the spot fleet terminates instances without draining them (the sandbox, like moto,
   picks the oldest instances).
3. capacity provider: ECS managed scaling with targetCapacity 100, modelled on the spot fleet:
   CapacityProviderReservation = M / N x 100, with N = ACTIVE container instances and M = the
   instances running tasks, or, when tasks cannot be placed (counted per service as desired
   minus tasks on ACTIVE instances: what ECS would hold in PROVISIONING), N plus the new instances
   they need, first-fit decreasing on the largest instance type the fleet bids on (ECS's
   estimate for a group of several types: it sizes with the largest, so it never launches more
   than needed). Evaluated every minute. M > N: the spot target is raised at once so that the
   spot fleet holds M - (on-demand instances) instances, the new ones counted at the largest
   type's weight (instances still booting, and draining ones until they are gone, count as
   capacity: what the 300 s warm-up achieves); the spot fleet then launches the types it would.
   M < N for 15 consecutive minutes: one empty spot instance is drained (managed draining), then
   removed when it has no tasks (target - its weight with noTermination, then
   TerminateInstances), and the 15 minutes start again: one step at a time.

`--day`, `--hours`, `--step`, `--boot`, `--jobs`, `--trace DIR` (a CSV per day and scaler, one
row a minute, with the task-seconds pending in it and the scaler's scale-outs and scale-ins) and
`--charts DIR` (a PNG per day) change or record the replay, and `--headroom VALUE` adds rows of
the placement mode at another headroom; the defaults are what docs/benchmarks.md reports. The
replays run in parallel processes, at most `--jobs` at once (moto keeps its state per process,
so each has its own sandbox).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import enum
import itertools
import logging
import math
import os
import re
import sys
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

import pydantic
import yaml
from botocore.exceptions import ClientError
from moto.moto_api._internal import mock_random

from _days import DAYS, PRICES, Day, hourly_price, resources
from ecsfleet.aws import AwsTarget, Clients, describe_in_batches
from ecsfleet.fleet import schema
from ecsfleet.fleet.controller import DESCRIBE_SERVICES_MAX, FleetController
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.plan import Options
from ecsfleet.fleet.rollout import RolloutSettings, rollout
from ecsfleet.fleet.schema import Infra, parse_infra
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.ecs import Ec2Facts, EcsRegion
from ecsfleet.sandbox.ecs_model import ACCOUNT_ID

VERSION = "v1"
DAY_MINUTES = 24 * 60
WARM_UP_MINUTES = 30
SAMPLE_SECONDS = 10.0
SPOT_NOTICE_SECONDS = 120.0
REVERSAL_WINDOW_MINUTES = 10
TERMINATED = "TerminationNotice"  # the stop code of tasks on an instance that went away
SEED = 8
MAX_JOBS = 2  # the replays are CPU-bound: more processes than cores only slow each other


# ---- ecsfleet's scaling modes, if the tree has them --------------------------------------------

@dataclass(frozen=True)
class ScalingKey:
    """Where infra.yml's `scaling` key lives and what it takes."""

    where: str  # "cluster", "ec2_instances", "spot_fleets" or "" (the top level)
    modes: tuple[str, ...]
    nested: bool  # the key holds a mapping whose `mode` field is the choice


def _choices(annotation: Any) -> tuple[str, ...]:
    """The string values a Literal, an Enum (or an Optional of either) admits."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(str(e.value) for e in annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    return tuple(c for arg in typing.get_args(annotation) for c in _choices(arg))


def scaling_key() -> ScalingKey | None:
    places: tuple[tuple[str, type[pydantic.BaseModel]], ...] = (
        ("cluster", schema.ClusterSpec), ("ec2_instances", schema.Ec2Instances),
        ("spot_fleets", schema.SpotFleet), ("", Infra))
    for where, model in places:
        info = model.model_fields.get("scaling")
        if info is None:
            continue
        if modes := _choices(info.annotation):
            return ScalingKey(where, modes, nested=False)
        nested = next((a for a in (info.annotation, *typing.get_args(info.annotation))
                       if isinstance(a, type) and issubclass(a, pydantic.BaseModel) and "mode" in a.model_fields),
                      None)
        if nested is not None and (modes := _choices(nested.model_fields["mode"].annotation)):
            return ScalingKey(where, modes, nested=True)
    return None


def headroom_value(text: str) -> int | str:
    """`--headroom` as infra.yml writes it: a whole number of copies, or a share such as 10%."""
    return text if text.endswith("%") else int(text)


def with_mode(infra_yml: str, key: ScalingKey | None, mode: str | None, headroom: int | str | None = None) -> str:
    """The day's infra.yml with `scaling: mode` written where the schema takes it (and the
    placement mode's `headroom`, when given)."""
    if key is None or mode is None:
        return infra_yml
    data = yaml.safe_load(infra_yml)
    value: Any = ({"mode": mode} | ({} if headroom is None else {"headroom": headroom})) if key.nested else mode
    if key.where == "spot_fleets":
        for spot in data["ec2_instances"]["spot_fleets"]:
            spot["scaling"] = value
    elif key.where:
        data[key.where]["scaling"] = value
    else:
        data["scaling"] = value
    return str(yaml.safe_dump(data, sort_keys=False))


def default_mode(infra_yml: str) -> str | None:
    """The mode ecsfleet gives a new cluster: the day's infra.yml without the seed's thresholds
    (a file that sets them keeps the thresholds' mode unless it names one)."""
    data = yaml.safe_load(infra_yml)
    for spot in data["ec2_instances"].get("spot_fleets", []):
        spot.pop("task_threshold_out", None)
        spot.pop("task_threshold_in", None)
    infra: Any = parse_infra("default.infra.yml", yaml.safe_dump(data, sort_keys=False))
    value = getattr(infra, "scaling_mode", None)
    return str(getattr(value, "value", value)) if value is not None else None


# ---- the lower bound --------------------------------------------------------------------------------

def first_fit(tasks: Iterable[tuple[int, int]], rooms: list[list[int]], new: tuple[int, int] | None) -> bool:
    """Places tasks of (cpu, memory), largest first, in the first of `rooms` (CPU and memory left)
    they fit, opening a room of `new` when none does (appended to `rooms`). False if a task fits
    nowhere (too large for `new`, or `new` is None)."""
    for cpu, memory in sorted(tasks, key=lambda s: (s[1], s[0]), reverse=True):
        room = next((r for r in rooms if r[0] >= cpu and r[1] >= memory), None)
        if room is None:
            if new is None or new[0] < cpu or new[1] < memory:
                return False
            room = [*new]
            rooms.append(room)
        room[0] -= cpu
        room[1] -= memory
    return True


def pack(sizes: Iterable[tuple[int, int]], host_cpu: int, host_memory: int) -> int:
    """Hosts needed for tasks of (cpu, memory), first-fit decreasing."""
    rooms: list[list[int]] = []
    first_fit(sizes, rooms, (host_cpu, host_memory))
    return len(rooms)


@dataclass(frozen=True)
class Packing:
    hosts: int
    dollars_per_hour: float


def cheapest_packing(tasks: Sequence[tuple[int, int]], base: Sequence[str], spot_types: Sequence[str]) -> Packing:
    """The cheapest of: the on-demand `base` hosts filled first, then new hosts of one spot type,
    each swapped for the cheapest spot type that holds what it got."""
    base_cost = sum(hourly_price(t, spot=False) for t in base)
    best: Packing | None = None
    for kind in spot_types:
        rooms = [list(resources(t)) for t in base]
        if not first_fit(tasks, rooms, resources(kind)):
            continue
        opened = rooms[len(base):]
        size = resources(kind)
        cost = base_cost
        for room in opened:
            used = (size[0] - room[0], size[1] - room[1])
            cost += min(hourly_price(t, spot=True) for t in spot_types
                        if resources(t)[0] >= used[0] and resources(t)[1] >= used[1])
        if best is None or cost < best.dollars_per_hour:
            best = Packing(len(rooms), cost)
    if best is None:
        raise ValueError(f"a task fits none of {', '.join(spot_types)}")
    return best


def lower_bound(day: Day, minutes: int) -> list[Packing]:
    """Every minute's cheapest packing of the desired tasks (see the docstring)."""
    infra = parse_infra(f"{day.name}.infra.yml", day.infra_yml)
    base = [g.instance_type for g in infra.ec2_instances.auto_scaling_groups for _ in range(g.min_size)]
    spot_types = [b.instance_type for f in infra.ec2_instances.spot_fleets for b in f.bids]

    @cache
    def packing(counts: tuple[int, ...]) -> Packing:
        tasks = [(load.cpu, load.memory) for load, n in zip(day.loads, counts, strict=True) for _ in range(n)]
        return cheapest_packing(tasks, base, spot_types)

    return [packing(tuple(load.desired(m) for load in day.loads)) for m in range(minutes)]


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
    day: Day

    @property
    def cluster(self) -> str:
        return self.infra.cluster.name

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
        try:
            self.clients("ec2").modify_spot_fleet_request(**args)
        except ClientError as error:
            # A target lowered by less than any instance's weight: AWS lowers it and terminates
            # nothing; the sandbox lowers it too, then fails on the empty termination.
            if not terminate or "No instances specified" not in str(error):
                raise

    def set_desired(self, minute: int) -> None:
        """What the services' own autoscaling would do: UpdateService when a count changes (the
        sandbox's state tells whether it changed, so the replay adds no describe calls)."""
        ecs = self.clients("ecs")
        for load in self.day.loads:
            service = next(s for s in self.region.services.values() if s.name == load.name)
            if service.desired_count != load.desired(minute):
                ecs.update_service(cluster=self.cluster, service=load.name, desiredCount=load.desired(minute))

    # Read from the sandbox's state, not through the API, so the scalers' call patterns stay untouched.
    def billed(self) -> list[tuple[str, bool]]:
        """(instance type, spot?) of every EC2 instance pending or running. An instance without a
        type is the on-demand group's: ecsfleet's launch template leaves the type out and the
        sandbox launches the group's instances without one (see docs/benchmarks.md)."""
        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[ACCOUNT_ID][self.sb.region]
        on_demand = self.infra.ec2_instances.auto_scaling_groups[0].instance_type
        return [(i.instance_type or on_demand, i.lifecycle == "spot") for i in ec2.all_instances()
                if i._state.name in ("pending", "running")]

    def capacities(self) -> dict[str, float]:
        """Every group's asked-for capacity: spot fleet targets and Auto Scaling groups' desired counts."""
        from moto.autoscaling.models import autoscaling_backends
        from moto.ec2.models import ec2_backends

        fleets = ec2_backends[ACCOUNT_ID][self.sb.region].spot_fleet_requests.values()
        asgs = autoscaling_backends[ACCOUNT_ID][self.sb.region].autoscaling_groups.values()
        spot = {f.id: float(f.target_capacity) for f in fleets}
        groups = {g.name: float(g.desired_capacity or 0) for g in asgs}
        return {**spot, **groups}


def build_world(sb: Sandbox, day: Day, infra_yml: str, boot_seconds: float) -> World:
    os.environ.update(sb.env())
    clients = Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))
    infra = parse_infra(f"{day.name}.infra.yml", infra_yml)
    rollout(clients, infra, VERSION, resolve_network(clients, infra), lambda _: None,
            RolloutSettings(follow=False, poll=5), sleep=sb.advance)
    fleet = read_world(clients, infra).fleet(VERSION)
    assert fleet is not None and fleet.active and fleet.spot_fleets
    ecs = clients("ecs")
    for load in day.loads:
        ecs.register_task_definition(family=load.name, containerDefinitions=[{
            "name": load.name, "image": "nginx", "cpu": load.cpu, "memory": load.memory,
            "portMappings": [{"containerPort": 80, "hostPort": 0}]}])
        ecs.create_service(cluster=infra.cluster.name, serviceName=load.name, taskDefinition=load.name,
                           desiredCount=load.desired(0),
                           deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    BootDelay(sb, boot_seconds)
    sb.advance(0)
    return World(sb, clients, infra, sb.ecs(sb.region), fleet.spot_fleets[0].request_id, day)


# ---- what the baselines observe, through the ECS and EC2 APIs ----------------------------------

@dataclass(frozen=True)
class Host:
    arn: str
    ec2_id: str
    instance_type: str
    status: str
    tasks: int
    remaining_cpu: int
    remaining_memory: int
    cpu: int
    memory: int


def _resource(doc: dict[str, Any], key: str, name: str) -> int:
    return int(next(r["integerValue"] for r in doc[key] if r["name"] == name))


def read_hosts(clients: Clients, cluster: str) -> list[Host]:
    ecs = clients("ecs")
    arns = [a for page in ecs.get_paginator("list_container_instances").paginate(cluster=cluster)
            for a in page["containerInstanceArns"]]
    hosts = []
    for start in range(0, len(arns), 100):
        for doc in ecs.describe_container_instances(cluster=cluster, containerInstances=arns[start:start + 100])[
                "containerInstances"]:
            attributes = {a["name"]: a.get("value", "") for a in doc.get("attributes", [])}
            hosts.append(Host(doc["containerInstanceArn"], doc["ec2InstanceId"],
                              attributes.get("ecs.instance-type", ""), doc["status"],
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


def read_services(world: World, sizes: TaskSizes) -> list[ServiceCounts]:
    ecs = world.clients("ecs")
    docs = describe_in_batches([s.name for s in world.day.loads], DESCRIBE_SERVICES_MAX, lambda batch: (
        ecs.describe_services(cluster=world.cluster, services=list(batch))["services"]))
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
    """ecsfleet's controller, whichever scaler the tree has. Its decisions are counted from their
    effects, not from the wording of its reasons: a raise of any group's capacity is a scale-out,
    a drain of an instance no spot warning named is a scale-in."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.controller = FleetController(world.clients, world.infra, Options(), now=world.sb.now)
        self.tally = Tally()
        self.warned: set[str] = set()

    def interrupted(self, ec2_id: str) -> None:
        self.warned.add(ec2_id)
        self.controller.inbox.add([ec2_id])

    def tick(self, minute: int) -> None:
        before = self.world.capacities()
        report = self.controller.reconcile(dry_run=False)
        after = self.world.capacities()
        if any(after.get(group, 0.0) > capacity for group, capacity in before.items()):
            self.tally.actions.append((minute, "out"))
        for outcome in report.outcomes:
            if not outcome.ok:
                self.tally.warn(f"{outcome.kind} failed: {outcome.error}")
            elif outcome.kind == "drain" and outcome.target not in self.warned:
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
        hosts, services = read_hosts(self.world.clients, self.world.cluster), read_services(self.world, self.sizes)
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
        self.weights = {b.instance_type: b.weight for b in spot.bids}
        # ECS sizes what cannot be placed with the largest instance type of the group.
        self.largest = max(self.weights, key=resources)
        self.on_demand = sum(g.desired_instances for g in world.infra.ec2_instances.auto_scaling_groups)
        self.sizes = TaskSizes(world.clients)
        self.below = 0
        self.draining: set[str] = set()  # EC2 ids it drained to remove
        self.tally = Tally()

    def interrupted(self, ec2_id: str) -> None:
        pass  # the agent drains it; the capacity provider sees the tasks it must place

    def weight(self, host: Host) -> int:
        return self.weights.get(host.instance_type, 1)

    def unplaced(self, hosts: Sequence[Host], services: Sequence[ServiceCounts]) -> list[tuple[int, int]]:
        """Tasks ECS would hold in PROVISIONING: desired minus tasks on ACTIVE instances."""
        ecs = self.world.clients("ecs")
        active = {h.arn for h in hosts if h.status == "ACTIVE"}
        arns = [a for page in ecs.get_paginator("list_tasks").paginate(cluster=self.world.cluster,
                                                                       desiredStatus="RUNNING")
                for a in page["taskArns"]]
        placed: dict[str, int] = {}
        for start in range(0, len(arns), 100):
            for task in ecs.describe_tasks(cluster=self.world.cluster, tasks=arns[start:start + 100])["tasks"]:
                if task.get("containerInstanceArn") in active and task.get("group", "").startswith("service:"):
                    name = task["group"].removeprefix("service:")
                    placed[name] = placed.get(name, 0) + 1
        return [(s.cpu, s.memory) for s in services for _ in range(max(0, s.desired - placed.get(s.name, 0)))]

    def tick(self, minute: int) -> None:
        hosts, services = read_hosts(self.world.clients, self.world.cluster), read_services(self.world, self.sizes)
        removed = False
        for host in hosts:  # managed draining: remove a drained instance once its tasks are gone
            if host.ec2_id in self.draining and host.status == "DRAINING" and host.tasks == 0:
                removed = True
                self.world.set_spot_target(max(self.low, self.world.spot_target() - self.weight(host)),
                                           terminate=False)
                self.world.clients("ec2").terminate_instances(InstanceIds=[host.ec2_id])
                self.draining.discard(host.ec2_id)
        active = [h for h in hosts if h.status == "ACTIVE"]
        n = len(active)
        waiting = self.unplaced(hosts, services)
        m = n + pack(waiting, *resources(self.largest)) if waiting else sum(1 for h in active if h.tasks)
        target = self.world.spot_target()
        if n == 0 or m > n:
            self.below = 0
            spot = set(self.world.spot_instances())
            active_spot = [h for h in active if h.ec2_id in spot]
            # The on-demand group supplies its instances; the spot fleet the rest, new ones counted
            # at the largest type's weight. Booting and draining instances are in the target already.
            new = max(0, m - self.on_demand - len(active_spot))
            wanted = max(self.low, min(self.high, sum(self.weight(h) for h in active_spot)
                                       + new * self.weights[self.largest]))
            # A spot fleet takes no second modify while it applies one (a removal this minute):
            # the raise waits for the next minute.
            if wanted > target and not removed:
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
                cluster=self.world.cluster, containerInstances=[empty[0].arn], status="DRAINING")
            self.draining.add(empty[0].ec2_id)
            self.tally.actions.append((minute, "in"))
            self.below = 0


SCALERS: dict[str, Callable[[World], Scaler]] = {
    "ecsfleet": EcsfleetScaler,
    "seed threshold scaler": SeedScaler,
    "capacity provider (target 100)": CapacityProviderScaler,
}


@dataclass(frozen=True)
class Contender:
    """One row of a day's table: a scaler, and for ecsfleet the `scaling` mode written in infra.yml."""

    label: str
    scaler: str
    mode: str | None = None
    headroom: int | str | None = None  # the placement mode's, when not its default


def contenders(day: Day, headrooms: Sequence[int | str] = ()) -> list[Contender]:
    """The day's rows: each ecsfleet mode (the one a new cluster gets first), the placement mode
    again at each of `headrooms`, then the other scalers."""
    key = scaling_key()
    if key is None:
        ours = [Contender("ecsfleet", "ecsfleet")]
    else:
        default = default_mode(day.infra_yml)
        ours = [Contender(f"ecsfleet (scaling: {mode})", "ecsfleet", mode)
                for mode in sorted(key.modes, key=lambda m: m != default)]
        if key.nested and "placement" in key.modes:
            ours += [Contender(f"ecsfleet (scaling: placement, headroom: {h})", "ecsfleet", "placement", h)
                     for h in headrooms]
    return [*ours, *(Contender(name, name) for name in SCALERS if name != "ecsfleet")]


# ---- the replay -------------------------------------------------------------------------------------

@dataclass
class Result:
    day: str
    scaler: str
    instance_hours: float = 0.0
    dollars: float = 0.0
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
    wall_seconds: float = 0.0
    # One row a minute: minute, desired tasks, pending tasks, EC2 instances, ACTIVE container
    # instances (the minute's last sample), dollars an hour (the minute's average), task-seconds
    # pending (the minute's samples: what the day's total adds up, where its last sample misses
    # tasks that waited less than a minute).
    trace: list[tuple[int, int, int, int, int, float, float]] = field(default_factory=list)
    actions: list[tuple[int, str]] = field(default_factory=list)  # (minute, "out" or "in"), the measured day's


class Meter:
    """Reads the sandbox's own state (no API calls, so the scalers' call patterns stay untouched)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.region = world.region
        self.killed: set[str] = set()
        self.interrupted: set[str] = set()

    def instances(self) -> tuple[int, float]:
        """EC2 instances pending or running, and what they cost an hour."""
        billed = self.world.billed()
        return len(billed), sum(hourly_price(kind, spot) for kind, spot in billed)

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
    world.clients("ecs").update_container_instances_state(cluster=world.cluster, containerInstances=[victim.arn],
                                                          status="DRAINING")
    scaler.interrupted(victim.ec2_instance_id)
    return True


def replay(day_name: str, contender: Contender, minutes: int, step: int, boot_seconds: float) -> Result:
    started = time.perf_counter()
    day = DAYS[day_name]
    result = Result(day.name, contender.label)
    with Sandbox() as sb:
        # moto draws every id from one seedable generator: the same ids make every run the same
        # (ecsfleet breaks ties between instances by id).
        mock_random.seed(SEED)
        for instance_type, (_, spot) in PRICES.items():
            sb.set_spot_price(instance_type, spot)
        infra_yml = with_mode(day.infra_yml, scaling_key(), contender.mode, contender.headroom)
        world = build_world(sb, day, infra_yml, boot_seconds)
        scaler = SCALERS[contender.scaler](world)
        meter = Meter(world)
        samples_per_minute = round(60 / SAMPLE_SECONDS)
        for minute in range(-WARM_UP_MINUTES, minutes):
            world.set_desired(max(0, minute))
            if minute in day.interruptions:
                result.interruptions_hit += interrupt(world, meter, scaler)
            if minute % step == 0:
                scaler.tick(minute)
            sb.advance(0)  # new instances are seen (and their boot starts) when launched
            count, minute_dollars, minute_pending = 0, 0.0, 0.0
            for _ in range(samples_per_minute):
                sb.advance(SAMPLE_SECONDS)
                if minute >= 0:
                    (count, rate), pending = meter.instances(), meter.pending()
                    result.instance_hours += count * SAMPLE_SECONDS / 3600
                    minute_dollars += rate * SAMPLE_SECONDS / 3600
                    result.peak_instances = max(result.peak_instances, count)
                    result.peak_pending = max(result.peak_pending, pending)
                    minute_pending += pending * SAMPLE_SECONDS
            by_scaler, at_spot = meter.new_kills()
            if minute >= 0:
                result.dollars += minute_dollars
                result.pending_task_seconds += minute_pending
                result.killed_by_scaler += by_scaler
                result.killed_at_spot += at_spot
                active = sum(1 for ci in world.region.instances.values() if ci.status == "ACTIVE")
                result.trace.append((minute, sum(s.desired(minute) for s in day.loads), meter.pending(),
                                     count, active, minute_dollars * 60, minute_pending))
        actions = result.actions = [(m, kind) for m, kind in scaler.tally.actions if m >= 0]
        result.scale_outs = sum(1 for _, kind in actions if kind == "out")
        result.scale_ins = sum(1 for _, kind in actions if kind == "in")
        result.reversals = sum(1 for m, kind in actions if kind == "out" and any(
            k == "in" and 0 <= m - earlier <= REVERSAL_WINDOW_MINUTES for earlier, k in actions))
        result.warnings = scaler.tally.warnings
    result.wall_seconds = time.perf_counter() - started
    return result


# ---- output -----------------------------------------------------------------------------------------

def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|:---|" + "---:|" * (len(headers) - 1)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}" if base else ""


def day_table(day: Day, results: Sequence[Result], bound: Sequence[Packing]) -> str:
    bound_hours = sum(p.hosts for p in bound) / 60
    bound_dollars = sum(p.dollars_per_hour for p in bound) / 60
    provider = next(r for r in results if r.scaler.startswith("capacity provider"))
    headers = ["scaler", "instance-hours", "dollars", "$ / capacity provider", "$ / lower bound",
               "h / capacity provider", "h / lower bound", "peak instances", "peak pending tasks",
               "task-seconds pending", "scale-outs", "scale-ins", f"out within {REVERSAL_WINDOW_MINUTES} min of an in",
               "tasks killed by scale-in", "tasks killed at spot termination"]
    rows: list[list[object]] = [
        [r.scaler, r.instance_hours, f"{r.dollars:.2f}", _ratio(r.dollars, provider.dollars),
         _ratio(r.dollars, bound_dollars), _ratio(r.instance_hours, provider.instance_hours),
         _ratio(r.instance_hours, bound_hours), r.peak_instances, r.peak_pending, round(r.pending_task_seconds),
         r.scale_outs, r.scale_ins, r.reversals, r.killed_by_scaler, r.killed_at_spot]
        for r in results]
    rows.append(["lower bound (cheapest packing, instant boot)", bound_hours, f"{bound_dollars:.2f}",
                 _ratio(bound_dollars, provider.dollars), "1.00", _ratio(bound_hours, provider.instance_hours), "1.00",
                 max(p.hosts for p in bound), 0, 0, "", "", "", "", ""])
    return markdown_table(headers, rows)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def write_trace(directory: Path, result: Result) -> None:
    folder = directory / result.day
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{slug(result.scaler)}.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["minute", "desired_tasks", "pending_tasks", "ec2_instances", "active_instances",
                         "dollars_per_hour", "pending_task_seconds", "scale_actions"])
        by_minute: dict[int, list[str]] = {}
        for minute, kind in result.actions:
            by_minute.setdefault(minute, []).append(kind)
        writer.writerows((*row, " ".join(by_minute.get(row[0], ()))) for row in result.trace)


LEGEND_SERVICES = 6


def write_chart(path: Path, day: Day, results: Sequence[Result], bound: Sequence[Packing]) -> None:
    """Desired tasks (by service), each scaler's EC2 instances, and the dollars it spent beyond the
    lower bound so far, over the day."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = len(bound)
    hours = [m / 60 for m in range(minutes)]
    figure, (tasks, instances, spent) = plt.subplots(3, 1, sharex=True, figsize=(11, 10),
                                                      gridspec_kw={"height_ratios": [1, 1.4, 1]})
    # A legend entry a service up to LEGEND_SERVICES of them; beyond, the legend would hide the chart.
    labels = [f"{load.name} ({load.cpu} CPU, {load.memory} MiB)" for load in day.loads]
    named = len(labels) <= LEGEND_SERVICES
    tasks.stackplot(hours, [[load.desired(m) for m in range(minutes)] for load in day.loads],
                    labels=labels if named else (), step="post")
    for minute in day.interruptions:
        if minute < minutes:
            for axis in (tasks, instances):
                axis.axvline(minute / 60, color="grey", linestyle=":", linewidth=0.8)
    tasks.set_ylabel("desired tasks")
    tasks.set_title(f"{day.name}: desired tasks, instances and dollars by scaler (dotted: spot interruptions)")
    if named:
        tasks.legend(loc="upper left", fontsize=8)
    else:
        tasks.text(0.01, 0.95, f"{len(labels)} services, stacked", transform=tasks.transAxes, va="top", fontsize=8)
    # Dollars spent beyond the lower bound, so far: where a line climbs, that scaler pays for room.
    floor = list(itertools.accumulate(p.dollars_per_hour / 60 for p in bound))
    for result in results:
        instances.step(hours, [row[3] for row in result.trace], where="post", label=result.scaler, linewidth=1.1)
        paid = itertools.accumulate(row[5] / 60 for row in result.trace)
        spent.plot(hours, [d - f for d, f in zip(paid, floor, strict=True)], linewidth=1.1,
                   label=f"{result.scaler}: ${result.dollars:.2f} in all")
    instances.step(hours, [p.hosts for p in bound], where="post", color="black", linestyle="--", linewidth=1,
                   label="lower bound")
    spent.axhline(0, color="black", linestyle="--", linewidth=1, label=f"lower bound: ${floor[-1]:.2f} in all")
    instances.set_ylabel("EC2 instances")
    instances.legend(loc="upper left", fontsize=8)
    spent.set_ylabel("dollars above the lower bound, so far")
    spent.set_xlabel("hour of the day")
    spent.legend(loc="upper left", fontsize=8)
    spent.set_xticks(range(0, math.ceil(minutes / 60) + 1, 2))
    for axis in (tasks, instances, spent):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    # No software or date in the file: the same replay gives the same bytes.
    figure.savefig(path, dpi=80, metadata={"Software": None})
    plt.close(figure)


@contextlib.contextmanager
def pool(jobs: int) -> Iterator[ProcessPoolExecutor]:
    # spawn, and a process a replay: every replay starts without moto's state or what an earlier
    # replay left in the process (counters of ids that ecsfleet breaks ties by), so a row is the
    # same whatever ran before it. With workers kept, one replay of batch-mixed measured 115.0
    # instance-hours after another day's replay in its process and 121.1 when first.
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"), max_tasks_per_child=1) as executor:
        yield executor


def report_day(day: Day, results: Sequence[Result], minutes: int, args: argparse.Namespace) -> None:
    bound = lower_bound(day, minutes)
    task_hours = sum(load.desired(m) for load in day.loads for m in range(minutes)) / 60
    interruptions = sum(1 for m in day.interruptions if m < minutes)
    print(f"\n### {day.name}: {day.summary}\n")
    print(f"{args.hours:g} h replayed, a decision every {args.step} min, {args.boot:g} s boot; "
          f"{task_hours:.0f} task-hours wanted; spot interruptions that found a spot instance: "
          + ", ".join(f"{r.scaler} {r.interruptions_hit}/{interruptions}" for r in results)
          + "; wall s: " + ", ".join(f"{r.wall_seconds:.0f}" for r in results) + "\n")
    print(day_table(day, results, bound))
    for r in results:
        for warning, count in sorted(r.warnings.items()):
            print(f"{r.scaler}: warned {count}x: {warning}")
        if args.trace:
            write_trace(args.trace, r)
    if args.charts:
        args.charts.mkdir(parents=True, exist_ok=True)
        write_chart(args.charts / f"scaling-{day.name}.png", day, results, bound)
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--day", choices=DAYS, action="append",
                        help="a day to replay (repeatable; default: every day): " + ", ".join(DAYS))
    parser.add_argument("--hours", type=float, default=24.0, help="length of the measured replay")
    parser.add_argument("--step", type=int, default=1, help="minutes between two decisions of a scaler")
    parser.add_argument("--boot", type=float, default=120.0, help="seconds from launch to joining the cluster")
    parser.add_argument("--jobs", type=int, default=MAX_JOBS,
                        help=f"replays run at once, in parallel processes (default {MAX_JOBS})")
    parser.add_argument("--trace", type=Path,
                        help="write a CSV per day and scaler, one row a minute (tasks desired and pending, instances, "
                             "dollars an hour, task-seconds pending, scale-outs and scale-ins), into this folder")
    parser.add_argument("--charts", type=Path, help="write a chart per day, scaling-<day>.png, into this folder")
    parser.add_argument("--infra", choices=DAYS, help="print this day's infra.yml and exit")
    parser.add_argument("--scaler", action="append", metavar="TEXT",
                        help="replay only the scalers whose row names TEXT (repeatable; the capacity provider, "
                             "the ratios' reference, always runs)")
    parser.add_argument("--headroom", action="append", default=[], type=headroom_value, metavar="VALUE",
                        help="also replay the placement mode with this headroom (repeatable): copies of the largest "
                             "task (2) or a share of the capacity (10%%)")
    args = parser.parse_args(argv)
    # The days write the seed's thresholds and name the mode only in the replays' own copies.
    logging.getLogger("ecsfleet.fleet.schema").setLevel(logging.ERROR)
    if args.infra:
        print(DAYS[args.infra].infra_yml, end="")
        return 0
    days = [DAYS[d] for d in dict.fromkeys(args.day)] if args.day else list(DAYS.values())
    minutes = round(args.hours * 60)
    started = time.perf_counter()
    runs = [(day, contender) for day in days for contender in contenders(day, args.headroom)
            if not args.scaler or contender.scaler.startswith("capacity provider")
            or any(text in contender.label for text in args.scaler)]
    with pool(max(1, args.jobs)) as executor:
        futures = [executor.submit(replay, day.name, contender, minutes, args.step, args.boot)
                   for day, contender in runs]
        # The pool takes the replays in order: each day's table is printed as soon as its own are done.
        for day in days:
            mine = []
            for (of, _), future in zip(runs, futures, strict=True):
                if of is day:
                    mine.append(future.result())
                    print(f"{day.name}: {mine[-1].scaler} replayed in {mine[-1].wall_seconds:.0f} s",
                          file=sys.stderr, flush=True)
            report_day(day, mine, minutes, args)
    print(f"\nwall time {time.perf_counter() - started:.0f} s ({args.jobs} processes), "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
