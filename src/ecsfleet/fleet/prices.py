"""What an instance costs and holds, for choosing the cheapest capacity that fits.

On-demand prices: US East (N. Virginia), Linux, $/hour, from the EC2 on-demand pricing page
(https://aws.amazon.com/ec2/pricing/on-demand/, read 2026-11). Other regions differ by a few
per cent and mostly in proportion, which keeps the order of the types; a user who pays another
price (another region, reserved instances, a savings plan) writes it in infra.yml
(`ec2_instances.scaling.on_demand_prices`, 0 for capacity already paid for).

Spot prices: what a launch would pay now, from the EC2 spot price history (read once a pass by
the placement scaler, fleet/observe.py): per instance type, over the fleet's availability zones,
the cheapest zone's price for the lowest-price allocation strategies (lowestPrice,
priceCapacityOptimized), the mean of the zones for diversified, which spreads over them all, and
for capacityOptimized, which chooses by spare capacity whatever the price. Zones priced above the
bid are left out (AWS launches nothing there), and the price is never above the bid. Without a
price read (a failed call, a type AWS does not price), the bid (`bids[].price`) stands in: an
upper bound of what AWS charges.

Sizes: vCPUs and memory as EC2 describes each type (DescribeInstanceTypes, read by
observe.read_instance_sizes), so that any type AWS offers can be chosen, old (m3, t2) or new. An
instance registers all its CPU (1,024 units a vCPU) and a little less memory than it has (the
operating system's and the agent's share); until an instance of a type has joined the cluster and
told its registered memory, ecsfleet assumes 10% (at least 128 MiB) less, so a first launch of a
type errs on the side of one instance too many, never too few.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .capacity import TaskSize

ON_DEMAND_USD_PER_HOUR: Mapping[str, float] = {
    "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664,
    "t3.2xlarge": 0.3328, "t3a.medium": 0.0376, "t3a.large": 0.0752, "t4g.medium": 0.0336, "t4g.large": 0.0672,
    "m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "m5.4xlarge": 0.768,
    "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6g.large": 0.077, "m6g.xlarge": 0.154,
    "c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c6i.large": 0.085, "c6i.xlarge": 0.17,
    "c6g.large": 0.068, "c6g.xlarge": 0.136,
    "r5.large": 0.126, "r5.xlarge": 0.252, "r5.2xlarge": 0.504, "r6i.large": 0.126, "r6i.xlarge": 0.252,
}

def on_demand_price(instance_type: str, overrides: Mapping[str, float]) -> float | None:
    """$/hour of an on-demand instance: infra.yml's price, else the table's, else unknown."""
    if instance_type in overrides:
        return overrides[instance_type]
    return ON_DEMAND_USD_PER_HOUR.get(instance_type)


def estimated_size(vcpus: int, memory_mib: int) -> TaskSize:
    """What an instance of `vcpus` and `memory_mib` (EC2's description of its type) registers, at
    most: all its CPU, and 10% (at least 128 MiB) less memory than it has."""
    return TaskSize(memory_mib - max(128, math.ceil(memory_mib * 0.10)), vcpus * 1024)


def shape(instance_type: str, observed: Mapping[str, TaskSize], described: Mapping[str, TaskSize]) -> TaskSize | None:
    """What one instance of the type registers (memory MiB, CPU units): what a running one told,
    else the estimate from EC2's description of the type, else unknown."""
    return observed.get(instance_type) or described.get(instance_type)


@dataclass(frozen=True)
class PoolPrice:
    """The spot price of one pool (an instance type in an availability zone) now, $/hour."""

    instance_type: str
    zone: str
    price: float


def launch_prices(pools: Iterable[PoolPrice], lowest_price: Mapping[str, bool],
                  bids: Mapping[str, float]) -> dict[str, float]:
    """Per instance type, what a launch would pay under its fleet's allocation strategy: among
    its pools priced within the bid, the cheapest (`lowest_price[type]`) or their mean
    (diversified spreads over them all); the bid when every pool is above it. Types without a
    bid or without a priced pool are left out (`spot_price` then takes the bid)."""
    by_type: dict[str, list[float]] = {}
    for pool in pools:
        if pool.instance_type in bids:
            by_type.setdefault(pool.instance_type, []).append(pool.price)
    found: dict[str, float] = {}
    for instance_type, prices in by_type.items():
        bid = bids[instance_type]
        within = [p for p in prices if p <= bid]
        if not within:
            found[instance_type] = bid
        else:
            found[instance_type] = min(within) if lowest_price.get(instance_type) else sum(within) / len(within)
    return found


def spot_price(instance_type: str, bid: float, market: Mapping[str, float]) -> float:
    """$/hour an instance of a spot bid costs: the market's price for the type (`FleetWorld.
    spot_prices`) capped by the bid, as AWS never charges above it; the bid when the market is
    unknown."""
    price = market.get(instance_type)
    return bid if price is None else min(price, bid)
