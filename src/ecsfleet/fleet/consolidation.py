"""Consolidation (`scaling: placement`): drain instances whose tasks fit on the others, not only
empty ones, choosing what saves most for the least disruption, and never what ECS could not move
without going below a service's minimum healthy tasks.

The rule, for a set of instances drained at once:
- moved as ECS moves them: the set's service tasks are placed, largest first, by best fit on
  memory (ECS's binpack) into the free room of the instances that stay; every one must fit;
- room kept: in what is left, the reserve (tasks still waiting, the headroom copies and the room
  the anti-flap rule keeps for the load's recent peak and rise, see scaling.py) must fit by first fit;
- minimum healthy: per service, the tasks on instances draining at once (those already draining
  and the set) are at most what ECS may have in flight, ⌊desired x maximumPercent / 100⌋ -
  ⌈desired x minimumHealthyPercent / 100⌉; and when the set holds every task a service runs on
  the instances that stay in service, it holds them on one instance only (never two instances of a
  service's last tasks at once).

Candidates are tried dearest first (what saves most), and among instances of one price those with
the fewest service tasks first (what disrupts least; an empty one before all); a free one, such as
a reserved instance priced 0, comes last. They are taken greedily while the set passes and fewer
than `limit` drain: the largest set the order allows. Dearest first also finishes a replacement
(replacement.py): the cheap instance launched for a dear one's tasks joins empty, and must not be
the one that goes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .capacity import TaskSize
from .packing import Room, best_fit, first_fit


@dataclass(frozen=True)
class Host:
    """An ACTIVE instance of an active fleet: its free room, its service tasks, what it costs."""

    ec2_id: str
    instance_type: str
    price: float  # $ an hour (0 when unknown: never preferred)
    free: Room
    tasks: tuple[tuple[str, TaskSize], ...]  # (service, size) of each service task on it
    removable: bool = True  # it may go (no standalone task on it, its group above its minimum)
    group: str = ""
    weight: int = 1  # of its group's capacity

    @property
    def order(self) -> tuple[float, int, str]:
        """Consolidation's order: dearest first, then fewest service tasks."""
        return -self.price, len(self.tasks), self.ec2_id


@dataclass(frozen=True)
class Budget:
    """A service's tasks and deployment limits, as DescribeServices answers them."""

    desired: int
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200

    @property
    def in_flight(self) -> int:
        """Tasks ECS may have moving at once while keeping the minimum healthy."""
        return max(0, math.floor(self.desired * self.maximum_percent / 100)
                   - math.ceil(self.desired * self.minimum_healthy_percent / 100))


@dataclass(frozen=True)
class Choice:
    host: Host
    moved: int  # service tasks ECS moves off it
    saving: float  # $ an hour


@dataclass
class Consolidation:
    chosen: list[Choice] = field(default_factory=list)
    kept: list[tuple[Host, str]] = field(default_factory=list)  # candidates not taken, and why

    @property
    def saving(self) -> float:
        return sum(c.saving for c in self.chosen)


def _services(hosts: Sequence[Host]) -> dict[str, list[str]]:
    """Service -> the ec2 id of each of its tasks on these hosts."""
    found: dict[str, list[str]] = {}
    for host in hosts:
        for service, _ in host.tasks:
            found.setdefault(service, []).append(host.ec2_id)
    return found


def _unsafe(drained: Sequence[Host], staying: Sequence[Host], already: Mapping[str, int],
            budgets: Mapping[str, Budget]) -> str | None:
    moving = _services(drained)
    left = _services(staying)
    for service, where in sorted(moving.items()):
        budget = budgets.get(service)
        if budget is not None and len(where) + already.get(service, 0) > budget.in_flight:
            return (f"{service} would have {len(where) + already.get(service, 0)} task(s) moving at once, more than "
                    f"the {budget.in_flight} its minimumHealthyPercent {budget.minimum_healthy_percent} and "
                    f"maximumPercent {budget.maximum_percent} allow")
        if service not in left and len(set(where)) > 1:
            return f"{service}'s last tasks are on {len(set(where))} of these instances: one at a time"
    return None


def _fits(drained: Sequence[Host], staying: Sequence[Host], reserve: Sequence[TaskSize]) -> str | None:
    moved = [size for host in drained for _, size in host.tasks]
    rooms, unplaced = best_fit(moved, [h.free for h in staying])
    if unplaced:
        return f"{len(unplaced)} of its {len(moved)} task(s) fit on no other instance"
    _, short = first_fit(reserve, rooms)
    if short:
        return f"its tasks fit elsewhere, but then {len(short)} of the {len(reserve)} reserved task(s) would not"
    return None


def consolidate(hosts: Sequence[Host], reserve: Sequence[TaskSize], budgets: Mapping[str, Budget],
                already: Mapping[str, int], limit: int, spare: Mapping[str, int] | None = None) -> Consolidation:
    """The instances to drain now. `hosts`: every ACTIVE instance the moved tasks may go to (the
    candidates among them are `removable`); `reserve`: tasks that must still fit afterwards;
    `already`: per service, its tasks on instances draining now; `spare`: per group, the capacity
    it may still lose and stay at its minimum (None: no bound)."""
    result = Consolidation()
    left = dict(spare) if spare is not None else None
    candidates = sorted((h for h in hosts if h.removable), key=lambda h: h.order)
    for host in candidates:
        if len(result.chosen) >= limit:
            break
        if left is not None and left.get(host.group, 0) < host.weight:
            result.kept.append((host, f"its group {host.group} is at its minimum once the others drained go"))
            continue
        drained = [c.host for c in result.chosen] + [host]
        ids = {h.ec2_id for h in drained}
        staying = [h for h in hosts if h.ec2_id not in ids]
        why = _unsafe(drained, staying, already, budgets) or _fits(drained, staying, reserve)
        if why is None:
            result.chosen.append(Choice(host, len(host.tasks), host.price))
            if left is not None:
                left[host.group] -= host.weight
        else:
            result.kept.append((host, why))
    return result
