"""The sandbox's spot market: a current spot price per (instance type, availability zone), the
record of its changes on the sandbox clock, and which pools a spot fleet launches from under its
allocation strategy.

Prices: until set, a pool's price is DEFAULT_SHARE (35%, about what spot instances of current
general-purpose types cost against on-demand in US East) of the on-demand price in ecsfleet's
table (`fleet/prices.py`), times a small fixed factor per zone (ZONE_FACTORS, by the zone's
letter) so that zones differ, rounded to $0.0001; it takes effect when the market is first read.
A type outside that table has no price until one is set. `Sandbox.set_spot_price` changes a
price at the sandbox clock's time (every zone of the region when no zone is named). Prices are
Linux/UNIX prices: other products (Windows, SUSE, ...) hold none in the sandbox.

DescribeSpotPriceHistory answers from that record as AWS does: per pool the changes between
StartTime and EndTime (default: now), plus the last change before StartTime (the price in
effect at StartTime), newest first. moto answered one made-up price ($0.00001 dated 2006) per
type and zone.

Spot fleets choose pools as AWS documents the allocation strategies
(https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-fleet-allocation-strategy.html), among
the pools whose current price is not above the pool's bid (the override's SpotPrice, else the
fleet's; no bid: any price):
- lowestPrice, priceCapacityOptimized: the pool with the lowest price per unit of weight.
  capacityOptimized and capacityOptimizedPrioritized pick by capacity on AWS, which the sandbox
  does not model (capacity never runs out): they behave as priceCapacityOptimized.
- diversified: each instance goes to the pool running the fewest of the fleet's instances, then
  of its type, then in its zone, so a fleet spreads across its types and zones, continuing the
  spread on every raise (moto restarted at the first override each time).
moto chose by the bid alone, and for lowestPrice counted the weight it added wrongly.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..fleet.prices import ON_DEMAND_USD_PER_HOUR

DEFAULT_SHARE = 0.35
# By the zone's letter (a, b, c, ...): a spread of a few per cent, the same in every region.
ZONE_FACTORS = (1.0, 0.98, 1.02, 0.97, 1.01, 0.99)
PRODUCT = "Linux/UNIX"
PRODUCTS = (PRODUCT, "Linux/UNIX (Amazon VPC)")  # what a request may name for these prices
HISTORY_MAX_RESULTS = 1000


def default_price(instance_type: str, zone: str) -> float | None:
    on_demand = ON_DEMAND_USD_PER_HOUR.get(instance_type)
    if on_demand is None:
        return None
    letter = ord(zone[-1]) - ord("a") if zone and zone[-1].isalpha() else 0
    return round(on_demand * DEFAULT_SHARE * ZONE_FACTORS[letter % len(ZONE_FACTORS)], 4)


@dataclass(frozen=True)
class PriceChange:
    instance_type: str
    zone: str
    time: float
    price: float


@dataclass
class SpotMarket:
    """One region's pools: `zones` (with their ids), and every price change since `opened`."""

    zones: Mapping[str, str]  # zone name -> zone id
    opened: float
    changes: dict[tuple[str, str], list[PriceChange]] = field(default_factory=dict)

    def pools(self) -> list[tuple[str, str]]:
        known = {(t, z) for t in ON_DEMAND_USD_PER_HOUR for z in self.zones}
        return sorted(known | set(self.changes))

    def record(self, instance_type: str, zone: str) -> list[PriceChange]:
        """Every change of the pool, oldest first (its default price at `opened` included)."""
        found = list(self.changes.get((instance_type, zone), ()))
        default = default_price(instance_type, zone)
        if default is not None and (not found or found[0].time > self.opened):
            found.insert(0, PriceChange(instance_type, zone, self.opened, default))
        return found

    def price(self, instance_type: str, zone: str) -> float | None:
        """The pool's price now."""
        found = self.record(instance_type, zone)
        return found[-1].price if found else None

    def set(self, instance_type: str, price: float, zone: str | None, now: float) -> None:
        if not math.isfinite(price) or price <= 0:
            raise ValueError(f"spot price {price!r}: expected a positive number of dollars an hour")
        if not instance_type:
            raise ValueError("an instance type is needed, such as t3.medium")
        if zone is not None and zone not in self.zones:
            raise ValueError(f"availability zone {zone!r}: expected one of {', '.join(sorted(self.zones))}")
        for name in [zone] if zone is not None else sorted(self.zones):
            self.changes.setdefault((instance_type, name), []).append(PriceChange(instance_type, name, now, price))


