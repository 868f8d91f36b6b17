"""Plan: from a cluster snapshot, the services to balance and the load balancers as they are, the
ELB changes that make each load balancer send traffic to its service's current host port.

Pure: no I/O, no clock. A converged system plans nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..collection import collection_paused
from ..snapshot import ClusterSnapshot, Task, serves
from .services import ServiceEntry

_SECURE = frozenset({"HTTPS", "SSL"})  # instance protocols that speak TLS to the instance
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

    @property
    def protocol(self) -> str | None:
        match = _TARGET.match(self.target)
        return match["proto"].upper() if match else None

    def on_port(self, port: int) -> HealthCheck:
        """The same check (protocol, path, timings) aimed at another port."""
        match = _TARGET.match(self.target)
        if not match:
            return self
        target = f"{match['proto']}:{port}{match['path'] or ''}"
        return HealthCheck(target, self.interval, self.timeout, self.unhealthy_threshold, self.healthy_threshold)


@dataclass(frozen=True)
class PendingMove:
    """A listener move that a process began and may not have finished (killed between delete and
    create, or before the policies): recorded on the load balancer before the first call, so the
    next pass of any process can complete it. `listener` is the listener as it was."""

    listener: Listener
    instance_port: int


@dataclass(frozen=True)
class LoadBalancer:
    name: str
    listeners: tuple[Listener, ...]
    health_check: HealthCheck | None
    instances: frozenset[str]
    backend_policies: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    moves: tuple[PendingMove, ...] = ()


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
class ResumeMove:
    """Complete a move a process left half done: the listener as recorded (`listener`, its former
    definition) on `instance_port`, whether or not it still exists (`present`), then forget the
    record."""

    load_balancer: str
    listener: Listener
    instance_port: int
    present: bool


@dataclass(frozen=True)
class ForgetMove:
    """A recorded move whose listener is already whole on its port: only the record goes."""

    load_balancer: str
    load_balancer_port: int


@dataclass(frozen=True)
class SetBackendPolicies:
    load_balancer: str
    instance_port: int
    policy_names: tuple[str, ...]


Action = Register | Deregister | SetHealthCheck | MoveListener | ResumeMove | ForgetMove | SetBackendPolicies


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
        case ResumeMove(lb, listener, port, present):
            state = "half moved" if present else "missing"
            return (f"listener {listener.protocol}:{listener.load_balancer_port} of {lb} ({state}: an interrupted "
                    f"move): re-created on instance port {port} with its protocols, certificate and policies")
        case ForgetMove(lb, lb_port):
            return f"listener {lb_port} of {lb}: interrupted move already whole, its record removed"
        case SetBackendPolicies(lb, port, names):
            return f"backend policies {', '.join(names)} of {lb} onto port {port}"
    raise AssertionError(action)


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def matching_tasks(snap: ClusterSnapshot, entry: ServiceEntry) -> tuple[tuple[Task, ...], tuple[str, ...]]:
    """The tasks of the snapshot an entry names, and a warning when its name is ambiguous.

    With `family`, tasks are matched by family, as statika's master did. Without it, statika
    v0.1.0's files are read as it read them: there `serviceName` was the task family. So the name
    is matched against the ECS service name and, failing that, the task family."""
    if entry.family:
        return snap.tasks_of_family(entry.family), ()
    name = entry.serviceName or ""
    by_service, by_family = snap.tasks_of_service(name), snap.tasks_of_family(name)
    return by_service or by_family, _ambiguity(entry, by_service, by_family)


def _ambiguity(entry: ServiceEntry, by_service: Sequence[Task], by_family: Sequence[Task]) -> tuple[str, ...]:
    """The warning when an entry's `serviceName` names both an ECS service and the task family of
    other tasks (the service's are then used)."""
    if by_service and by_family and {t.arn for t in by_service} != {t.arn for t in by_family}:
        return (f"{entry.label}: 'serviceName' {entry.serviceName!r} names both an ECS service and the task "
                f"family of other tasks; the service's tasks are used (statika v0.1.0 used the family): write "
                f"\"family\" in the entry to say which",)
    return ()


@dataclass
class _Found:
    """What an entry's tasks of one kind (its family's, or its service's) offer, summed up as the
    pass meets them: the tasks; of those that may take traffic on a host in scope, the newest
    (started, task ARN, host port) and the hosts on each host port; warnings about the others.
    The plan compares these summaries and never goes back to the tasks. Hosts are listed as met
    and made a set by the one entry that uses them: an append lands where the last one did, where
    adding to one of a few hundred sets lands anywhere in them (at 50,000 tasks of 250 families,
    bench/plan_time.py, the sets made the pass 1.1x slower)."""

    tasks: list[Task] = field(default_factory=list)
    newest: tuple[dt.datetime, str, int] | None = None
    hosts: dict[int, list[str]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _look(entry: ServiceEntry, task: Task, ec2_id: str | None, found: _Found) -> None:
    """Adds one task of the entry's to `found`; `ec2_id`: its host's, when the task serves on a
    host in scope, else None."""
    found.tasks.append(task)
    if ec2_id is None:
        return
    container = task.container(entry.exposedContainerName)
    if container is None:
        found.warnings.append(f"{entry.label}: task {task.id} has no container {entry.exposedContainerName!r}")
        return
    port = container.host_port(entry.containerPort)
    if port is None:
        wanted = f"container port {entry.containerPort}" if entry.containerPort else "any port"
        found.warnings.append(f"{entry.label}: container {entry.exposedContainerName!r} of task {task.id} "
                              f"publishes no host port for {wanted}")
        return
    started = (task.started_at or task.created_at or _EPOCH, task.arn, port)
    if found.newest is None or started > found.newest:
        found.newest = started
    on = found.hosts.get(port)
    if on is None:
        found.hosts[port] = [ec2_id]
    else:
        on.append(ec2_id)


def _sweep(snap: ClusterSnapshot, services: Sequence[ServiceEntry], scope: Collection[str]
           ) -> list[tuple[_Found, _Found]]:
    """For each entry, what the tasks of the family and of the ECS service its name gives offer,
    found in one pass over the snapshot's tasks, in their order. Going entry by entry through its
    tasks would visit them where they lie, each a few hundred bytes from the last of another
    family, and in a large cluster nearly every visit would miss the processor's caches: at
    50,000 tasks of 250 families (bench/plan_time.py), that walk took 1.4x the time of this pass."""
    by_family: dict[str, list[int]] = {}
    by_service: dict[str, list[int]] = {}
    for n, entry in enumerate(services):
        by_family.setdefault(entry.family or entry.serviceName or "", []).append(n)
        if not entry.family:
            by_service.setdefault(entry.serviceName or "", []).append(n)
    found = [(_Found(), _Found()) for _ in services]
    with collection_paused():
        for task in snap.tasks:
            of_family = by_family.get(task.family, ())
            of_service = by_service.get(task.service or "", ()) if by_service else ()
            if not of_family and not of_service:
                continue
            host = snap.instance(task.container_instance_arn)
            ec2_id = host.ec2_instance_id if host is not None and host.ec2_instance_id in scope \
                and serves(task, host) else None
            for n in of_family:
                _look(services[n], task, ec2_id, found[n][0])
            for n in of_service:
                _look(services[n], task, ec2_id, found[n][1])
    return found


def _secure(instance_protocol: str) -> bool:
    return instance_protocol.upper() in _SECURE


def _port_kind(lb: LoadBalancer, listeners: Sequence[Listener], port: int) -> bool:
    """Whether the service's port takes the secure (HTTPS, SSL) or the plain (HTTP, TCP)
    listeners, when they disagree (AWS refuses listeners of both kinds on one instance port): as
    the health check says when it speaks HTTP, HTTPS or SSL; else as the listeners already on the
    port; else as most listeners (plain on a tie: TLS usually ends at the load balancer). A TCP
    check connects to either kind."""
    protocol = lb.health_check.protocol if lb.health_check is not None else None
    if protocol in _SECURE or protocol == "HTTP":
        return protocol in _SECURE
    there = [_secure(listener.instance_protocol) for listener in listeners if listener.instance_port == port]
    if there:
        return there[0]
    secure = sum(_secure(listener.instance_protocol) for listener in listeners)
    return secure > len(listeners) - secure


def _listener_changes(lb: LoadBalancer, port: int | None, warnings: list[str]) -> list[Action]:
    """Every listener on `port` (None: no serving task, so only interrupted moves are finished,
    on the port they were going to), with its backend policies following.

    A move recorded on the load balancer is finished first, whatever the process that began it:
    the listener it names is re-created from the record when it is missing, half moved or without
    its policies, and the record is dropped once the listener is whole.

    Listeners whose instance protocols are of both kinds (secure and plain) cannot share the
    port: those of the kind the port does not take (`_port_kind`) stay where they are (a recorded
    move of one is put back), each with a warning, rather than a move AWS refuses at every pass
    holding back the load balancer's other changes. If one of them already sits on the port,
    nothing moves there."""
    actions: list[Action] = []
    pending = {m.listener.load_balancer_port: m for m in lb.moves}
    current = {listener.load_balancer_port: listener for listener in lb.listeners}
    ports = sorted(current.keys() | pending.keys())
    listeners = [pending[p].listener if p in pending else current[p] for p in ports]
    kind = _port_kind(lb, listeners, port) if port is not None and len(
        {_secure(listener.instance_protocol) for listener in listeners}) > 1 else None
    blocked = kind is not None and any(
        listener.instance_port == port and _secure(listener.instance_protocol) != kind for listener in lb.listeners)
    for lb_port, listener in zip(ports, listeners, strict=True):
        move = pending.get(lb_port)
        target = port if port is not None else (move.instance_port if move else None)
        if target is None:
            continue
        if kind is not None and (blocked or _secure(listener.instance_protocol) != kind):
            if listener.instance_port != target:
                warnings.append(_unmovable(lb, listener, target, kind, blocked))
            target = listener.instance_port
        whole = replace(listener, instance_port=target)
        if move is None and listener.instance_port == target:
            continue
        if move is not None and current.get(lb_port) == whole:
            actions.append(ForgetMove(lb.name, lb_port))
            continue
        # The new port gets the old one's backend policies before traffic does; and were it
        # after the move, a failure would lose them (the moved listener no longer says which).
        policies = lb.backend_policies.get(listener.instance_port, ())
        if policies and lb.backend_policies.get(target, ()) != policies:
            actions.append(SetBackendPolicies(lb.name, target, policies))
        actions.append(ResumeMove(lb.name, listener, target, lb_port in current) if move
                       else MoveListener(lb.name, listener, target))
    return actions


def _unmovable(lb: LoadBalancer, listener: Listener, port: int, secure: bool, blocked: bool) -> str:
    kind = "secure (HTTPS, SSL)" if secure else "plain (HTTP, TCP)"
    why = (f"a listener already on port {port} uses the other kind" if blocked else
           f"port {port} takes the {kind} ones"
           + (f" (the health check is {lb.health_check.protocol})" if lb.health_check is not None
              and lb.health_check.protocol in (*_SECURE, "HTTP") else ""))
    return (f"{lb.name}: listener {listener.load_balancer_port} ({listener.protocol} to {listener.instance_protocol} "
            f"instances) stays on instance port {listener.instance_port}: AWS gives listeners sharing an instance "
            f"port one kind of instance protocol, and {why}; give it a load balancer of its own, or one instance "
            "protocol kind to all")


def plan_service(entry: ServiceEntry, lb: LoadBalancer, found: tuple[_Found, _Found], scope: Collection[str],
                 cluster: str, known_elsewhere: bool = False) -> Plan:
    """The changes for one service and its load balancer, from what `_sweep` found of its tasks;
    `scope` is the EC2 ids this run manages. `known_elsewhere`: the entry's name means something
    though no task of the snapshot matches it (a task family, a service running on other hosts
    or just scaled to zero)."""
    of_family, of_service = found
    ambiguity: tuple[str, ...] = ()
    if entry.family:
        used = of_family
    else:
        ambiguity = _ambiguity(entry, of_service.tasks, of_family.tasks)
        used = of_service if of_service.tasks else of_family
    tasks, newest = used.tasks, used.newest
    warnings = [*ambiguity, *used.warnings]
    registered_in_scope = lb.instances.intersection(scope)  # in C, over the smaller of the two when scope is a set
    if newest is None:
        repairs = _listener_changes(lb, None, warnings)
        leaving = tuple(sorted(registered_in_scope))
        if leaving and not tasks and not known_elsewhere:
            # A name that matches nothing is far more often a mistake (a typo, statika v0.1.0's
            # family in `serviceName`) than a service that is gone: never take hosts out for it.
            warnings.append(
                f"{entry.label}: no task in cluster {cluster!r} is of an ECS service or task family "
                f"named {entry.serviceName or entry.family!r}; {', '.join(leaving)} stay(s) registered with "
                f"{lb.name}: fix the name, or deregister them yourself if the service is gone")
        elif leaving:
            repairs.append(Deregister(lb.name, leaving))
        return Plan(tuple(repairs), tuple(warnings))

    # The newest serving task wins, so traffic moves only once a new task is up.
    port = newest[2]
    on_port = set(used.hosts[port])
    elsewhere = sorted(set().union(*(hosts for p, hosts in used.hosts.items() if p != port)) - on_port)
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
    actions += _listener_changes(lb, port, warnings)
    leaving = tuple(sorted(registered_in_scope - on_port))
    if leaving:
        actions.append(Deregister(lb.name, leaving))
    return Plan(tuple(dict.fromkeys(actions)), tuple(warnings))


def plan(
    snap: ClusterSnapshot,
    services: Sequence[ServiceEntry],
    load_balancers: Mapping[str, LoadBalancer],
    scope: Collection[str],
    known_elsewhere: Collection[str] = (),
) -> Plan:
    """Every service's changes, in the safe order within each load balancer: register, aim the
    health check, move listeners (finishing interrupted moves), then deregister.
    `known_elsewhere`: load balancer names whose entry names a family or service that the
    snapshot holds no task of."""
    actions: list[Action] = []
    warnings: list[str] = []
    for entry, found in zip(services, _sweep(snap, services, scope), strict=True):
        lb = load_balancers.get(entry.loadBalancerName)
        if lb is None:
            continue  # reported by the reader, which knows why it is missing
        part = plan_service(entry, lb, found, scope, snap.cluster, entry.loadBalancerName in known_elsewhere)
        actions += part.actions
        warnings += part.warnings
    if not services:
        warnings.append("the services file lists no service: nothing to balance")
    return Plan(tuple(actions), tuple(warnings))
