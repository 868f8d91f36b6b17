"""The days `scaling_cost.py` replays, and what their instances cost an hour.

A day is a fleet (an infra.yml, valid for `ecsfleet fleet validate`: `scaling_cost.py --infra DAY`
prints it), the desired counts of its ECS services minute by minute, and the minutes at which a
spot instance is interrupted. Everything is deterministic: the jitter, the bursts and the waves
come from generators seeded by name, so two runs replay the same day.

Not a benchmark itself: `make bench` runs only the scripts whose names do not start with `_`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

from ecsfleet.sandbox.ecs_model import instance_resources

# Dollars an hour per instance type: (on-demand, spot).
# On-demand: AWS's list prices, US East (N. Virginia) us-east-1, Linux, shared tenancy, from the
# EC2 on-demand pricing page (aws.amazon.com/ec2/pricing/on-demand/), long unchanged for these types.
# Spot: round figures of the order the EC2 spot price history showed for us-east-1 (its cheapest
# Availability Zone) in 2024, 30 to 40% of on-demand; typical values, not read from the API on a
# given day. Spot prices move slowly; `aws ec2 describe-spot-price-history --instance-types ...
# --product-descriptions Linux/UNIX` gives today's: change them here to price another region or date.
# Kept apart from ecsfleet's own table (src/ecsfleet/fleet/prices.py) on purpose: the meter must not
# share the assumptions of the scaler it measures (ecsfleet prices spot capacity at the bids).
PRICES: dict[str, tuple[float, float]] = {
    "t3.medium": (0.0416, 0.0150),
    "m5.large": (0.0960, 0.0370),
    "m5.xlarge": (0.1920, 0.0750),
    "c5.xlarge": (0.1700, 0.0650),
    "r5.large": (0.1260, 0.0350),
}


def hourly_price(instance_type: str, spot: bool) -> float:
    on_demand, spot_price = PRICES[instance_type]
    return spot_price if spot else on_demand


def resources(instance_type: str) -> tuple[int, int]:
    """CPU units and MiB an instance type registers with ECS (the sandbox's table, from the
    ECS agent's reservations)."""
    return instance_resources(instance_type)


class Load(Protocol):
    """One ECS service of a day: its task size and its desired count at each minute of the day."""

    @property
    def name(self) -> str: ...

    @property
    def cpu(self) -> int: ...

    @property
    def memory(self) -> int: ...

    def desired(self, minute: int) -> int: ...


@dataclass(frozen=True)
class Burst:
    start: int  # minute of the day
    minutes: int
    extra: int


@dataclass(frozen=True)
class ServiceLoad:
    """A long-running service: a daily cosine (lowest at 04:00 + lag_hours, highest twelve hours
    later), a pseudo-random nudge every 10 minutes (what a service autoscaler's noise looks like)
    and bursts on top; never below one task."""

    name: str
    cpu: int
    memory: int
    low: int
    high: int
    lag_hours: float
    jitter: int
    bursts: tuple[Burst, ...] = ()

    def desired(self, minute: int) -> int:
        hour = (minute / 60 - self.lag_hours) % 24
        daily = 0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4) / 24)  # 0 at 04:00, 1 at 16:00
        # A fixed pseudo-random nudge per 10-minute block: the same in every run.
        nudge = random.Random(f"{self.name}-{minute // 10}").randint(-self.jitter, self.jitter)
        extra = sum(b.extra for b in self.bursts if b.start <= minute < b.start + b.minutes)
        return max(1, round(self.low + (self.high - self.low) * daily) + nudge + extra)


@dataclass(frozen=True)
class WaveLoad:
    """Batch work: from `first` to `until` (minutes of the day), a wave of `smallest` to `largest`
    tasks every `every` minutes, each wave running `minutes` minutes, none in between. Modelled as
    an ECS service whose desired count rises and falls (a batch scheduler's workers), not as
    RunTask: RunTask on a full cluster fails at once instead of waiting, so what cannot be placed
    would not show as pending."""

    name: str
    cpu: int
    memory: int
    first: int
    every: int
    minutes: int
    smallest: int
    largest: int
    until: int = 24 * 60

    def desired(self, minute: int) -> int:
        if not self.first <= minute < self.until:
            return 0
        wave, into = divmod(minute - self.first, self.every)
        if into >= self.minutes:
            return 0
        return random.Random(f"{self.name}-wave-{wave}").randint(self.smallest, self.largest)


