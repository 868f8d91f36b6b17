"""Sources -> endpoints: ecsd's environment conventions, read from containers.

`SERVICE_FQDN=name`         -> A   name -> the host's public IP
`SERVICE_FQDN_LOCAL=name`   -> A   name -> the host's private IP
`SERVICE_PORT_<port>=name`  -> SRV name -> `1 1 <host port> <host name>`, where <port> is a
                               container port with a host binding (dynamic ports), or else a
                               published host port (ecsd's own reading).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from ..snapshot import ClusterSnapshot, PortBinding, Task
from .names import Checked, Memo, srv_text

SRV_PRIORITY = 1
SRV_WEIGHT = 1
_PORT_PREFIX = "SERVICE_PORT_"


@dataclass(frozen=True)
class Host:
    """Where a container runs, as DNS needs it."""

    id: str  # EC2 instance id (or the Docker agent's host name)
    public_ip: str | None
    private_ip: str | None
    hostname: str | None


class Endpoint(NamedTuple):
    """One value one container asks to publish under one name. A named tuple: a cluster makes one
    per container and name, and a tuple is built in a third of a frozen dataclass's time."""

    name: str  # normalized, with a trailing dot
    record_type: str  # A or SRV
    value: str
    host: str  # host id, for per-host ownership and messages
    private: bool  # published from a private address (SERVICE_FQDN_LOCAL, SRV)


@dataclass(frozen=True)
class _Ask:
    """What one variable asks for, read from its name and value alone (so once a pass, however
    many containers carry it)."""

    variable: str
    raw_name: str
    record_type: str  # A or SRV
    address: str  # which of the host's addresses: "public" (SERVICE_FQDN) or "private"
    name: str  # normalized
    name_problem: str | None
    port: int | None  # SRV: the container port (None: the variable names no port)
    private: bool = field(init=False)  # address == "private", read once a container

    def __post_init__(self) -> None:
        object.__setattr__(self, "private", self.address == "private")


def _ask(variable: str, raw: str, checked: Checked) -> _Ask | None:
    """None for a variable that is none of ecsd's conventions."""
    if variable == "SERVICE_FQDN":
        return _Ask(variable, raw, "A", "public", checked.normalized(raw), checked.name(raw), None)
    if variable == "SERVICE_FQDN_LOCAL":
        return _Ask(variable, raw, "A", "private", checked.normalized(raw), checked.name(raw), None)
    if variable.startswith(_PORT_PREFIX):  # a newline in the name is a bad port, not no port
        port_text = variable[len(_PORT_PREFIX):]
        # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
        valid = port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536
        return _Ask(variable, raw, "SRV", "private", checked.normalized(raw), checked.name(raw),
                    int(port_text) if valid else None)
    return None


@dataclass(frozen=True)
class _Place:
    """A host with its SRV target normalized: read once per host, not once per container."""

    host: Host
    srv_target: str | None

    @classmethod
    def of(cls, host: Host, checked: Checked) -> _Place:
        return cls(host, checked.normalized(host.hostname) if host.hostname else None)


# A container's label for warnings: the text itself, or the task and container name it is
# written from (only when there is something to warn about: most containers have nothing).
Label = str | tuple[Task, str]


def _label(label: Label) -> str:
    if isinstance(label, str):
        return label
    task, container = label
    return f"task {task.id} ({task.family}:{task.revision}) container {container}"


