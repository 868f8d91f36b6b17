"""Observe: every compute fleet of a cluster (its stack, Auto Scaling groups and spot fleets with
their instances) beside one snapshot of the cluster, so each EC2 instance can be tied to its
container instance and tasks.

Reads: DescribeStacks (paginated), ListStackResources per compute stack, one
DescribeAutoScalingGroups per 100 groups, one DescribeSpotFleetRequests per cluster, one
DescribeSpotFleetInstances per spot fleet, the cluster snapshot, and, only for `scaling:
placement` with a spot fleet active, one DescribeSpotPriceHistory (the prices in effect now),
and, only for `scaling: placement` and instance types of infra.yml no instance of which has
joined the cluster, one DescribeInstanceTypes per 100 such types, once per controller.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from ..aws import Clients, aws_errors, describe_in_batches, error_code, paginate
from ..errors import NotFound
from ..snapshot import ClusterSnapshot, ContainerInstance, SnapshotReader, Task
from .capacity import TaskSize
from .prices import PoolPrice, estimated_size, launch_prices
from .schema import LOWEST_PRICE_STRATEGIES, Infra
from .stacks import FleetStacks, Stack, read_stacks, stack_resources
from .templates import spot_fleet_logical_id

VERSION_ATTRIBUTE = "asg_version"
ZONE_ATTRIBUTE = "ecs.availability-zone"  # the ECS agent's attribute of every container instance
ASG_DESCRIBE_MAX = 100
INSTANCE_TYPES_DESCRIBE_MAX = 100
SPOT_PRODUCT = "Linux/UNIX"  # the ECS-optimized AMIs' platform


@dataclass(frozen=True)
class AsgInstance:
    instance_id: str
    lifecycle_state: str
    health_status: str = "Healthy"


@dataclass(frozen=True)
class AsgState:
    name: str
    logical_id: str
    min_size: int
    max_size: int
    desired: int
    instances: tuple[AsgInstance, ...]


@dataclass(frozen=True)
class SpotFleetState:
    request_id: str
    logical_id: str
    state: str
    target: int
    fulfilled: float
    instance_ids: tuple[str, ...]


@dataclass(frozen=True)
class Fleet:
    """One version's compute: its stack and what the stack's groups and spot fleets run."""

    version: str
    stack: Stack
    asgs: tuple[AsgState, ...] = ()
    spot_fleets: tuple[SpotFleetState, ...] = ()

    @property
    def active(self) -> bool:
        return self.stack.fleet_status == "active"

    @property
    def instance_ids(self) -> frozenset[str]:
        ids = {i.instance_id for g in self.asgs for i in g.instances}
        return frozenset(ids | {i for f in self.spot_fleets for i in f.instance_ids})


@dataclass(frozen=True)
class FleetWorld:
    cluster: str
    stacks: FleetStacks
    fleets: tuple[Fleet, ...]
    snapshot: ClusterSnapshot | None
    # `scaling: placement` with a spot fleet active: per instance type of its bids, the $/hour a
    # launch would pay now under the fleet's allocation strategy, never above the bid (prices.py);
    # empty otherwise, or when the price history could not be read (the bids stand in).
    spot_prices: Mapping[str, float] = field(default_factory=dict)
    # `scaling: placement`: what an instance of each of infra.yml's types would register, from
    # EC2's description of the type (`read_instance_sizes`), for the types no instance of which
    # has joined the cluster (what one registered is in the snapshot).
    instance_sizes: Mapping[str, TaskSize] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()  # what the pass should report: a read the scaler went without

    def fleet(self, version: str) -> Fleet | None:
        return next((f for f in self.fleets if f.version == version), None)

    def members(self, fleet: Fleet) -> tuple[ContainerInstance, ...]:
        """The fleet's container instances: its EC2 instances, or hosts carrying its version attribute."""
        if self.snapshot is None:
            return ()
        return tuple(ci for ci in self.snapshot.instances
                     if ci.ec2_instance_id in fleet.instance_ids
                     or ci.attributes.get(VERSION_ATTRIBUTE) == fleet.version)

    def tasks_on(self, fleet: Fleet) -> tuple[Task, ...]:
        if self.snapshot is None:
            return ()
        arns = {ci.arn for ci in self.members(fleet)}
        return tuple(t for t in self.snapshot.tasks if t.container_instance_arn in arns)


