"""Sources -> endpoints: ecsd's environment conventions, read from containers.

`SERVICE_FQDN=name`         -> A   name -> the host's public IP
`SERVICE_FQDN_LOCAL=name`   -> A   name -> the host's private IP
`SERVICE_PORT_<port>=name`  -> SRV name -> `1 1 <host port> <host name>`, where <port> is a
                               container port with a host binding (dynamic ports), or else a
                               published host port (ecsd's own reading).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..snapshot import ClusterSnapshot, PortBinding
from .names import name_problem, normalize, srv_value

SRV_PRIORITY = 1
SRV_WEIGHT = 1
_PORT_VAR = re.compile(r"^SERVICE_PORT_(.*)$", re.DOTALL)  # a newline in the name is a bad port, not no port


@dataclass(frozen=True)
class Host:
    """Where a container runs, as DNS needs it."""

    id: str  # EC2 instance id (or the Docker agent's host name)
    public_ip: str | None
    private_ip: str | None
    hostname: str | None


@dataclass(frozen=True)
class Endpoint:
    """One value one container asks to publish under one name."""

    name: str  # normalized, with a trailing dot
    record_type: str  # A or SRV
    value: str
    host: str  # host id, for per-host ownership and messages
    private: bool  # published from a private address (SERVICE_FQDN_LOCAL, SRV)


def container_endpoints(
    label: str, env: Mapping[str, str], bindings: Iterable[PortBinding], host: Host, host_network: bool = False
) -> tuple[list[Endpoint], list[str]]:
    """Endpoints one container asks for, and a warning for each variable that cannot be honoured
    (naming the container and the variable; nothing else is held back). A container on the
    host's network (`--net=host`) has no bindings: its ports are the host's, as ecsd took them."""
    found: list[Endpoint] = []
    warnings: list[str] = []
    binds = tuple(bindings)

    def add(variable: str, raw_name: str, record_type: str, value: str | None, private: bool, missing: str) -> None:
        problem = name_problem(raw_name)
        if problem:
            warnings.append(f"{label}: {variable}={raw_name!r}: {problem}")
        elif value is None:
            warnings.append(f"{label}: {variable}={raw_name!r}: {missing}")
        else:
            found.append(Endpoint(normalize(raw_name), record_type, value, host.id, private))

    for variable, raw in sorted(env.items()):
        if variable == "SERVICE_FQDN":
            add(variable, raw, "A", host.public_ip, False, f"host {host.id} has no public IP")
        elif variable == "SERVICE_FQDN_LOCAL":
            add(variable, raw, "A", host.private_ip, True, f"host {host.id} has no private IP")
        elif match := _PORT_VAR.match(variable):
            port_text = match.group(1)
            # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
            if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
                warnings.append(f"{label}: {variable}: {port_text!r} is not a port number")
                continue
            port = int(port_text)
            host_port = next((b.host_port for b in binds if b.container_port == port), None)
            if host_port is None and (host_network or any(b.host_port == port for b in binds)):
                host_port = port
            if not host.hostname:
                warnings.append(f"{label}: {variable}: host {host.id} has no host name for the SRV target")
                continue
            value = srv_value(SRV_PRIORITY, SRV_WEIGHT, host_port, host.hostname) if host_port else None
            add(variable, raw, "SRV", value, True, f"port {port} is not published (no host binding)")
    return found, warnings


def snapshot_endpoints(snap: ClusterSnapshot) -> tuple[list[Endpoint], list[str]]:
    """Every endpoint the cluster's serving tasks ask for. Tasks that are stopping or on a
    DRAINING host publish nothing: their values leave DNS while they still run."""
    endpoints: list[Endpoint] = []
    warnings: list[str] = []
    for task in snap.tasks:
        if not snap.serving(task):
            continue
        instance = snap.instance(task.container_instance_arn)
        assert instance is not None
        host = Host(instance.ec2_instance_id, instance.public_ip, instance.private_ip, instance.private_dns_name)
        for container in task.containers:
            if not any(k.startswith("SERVICE_") for k in container.environment):
                continue
            label = f"task {task.id} ({task.family}:{task.revision}) container {container.name}"
            found, problems = container_endpoints(label, container.environment, container.bindings, host)
            endpoints += found
            warnings += problems
    return endpoints, warnings
