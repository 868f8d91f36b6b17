"""Placement-driven scale-out (`scaling: placement`): add exactly the instances the tasks ECS
cannot place need, plus the headroom, choosing the cheapest offer that holds them.

The tasks waiting (and the headroom copies) are first fitted, largest first, into the free room
of the instances in the cluster and of those asked for and still booting; what is left goes onto
new instances. Each offer (an Auto Scaling group's type at its on-demand price, a spot fleet's
bid at its weight and its spot price: the market's, from the EC2 spot price history, capped by
the bid) is priced by packing the leftover tasks onto new instances of its shape alone: the offer
whose instances hold them for the fewest dollars an hour wins. That is the price per unit of
whichever resource binds (a memory-heavy mix fills a c5 by memory and an r5 by CPU; the packing
counts what really fits). A group short of room takes what it can and the
next cheapest offer takes the rest.

A spot fleet is asked for weight, not for a type: which of its bids AWS launches is the fleet's
allocation strategy's choice. The plan assumes the chosen bid; the next pass sees what came (and
what it really registered) and asks again only for what still does not fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .actions import GroupKind
from .capacity import TaskSize
from .packing import Room, first_fit, new_instances


@dataclass(frozen=True)
class Offer:
    """Capacity a group can add: instances of one type, `weight` units of the group's capacity each."""

    group_id: str
    kind: GroupKind
    instance_type: str
    weight: int
    price: float  # $ per instance-hour
    shape: TaskSize  # registered memory and CPU of one instance
    room: int  # capacity units the group may still grow by (its maximum minus its capacity)

    def describe(self) -> str:
        market = "spot" if self.kind == "spot" else "on-demand"
        return f"{self.instance_type} ({market} ${self.price:.4f}/h, {self.group_id})"


@dataclass(frozen=True)
class Launch:
    offer: Offer
    instances: int
    tasks: int  # tasks (waiting or headroom) planned onto them


@dataclass(frozen=True)
class ScaleOut:
    waiting: int  # tasks ECS could not place
    headroom: int  # copies kept free beyond them
    on_free_room: int  # of both, how many fit the free room of running and booting instances
    launches: tuple[Launch, ...]
    unfit: int  # tasks no offer holds (every group at its maximum, or larger than every type)

    @property
    def needed(self) -> bool:
        return bool(self.launches)


def _cost(tasks: Sequence[TaskSize], offer: Offer) -> tuple[float, int, int] | None:
    """(dollars an hour, instances, -tasks held) of holding `tasks` on new instances of the offer."""
    count, left = new_instances(tasks, offer.shape)
    if count == 0:
        return None
    return count * offer.price / (len(tasks) - len(left)), count, -(len(tasks) - len(left))


def plan_scale_out(waiting: Sequence[TaskSize], headroom: Sequence[TaskSize], free: Sequence[Room],
                   offers: Sequence[Offer]) -> ScaleOut:
    """What to launch so that `waiting` and `headroom` all fit (first fit decreasing)."""
    _, left = first_fit([*waiting, *headroom], free)
    on_free = len(waiting) + len(headroom) - len(left)
    room = {o.group_id: o.room for o in offers}
    launches: list[Launch] = []
    while left:
        priced = [(cost, o) for o in offers if room[o.group_id] >= o.weight
                  and (cost := _cost(left, o)) is not None]
        if not priced:
            break
        # The cheapest per task held, then the fewest instances, then a stable order.
        _, best = min(priced, key=lambda p: (p[0], p[1].group_id, p[1].instance_type))
        limit = room[best.group_id] // best.weight
        count, rest = new_instances(left, best.shape, limit)
        room[best.group_id] -= count * best.weight
        launches.append(Launch(best, count, len(left) - len(rest)))
        left = rest
    return ScaleOut(len(waiting), len(headroom), on_free, tuple(launches), len(left))
