"""Sources -> endpoints: ecsd's environment conventions, read from containers.

`SERVICE_FQDN=name`         -> A   name -> the host's public IP
`SERVICE_FQDN_LOCAL=name`   -> A   name -> the host's private IP
`SERVICE_PORT_<port>=name`  -> SRV name -> `1 1 <host port> <host name>`, where <port> is a
                               container port with a host binding (dynamic ports), or else a
                               published host port (ecsd's own reading).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..collection import collection_paused
from ..snapshot import ClusterSnapshot, PortBinding, Task, serves
from .names import Checked, Memo, normalize, srv_text

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


# One kind of record set a container can ask for: (name, record type, whether its values are
# private addresses). A name's public and private values are kept apart: a split-horizon pair
# of zones places them in different zones.
Wanted = tuple[str, str, bool]
# The values of one kind, as the keys of a dict (each None), in the order first met. A dict, not
# a set: CPython's collector never tracks a dict of strings, so it never walks a cluster's values,
# where it walks every element of a set at each collection while the set lives.
Values = dict[str, None]
# Which of its host's addresses an A value is (`_Ask.how`): compared by identity.
_PUBLIC = "public"
_PRIVATE = "private"


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
    # Read once here rather than once a container:
    private: bool = field(init=False)  # address == "private"
    srv: bool = field(init=False)  # record_type == "SRV"
    wanted: Wanted = field(init=False)
    # Nothing in the variable itself stops it being published (a valid name and, for SRV, a
    # port): only the container's host and bindings can.
    sound: bool = field(init=False)
    # What its value takes of the container and host (`_Reader.gather`): _PUBLIC or _PRIVATE (an
    # A value: that address of the host), the container port whose host port an SRV value names,
    # or None when it publishes nothing wherever it runs.
    how: str | int | None = field(init=False)

    def __post_init__(self) -> None:
        srv = self.record_type == "SRV"
        private = self.address == "private"
        object.__setattr__(self, "private", private)
        object.__setattr__(self, "srv", srv)
        object.__setattr__(self, "wanted", (self.name, self.record_type, private))
        sound = self.name_problem is None and (self.port is not None or not srv)
        object.__setattr__(self, "sound", sound)
        object.__setattr__(self, "how", None if not sound else self.port if srv else _PRIVATE if private else _PUBLIC)


# One variable of an environment (`_Reader._asks_of`): the ask, the values it adds to, and its
# `how`, unpacked with them in the loop over a cluster's containers.
_Source = tuple[_Ask, Values, str | int | None]


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


@dataclass(slots=True)
class _Place:
    """A host as its containers' values need it, read once per host rather than once per
    container: its id, addresses, and SRV target normalized. Not frozen: a frozen dataclass sets
    each field through `object.__setattr__`, and a pass makes one for each new host (0.8 -> 0.3
    ms at 1,000 hosts, with `normalize` called straight: each host's name is its own, so a memo
    of them only costs). `srv` is the SRV texts made for it, by host port (`Places`)."""

    id: str
    public_ip: str | None
    private_ip: str | None
    hostname: str | None
    srv_target: str | None
    srv: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, host_id: str, public_ip: str | None, private_ip: str | None, hostname: str | None) -> _Place:
        return cls(host_id, public_ip, private_ip, hostname, normalize(hostname) if hostname else None)


# A host's SRV texts are kept while it runs no more than this many ports beyond four a task it
# runs: a host whose tasks come and go on new host ports would otherwise keep one for every port
# it ever served (up to the 28,232 of the ephemeral range).
_SRV_TEXTS_SPARE = 64
_SRV_TEXTS_A_TASK = 4


class Places:
    """The ACTIVE hosts of a pass by ARN (tasks on a DRAINING host publish nothing), kept from one
    pass to the next by a controller: a host that is still there with the same addresses and name
    is the same `_Place`, with the SRV texts made for its host ports, so that a pass over a cluster
    whose tasks have not moved formats no SRV value. A task keeps its host port for its life, and a
    pass made that string for every task (`"1 1 <port> <target>"`: a seventh of the instructions
    of a converged pass of 10,000 tasks, bench/plan_time.py). What is kept is bounded by the last snapshot: the
    hosts it holds, and for each a few texts a task it runs."""

    def __init__(self) -> None:
        self._kept: dict[str, _Place] = {}

    def of(self, snap: ClusterSnapshot) -> dict[str, _Place]:
        kept: dict[str, _Place] = {}
        last = self._kept
        for i in snap.instances:
            if i.status != "ACTIVE":
                continue
            place = last.get(i.arn)
            if place is None or (place.id, place.public_ip, place.private_ip, place.hostname) != (
                    i.ec2_instance_id, i.public_ip, i.private_ip, i.private_dns_name):
                place = _Place.of(i.ec2_instance_id, i.public_ip, i.private_ip, i.private_dns_name)
            elif len(place.srv) > _SRV_TEXTS_SPARE + _SRV_TEXTS_A_TASK * (i.running_tasks + i.pending_tasks):
                place.srv.clear()
            kept[i.arn] = place
        self._kept = kept
        return kept


def _host_port(port: int | None, binds: tuple[PortBinding, ...], host_network: bool) -> int | None:
    """The host port an SRV value of container port `port` names (None or 0: none)."""
    for binding in binds:
        if binding.container_port == port:
            return binding.host_port
    # No binding maps it: a port of the host's network, or a published host port (ecsd's reading).
    return port if host_network or any(b.host_port == port for b in binds) else None


def _value(ask: _Ask, binds: tuple[PortBinding, ...], place: _Place, host_network: bool) -> str | None:
    """The value `ask` publishes for a container with these bindings on this host, or None when
    it publishes none (`_Reader._refuse` says why)."""
    if not ask.sound:
        return None
    if not ask.srv:
        return place.private_ip if ask.private else place.public_ip
    host_port = _host_port(ask.port, binds, host_network)
    target = place.srv_target
    return srv_text(SRV_PRIORITY, SRV_WEIGHT, host_port, target) if host_port and target is not None else None


def _label(label: str | Task, container: str | None) -> str:
    if isinstance(label, str):
        return label
    return f"task {label.id} ({label.family}:{label.revision}) container {container}"


class _Reader:
    """Reads containers' variables, interpreting each distinct (variable, value) once, so that a
    container costs a lookup per variable and the building of its values. One reader a pass."""

    def __init__(self) -> None:
        self.checked = Checked()
        self.found: list[Endpoint] = []  # `container`'s endpoints, in order
        self.warnings: list[str] = []
        checked = self.checked  # not self: a cycle would keep the pass's endpoints alive until a full collection
        self._asks: Memo[tuple[str, str], _Ask | None] = Memo(lambda item: _ask(*item, checked))
        self.values: dict[Wanted, Values] = {}  # `gather`'s, by kind (empty where no container got one)
        # What each environment mapping asks for (`_Source`s), by identity:
        # tasks of one task definition without overrides share their definition's mapping
        # (snapshot.merged_environment), so a cluster's containers are interpreted once per
        # definition. The mapping is kept with its answer, so that its id cannot be reused by
        # another mapping during the pass.
        self._by_env: dict[int, tuple[Mapping[str, str], tuple[_Source, ...]]] = {}

    def _asks_of(self, env: Mapping[str, str]) -> tuple[_Source, ...]:
        known = self._by_env.get(id(env))
        if known is not None and known[0] is env:
            return known[1]
        asks = tuple((ask, self.values.setdefault(ask.wanted, {}), ask.how)
                     for item in sorted(item for item in env.items() if item[0].startswith("SERVICE_"))
                     if (ask := self._asks[item]) is not None)
        self._by_env[id(env)] = (env, asks)
        return asks

    def container(self, env: Mapping[str, str], binds: tuple[PortBinding, ...], place: _Place,
                  label: str | Task, container: str | None = None, host_network: bool = False) -> None:
        """One container's endpoints, in order. `label` names it in warnings: the text, or the
        task whose container `container` is (written only when there is something to warn about)."""
        for ask, _, _ in self._asks_of(env):
            value = _value(ask, binds, place, host_network)
            if value is None:
                self._refuse(_label(label, container), ask, place)
            else:
                # tuple.__new__: the named tuple's own __new__ is a Python function, a call a value
                self.found.append(tuple.__new__(Endpoint, (ask.name, ask.record_type, value, place.id, ask.private)))

    def gather(self, tasks: Iterable[Task], places: Mapping[str, _Place]) -> None:
        """The values of every container of the tasks that publish (`snapshot.serves`, on a host
        of `places`), each added to those of its kind of record set, where `container` makes an
        endpoint (a tuple the collector tracks) of each. Written out in one loop, with `serves`
        and `_value` inlined, and what each variable takes of a host read once for each
        environment mapping (`_Ask.how`). tests/test_dns_values.py holds these values to those
        of `snapshot_endpoints`, which calls `_value`."""
        by_env = self._by_env
        # Formatted once a pass rather than once a value. Not kept by host port: with dynamic
        # host ports nearly every task has its own, and a memo of them cost more than it saved
        # (bench/plan_time.py's dynamic-ports case).
        head = f"{SRV_PRIORITY} {SRV_WEIGHT} "
        for task in tasks:
            place = places.get(task.container_instance_arn or "")
            if place is None or not (task.last_status == "RUNNING" and task.desired_status == "RUNNING" and (
                    not task.has_health_check or task.health_status == "HEALTHY")):
                continue
            target = place.srv_target
            for container in task.containers:
                env = container.environment
                known = by_env.get(id(env))
                for ask, values, how in known[1] if known is not None and known[0] is env else self._asks_of(env):
                    if how is _PRIVATE:
                        value = place.private_ip
                    elif how is _PUBLIC:
                        value = place.public_ip
                    elif how is None or target is None:
                        value = None
                    else:
                        binds = container.bindings
                        for binding in binds:
                            if binding.container_port == how:
                                host_port: int | None = binding.host_port
                                break
                        else:
                            host_port = _host_port(ask.port, binds, False)
                        if host_port:
                            value = place.srv.get(host_port)
                            if value is None:
                                value = place.srv[host_port] = f"{head}{host_port} {target}"
                        else:
                            value = None
                    if value is None:
                        self._refuse(_label(task, container.name), ask, place)
                    else:
                        values[value] = None

    def _refuse(self, label: str, ask: _Ask, place: _Place) -> None:
        """The warning for a variable that gives a container no value: the first reason met."""
        if ask.srv and ask.port is None:
            self._warn(label, ask, f"{ask.variable[len(_PORT_PREFIX):]!r} is not a port number", False)
        elif ask.srv and place.srv_target is None:
            self._warn(label, ask, f"host {place.id} has no host name for the SRV target", False)
        elif ask.name_problem:
            self._warn(label, ask, ask.name_problem)
        elif ask.srv:
            self._warn(label, ask, f"port {ask.port} is not published (no host binding)")
        else:
            self._warn(label, ask, f"host {place.id} has no {ask.address} IP")

    def _warn(self, label: str, ask: _Ask, why: str, with_name: bool = True) -> None:
        named = f"{ask.variable}={ask.raw_name!r}" if with_name else ask.variable
        self.warnings.append(f"{label}: {named}: {why}")


def container_endpoints(
    label: str, env: Mapping[str, str], bindings: Iterable[PortBinding], host: Host, host_network: bool = False
) -> tuple[list[Endpoint], list[str]]:
    """Endpoints one container asks for, and a warning for each variable that cannot be honoured
    (naming the container and the variable; nothing else is held back). A container on the
    host's network (`--net=host`) has no bindings: its ports are the host's, as ecsd took them."""
    reader = _Reader()
    place = _Place.of(host.id, host.public_ip, host.private_ip, host.hostname)
    reader.container(env, tuple(bindings), place, label, host_network=host_network)
    return reader.found, reader.warnings


def _serving(snap: ClusterSnapshot) -> Iterator[tuple[Task, _Place]]:
    """The tasks that publish (`snapshot.serves`: a stopping task's values leave DNS while it
    still runs), each with its host."""
    places = Places().of(snap)
    for task in snap.tasks:
        if serves(task, snap.instance(task.container_instance_arn)):
            yield task, places[task.container_instance_arn or ""]


def snapshot_endpoints(snap: ClusterSnapshot) -> tuple[list[Endpoint], list[str]]:
    """Every endpoint the cluster's serving tasks ask for, container by container. Linear in
    tasks: each host is read once, each distinct variable interpreted once."""
    reader = _Reader()
    with collection_paused():
        for task, place in _serving(snap):
            for container in task.containers:
                reader.container(container.environment, container.bindings, place, task, container.name)
    return reader.found, reader.warnings


def snapshot_values(snap: ClusterSnapshot, places: Places | None = None) -> tuple[dict[Wanted, Values], list[str]]:
    """What the cluster's serving tasks ask to publish, as record sets hold it: the distinct
    values of each (name, record type, kind of address); and the warnings `snapshot_endpoints`
    gives. The same values as its endpoints', without building
    an endpoint (a tuple) for each container and name only to group them again: a value costs a
    dict insertion, and a pass no object a task that the collector would walk. `places`: what
    the last pass kept of the hosts (a controller's), else nothing."""
    reader = _Reader()
    with collection_paused():
        reader.gather(snap.tasks, (Places() if places is None else places).of(snap))
    return {wanted: values for wanted, values in reader.values.items() if values}, reader.warnings
