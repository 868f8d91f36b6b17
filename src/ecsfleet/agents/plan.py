"""Which container instances of a cluster may get an agent update this pass. Pure."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from operator import attrgetter

from ..snapshot import ClusterSnapshot, ContainerInstance

IN_FLIGHT = frozenset({"PENDING", "STAGING", "STAGED", "UPDATING"})


@dataclass(frozen=True)
class Options:
    max_in_flight: int = 1
    include_tags: Mapping[str, str] = field(default_factory=dict)
    exclude_tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    cluster: str
    blocked: tuple[str, ...] = ()  # why the cluster is not updated this pass (a problem)
    in_flight: tuple[str, ...] = ()  # EC2 ids whose update is rolling
    candidates: tuple[ContainerInstance, ...] = ()  # to try, oldest agent first
    slots: int = 0  # how many more updates may start
    unsupported: tuple[tuple[str, str], ...] = ()  # (EC2 id, why): hosts AWS never updates through the API

    @property
    def healthy(self) -> bool:
        return not self.blocked


@functools.lru_cache(maxsize=256)
def version_key(version: str | None) -> tuple[int, ...]:
    """The agent version as numbers, for "oldest first". Cached: a cluster's thousands of hosts run
    a few versions, and parsing each host's was most of a pass (bench/plan_time.py: 5.9 of 10.2 ms
    at 5,000 hosts)."""
    return tuple(int(p) for p in re.findall(r"\d+", version or "")) or (0,)


def unsupported(instance: ContainerInstance) -> str | None:
    """Why AWS refuses UpdateContainerAgent on this host whatever its state, or None. Such a host
    is left out of the roll-out (and reported) rather than tried, refused and retried every pass:
    its agent is updated by replacing the host (Windows) or its ecs-init package (arm64)."""
    if instance.agent_version is None:
        return "its agent reports no version information (MissingVersionException)"
    if instance.attributes.get("ecs.os-type") == "windows":
        return "UpdateContainerAgent does not apply to Windows container instances"
    if instance.attributes.get("ecs.cpu-architecture") == "arm64":
        return "UpdateContainerAgent is not supported on arm64 instances"
    return None


def _tags_match(instance: ContainerInstance, options: Options) -> bool:
    tags = instance.ec2_tags
    if any(tags.get(k) != v for k, v in options.include_tags.items()):
        return False
    return not any(tags.get(k) == v for k, v in options.exclude_tags.items())


def decide(snap: ClusterSnapshot, options: Options) -> Decision:
    """A cluster with a disconnected agent or a FAILED update is not touched (every instance
    counts for that, whatever the filters); otherwise up to `max_in_flight` updates may roll at
    once, counting the ones already PENDING..UPDATING. Hosts AWS never updates through the API
    (`unsupported`) are set apart: they neither block the cluster nor take a slot."""
    disconnected = sorted(i.ec2_instance_id for i in snap.instances if not i.agent_connected)
    failed = sorted(i.ec2_instance_id for i in snap.instances if i.agent_update_status == "FAILED")
    blocked = []
    if disconnected:
        blocked.append(f"agent disconnected on {', '.join(disconnected)}")
    if failed:
        blocked.append(f"last agent update FAILED on {', '.join(failed)}")
    if blocked:
        return Decision(snap.cluster, blocked=tuple(blocked))
    in_flight = tuple(sorted(i.ec2_instance_id for i in snap.instances if i.agent_update_status in IN_FLIGHT))
    supported: list[ContainerInstance] = []
    refused: list[tuple[str, str]] = []
    for i in snap.instances:
        if i.status == "ACTIVE" and i.agent_update_status not in IN_FLIGHT and _tags_match(i, options):
            why = unsupported(i)  # each instance judged once
            if why is None:
                supported.append(i)
            else:
                refused.append((i.ec2_instance_id, why))
    # Oldest agent first, then by instance id: two stable sorts on keys the hosts already hold (a
    # version's key is cached), where one on a (version, id) pair would make a tuple a host.
    supported.sort(key=attrgetter("ec2_instance_id"))
    supported.sort(key=lambda i: version_key(i.agent_version))
    candidates = tuple(supported)
    return Decision(snap.cluster, in_flight=in_flight, candidates=candidates,
                    slots=max(0, options.max_in_flight - len(in_flight)), unsupported=tuple(sorted(refused)))