def _asgs(clients: Clients, names: dict[str, str]) -> list[AsgState]:
    if not names:
        return []
    autoscaling = clients("autoscaling")
    docs = describe_in_batches(list(names), ASG_DESCRIBE_MAX, lambda batch: paginate(
        autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups", AutoScalingGroupNames=list(batch)))
    return [AsgState(
        name=d["AutoScalingGroupName"],
        logical_id=names.get(d["AutoScalingGroupName"], ""),
        min_size=int(d.get("MinSize", 0)), max_size=int(d.get("MaxSize", 0)),
        desired=int(d.get("DesiredCapacity", 0)),
        instances=tuple(AsgInstance(i["InstanceId"], i.get("LifecycleState", "InService"),
                                    i.get("HealthStatus", "Healthy")) for i in d.get("Instances") or []),
    ) for d in docs]


def _spot_fleets(clients: Clients, ids: dict[str, str]) -> list[SpotFleetState]:
    if not ids:
        return []
    ec2 = clients("ec2")
    docs = paginate(ec2, "describe_spot_fleet_requests", "SpotFleetRequestConfigs", SpotFleetRequestIds=list(ids))
    found = []
    for doc in docs:
        request_id = doc["SpotFleetRequestId"]
        config = doc.get("SpotFleetRequestConfig") or {}
        instances = ec2.describe_spot_fleet_instances(SpotFleetRequestId=request_id).get("ActiveInstances", [])
        found.append(SpotFleetState(
            request_id=request_id, logical_id=ids.get(request_id, ""),
            state=doc.get("SpotFleetRequestState", "active"),
            target=int(config.get("TargetCapacity", 0)), fulfilled=float(config.get("FulfilledCapacity", 0)),
            instance_ids=tuple(i["InstanceId"] for i in instances)))
    return found


def read_fleets(clients: Clients, stacks: Sequence[Stack]) -> tuple[Fleet, ...]:
    asg_names: dict[str, dict[str, str]] = {}
    spot_ids: dict[str, dict[str, str]] = {}
    for stack in stacks:
        resources = stack_resources(clients, stack.name)
        asg_names[stack.name] = {physical: logical for logical, (kind, physical) in resources.items()
                                 if kind == "AWS::AutoScaling::AutoScalingGroup" and physical}
        spot_ids[stack.name] = {physical: logical for logical, (kind, physical) in resources.items()
                                if kind == "AWS::EC2::SpotFleet" and physical}
    all_asgs = {g.name: g for g in _asgs(clients, {n: lg for names in asg_names.values() for n, lg in names.items()})}
    all_spot = {f.request_id: f for f in _spot_fleets(clients, {i: lg for ids in spot_ids.values()
                                                                 for i, lg in ids.items()})}
    return tuple(Fleet(
        version=stack.version or "",
        stack=stack,
        asgs=tuple(all_asgs[n] for n in asg_names[stack.name] if n in all_asgs),
        spot_fleets=tuple(all_spot[i] for i in spot_ids[stack.name] if i in all_spot),
    ) for stack in stacks)


def _fleet_zones(infra: Infra, world: FleetWorld, active: Sequence[Fleet]) -> set[str]:
    """The zones the active spot fleets launch in: infra.yml's availability_zones, else those
    their instances run in (empty: unknown, every zone the history answers counts)."""
    if infra.cluster.availability_zones:
        return set(infra.cluster.availability_zones)
    return {zone for fleet in active for ci in world.members(fleet) if (zone := ci.attributes.get(ZONE_ATTRIBUTE))}


def read_spot_prices(clients: Clients, infra: Infra, world: FleetWorld) -> FleetWorld:
    """The world with `spot_prices` for `scaling: placement` with a spot fleet active: one
    DescribeSpotPriceHistory of the bids' instance types at StartTime now (AWS answers the price
    in effect then, per pool, and any change since, newest first). A read that fails is a
    warning: the bids stand in, and the pass goes on."""
    if infra.scaling_mode != "placement" or not infra.ec2_instances.autoscaling:
        return world
    configs = {spot_fleet_logical_id(f): f for f in infra.ec2_instances.spot_fleets}
    active = [f for f in world.fleets if f.active and any(s.logical_id in configs for s in f.spot_fleets)]
    chosen = [configs[s.logical_id] for f in active for s in f.spot_fleets if s.logical_id in configs]
    if not chosen:
        return world
    bids: dict[str, float] = {}
    lowest: dict[str, bool] = {}
    for config in chosen:
        for bid in config.bids:
            bids[bid.instance_type] = max(bid.price, bids.get(bid.instance_type, 0.0))
            lowest.setdefault(bid.instance_type, config.allocation_strategy in LOWEST_PRICE_STRATEGIES)
    try:
        entries = paginate(clients("ec2"), "describe_spot_price_history", "SpotPriceHistory",
                           InstanceTypes=sorted(bids), ProductDescriptions=[SPOT_PRODUCT],
                           StartTime=datetime.now(UTC))
    except aws_errors() as error:
        why = error_code(error) or str(error)
        warning = (f"spot prices: DescribeSpotPriceHistory failed ({why}): spot bids are priced at their bid "
                   "this pass (ec2:DescribeSpotPriceHistory is in `ecsfleet iam-policy fleet`)")
        return replace(world, spot_prices={}, warnings=(*world.warnings, warning))
    zones = _fleet_zones(infra, world, active)
    newest: dict[tuple[str, str], tuple[datetime, float]] = {}
    for entry in entries:
        pool = (str(entry.get("InstanceType")), str(entry.get("AvailabilityZone")))
        stamp, price = entry.get("Timestamp"), float(entry.get("SpotPrice") or 0)
        if (not zones or pool[1] in zones) and price > 0 and (pool not in newest or stamp > newest[pool][0]):
            newest[pool] = (stamp, price)
    prices = launch_prices([PoolPrice(t, z, p) for (t, z), (_, p) in newest.items()], lowest, bids)
    return replace(world, spot_prices=prices)


def sizes_described(described: Iterable[Mapping[str, object]]) -> dict[str, TaskSize]:
    """What an instance of each type registers at most (`prices.estimated_size`), from
    DescribeInstanceTypes' `InstanceTypes`."""
    sizes = {}
    for entry in described:
        vcpu, memory = entry.get("VCpuInfo"), entry.get("MemoryInfo")
        vcpus = int(vcpu.get("DefaultVCpus") or 0) if isinstance(vcpu, Mapping) else 0
        memory_mib = int(memory.get("SizeInMiB") or 0) if isinstance(memory, Mapping) else 0
        if vcpus > 0 and memory_mib > 0:  # a type described without them stays unknown, never sized 0
            sizes[str(entry.get("InstanceType"))] = estimated_size(vcpus, memory_mib)
    return sizes


def read_instance_sizes(clients: Clients, infra: Infra, world: FleetWorld,
                        known: MutableMapping[str, TaskSize]) -> FleetWorld:
    """The world with `instance_sizes` for `scaling: placement`: infra.yml's instance types (the
    Auto Scaling groups' and the spot fleets' bids) that no instance in the cluster has, from
    `known` (a type's size never changes: kept by the controller from pass to pass), else one
    DescribeInstanceTypes per 100 of them (and per page of its answer), whose answers join
    `known`. A read that fails is a warning: those types are left out of this pass's choices, as
    an unknown size always is."""
    if infra.scaling_mode != "placement" or not infra.ec2_instances.autoscaling:
        return world
    joined = {ci.instance_type for ci in world.snapshot.instances} if world.snapshot is not None else set()
    wanted = sorted(infra.ec2_instances.instance_types - joined)
    missing = [t for t in wanted if t not in known]
    if missing:
        ec2 = clients("ec2")
        try:
            known.update(sizes_described(describe_in_batches(
                missing, INSTANCE_TYPES_DESCRIBE_MAX,
                lambda batch: paginate(ec2, "describe_instance_types", "InstanceTypes", InstanceTypes=list(batch)))))
        except aws_errors() as error:
            why = error_code(error) or str(error)
            warning = (f"instance sizes: DescribeInstanceTypes failed ({why}): {', '.join(missing)} left out of "
                       "this pass's scale-outs until an instance of the type joins the cluster "
                       "(ec2:DescribeInstanceTypes is in `ecsfleet iam-policy fleet`)")
            world = replace(world, warnings=(*world.warnings, warning))
    return replace(world, instance_sizes={t: known[t] for t in wanted if t in known})


def read_world(clients: Clients, infra: Infra, reader: SnapshotReader | None = None, *,
               scaling: bool = True, sizes: MutableMapping[str, TaskSize] | None = None) -> FleetWorld:
    """Everything a fleet pass observes. `scaling=False` leaves out the reads only the scaler
    needs (spot prices, instance sizes), for a caller that does not scale (a rollout waiting for
    instances, `fleet status`). `sizes`: the instance sizes already read, kept by the caller."""
    stacks = read_stacks(clients, infra)
    fleets = read_fleets(clients, stacks.compute)
    try:
        snapshot: ClusterSnapshot | None = (reader or SnapshotReader(clients)).read(infra.cluster.name)
    except NotFound:
        snapshot = None
    world = FleetWorld(infra.cluster.name, stacks, fleets, snapshot)
    if not scaling:
        return world
    world = read_spot_prices(clients, infra, world)
    return read_instance_sizes(clients, infra, world, {} if sizes is None else sizes)
