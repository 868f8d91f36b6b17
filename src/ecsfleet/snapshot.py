"""Observe: one read of an ECS cluster into immutable records.

Every capability reads the cluster through here, with the fewest calls that can see it:
ListContainerInstances and ListTasks to the last page, DescribeContainerInstances and
DescribeTasks in batches of 100, DescribeTaskDefinition once per task definition ARN for the
life of the process (a task definition revision never changes), and EC2 DescribeInstances in
batches of 200 for the hosts' addresses, AMIs and tags.

Each capability reads only what it uses (`SnapshotReader.read`'s switches): lb-sync no EC2 (a
Classic ELB registers the instance ids ECS gives), agents no tasks and EC2 only for its tag
filters and its AMI report, dns-sync, `status` and fleet everything.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from sys import intern
from types import MappingProxyType
from typing import Any

from .aws import Clients, describe_in_batches, error_code, paginate
from .errors import NotFound

ECS_DESCRIBE_MAX = 100
EC2_FILTER_VALUES_MAX = 200
DEFAULT_STOP_TIMEOUT = 30.0


def _frozen(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


def _shared(value: Any) -> Any:
    """One string object for a value many records repeat: a JSON answer gives every task its own
    copy of "RUNNING", of its group, its container's name, its host's ARN. Shared, a task parsed
    from a DescribeTasks answer holds 665 bytes instead of 1,311 (a one-container task, measured
    with tracemalloc), and a host's ARN found in a task is the very key of the index of hosts, so
    looking it up compares no characters. Python frees an interned string with its last
    reference, like any other."""
    return intern(value) if isinstance(value, str) else value


def _part(seen: dict[Any, Any], kind: str, value: Any, key: Any = None) -> Any:
    """The `kind` of object already met in this read that equals `value` (compared by `key`, or
    by the value itself), else `value`, kept for the next. Tasks repeat whole parts: on a host,
    the tasks of a service bind the same ports as on the next host, and containers of one task
    definition carry its one environment; one shared container stands for all the equal ones
    (they are frozen). A task then holds 414 bytes instead of 665 (tracemalloc, a one-container
    task), and a pass reaches little beyond each task itself: at 50,000 tasks lb-sync's and
    dns-sync's passes take about 0.8 of their time with a container of their own a task
    (bench/plan_time.py). A key by `id` is safe: `seen` keeps the parts it names alive for the
    read, so no other object can have their ids meanwhile."""
    return seen.setdefault((kind, value if key is None else key), value)


@dataclass(frozen=True, slots=True)
class PortBinding:
    container_port: int
    host_port: int
    protocol: str = "tcp"


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    last_status: str
    bindings: tuple[PortBinding, ...]
    environment: Mapping[str, str]
    health_status: str | None = None

    def host_port(self, container_port: int | None = None) -> int | None:
        """The host port bound to `container_port`, or the first binding when none is named."""
        for binding in self.bindings:
            if container_port is None or binding.container_port == container_port:
                return binding.host_port
        return None


@dataclass(frozen=True, slots=True)
class Task:
    arn: str
    family: str
    revision: int
    task_definition_arn: str
    group: str
    last_status: str
    desired_status: str
    started_by: str
    container_instance_arn: str | None
    created_at: dt.datetime | None
    started_at: dt.datetime | None
    health_status: str
    has_health_check: bool
    stop_timeout: float
    containers: tuple[Container, ...]
    cpu: int = 0
    memory: int = 0

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def service(self) -> str | None:
        return self.group.removeprefix("service:") if self.group.startswith("service:") else None

    def container(self, name: str) -> Container | None:
        for c in self.containers:  # a loop, not next() over a generator: lb-sync asks it of every task
            if c.name == name:
                return c
        return None


@dataclass(frozen=True, slots=True)
class ContainerInstance:
    arn: str
    ec2_instance_id: str
    status: str
    agent_connected: bool
    agent_version: str | None
    docker_version: str | None
    agent_update_status: str | None
    registered_cpu: int
    registered_memory: int
    remaining_cpu: int
    remaining_memory: int
    running_tasks: int
    pending_tasks: int
    attributes: Mapping[str, str]
    private_ip: str | None = None
    public_ip: str | None = None
    private_dns_name: str | None = None
    image_id: str | None = None
    instance_type: str | None = None
    availability_zone: str | None = None
    ec2_tags: Mapping[str, str] = field(default_factory=lambda: _frozen({}))

    @property
    def id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ClusterSnapshot:
    cluster: str
    region: str
    taken_at: dt.datetime
    instances: tuple[ContainerInstance, ...]
    tasks: tuple[Task, ...]

    def instance(self, arn: str | None) -> ContainerInstance | None:
        return self._instances_by_arn.get(arn or "")

    def instance_by_ec2_id(self, ec2_instance_id: str) -> ContainerInstance | None:
        return next((i for i in self.instances if i.ec2_instance_id == ec2_instance_id), None)

    def serving(self, task: Task) -> bool:
        """`serves(task, its host)`."""
        return serves(task, self.instance(task.container_instance_arn))

    def tasks_on(self, instance_arn: str) -> tuple[Task, ...]:
        return self._index("_by_host", lambda t: t.container_instance_arn or "").get(instance_arn, ())

    def tasks_of_family(self, family: str) -> tuple[Task, ...]:
        return self._index("_by_family", lambda t: t.family).get(family, ())

    def tasks_of_service(self, service: str) -> tuple[Task, ...]:
        return self._index("_by_service", lambda t: t.service or "").get(service, ())

    def _index(self, name: str, key: Callable[[Task], str]) -> dict[str, tuple[Task, ...]]:
        """Tasks grouped by `key`, built once per snapshot: planners ask per service and per host,
        and a scan of every task for each would make a pass quadratic in a large cluster."""
        cached: dict[str, tuple[Task, ...]] | None = self.__dict__.get(name)
        if cached is None:
            groups: dict[str, list[Task]] = {}
            for task in self.tasks:
                groups.setdefault(key(task), []).append(task)
            cached = {k: tuple(v) for k, v in groups.items()}
            object.__setattr__(self, name, cached)
        return cached

    @property
    def _instances_by_arn(self) -> dict[str, ContainerInstance]:
        cached: dict[str, ContainerInstance] | None = self.__dict__.get("_by_arn")
        if cached is None:
            cached = {i.arn: i for i in self.instances}
            object.__setattr__(self, "_by_arn", cached)
        return cached


def serves(task: Task, host: ContainerInstance | None) -> bool:
    """Running, staying, on an ACTIVE host, and healthy where the task definition checks health.

    A task whose desiredStatus is STOPPED, or on a DRAINING host, is leaving: ECS has announced
    its stop, so it gets no new traffic from that moment, while it still runs."""
    return (
        host is not None
        and host.status == "ACTIVE"
        and task.last_status == "RUNNING"
        and task.desired_status == "RUNNING"
        and (not task.has_health_check or task.health_status == "HEALTHY")
    )


@dataclass(frozen=True)
class ContainerDefinition:
    name: str
    environment: Mapping[str, str]
    has_health_check: bool
    stop_timeout: float | None
    cpu: int = 0
    memory: int = 0  # what ECS reserves on the host: memoryReservation, else memory


@dataclass(frozen=True)
class TaskDefinition:
    arn: str
    family: str
    revision: int
    containers: tuple[ContainerDefinition, ...]
    task_cpu: int = 0
    task_memory: int = 0

    @property
    def cpu(self) -> int:
        """CPU units a task reserves on its host: the task-level size, else its containers' sum."""
        return self.task_cpu or sum(c.cpu for c in self.containers)

    @property
    def memory(self) -> int:
        """MiB a task reserves on its host: the task-level size, else its containers' sum."""
        return self.task_memory or sum(c.memory for c in self.containers)

    @property
    def stop_timeout(self) -> float:
        timeouts = [c.stop_timeout for c in self.containers if c.stop_timeout is not None]
        return max(timeouts) if timeouts else DEFAULT_STOP_TIMEOUT


