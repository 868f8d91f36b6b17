"""agents: the pure decision and the window parser."""

from __future__ import annotations

import dataclasses
import datetime as dt
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builders import host, snapshot
from ecsfleet.agents.plan import Options, decide, unsupported
from ecsfleet.agents.window import Window, WindowError


def test_blocked_by_disconnected_or_failed_anywhere() -> None:
    h1, h2 = host(1), dataclasses.replace(host(2), agent_connected=False)
    h3 = dataclasses.replace(host(3), agent_update_status="FAILED", status="DRAINING")
    decision = decide(snapshot([h1, h2, h3], []), Options())
    assert decision.blocked == ("agent disconnected on i-0002", "last agent update FAILED on i-0003")
    assert decision.candidates == ()


def test_oldest_agents_first_active_only_and_in_flight_counted() -> None:
    old = dataclasses.replace(host(3), agent_version="1.70.0")
    rolling = dataclasses.replace(host(1), agent_update_status="STAGING")
    draining = dataclasses.replace(host(2), status="DRAINING")
    decision = decide(snapshot([rolling, draining, old, host(4)], []), Options(max_in_flight=2))
    assert [i.ec2_instance_id for i in decision.candidates] == ["i-0003", "i-0004"]
    assert decision.in_flight == ("i-0001",) and decision.slots == 1


def test_hosts_aws_never_updates_are_set_apart_not_blocking() -> None:
    windows = dataclasses.replace(host(1), attributes=MappingProxyType({"ecs.os-type": "windows"}))
    arm = dataclasses.replace(host(2), attributes=MappingProxyType({"ecs.cpu-architecture": "arm64"}))
    custom = dataclasses.replace(host(3), agent_version=None)  # no versionInfo: MissingVersionException
    decision = decide(snapshot([windows, arm, custom, host(4)], []), Options(max_in_flight=2))
    assert decision.healthy and [i.ec2_instance_id for i in decision.candidates] == ["i-0004"]
    assert [ec2 for ec2, _ in decision.unsupported] == ["i-0001", "i-0002", "i-0003"]
    assert decision.slots == 2  # a host left aside takes no slot
    assert unsupported(host(4)) is None


@pytest.mark.parametrize(("text", "when", "open_"), [
    ("Mon-Fri 02:00-05:00 UTC", "2026-11-23T02:00", True),   # Monday
    ("Mon-Fri 02:00-05:00 UTC", "2026-11-23T05:00", False),
    ("Mon-Fri 02:00-05:00 UTC", "2026-11-29T03:00", False),  # Sunday
    ("Fri-Mon 22:00-02:00", "2026-11-24T01:00", True),       # Tuesday 01:00 belongs to Monday's window
    ("Fri-Mon 22:00-02:00", "2026-11-25T01:00", False),      # Wednesday 01:00 belongs to Tuesday
    ("* 00:00-24:00", "2026-11-25T13:37", True),
    ("Sat,Sun 09:00-10:00 Europe/Paris", "2026-11-28T08:30", True),  # 09:30 in Paris
])
def test_windows(text: str, when: str, open_: bool) -> None:
    assert Window.parse(text).is_open(dt.datetime.fromisoformat(when).replace(tzinfo=dt.UTC)) is open_


@pytest.mark.parametrize("text", ["Mon-Fri", "Mon 25:00-26:00", "Funday 01:00-02:00", "Mon 01:00-01:00",
                                  "Mon 01:00-02:00 Mars/Olympus"])
def test_bad_windows_say_why(text: str) -> None:
    with pytest.raises(WindowError):
        Window.parse(text)


@given(st.datetimes(timezones=st.just(dt.UTC)), st.integers(0, 1439), st.integers(1, 1439))
def test_a_window_and_its_complement_cover_every_minute(when: dt.datetime, start: int, length: int) -> None:
    end = (start + length) % 1440
    if end == start:
        return
    fmt = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    inside = Window.parse(f"* {fmt(start)}-{fmt(end)}").is_open(when)
    outside = Window.parse(f"* {fmt(end)}-{fmt(start)}").is_open(when)
    assert inside != outside
