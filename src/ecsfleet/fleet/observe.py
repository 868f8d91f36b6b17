"""Observe: every compute fleet of a cluster (its stack, Auto Scaling groups and spot fleets with
their instances) beside one snapshot of the cluster, so each EC2 instance can be tied to its
container instance and tasks.

Reads: DescribeStacks (paginated), ListStackResources per compute stack, one
DescribeAutoScalingGroups per 100 groups, one DescribeSpotFleetRequests per cluster, one
DescribeSpotFleetInstances per spot fleet, and the cluster snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..aws import Clients, describe_in_batches, paginate
from ..errors import NotFound
from ..snapshot import ClusterSnapshot, ContainerInstance, SnapshotReader, Task
from .schema import Infra
from .stacks import FleetStacks, Stack, read_stacks, stack_resources

VERSION_ATTRIBUTE = "asg_version"
ASG_DESCRIBE_MAX = 100


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


def read_world(clients: Clients, infra: Infra, reader: SnapshotReader | None = None) -> FleetWorld:
    stacks = read_stacks(clients, infra)
    fleets = read_fleets(clients, stacks.compute)
    try:
        snapshot: ClusterSnapshot | None = (reader or SnapshotReader(clients)).read(infra.cluster.name)
    except NotFound:
        snapshot = None
    return FleetWorld(infra.cluster.name, stacks, fleets, snapshot)
