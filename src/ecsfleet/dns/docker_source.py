"""The Docker source: one agent per host reads its containers from the local Docker engine and
publishes their endpoints, reacting to Docker events and resyncing from the full container list.

Docker's `events --since` replays only the last 256 events, so a restarted agent trusts the
container list, never replayed events. Events only say "look again" (and `kill` says a
container is stopping: its endpoints leave DNS at once, while it still runs)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..aws import Clients
from ..errors import UserError
from ..runner import PassReport
from ..snapshot import PortBinding
from .controller import require_owner
from .endpoints import Endpoint, Host, container_endpoints
from .filters import NameRules, screen
from .plan import per_host_records, plan, srv_ttl_for
from .route53 import apply, read_managed

log = logging.getLogger(__name__)
WATCHED = ("start", "die", "stop", "kill", "destroy", "pause", "unpause")
# Signals a container is sent to reload or report (`docker kill -s HUP`), not to stop: a kill
# event with one of these does not make it leave.
NOT_STOPPING = frozenset({"1", "10", "12", "28", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH",
                          "HUP", "USR1", "USR2", "WINCH"})


@dataclass(frozen=True)
class DockerContainer:
    id: str
    name: str
    environment: Mapping[str, str]
    bindings: tuple[PortBinding, ...]
    host_network: bool = False  # `--net=host`: its ports are the host's, with no bindings to read


def parse_container(attrs: Mapping[str, Any]) -> DockerContainer:
    """From `docker inspect`: env, and published ports (each listed for IPv4 and IPv6: deduped)."""
    env = {}
    for item in (attrs.get("Config") or {}).get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    bindings: dict[PortBinding, None] = {}
    for spec, published in ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).items():
        port_text, _, protocol = spec.partition("/")
        for binding in published or []:
            if binding.get("HostPort"):
                bindings[PortBinding(int(port_text), int(binding["HostPort"]), protocol or "tcp")] = None
    host_network = (attrs.get("HostConfig") or {}).get("NetworkMode") == "host"
    return DockerContainer(attrs["Id"], str(attrs.get("Name", "")).lstrip("/"), env, tuple(bindings), host_network)


def host_from_metadata(host_id: str | None, public_ip: str | None, private_ip: str | None,
                       hostname: str | None) -> Host:
    """The host's identity: flags first, then EC2 instance metadata for what is missing."""
    from .. import metadata

    def lookup(path: str, optional: bool = False) -> str | None:
        try:
            return metadata.fetch(path, optional=optional)
        except UserError:
            if optional:
                return None
            raise

    if host_id and private_ip and hostname:
        return Host(host_id, public_ip, private_ip, hostname)
    return Host(
        host_id or str(lookup("instance-id")),
        public_ip or lookup("public-ipv4", optional=True),
        private_ip or lookup("local-ipv4"),
        hostname or lookup("local-hostname"),
    )


@dataclass
class DockerDnsSync:
    """dns-sync's per-host agent."""

    clients: Clients
    docker: Any  # docker.DockerClient
    host: Host
    owner: str
    zone_ids: Sequence[str] = ()
    policy: str = "sync"
    ttl: int = 10
    adopt_ecsd: bool = False
    srv_ttl: int | None = None  # default: ecsd's 0 when adopting, else `ttl`
    names: NameRules = field(default_factory=NameRules)
    capability: str = "dns-sync"
    wake: threading.Event = field(default_factory=threading.Event)
    leaving: set[str] = field(default_factory=set)
    watching: threading.Event = field(default_factory=threading.Event)  # set once the events stream is open
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        require_owner(self.owner)

    def containers(self) -> list[DockerContainer]:
        found = []
        for container in self.docker.containers.list():  # running ones, each inspected
            parsed = parse_container(container.attrs)
            with self._lock:
                if parsed.id in self.leaving:
                    continue
            found.append(parsed)
        with self._lock:  # forget stops of containers that are gone
            self.leaving &= {c.id for c in self.docker.containers.list(all=True, sparse=True)}
        return found

    def endpoints(self) -> tuple[list[Endpoint], list[str]]:
        endpoints: list[Endpoint] = []
        warnings: list[str] = []
        for container in self.containers():
            if not any(k.startswith("SERVICE_") for k in container.environment):
                continue
            found, problems = container_endpoints(f"container {container.name}", container.environment,
                                                  container.bindings, self.host, container.host_network)
            endpoints += found
            warnings += problems
        return endpoints, warnings

    def reconcile(self, dry_run: bool) -> PassReport:
        endpoints, source_warnings = self.endpoints()
        route53 = self.clients("route53")
        zones, existing = read_managed(route53, self.zone_ids, self.names)
        endpoints, refused = screen(endpoints, zones, self.names)
        desired, placement_warnings = per_host_records(endpoints, zones, self.ttl, existing,
                                                       srv_ttl_for(self.ttl, self.srv_ttl, self.adopt_ecsd))
        host = self.host
        mine = (a for a in (host.public_ip, host.private_ip, host.hostname) if a)  # ecsd's left-overs here are ours
        result = plan(desired, existing, self.owner, self.policy, adopt=self.adopt_ecsd, ecsd_hosts=mine)
        return PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(f"{change.describe()} (zone {zone})" for zone, change in result.changes),
            outcomes=() if dry_run else tuple(apply(route53, result)),
            warnings=tuple(source_warnings) + tuple(refused) + tuple(placement_warnings) + result.warnings,
        )

    # ---- events --------------------------------------------------------------------------

    def watch(self) -> DockerDnsSync:
        threading.Thread(target=self._watch_forever, name="docker-events", daemon=True).start()
        return self

    def stop_watching(self) -> None:
        self._stop.set()

    def on_event(self, event: Mapping[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        container_id = str(event.get("id") or (event.get("Actor") or {}).get("ID") or "")
        if action.split(":", maxsplit=1)[0] not in WATCHED:
            return
        with self._lock:
            signal = str(((event.get("Actor") or {}).get("Attributes") or {}).get("signal", "")).upper()
            if action.startswith("kill") and signal not in NOT_STOPPING:
                self.leaving.add(container_id)
            elif action == "start":  # restarted (a restart policy): it serves again
                self.leaving.discard(container_id)
        self.wake.set()

    def _watch_forever(self) -> None:
        while not self._stop.is_set():
            try:
                stream = self.docker.events(decode=True, filters={"type": "container"})
                # A container that started before the stream opened sent its event to nobody: look again.
                self.watching.set()
                self.wake.set()
                for event in stream:
                    self.on_event(event)
                    if self._stop.is_set():
                        return
            except Exception as error:  # the engine restarted or the socket went away: resync, retry
                log.warning("Docker events stream ended (%s); retrying", error)
                self.wake.set()
                self._stop.wait(2)