class _Reader:
    """Reads containers' variables into endpoints, interpreting each distinct (variable, value)
    once, so that a container costs a lookup per variable and the building of its values."""

    def __init__(self) -> None:
        self.checked = Checked()
        self.found: list[Endpoint] = []
        self.warnings: list[str] = []
        checked = self.checked  # not self: a cycle would keep the pass's endpoints alive until a full collection
        self._asks: Memo[tuple[str, str], _Ask | None] = Memo(lambda item: _ask(*item, checked))
        # What each environment mapping asks for, by identity: tasks of one task definition
        # without overrides share their definition's mapping (snapshot.merged_environment), so a
        # cluster's containers are interpreted once per definition. The mapping is kept with its
        # answer, so that its id cannot be reused by another mapping during the pass.
        self._by_env: dict[int, tuple[Mapping[str, str], tuple[_Ask, ...]]] = {}

    def _asks_of(self, env: Mapping[str, str]) -> tuple[_Ask, ...]:
        known = self._by_env.get(id(env))
        if known is not None and known[0] is env:
            return known[1]
        asks = tuple(ask for item in sorted(item for item in env.items() if item[0].startswith("SERVICE_"))
                     if (ask := self._asks[item]) is not None)
        self._by_env[id(env)] = (env, asks)
        return asks

    def container(self, label: Label, env: Mapping[str, str], binds: tuple[PortBinding, ...], place: _Place,
                  host_network: bool = False) -> None:
        host = place.host
        for ask in self._asks_of(env):
            if ask.record_type == "A":
                value = host.private_ip if ask.private else host.public_ip
            else:
                port = ask.port
                if port is None:
                    self._warn(label, ask, f"{ask.variable[len(_PORT_PREFIX):]!r} is not a port number", False)
                    continue
                host_port = None
                for binding in binds:
                    if binding.container_port == port:
                        host_port = binding.host_port
                        break
                if host_port is None and (host_network or any(b.host_port == port for b in binds)):
                    host_port = port
                if place.srv_target is None:
                    self._warn(label, ask, f"host {host.id} has no host name for the SRV target", False)
                    continue
                value = srv_text(SRV_PRIORITY, SRV_WEIGHT, host_port, place.srv_target) if host_port else None
            if ask.name_problem:
                self._warn(label, ask, ask.name_problem)
            elif value is None:
                self._warn(label, ask, f"host {host.id} has no {ask.address} IP" if ask.record_type == "A"
                           else f"port {ask.port} is not published (no host binding)")
            else:
                # tuple.__new__: the named tuple's own __new__ is a Python function, a call a value
                self.found.append(tuple.__new__(Endpoint, (ask.name, ask.record_type, value, host.id, ask.private)))

    def _warn(self, label: Label, ask: _Ask, why: str, with_name: bool = True) -> None:
        named = f"{ask.variable}={ask.raw_name!r}" if with_name else ask.variable
        self.warnings.append(f"{_label(label)}: {named}: {why}")


def container_endpoints(
    label: str, env: Mapping[str, str], bindings: Iterable[PortBinding], host: Host, host_network: bool = False
) -> tuple[list[Endpoint], list[str]]:
    """Endpoints one container asks for, and a warning for each variable that cannot be honoured
    (naming the container and the variable; nothing else is held back). A container on the
    host's network (`--net=host`) has no bindings: its ports are the host's, as ecsd took them."""
    reader = _Reader()
    reader.container(label, env, tuple(bindings), _Place.of(host, reader.checked), host_network)
    return reader.found, reader.warnings


@contextmanager
def _collection_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection inside. Reading a cluster allocates two endpoints a
    task that all live until the pass has built its record sets, and no reference cycle: a
    collection during the read would find nothing to free, yet enough new objects would make
    CPython sweep its whole heap (the snapshot with it) about once a pass in a large cluster,
    costing more than the read. Collection resumes as it was (another thread may have paused it)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def snapshot_endpoints(snap: ClusterSnapshot) -> tuple[list[Endpoint], list[str]]:
    """Every endpoint the cluster's serving tasks ask for. Tasks that are stopping or on a
    DRAINING host publish nothing: their values leave DNS while they still run. Linear in tasks:
    each host is read once, each distinct variable interpreted once."""
    reader = _Reader()
    # The hosts a serving task can be on (ACTIVE), each read once; the loop below is
    # `snap.serving(task)` with the host looked up once, in the one loop a pass makes over tasks.
    places = {i.arn: _Place.of(Host(i.ec2_instance_id, i.public_ip, i.private_ip, i.private_dns_name), reader.checked)
              for i in snap.instances if i.status == "ACTIVE"}
    with _collection_paused():
        for task in snap.tasks:
            place = places.get(task.container_instance_arn or "")
            if (place is None or task.last_status != "RUNNING" or task.desired_status != "RUNNING"
                    or (task.has_health_check and task.health_status != "HEALTHY")):
                continue
            for container in task.containers:
                reader.container((task, container.name), container.environment, container.bindings, place)
    return reader.found, reader.warnings

