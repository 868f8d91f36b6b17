"""Plan: from a cluster snapshot, the services to balance and the load balancers as they are, the
ELB changes that make each load balancer send traffic to its service's current host port.

Pure: no I/O, no clock. A converged system plans nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ..snapshot import ClusterSnapshot, Task
from .services import ServiceEntry

_TARGET = re.compile(r"^(?P<proto>[A-Za-z]+):(?P<port>\d+)(?P<path>/.*)?$")


@dataclass(frozen=True)
class Listener:
    protocol: str
    load_balancer_port: int
    instance_protocol: str
    instance_port: int
    ssl_certificate_id: str | None = None
    policy_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class HealthCheck:
    target: str
    interval: int
    timeout: int
    unhealthy_threshold: int
    healthy_threshold: int

    @property
    def port(self) -> int | None:
        match = _TARGET.match(self.target)
        return int(match["port"]) if match else None

    def on_port(self, port: int) -> HealthCheck:
        """The same check (protocol, path, timings) aimed at another port."""
        match = _TARGET.match(self.target)
        if not match:
            return self
        target = f"{match['proto']}:{port}{match['path'] or ''}"
        return HealthCheck(target, self.interval, self.timeout, self.unhealthy_threshold, self.healthy_threshold)


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    listeners: tuple[Listener, ...]
    health_check: HealthCheck | None
    instances: frozenset[str]
    backend_policies: Mapping[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Register:
    load_balancer: str
    instance_ids: tuple[str, ...]


@dataclass(frozen=True)
class Deregister:
    load_balancer: str
    instance_ids: tuple[str, ...]


@dataclass(frozen=True)
class SetHealthCheck:
    load_balancer: str
    health_check: HealthCheck
    was: str


@dataclass(frozen=True)
class MoveListener:
    """Delete and re-create a listener on a new instance port, keeping everything else."""

    load_balancer: str
    listener: Listener
    instance_port: int


@dataclass(frozen=True)
class SetBackendPolicies:
    load_balancer: str
    instance_port: int
    policy_names: tuple[str, ...]


Action = Register | Deregister | SetHealthCheck | MoveListener | SetBackendPolicies


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...] = ()
    warnings: tuple[str, ...] = ()


def describe(action: Action) -> str:
    match action:
        case Register(lb, ids):
            return f"register {', '.join(ids)} with {lb}"
        case Deregister(lb, ids):
            return f"deregister {', '.join(ids)} from {lb}"
        case SetHealthCheck(lb, check, was):
            return f"health check of {lb}: {was} -> {check.target}"
        case MoveListener(lb, listener, port):
            return (f"listener {listener.protocol}:{listener.load_balancer_port} of {lb}: instance port "
                    f"{listener.instance_port} -> {port}")
        case SetBackendPolicies(lb, port, names):
            return f"backend policies {', '.join(names)} of {lb} onto port {port}"
    raise AssertionError(action)


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def plan_service(
    snap: ClusterSnapshot, entry: ServiceEntry, lb: LoadBalancer, scope: Collection[str]
) -> Plan:
    """The changes for one service and its load balancer; `scope` is the EC2 ids this run manages."""
    warnings: list[str] = []
    candidates: list[tuple[Task, str, int]] = []
    # statika matched tasks by family; a serviceName alone selects the service's tasks.
    tasks = snap.tasks_of_family(entry.family) if entry.family else snap.tasks_of_service(entry.serviceName or "")
    for task in tasks:
        host = snap.instance(task.container_instance_arn)
        if host is None or host.ec2_instance_id not in scope:
            continue
        if not snap.serving(task):
            continue
        container = task.container(entry.exposedContainerName)
        if container is None:
            warnings.append(f"{entry.label}: task {task.id} has no container {entry.exposedContainerName!r}")
            continue
        port = container.host_port(entry.containerPort)
        if port is None:
            wanted = f"container port {entry.containerPort}" if entry.containerPort else "any port"
            warnings.append(f"{entry.label}: container {entry.exposedContainerName!r} of task {task.id} "
                            f"publishes no host port for {wanted}")
            continue
        candidates.append((task, host.ec2_instance_id, port))

    registered_in_scope = {i for i in lb.instances if i in scope}
    if not candidates:
        leaving = tuple(sorted(registered_in_scope))
        return Plan((Deregister(lb.name, leaving),) if leaving else (), tuple(warnings))

    # The newest serving task wins, so traffic moves only once a new task is up.
    newest = max(candidates, key=lambda c: (c[0].started_at or c[0].created_at or _EPOCH, c[0].arn))
    port = newest[2]
    on_port = {host for _, host, p in candidates if p == port}
    elsewhere = sorted({host for _, host, p in candidates if p != port} - on_port)
    if elsewhere:
        named = ", ".join(elsewhere[:10]) + (f" and {len(elsewhere) - 10} more" if len(elsewhere) > 10 else "")
        warnings.append(f"{entry.label}: {named} run it only on other host ports than {port}; "
                        f"a Classic ELB has one instance port, so they are not registered with {lb.name}")

    actions: list[Action] = []
    joining = tuple(sorted(on_port - lb.instances))
    if joining:
        actions.append(Register(lb.name, joining))
    if lb.health_check is not None and lb.health_check.port not in (None, port):
        actions.append(SetHealthCheck(lb.name, lb.health_check.on_port(port), lb.health_check.target))
    for listener in lb.listeners:
        if listener.instance_port != port:
            # The new port gets the old one's backend policies before traffic does; and were it
            # after the move, a failure would lose them (the moved listener no longer says which).
            policies = lb.backend_policies.get(listener.instance_port, ())
            if policies and lb.backend_policies.get(port, ()) != policies:
                actions.append(SetBackendPolicies(lb.name, port, policies))
            actions.append(MoveListener(lb.name, listener, port))
    leaving = tuple(sorted(registered_in_scope - on_port))
    if leaving:
        actions.append(Deregister(lb.name, leaving))
    return Plan(tuple(dict.fromkeys(actions)), tuple(warnings))


def plan(
    snap: ClusterSnapshot,
    services: Sequence[ServiceEntry],
    load_balancers: Mapping[str, LoadBalancer],
    scope: Collection[str],
) -> Plan:
    """Every service's changes, in the safe order within each load balancer: register, aim the
    health check, move listeners, then deregister."""
    actions: list[Action] = []
    warnings: list[str] = []
    for entry in services:
        lb = load_balancers.get(entry.loadBalancerName)
        if lb is None:
            continue  # reported by the reader, which knows why it is missing
        part = plan_service(snap, entry, lb, scope)
        actions += part.actions
        warnings += part.warnings
    return Plan(tuple(actions), tuple(warnings))
