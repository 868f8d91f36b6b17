"""Synthetic fleet worlds for unit tests of the fleet planner.

A `World` is written the way an operator would describe a cluster: fleets (one compute stack per
version, with its Auto Scaling groups and spot fleets and the EC2 ids in each), container
instances (by EC2 id), and tasks running on them. `build()` turns that into the `FleetWorld`
the planner observes, keeping the records consistent with each other: a container instance's
remaining CPU and memory and its task counts follow from the tasks placed on it, and it carries
the `asg_version` attribute of the fleet whose group holds its EC2 id.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ecsfleet.fleet.capacity import TaskSize
from ecsfleet.fleet.observe import (
    VERSION_ATTRIBUTE,
    AsgInstance,
    AsgState,
    Fleet,
    FleetWorld,
    SpotFleetState,
    sizes_described,
)
from ecsfleet.fleet.plan import (
    DRAIN_SINCE,
    DRAIN_WHY,
    Observation,
    Options,
    Plan,
    ServiceState,
    intent_value,
    plan,
)
from ecsfleet.fleet.schema import Infra, parse_infra
from ecsfleet.fleet.stacks import FleetStacks, Stack
from ecsfleet.fleet.templates import CLUSTER_TAG, VERSION_TAG, asg_logical_id, spot_fleet_logical_id
from ecsfleet.snapshot import ClusterSnapshot, Container, ContainerInstance, Task

CLUSTER = "prod"
NOW = 1_800_000_000.0  # Observation.now of every world, in epoch seconds
T0 = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)

# Registered (CPU units, MiB) per instance type. The default task (512 CPU, 2048 MiB) fits 4 times
# on an m5.large and 16 times on an m5.2xlarge, whichever resource is counted.
SIZES: Mapping[str, tuple[int, int]] = {"m5.large": (2048, 8192), "m5.2xlarge": (8192, 32768)}
TASK_CPU, TASK_MEMORY = 512, 2048

INFRA_YAML = """\
cluster:
  name: prod
ec2_instances:
  autoscaling: {autoscaling}
  auto_scaling_groups:
    - name: ondemand
      instance_type: m5.large
      min_size: {asg_min}
      desired_instances: {asg_min}
      max_size: {asg_max}
  spot_fleets:
    - name: spot
      min_weight: {spot_min}
      max_weight: {spot_max}
      task_threshold_out: {threshold_out}
      task_threshold_in: {threshold_in}
      bids:
        - instance_type: m5.large
          price: 0.05
        - instance_type: m5.2xlarge
          price: 0.2
          weight: 2
"""


def infra(*, asg_min: int = 1, asg_max: int = 3, spot_min: int = 0, spot_max: int = 6, threshold_out: int = 2,
          threshold_in: int = 6, autoscaling: bool = True) -> Infra:
    """One on-demand group `ondemand` (m5.large) and one spot fleet `spot` (m5.large weight 1,
    m5.2xlarge weight 2), parsed from infra.yml text like a user's file."""
    text = INFRA_YAML.format(asg_min=asg_min, asg_max=asg_max, spot_min=spot_min, spot_max=spot_max,
                             threshold_out=threshold_out, threshold_in=threshold_in,
                             autoscaling=str(autoscaling).lower())
    return parse_infra("infra.yml", text)


def drained_by_ecsfleet(since: float, why: str = "scale-in", *, timed: bool = True) -> dict[str, str]:
    """The attributes ecsfleet puts on an instance when it drains it: the reason (with its time,
    unless written by an older ecsfleet: `timed=False`) before the state change, the time once
    ECS answered DRAINING."""
    return {DRAIN_SINCE: f"{since:.0f}", DRAIN_WHY: intent_value(why, since) if timed else why}


def drain_intended(why: str = "scale-in", at: float | None = NOW - 9000) -> dict[str, str]:
    """What a drain that failed or was cut short after its first call leaves: the reason alone,
    written at `at` (by default long ago; None: without a time, as an older ecsfleet wrote it)."""
    return {DRAIN_WHY: why if at is None else intent_value(why, at)}


def service(name: str = "web", *, desired: int, running: int, pending: int = 0, cpu: int = TASK_CPU,
            memory: int = TASK_MEMORY) -> ServiceState:
    return ServiceState(name, desired, running, pending, TaskSize(memory, cpu))


