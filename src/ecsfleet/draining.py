"""How long a stopping task keeps serving, against how long DNS caches its address.

ECS announces a stop (desiredStatus STOPPED) and then gives the containers `stopTimeout`
seconds after SIGTERM. dns-sync removes the task's values at that first moment, but resolvers
may keep answering the old values for the record's TTL: a service should keep serving, after
SIGTERM, at least that long (`--min-drain`, by default the TTL)."""

from __future__ import annotations

from .snapshot import ClusterSnapshot

DNS_VARIABLES = ("SERVICE_FQDN", "SERVICE_FQDN_LOCAL", "SERVICE_PORT_")


def short_stop_timeouts(snap: ClusterSnapshot, min_drain: float) -> list[str]:
    """One warning per service (or task group) that publishes DNS names but whose stopTimeout is
    shorter than `min_drain` seconds."""
    found: dict[str, float] = {}
    for task in snap.tasks:
        publishes = any(key.startswith(DNS_VARIABLES) for c in task.containers for key in c.environment)
        if publishes and task.stop_timeout < min_drain:
            found[task.service or task.group] = task.stop_timeout
    return [
        f"{group}: stopTimeout {timeout:g}s is shorter than the DNS lead time {min_drain:g}s (the records' TTL): "
        f"resolvers may still send clients after it stops; set the containers' stopTimeout to at least "
        f"{min_drain:g}s and keep serving until then after SIGTERM"
        for group, timeout in sorted(found.items())
    ]
