"""Replacement (`scaling: placement`): an instance that costs more than a cheaper offer would
charge for the same tasks is replaced the way Karpenter replaces a node: the cheaper capacity is
launched first; once it has joined, consolidation (which tries the dearest instances first) finds
the dear instance's tasks fit on it, drains the dear one and removes it. No task moves before its
new place is running, and a replacement that the load overtakes in the meantime has simply added
capacity the load needed.

Typical cases: on-demand instances launched while spot capacity was short, or a large type that a
cheaper one (a smaller type, another family, the spot market) now holds the tasks of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .consolidation import Host
from .packing import best_fit, new_instances
from .placement import Offer

# A replacement saves at least this share of the instance's price an hour. Both instances run
# (and are billed) from the launch until the drain is over, a boot and a drain; a quarter of the
# dear price saved pays for that overlap in less than an hour, and keeps rounding in the prices
# (a spot price moving by a few per cent) from replacing instances back and forth.
MIN_SAVING = 0.25


@dataclass(frozen=True)
class Replacement:
    host: Host
    offer: Offer
    instances: int  # of the offer, holding every service task of the host
    saving: float  # $ an hour once the host is removed

    def describe(self) -> str:
        return (f"replace {self.host.ec2_id} ({self.host.instance_type}, ${self.host.price:.4f}/h, "
                f"{len(self.host.tasks)} service task(s)) by {self.instances} {self.offer.describe()}: "
                f"saves ${self.saving:.4f}/h once it is drained")


def plan_replacement(hosts: Sequence[Host], offers: Sequence[Offer]) -> Replacement | None:
    """The replacement that saves most, if any: a removable instance with service tasks that do not
    fit on the other instances, and an offer with room whose new instances hold all of them for at
    most (1 - MIN_SAVING) of its price."""
    found: list[Replacement] = []
    for host in hosts:
        if not host.removable or not host.tasks or host.price <= 0:
            continue
        sizes = [size for _, size in host.tasks]
        if not best_fit(sizes, [h.free for h in hosts if h is not host])[1]:
            # Its tasks fit on the others already: consolidation's to drain it, and it did not for
            # a reason of its own (the room kept, a service's minimum healthy). A launch would add
            # room nobody needs, and the next pass would launch again.
            continue
        for offer in offers:
            if (offer.group_id, offer.instance_type) == (host.group, host.instance_type) or offer.room < offer.weight:
                continue
            count, left = new_instances(sizes, offer.shape, offer.room // offer.weight)
            saving = host.price - count * offer.price
            if left or count == 0 or saving < MIN_SAVING * host.price:
                continue
            found.append(Replacement(host, offer, count, saving))
    return max(found, key=lambda r: (r.saving, -r.instances, r.host.ec2_id, r.offer.instance_type), default=None)
