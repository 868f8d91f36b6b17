"""Shared fixtures: one sandbox per test session, reset before every test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.sandbox import Sandbox
from support import fresh


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sb(sandbox_server: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """A clean sandbox, with the environment pointing boto3 and ecsfleet at it."""
    return fresh(sandbox_server, monkeypatch)


@pytest.fixture
def clients(sb: Sandbox) -> Clients:
    return Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))
