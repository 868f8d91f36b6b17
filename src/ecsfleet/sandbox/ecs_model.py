"""State of the sandbox's ECS: plain records, with the little arithmetic they own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ACCOUNT_ID = "123456789012"
EPHEMERAL_PORTS = (32768, 60999)
# Ports an ECS agent reserves on every instance (SSH, Docker, the agent's introspection API).
RESERVED_PORTS = frozenset({22, 2375, 2376, 51678, 51679})
DEFAULT_STOP_TIMEOUT = 30.0
AGENT_UPDATE_STEPS = ("PENDING", "STAGING", "STAGED", "UPDATING", "UPDATED")
AGENT_UPDATE_IN_FLIGHT = frozenset({"PENDING", "STAGING", "STAGED", "UPDATING"})

# vCPU x 1024 and the memory the ECS agent reports as registered (a little under the instance's).
INSTANCE_RESOURCES: dict[str, tuple[int, int]] = {
    "t3.micro": (2048, 904),
    "t3.small": (2048, 1928),
    "t3.medium": (2048, 3904),
    "t3.large": (2048, 7936),
    "t3.xlarge": (4096, 15991),
    "m5.large": (2048, 7680),
    "m5.xlarge": (4096, 15576),
    "m5.2xlarge": (8192, 31368),
    "c5.large": (2048, 3711),
    "c5.xlarge": (4096, 7510),
    "r5.large": (2048, 15578),
}
DEFAULT_RESOURCES = (2048, 3904)
# Other instance types register their vCPUs and this share of their memory (what the table's
# types register: 88 to 97%, most near 94).
REGISTERED_MEMORY_SHARE = 0.94


def instance_resources(instance_type: str) -> tuple[int, int]:
    """CPU units and MiB an instance of the type registers: the table's, else from EC2's own
    description of the type (DescribeInstanceTypes, moto's data), else DEFAULT_RESOURCES."""
    if instance_type in INSTANCE_RESOURCES:
        return INSTANCE_RESOURCES[instance_type]
    # Imported here: moto's EC2 models take 150 MiB and a second to import, and a process that
    # only builds the sandbox's records (the planners' benchmark) never registers such a type.
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    described = INSTANCE_TYPES.get(instance_type)
    if described is None:
        return DEFAULT_RESOURCES
    return (int(described["VCpuInfo"]["DefaultVCpus"]) * 1024,
            int(described["MemoryInfo"]["SizeInMiB"] * REGISTERED_MEMORY_SHARE))


class EcsError(Exception):
    """An ECS API error, rendered as the JSON protocol's `__type` and `message`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def cluster_not_found() -> EcsError:
    return EcsError("ClusterNotFoundException", "Cluster not found.")


def invalid(message: str) -> EcsError:
    return EcsError("InvalidParameterException", message)


@dataclass
class Cluster:
    name: str
    arn: str
    created_at: float
    status: str = "ACTIVE"
    tags: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class PortNeed:
    container_name: str
    container_port: int
    host_port: int  # 0: a dynamic port from the ephemeral range
    protocol: str


@dataclass
class TaskDefinition:
    arn: str
    family: str
    revision: int
    container_definitions: list[dict[str, Any]]
    network_mode: str
    cpu: str | None
    memory: str | None
    registered_at: float
    extra: dict[str, Any]
    status: str = "ACTIVE"

    def required_cpu(self) -> int:
        if self.cpu:
            return _units(self.cpu, per_unit=1024)
        return sum(int(c.get("cpu") or 0) for c in self.container_definitions)

    def required_memory(self) -> int:
        if self.memory:
            return _units(self.memory, per_unit=1024)
        return sum(
            int(c.get("memoryReservation") or c.get("memory") or 0) for c in self.container_definitions
        )

    def port_needs(self) -> list[PortNeed]:
        needs = []
        for container in self.container_definitions:
            for mapping in container.get("portMappings") or []:
                container_port = int(mapping.get("containerPort") or 0)
                if self.network_mode == "awsvpc":
                    continue
                host = container_port if self.network_mode == "host" else int(mapping.get("hostPort") or 0)
                needs.append(
                    PortNeed(container["name"], container_port, host, mapping.get("protocol", "tcp"))
                )
        return needs

    def stop_timeout(self) -> float:
        timeouts = [float(c["stopTimeout"]) for c in self.container_definitions if c.get("stopTimeout")]
        return max(timeouts) if timeouts else DEFAULT_STOP_TIMEOUT

    def health_delay(self, container_name: str) -> float | None:
        """Seconds after RUNNING at which a container with a health check turns HEALTHY."""
        for container in self.container_definitions:
            check = container.get("healthCheck")
            if container["name"] == container_name and check:
                return float(check.get("startPeriod") or check.get("interval") or 30)
        return None


def _units(value: str, per_unit: int) -> int:
    """Task-level cpu/memory may be written '1 vCPU' / '2 GB' as well as '1024'."""
    text = value.strip().lower()
    for suffix in ("vcpu", "gb"):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * per_unit)
    return int(text)


@dataclass
class ContainerInstance:
    arn: str
    id: str
    cluster: str
    ec2_instance_id: str
    registered_cpu: int
    registered_memory: int
    attributes: dict[str, str]
    registered_at: float
    agent_version: str
    docker_version: str = "DockerVersion: 25.0.8"
    # None: the agent reports no version information (a custom or very old agent), so ECS
    # cannot update it (UpdateContainerAgent answers MissingVersionException).
    agent_hash: str | None = "e5c0a5a5"
    status: str = "ACTIVE"
    status_reason: str | None = None
    agent_connected: bool = True
    agent_update_status: str | None = None
    version: int = 1
    used_cpu: int = 0
    used_memory: int = 0
    used_ports: set[int] = field(default_factory=set)
    port_cursor: int = EPHEMERAL_PORTS[0]
    task_arns: set[str] = field(default_factory=set)
    fail_next_update: bool = False
    tags: list[dict[str, str]] = field(default_factory=list)
    seq: int = 0  # registration order: placement's last tie-break

    @property
    def remaining_cpu(self) -> int:
        return self.registered_cpu - self.used_cpu

    @property
    def remaining_memory(self) -> int:
        return self.registered_memory - self.used_memory

    def fits(self, cpu: int, memory: int, needs: list[PortNeed]) -> str | None:
        """None when a task fits, else the ECS placement failure reason."""
        if cpu > self.remaining_cpu:
            return "RESOURCE:CPU"
        if memory > self.remaining_memory:
            return "RESOURCE:MEMORY"
        fixed = [n.host_port for n in needs if n.host_port]
        if len(set(fixed)) != len(fixed) or any(p in self.used_ports or p in RESERVED_PORTS for p in fixed):
            return "RESOURCE:PORTS"
        dynamic = sum(1 for n in needs if not n.host_port)
        span = EPHEMERAL_PORTS[1] - EPHEMERAL_PORTS[0] + 1
        # Counting the used ephemeral ports is needed only when the range could be nearly full.
        if dynamic > span - len(self.used_ports) and dynamic > span - len(
            [p for p in self.used_ports if EPHEMERAL_PORTS[0] <= p <= EPHEMERAL_PORTS[1]]
        ):
            return "RESOURCE:PORTS"
        return None

    def take_dynamic_port(self) -> int:
        """Docker hands out ephemeral ports in turn, so a freed port is not reused at once."""
        low, high = EPHEMERAL_PORTS
        port = self.port_cursor
        while port in self.used_ports:
            port = low if port >= high else port + 1
        self.port_cursor = low if port >= high else port + 1
        self.used_ports.add(port)
        return port


@dataclass
class Container:
    name: str
    image: str
    arn: str
    essential: bool
    bindings: list[dict[str, Any]]
    last_status: str = "PENDING"
    exit_code: int | None = None
    health_status: str | None = None
    cpu: int = 0
    memory: int | None = None
    memory_reservation: int | None = None
    reason: str | None = None


@dataclass
class Task:
    arn: str
    id: str
    cluster: str
    task_definition: TaskDefinition
    container_instance_arn: str
    group: str
    started_by: str
    overrides: dict[str, Any]
    containers: list[Container]
    created_at: float
    cpu: int
    memory: int
    host_ports: list[int]
    availability_zone: str | None
    deployment_id: str | None = None
    last_status: str = "PENDING"
    desired_status: str = "RUNNING"
    started_at: float | None = None
    stopping_at: float | None = None
    stopped_at: float | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    version: int = 1
    tags: list[dict[str, str]] = field(default_factory=list)

    @property
    def service_name(self) -> str | None:
        return self.group.removeprefix("service:") if self.group.startswith("service:") else None

    @property
    def serving(self) -> bool:
        """Running, not asked to stop, and healthy where a health check exists."""
        if self.last_status != "RUNNING" or self.desired_status != "RUNNING":
            return False
        return all(c.health_status in (None, "HEALTHY") for c in self.containers)

    @property
    def health_status(self) -> str:
        checked = [c.health_status for c in self.containers if c.health_status is not None]
        if not checked:
            return "UNKNOWN"
        if any(h == "UNHEALTHY" for h in checked):
            return "UNHEALTHY"
        return "HEALTHY" if all(h == "HEALTHY" for h in checked) else "UNKNOWN"


@dataclass
class Deployment:
    id: str
    task_definition_arn: str
    created_at: float
    updated_at: float
    status: str = "PRIMARY"
    rollout_state: str = "IN_PROGRESS"


@dataclass
class Service:
    arn: str
    name: str
    cluster: str
    task_definition_arn: str
    desired_count: int
    created_at: float
    deployments: list[Deployment]
    maximum_percent: int = 200
    minimum_healthy_percent: int = 100
    placement_constraints: list[dict[str, Any]] = field(default_factory=list)
    placement_strategy: list[dict[str, Any]] = field(default_factory=list)
    load_balancers: list[dict[str, Any]] = field(default_factory=list)
    launch_type: str = "EC2"
    status: str = "ACTIVE"
    events: list[dict[str, Any]] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    seq: int = 0  # creation order: the scheduler reconciles services in it

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]