@dataclass
class FleetSpec:
    version: str
    active: bool
    created: int  # day of the month the stack was created: a larger day is a newer fleet
    status: str = "CREATE_COMPLETE"
    asgs: list[AsgState] = field(default_factory=list)
    spots: list[SpotFleetState] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # more stack tags: a status stamp, a rollout's claim

    def asg(self, config: Infra, *instances: str | tuple[str, str], name: str = "ondemand",
            desired: int | None = None, min_size: int | None = None, max_size: int | None = None) -> FleetSpec:
        """The group configured as `name`; each instance is an EC2 id (InService) or (id, lifecycle
        state). Desired defaults to the number of instances, the deployed minimum and maximum to the
        configured ones (a different one: infra.yml changed and not yet deployed)."""
        group = next(g for g in config.ec2_instances.auto_scaling_groups if g.name == name)
        members = tuple(AsgInstance(i, "InService") if isinstance(i, str) else AsgInstance(*i) for i in instances)
        self.asgs.append(AsgState(
            name=asg_name(self.version, name), logical_id=asg_logical_id(group),
            min_size=group.min_size if min_size is None else min_size,
            max_size=group.max_size if max_size is None else max_size,
            desired=len(members) if desired is None else desired, instances=members))
        return self

    def spot(self, config: Infra, *instance_ids: str, name: str = "spot", target: int | None = None,
             fulfilled: float | None = None, state: str = "active") -> FleetSpec:
        """The spot fleet configured as `name`; the target defaults to one weight per instance, the
        fulfilled capacity to the target. `state`: its SpotFleetRequestState (`modifying` while AWS
        applies an earlier modify)."""
        fleet = next(f for f in config.ec2_instances.spot_fleets if f.name == name)
        capacity = len(instance_ids) if target is None else target
        self.spots.append(SpotFleetState(
            request_id=spot_id(self.version, name), logical_id=spot_fleet_logical_id(fleet), state=state,
            target=capacity, fulfilled=float(capacity if fulfilled is None else fulfilled),
            instance_ids=tuple(instance_ids)))
        return self

    def stack(self) -> Stack:
        return Stack(
            name=f"{CLUSTER}-asg-{self.version}", status=self.status,
            parameters=MappingProxyType({"Status": "active" if self.active else "inactive"}),
            tags=MappingProxyType({CLUSTER_TAG: CLUSTER, VERSION_TAG: self.version, **self.tags}),
            created=f"2027-01-{self.created:02d} 12:00:00+00:00")

    def build(self) -> Fleet:
        return Fleet(self.version, self.stack(), tuple(self.asgs), tuple(self.spots))


@dataclass
class HostSpec:
    ec2: str
    status: str
    instance_type: str
    attributes: dict[str, str]
    version: str | None
    connected: bool


@dataclass
class TaskSpec:
    ec2: str
    cpu: int
    memory: int
    group: str
    last_status: str
    desired_status: str


