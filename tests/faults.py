"""Helpers for the fault suite: the retry budget ecsfleet gives botocore, retries without the
waiting, and a way to change the world between a pass's observe and its apply."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.retries.bucket
import botocore.retries.standard
import pytest

from ecsfleet.aws import DEFAULT_MAX_ATTEMPTS, Clients
from ecsfleet.runner import PassReport
from ecsfleet.sandbox import seed

# Every client makes this many attempts in all (botocore's total_max_attempts): a fault armed
# for one call fewer is retried away within the pass; one armed for this many exhausts it.
ATTEMPTS = DEFAULT_MAX_ATTEMPTS
Op = tuple[str, str]


@dataclass
class RetryWaits:
    """The waits botocore asked for, skipped: backoffs before a retry, and the adaptive mode's
    client-side metering after a throttle."""

    backoffs: list[float] = field(default_factory=list)
    metered: float = 0.0


def skip_retry_waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    """botocore sleeps up to 1 s (doubling each time) before retrying a throttled call and, once a
    client is throttled, meters its later calls through a token bucket that starts at 0.5 calls a
    second: a single throttle makes a pass take seconds. The retry decisions and attempt counts,
    which are what these tests check, stay botocore's own; only the sleeping is skipped: the
    bucket's clock jumps ahead by the time it would have waited for a token."""
    waits = RetryWaits()
    backoff = botocore.retries.standard.ExponentialBackoff.delay_amount
    token_wait = botocore.retries.bucket.TokenBucket._sleep_amount  # type: ignore[attr-defined]

    def no_backoff(self: Any, context: Any) -> float:
        waits.backoffs.append(backoff(self, context))
        return 0.0

    def no_token_wait(self: Any, amount: int) -> float:
        needed: float = token_wait(self, amount)
        if needed > 0:
            waits.metered += needed  # the bucket refills by exactly this on its next look at the clock
        return 0.0

    def now(self: Any) -> float:
        return time.time() + waits.metered

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", no_backoff)
    monkeypatch.setattr(botocore.retries.bucket.TokenBucket, "_sleep_amount", no_token_wait)
    monkeypatch.setattr(botocore.retries.bucket.Clock, "current_time", now)
    # The default budget is what is under test, not whatever the environment sets.
    monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    return waits


_IMAGE: list[str] = []


def one_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox's `any_image` lists every AMI moto knows, which takes seconds, and worlds are
    built dozens of times here. moto's AMIs are the same after every reset, so list them once."""
    listing = seed.any_image

    def cached(ec2: Any) -> str:
        if not _IMAGE:
            _IMAGE.append(listing(ec2))
        return _IMAGE[0]

    monkeypatch.setattr(seed, "any_image", cached)


def before_first(clients: Clients, op: Op, action: Callable[[], None]) -> None:
    """Run `action` once, just before the client sends its first `op` call: the moment after a
    pass has observed and planned, when it starts to apply."""
    service, operation = op
    done = False

    def hook(model: Any, **_: Any) -> None:
        nonlocal done
        if model.name == operation and not done:
            done = True
            action()

    clients(service).meta.events.register("before-call", hook)


def fault_suite(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    """What every fault test module sets up: quick worlds, and retries without the waiting."""
    one_image(monkeypatch)
    return skip_retry_waits(monkeypatch)


def exhaust(sb: Any, op: Op) -> None:
    """5xx on every attempt of the op's next call: the budget runs out."""
    sb.fail(*op, times=ATTEMPTS)


def within_budget(sb: Any, op: Op) -> None:
    """Every retry of the budget used on the op's next call, throttles first, then 5xx: the last
    attempt gets through."""
    throttles = (ATTEMPTS - 1) // 2
    sb.throttle(*op, times=throttles)
    sb.fail(*op, times=ATTEMPTS - 1 - throttles)


def report_text(report: PassReport) -> str:
    """Everything a pass reported, as one string to look for names in."""
    return json.dumps(report.summary())


def op_id(op: Op) -> str:
    return f"{op[0]}.{op[1]}"
