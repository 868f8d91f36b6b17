"""agents: ECS container agent updates, one instance at a time per healthy cluster."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: really runs one update pass (ecstatic's handler named its function
    without calling it) and returns the summary. ECSFLEET_CLUSTERS (comma-separated; default: all),
    ECSFLEET_WINDOW, ECSFLEET_MAX_IN_FLIGHT, ECSFLEET_LEASE_TABLE, ECSFLEET_WEBHOOK_URL or
    ECSTATIC_WEBHOOK_URL."""
    # imported here, not with the package: `ecsfleet <command> --help` imports the package, not the controller
    from ..aws import AwsTarget, Clients
    from ..runner import lambda_pass
    from .cli import build
    from .plan import Options
    from .window import Window

    clients = Clients(AwsTarget.resolve())
    clusters = [c for c in os.environ.get("ECSFLEET_CLUSTERS", "").split(",") if c] or None
    window = Window.parse(os.environ["ECSFLEET_WINDOW"]) if os.environ.get("ECSFLEET_WINDOW") else None
    runner = build(clients, clusters, window, Options(int(os.environ.get("ECSFLEET_MAX_IN_FLIGHT", "1"))),
                   os.environ.get("ECSFLEET_LEASE_TABLE"), None)

    return lambda_pass(runner, context).summary()


__all__ = ["handler"]
