"""Events that tell the fleet controller to act before its next look: EC2 spot interruption
warnings and rebalance recommendations (EventBridge -> SQS, or a Lambda's event). Anything else
(ECS state changes, lifecycle actions) only means "look again"."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

WARNINGS = ("EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation")


def interrupted_instances(events: Iterable[Mapping[str, Any]]) -> set[str]:
    """Instance ids named by spot interruption warnings (and rebalance recommendations, which
    AWS sends earlier when it can): draining then gives tasks the most time to move."""
    found = set()
    for event in events:
        if event.get("detail-type") in WARNINGS:
            instance = (event.get("detail") or {}).get("instance-id")
            if isinstance(instance, str) and instance:
                found.add(instance)
    return found


def decode(bodies: Iterable[str]) -> list[dict[str, Any]]:
    """SQS bodies (EventBridge events as JSON); anything unreadable is skipped."""
    events = []
    for body in bodies:
        try:
            event = json.loads(body)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


class Inbox:
    """Interrupted instances seen in events, kept until a pass has drained them (a failed pass
    must not forget a warning that arrives only once)."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add_bodies(self, bodies: Iterable[str]) -> None:
        self.add(interrupted_instances(decode(bodies)))

    def add(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._ids.update(ids)

    def pending(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._ids)

    def done(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._ids.difference_update(ids)