@dataclass
class World:
    config: Infra = field(default_factory=infra)
    fleets: list[FleetSpec] = field(default_factory=list)
    hosts: list[HostSpec] = field(default_factory=list)
    tasks: list[TaskSpec] = field(default_factory=list)
    cluster_exists: bool = True

    def fleet(self, version: str, *, active: bool, created: int, status: str = "CREATE_COMPLETE") -> FleetSpec:
        spec = FleetSpec(version, active, created, status)
        self.fleets.append(spec)
        return spec

    def host(self, *ec2_ids: str, status: str = "ACTIVE", instance_type: str = "m5.large",
             attributes: Mapping[str, str] | None = None, version: str | None = None,
             connected: bool = True) -> World:
        """Container instances for these EC2 ids. Their `asg_version` is the version of the fleet
        holding the id unless `version` is given."""
        for ec2 in ec2_ids:
            self.hosts.append(HostSpec(ec2, status, instance_type, dict(attributes or {}), version, connected))
        return self

    def run(self, ec2: str, count: int = 1, *, cpu: int = TASK_CPU, memory: int = TASK_MEMORY,
            service: str | None = "web", last_status: str = "RUNNING", desired_status: str = "RUNNING") -> World:
        """`count` tasks on the container instance of `ec2`: a service's, or standalone (service=None)."""
        group = f"service:{service}" if service else "family:batch"
        self.tasks += [TaskSpec(ec2, cpu, memory, group, last_status, desired_status) for _ in range(count)]
        return self

    def _version_of(self, ec2: str) -> str | None:
        return next((f.version for f in self.fleets if ec2 in f.build().instance_ids), None)

    def build(self) -> FleetWorld:
        fleets = tuple(f.build() for f in self.fleets)
        stacks = FleetStacks(
            cluster=Stack(f"{CLUSTER}-cluster", "CREATE_COMPLETE", MappingProxyType({}),
                          MappingProxyType({CLUSTER_TAG: CLUSTER})),
            compute=tuple(sorted((f.stack for f in fleets), key=lambda s: s.created)))
        if not self.cluster_exists:
            return FleetWorld(CLUSTER, stacks, fleets, None)
        numbers = itertools.count(1)
        tasks = tuple(_task(next(numbers), spec) for spec in self.tasks)
        instances = tuple(self._instance(spec, [t for t in tasks if t.container_instance_arn == arn(spec.ec2)])
                          for spec in self.hosts)
        return FleetWorld(CLUSTER, stacks, fleets, ClusterSnapshot(CLUSTER, "us-east-1", T0, instances, tasks),
                          instance_sizes=described_sizes(self.config))

    def _instance(self, spec: HostSpec, tasks: Iterable[Task]) -> ContainerInstance:
        cpu, memory = SIZES[spec.instance_type]
        placed = [t for t in tasks if t.last_status != "STOPPED"]
        attributes = dict(spec.attributes)
        version = spec.version if spec.version is not None else self._version_of(spec.ec2)
        if version:
            attributes[VERSION_ATTRIBUTE] = version
        return ContainerInstance(
            arn=arn(spec.ec2), ec2_instance_id=spec.ec2, status=spec.status, agent_connected=spec.connected,
            agent_version="1.88.0", docker_version="25.0", agent_update_status=None,
            registered_cpu=cpu, registered_memory=memory,
            remaining_cpu=cpu - sum(t.cpu for t in placed), remaining_memory=memory - sum(t.memory for t in placed),
            running_tasks=sum(1 for t in placed if t.last_status == "RUNNING"),
            pending_tasks=sum(1 for t in placed if t.last_status == "PENDING"),
            attributes=MappingProxyType(attributes), instance_type=spec.instance_type)

    def observe(self, services: Iterable[ServiceState] = (), interrupted: Iterable[str] = (),
                now: float = NOW) -> Observation:
        return Observation(self.build(), self.config, tuple(services), frozenset(interrupted), now)

    def plan(self, options: Options | None = None, *, services: Iterable[ServiceState] = (),
             interrupted: Iterable[str] = (), now: float = NOW) -> Plan:
        return plan(self.observe(services, interrupted, now), options or Options())


def asg_name(version: str, group: str = "ondemand") -> str:
    return f"{CLUSTER}-asg-{version}-{group}"


def spot_id(version: str, fleet: str = "spot") -> str:
    return f"sfr-{version}-{fleet}"


def arn(ec2: str) -> str:
    """The container instance ARN the builder gives the instance `ec2`."""
    return f"arn:aws:ecs:us-east-1:123456789012:container-instance/{CLUSTER}/{ec2}"


def _task(n: int, spec: TaskSpec) -> Task:
    family = spec.group.split(":", 1)[1]
    return Task(
        arn=f"arn:aws:ecs:us-east-1:123456789012:task/{CLUSTER}/t{n}", family=family, revision=1,
        task_definition_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:1", group=spec.group,
        last_status=spec.last_status, desired_status=spec.desired_status, started_by="",
        container_instance_arn=arn(spec.ec2), created_at=T0, started_at=T0, health_status="UNKNOWN",
        has_health_check=False, stop_timeout=30.0,
        containers=(Container(family, spec.last_status, (), MappingProxyType({})),),
        cpu=spec.cpu, memory=spec.memory)


def described_sizes(config: Infra) -> dict[str, TaskSize]:
    """The sizes of infra.yml's instance types, as the scaler reads them from EC2's description of
    each type (DescribeInstanceTypes, answered here from the sandbox's own data)."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    return sizes_described(INSTANCE_TYPES[t] for t in sorted(config.ec2_instances.instance_types)
                           if t in INSTANCE_TYPES)