class TaskDefinitionCache:
    """Task definitions by ARN; a revision is immutable, so an entry never goes stale."""

    def __init__(self) -> None:
        self._by_arn: dict[str, TaskDefinition] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_arn)

    def get(self, ecs: Any, arn: str) -> TaskDefinition:
        with self._lock:
            found = self._by_arn.get(arn)
        if found is None:
            found = parse_task_definition(ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])
            with self._lock:
                self._by_arn[arn] = found
        return found


def _size(value: Any, per_unit: int) -> int:
    """Task-level sizes are strings: "1024", or "1 vCPU" / "2 GB" as the console writes them."""
    text = str(value or "").strip().lower()
    if not text:
        return 0
    number = text.split()[0]
    try:
        amount = float(number)
    except ValueError:
        return 0
    return int(amount * per_unit) if ("vcpu" in text or "gb" in text) else int(amount)


def parse_task_definition(doc: Mapping[str, Any]) -> TaskDefinition:
    return TaskDefinition(
        arn=doc["taskDefinitionArn"],
        family=doc["family"],
        revision=int(doc["revision"]),
        task_cpu=_size(doc.get("cpu"), 1024),
        task_memory=_size(doc.get("memory"), 1024),
        containers=tuple(
            ContainerDefinition(
                name=c["name"],
                environment=_frozen({e["name"]: e.get("value", "") for e in c.get("environment") or []}),
                has_health_check=bool(c.get("healthCheck")),
                stop_timeout=float(c["stopTimeout"]) if c.get("stopTimeout") else None,
                cpu=int(c.get("cpu") or 0),
                memory=int(c.get("memoryReservation") or c.get("memory") or 0),
            )
            for c in doc.get("containerDefinitions") or []
        ),
    )