@dataclass(frozen=True)
class HistoryQuery:
    """DescribeSpotPriceHistory's filters, in the API's terms (times as epoch seconds)."""

    instance_types: Sequence[str] = ()
    products: Sequence[str] = ()
    zone: str | None = None
    zone_id: str | None = None
    start: float | None = None
    end: float | None = None
    filters: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _matches(value: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _asked(query: HistoryQuery, instance_type: str, zone: str, zone_id: str) -> bool:
    """Whether the query's parameters and filters keep this pool."""
    named = [(query.instance_types, instance_type), ([query.zone] if query.zone else [], zone),
             ([query.zone_id] if query.zone_id else [], zone_id),
             (query.filters.get("instance-type", []), instance_type),
             (query.filters.get("availability-zone", []), zone),
             (query.filters.get("availability-zone-id", []), zone_id)]
    return all(not patterns or _matches(value, patterns) for patterns, value in named)


def history(market: SpotMarket, query: HistoryQuery, now: float) -> list[dict[str, Any]]:
    """The entries AWS would answer, newest first."""
    end = now if query.end is None else min(query.end, now)
    asked = list(query.products) + list(query.filters.get("product-description", []))
    named = [p for p in PRODUCTS if not asked or _matches(p, asked)]
    if not named:
        return []
    entries: list[PriceChange] = []
    for instance_type, zone in market.pools():
        if not _asked(query, instance_type, zone, market.zones.get(zone, "")):
            continue
        changes = [c for c in market.record(instance_type, zone) if c.time <= end]
        if query.start is not None:
            before = [c for c in changes if c.time < query.start]
            changes = before[-1:] + [c for c in changes if c.time >= query.start]
        entries += [c for c in changes
                    if _matches(f"{c.price:.6f}", query.filters.get("spot-price", ["*"]))
                    and _matches(_iso(c.time), query.filters.get("timestamp", ["*"]))]
    return [{"AvailabilityZone": c.zone, "AvailabilityZoneId": market.zones.get(c.zone, ""),
             "InstanceType": c.instance_type, "ProductDescription": named[0], "SpotPrice": f"{c.price:.6f}",
             "Timestamp": datetime.fromtimestamp(c.time, UTC)}
            for c in sorted(entries, key=lambda c: (-c.time, c.instance_type, c.zone))]


# ---- spot fleets: which pools a launch takes --------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """One launch specification of a fleet: an instance type in a zone, its weight and bid."""

    key: Any
    instance_type: str
    zone: str
    weight: float
    bid: float | None


def launches(strategy: str, pools: Sequence[Pool], running: Mapping[Any, int], weight: float,
             price: Callable[[str, str], float | None]) -> dict[Any, int]:
    """Instances to launch per pool key for `weight` more units of capacity (pure)."""
    def affordable(pool: Pool) -> bool:
        now = price(pool.instance_type, pool.zone)
        return now is not None and (pool.bid is None or now <= pool.bid)

    eligible = [p for p in pools if affordable(p) and p.weight > 0]
    if not eligible or weight <= 0:
        return {}
    if strategy != "diversified":  # AWS's default is lowestPrice
        best = min(enumerate(eligible),
                   key=lambda ip: ((price(ip[1].instance_type, ip[1].zone) or 0.0) / ip[1].weight, ip[0]))[1]
        return {best.key: math.ceil(weight / best.weight)}
    counts = {p.key: running.get(p.key, 0) for p in eligible}
    by_type: dict[str, int] = {}
    by_zone: dict[str, int] = {}
    for pool in eligible:
        by_type[pool.instance_type] = by_type.get(pool.instance_type, 0) + counts[pool.key]
        by_zone[pool.zone] = by_zone.get(pool.zone, 0) + counts[pool.key]
    chosen: dict[Any, int] = {}
    added = 0.0
    while added < weight:
        _, pool = min(enumerate(eligible), key=lambda ip: (
            counts[ip[1].key], by_type[ip[1].instance_type], by_zone[ip[1].zone], ip[0]))
        chosen[pool.key] = chosen.get(pool.key, 0) + 1
        counts[pool.key] += 1
        by_type[pool.instance_type] += 1
        by_zone[pool.zone] += 1
        added += pool.weight
    return chosen


# ---- the sandbox's markets, one per region (reset with moto) ---------------------------------

_markets: dict[str, SpotMarket] = {}


def market(region: str, zones: Callable[[], Mapping[str, str]], now: float) -> SpotMarket:
    """The region's market, opened at `now` on first use."""
    found = _markets.get(region)
    if found is None:
        found = _markets[region] = SpotMarket(dict(zones()), now)
    return found


def reset_markets() -> None:
    _markets.clear()
