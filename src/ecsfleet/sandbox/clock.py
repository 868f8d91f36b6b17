"""The sandbox's own clock: time moves only when told to, so tests are repeatable."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SPEED = 10_000.0  # sandbox seconds per real second
MAX_ADVANCE = 30 * 86_400.0  # one call's clock step: beyond this the scheduler's timers are meaningless


@dataclass(order=True)
class _Timer:
    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class SandboxClock:
    """Epoch seconds that start at the wall clock and then advance only through `advance`.

    Work scheduled with `call_at` runs inside `advance`, in due order, with `now()` set to the
    moment it was due, so a chain of transitions (PENDING -> RUNNING -> ...) reads as it would
    have happened in real time.
    """

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_at(self, due: float, action: Callable[[], None]) -> _Timer:
        timer = _Timer(max(due, self._now), next(self._seq), action)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, delay: float, action: Callable[[], None]) -> _Timer:
        return self.call_at(self._now + delay, action)

    def run_due(self) -> int:
        """Run every timer already due; returns how many ran."""
        return self._run_until(self._now)

    def advance(self, seconds: float) -> int:
        if seconds < 0:
            raise ValueError("the sandbox clock does not go backwards")
        target = self._now + seconds
        ran = self._run_until(target)
        self._now = target
        return ran

    def _run_until(self, target: float) -> int:
        ran = 0
        while self._timers and self._timers[0].due <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = max(self._now, timer.due)
            timer.action()
            ran += 1
        return ran