def merged_environment(definition: ContainerDefinition, overrides: Mapping[str, Any]) -> Mapping[str, str]:
    """The container's environment as ECS gives it: the task definition's, then the task's overrides.
    Without overrides it is the definition's own mapping, shared by every task of the definition:
    memory grows with definitions rather than tasks, and a reader can interpret a mapping once."""
    changes = [e for override in overrides.get("containerOverrides") or [] if override.get("name") == definition.name
               for e in override.get("environment") or []]
    if not changes:
        return definition.environment
    env = dict(definition.environment)
    env.update({e["name"]: e.get("value", "") for e in changes})
    return _frozen(env)


def parse_task(doc: Mapping[str, Any], definition: TaskDefinition, parts: dict[Any, Any] | None = None) -> Task:
    """`parts`: the read's memo of the parts tasks repeat (`_part`), or None to share nothing."""
    by_name = {c.name: c for c in definition.containers}
    overrides = doc.get("overrides") or {}
    seen: dict[Any, Any] = {} if parts is None else parts
    containers = []
    for c in doc.get("containers") or []:
        container_def = by_name.get(c["name"]) or ContainerDefinition(c["name"], _frozen({}), False, None)
        # Docker lists each binding once for IPv4 and once for IPv6: keep one.
        bindings = _part(seen, "bindings", tuple(dict.fromkeys(
            PortBinding(int(b["containerPort"]), int(b["hostPort"]), _shared(b.get("protocol", "tcp")))
            for b in c.get("networkBindings") or []
            if b.get("hostPort") is not None and b.get("containerPort") is not None
        )))
        environment = merged_environment(container_def, overrides)
        name, status, health = _shared(c["name"]), _shared(c.get("lastStatus", "PENDING")), \
            _shared(c.get("healthStatus"))
        containers.append(_part(seen, "container", Container(name, status, bindings, environment, health),
                                key=(name, status, id(bindings), id(environment), health)))
    tasks_containers = _part(seen, "containers", tuple(containers), key=tuple(map(id, containers)))
    return Task(
        arn=doc["taskArn"],
        family=definition.family,
        revision=definition.revision,
        task_definition_arn=definition.arn,
        group=_shared(doc.get("group", f"family:{definition.family}")),
        last_status=_shared(doc.get("lastStatus", "PENDING")),
        desired_status=_shared(doc.get("desiredStatus", "RUNNING")),
        started_by=_shared(doc.get("startedBy", "")),
        container_instance_arn=_shared(doc.get("containerInstanceArn")),
        created_at=_time(doc.get("createdAt")),
        started_at=_time(doc.get("startedAt")),
        health_status=_shared(doc.get("healthStatus", "UNKNOWN")),
        has_health_check=any(c.has_health_check for c in definition.containers),
        stop_timeout=definition.stop_timeout,
        containers=tasks_containers,
        cpu=definition.cpu,
        memory=definition.memory,
    )


def _time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromtimestamp(float(value), dt.UTC)


def _resource(resources: Sequence[Mapping[str, Any]], name: str) -> int:
    for r in resources:
        if r.get("name") == name:
            return int(r.get("integerValue") or 0)
    return 0