@dataclass(frozen=True)
class Day:
    name: str
    summary: str  # one line: what the day is
    cluster: str
    infra_yml: str
    loads: tuple[Load, ...]
    interruptions: tuple[int, ...]  # minutes of the day at which a spot instance is interrupted


def _spikes(seed: str, count: int, extra: tuple[int, int], minutes: tuple[int, int],
            between: tuple[int, int]) -> tuple[Burst, ...]:
    """`count` short bursts at pseudo-random minutes (fixed by `seed`), none overlapping."""
    rng = random.Random(seed)
    bursts: list[Burst] = []
    while len(bursts) < count:
        start, length = rng.randrange(*between), rng.randint(*minutes)
        if all(start + length + 10 < b.start or b.start + b.minutes + 10 < start for b in bursts):
            bursts.append(Burst(start, length, rng.randint(*extra)))
    return tuple(sorted(bursts, key=lambda b: b.start))


def _fleet(cluster: str, max_weight: int, bids: tuple[tuple[str, float, int], ...],
           thresholds: tuple[int, int] = (3, 10)) -> str:
    """A day's infra.yml: one on-demand t3.medium (min = max = 1, the base no scaler touches) and a
    spot fleet of `bids` (instance type, bid price, weight), with the seed's thresholds (out, in)."""
    lines = "".join(f"""
        - instance_type: {kind}
          price: {price:g}""" + (f"""
          weight: {weight}""" if weight != 1 else "") for kind, price, weight in bids)
    return f"""\
cluster:
  name: {cluster}
ec2_instances:
  autoscaling: true
  auto_scaling_groups:
    - name: base
      instance_type: t3.medium
      desired_instances: 1
      min_size: 1
      max_size: 1
  spot_fleets:
    - name: spot
      timeout: 2m
      desired_weight: 2
      min_weight: 0
      max_weight: {max_weight}
      task_threshold_out: {thresholds[0]}
      task_threshold_in: {thresholds[1]}
      bids:{lines}
"""


T3_MEDIUM = (("t3.medium", 0.02, 1),)


TODAY = Day(
    name="today",
    summary="the day this benchmark always replayed: two web services on a daily cosine, two bursts, "
            "four spot interruptions, t3.medium only",
    cluster="shop",
    infra_yml=_fleet("shop", 20, T3_MEDIUM),
    loads=(
        ServiceLoad("web", cpu=256, memory=512, low=6, high=36, lag_hours=0, jitter=2,
                    bursts=(Burst(10 * 60, 20, 20),)),
        ServiceLoad("api", cpu=512, memory=1024, low=3, high=15, lag_hours=1, jitter=1,
                    bursts=(Burst(19 * 60 + 30, 30, 9),)),
    ),
    interruptions=(3 * 60, 11 * 60 + 30, 14 * 60, 19 * 60 + 40),
)

LARGE_TASK = Day(
    name="large-task",
    summary="three services, one a large worker (1 vCPU, 1.5 GiB: two to a t3.medium) peaking at "
            "night, a lunchtime and an evening burst, three spot interruptions, t3.medium only",
    cluster="works",
    infra_yml=_fleet("works", 24, T3_MEDIUM),
    loads=(
        ServiceLoad("web", cpu=256, memory=512, low=4, high=20, lag_hours=0, jitter=1,
                    bursts=(Burst(12 * 60, 45, 10),)),
        ServiceLoad("api", cpu=512, memory=1024, low=2, high=10, lag_hours=1, jitter=1,
                    bursts=(Burst(19 * 60, 60, 6),)),
        # Lag 10 h: lowest at 14:00, highest at 02:00 (the nightly jobs' worker).
        ServiceLoad("worker", cpu=1024, memory=1536, low=1, high=10, lag_hours=10, jitter=1),
    ),
    interruptions=(2 * 60 + 30, 12 * 60 + 20, 19 * 60 + 30),
)

SPIKY = Day(
    name="spiky",
    summary="a flat-ish load with 14 short bursts (2 to 6 minutes, +8 to +20 tasks) between 07:00 "
            "and 23:00, shorter than a boot and a decision, two spot interruptions, t3.medium only",
    cluster="spiky",
    infra_yml=_fleet("spiky", 20, T3_MEDIUM),
    loads=(
        ServiceLoad("web", cpu=256, memory=512, low=8, high=16, lag_hours=0, jitter=1,
                    bursts=_spikes("spiky-web", 9, (8, 20), (2, 6), (7 * 60, 23 * 60))),
        ServiceLoad("api", cpu=512, memory=1024, low=3, high=8, lag_hours=1, jitter=1,
                    bursts=_spikes("spiky-api", 5, (4, 8), (2, 5), (7 * 60, 23 * 60))),
    ),
    interruptions=(9 * 60 + 10, 17 * 60 + 45),
)

BATCH_MIXED = Day(
    name="batch-mixed",
    summary="batch-heavy: waves of short-lived tasks of four sizes (every 20 minutes by day, hourly "
            "ETL, nightly reports) beside a small web service, on one on-demand t3.medium and a spot "
            "fleet bidding on four types of two weights, three spot interruptions",
    cluster="batch",
    # Weights count vCPUs: a 2-vCPU type weighs 2, a 4-vCPU type 4. The thresholds count copies of
    # the largest task (the 2 vCPU, 4 GiB report), so they are written smaller than the defaults.
    infra_yml=_fleet("batch", 64, (("m5.large", 0.05, 2), ("c5.xlarge", 0.09, 4), ("m5.xlarge", 0.1, 4),
                                    ("r5.large", 0.06, 2)), thresholds=(2, 6)),
    loads=(
        ServiceLoad("web", cpu=256, memory=512, low=2, high=8, lag_hours=0, jitter=1),
        WaveLoad("thumbs", cpu=256, memory=1024, first=7 * 60, every=20, minutes=6, smallest=10, largest=30,
                 until=22 * 60),
        WaveLoad("etl", cpu=1024, memory=2048, first=5, every=60, minutes=15, smallest=6, largest=14),
        WaveLoad("report", cpu=2048, memory=4096, first=60, every=16 * 60, minutes=120, smallest=5, largest=6),
    ),
    interruptions=(90, 10 * 60 + 10, 15 * 60 + 5),
)

# Designed after the scaler's constants were chosen on the four days above, to see whether they
# hold on a day they were not fitted to: two services of different shapes jittering apart (a
# CPU-bound web service, a memory-bound queue worker), a long evening burst, and a spot fleet of a
# small general type and a large memory type.
OFFICE = Day(
    name="office",
    summary="held out (designed after the scaler was tuned): a CPU-bound `web` peaking at 14:00 and a "
            "memory-bound `queue` worker, each jittering every 10 minutes, a 90-minute burst at 16:00, "
            "three spot interruptions, spot t3.medium and r5.large",
    cluster="office",
    infra_yml=_fleet("office", 32, (("t3.medium", 0.02, 1), ("r5.large", 0.06, 2))),
    loads=(
        ServiceLoad("web", cpu=512, memory=1024, low=2, high=20, lag_hours=-2, jitter=2,
                    bursts=(Burst(16 * 60, 90, 12),)),
        ServiceLoad("queue", cpu=256, memory=2048, low=2, high=12, lag_hours=3, jitter=3),
    ),
    interruptions=(5 * 60, 13 * 60 + 30, 21 * 60 + 15),
)


# Also held out, designed after `office`: the days above have two to four services, and the reserve
# a consolidation keeps combines the services' rises. A team's microservices are many small
# services, each on its own curve and jittering by a task: what the sum of their noise does.
_SIZES = ((128, 256), (256, 512), (256, 1024), (512, 1024))


def _microservice(n: int) -> ServiceLoad:
    """The n-th of MANY_SERVICES' services: sizes in turn, a peak of 2 to 6 tasks fixed by its
    name, its low hour spread over the day, a task of jitter; two of them burst."""
    cpu, memory = _SIZES[n % len(_SIZES)]
    high = random.Random(f"micro-{n}").randint(2, 6)
    bursts = {3: (Burst(11 * 60 + 15, 40, 6),), 17: (Burst(20 * 60, 25, 5),)}.get(n, ())
    return ServiceLoad(f"svc{n:02d}", cpu=cpu, memory=memory, low=1, high=high, lag_hours=(n % 8) - 3,
                       jitter=1, bursts=bursts)


MANY_SERVICES = Day(
    name="many-services",
    summary="held out (designed after `office`): 24 small services of four sizes, each on its own "
            "daily curve (1 to 2-6 tasks) and jittering by a task every 10 minutes, two bursts, "
            "three spot interruptions, spot t3.medium and m5.large",
    cluster="micro",
    infra_yml=_fleet("micro", 40, (("t3.medium", 0.02, 1), ("m5.large", 0.05, 2))),
    loads=tuple(_microservice(n) for n in range(24)),
    interruptions=(4 * 60 + 20, 12 * 60, 18 * 60 + 40),
)

DAYS: dict[str, Day] = {d.name: d for d in (TODAY, LARGE_TASK, SPIKY, BATCH_MIXED, OFFICE, MANY_SERVICES)}