def parse_container_instance(doc: Mapping[str, Any], ec2: Mapping[str, Any] | None) -> ContainerInstance:
    version = doc.get("versionInfo") or {}
    ec2 = ec2 or {}
    return ContainerInstance(
        arn=_shared(doc["containerInstanceArn"]),
        ec2_instance_id=doc.get("ec2InstanceId", ""),
        status=_shared(doc.get("status", "ACTIVE")),
        agent_connected=bool(doc.get("agentConnected", False)),
        agent_version=version.get("agentVersion"),
        docker_version=version.get("dockerVersion"),
        agent_update_status=doc.get("agentUpdateStatus"),
        registered_cpu=_resource(doc.get("registeredResources") or [], "CPU"),
        registered_memory=_resource(doc.get("registeredResources") or [], "MEMORY"),
        remaining_cpu=_resource(doc.get("remainingResources") or [], "CPU"),
        remaining_memory=_resource(doc.get("remainingResources") or [], "MEMORY"),
        running_tasks=int(doc.get("runningTasksCount", 0)),
        pending_tasks=int(doc.get("pendingTasksCount", 0)),
        attributes=_frozen({a["name"]: a.get("value", "") for a in doc.get("attributes") or []}),
        private_ip=ec2.get("PrivateIpAddress"),
        public_ip=ec2.get("PublicIpAddress"),
        private_dns_name=ec2.get("PrivateDnsName") or None,
        image_id=ec2.get("ImageId"),
        instance_type=ec2.get("InstanceType"),
        availability_zone=(ec2.get("Placement") or {}).get("AvailabilityZone"),
        ec2_tags=_frozen({t["Key"]: t.get("Value", "") for t in ec2.get("Tags") or []}),
    )


class SnapshotReader:
    """Reads clusters; keep one per process so task definitions are fetched once."""

    def __init__(self, clients: Clients, cache: TaskDefinitionCache | None = None) -> None:
        self.clients = clients
        self.cache = cache or TaskDefinitionCache()

    def read(self, cluster: str, ec2_instance_id: str | None = None, include_tasks: bool = True,
             include_hosts: bool = True) -> ClusterSnapshot:
        """The whole cluster, or only one host and its tasks when `ec2_instance_id` is given
        (what a per-host agent needs: two list calls and two describes whatever the cluster's size).
        `include_tasks=False` reads the container instances only; `include_hosts=False` skips EC2
        (addresses, AMIs, tags) for a capability that needs only the instance ids."""
        ecs = self.clients("ecs")
        try:
            if ec2_instance_id is None:
                instance_arns = paginate(ecs, "list_container_instances", "containerInstanceArns", cluster=cluster)
                task_arns = paginate(ecs, "list_tasks", "taskArns", cluster=cluster) if include_tasks else []
            else:
                instance_arns = paginate(ecs, "list_container_instances", "containerInstanceArns", cluster=cluster,
                                         filter=f"ec2InstanceId == {ec2_instance_id}")
                if not instance_arns:
                    raise NotFound(f"EC2 instance {ec2_instance_id} is not a container instance of cluster "
                                   f"'{cluster}'")
                task_arns = paginate(ecs, "list_tasks", "taskArns", cluster=cluster,
                                     containerInstance=instance_arns[0])
        except NotFound:
            raise
        except Exception as error:
            if error_code(error) == "ClusterNotFoundException":
                raise NotFound(f"cluster '{cluster}' not found in {self.clients.target.region}") from error
            raise
        instance_docs = describe_in_batches(
            instance_arns, ECS_DESCRIBE_MAX,
            lambda batch: ecs.describe_container_instances(cluster=cluster, containerInstances=list(batch))[
                "containerInstances"],
        )
        task_docs = describe_in_batches(
            task_arns, ECS_DESCRIBE_MAX,
            lambda batch: ecs.describe_tasks(cluster=cluster, tasks=list(batch))["tasks"],
        )
        ec2_by_id = self._ec2_instances([d["ec2InstanceId"] for d in instance_docs if d.get("ec2InstanceId")]) \
            if include_hosts else {}
        instances = tuple(parse_container_instance(d, ec2_by_id.get(d.get("ec2InstanceId", ""))) for d in instance_docs)
        parts: dict[Any, Any] = {}
        tasks = tuple(parse_task(d, self.cache.get(ecs, d["taskDefinitionArn"]), parts) for d in task_docs)
        return ClusterSnapshot(
            cluster=cluster,
            region=self.clients.target.region,
            taken_at=dt.datetime.now(dt.UTC),
            instances=instances,
            tasks=tasks,
        )

    def _ec2_instances(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """Addresses and image of each host. A filter, not InstanceIds: an instance that vanished
        since the ECS read is simply absent instead of failing the whole call."""
        if not ids:
            return {}
        ec2 = self.clients("ec2")
        found: dict[str, Mapping[str, Any]] = {}
        for batch in describe_in_batches(
            list(dict.fromkeys(ids)), EC2_FILTER_VALUES_MAX,
            lambda batch: paginate(ec2, "describe_instances", "Reservations",
                                   Filters=[{"Name": "instance-id", "Values": list(batch)}]),
        ):
            for instance in batch.get("Instances", []):
                found[instance["InstanceId"]] = instance
        return found
