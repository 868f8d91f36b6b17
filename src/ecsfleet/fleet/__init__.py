"""fleet: infra.yml -> CloudFormation compute fleets, versioned blue/green, scaled, drained and
cleaned up by a controller."""

from __future__ import annotations

import json
from typing import Any

# The environment's form of `fleet --allow-outside-files` (read by schema.outside_allowed; here, so
# the option's help names it without building the infra.yml schema).
ALLOW_OUTSIDE_ENV = "ECSFLEET_ALLOW_OUTSIDE_FILES"


def _event_bodies(event: dict[str, Any]) -> list[str]:
    """An SQS batch (Records with bodies) or one EventBridge event delivered directly."""
    if isinstance(event.get("Records"), list):
        return [str(r.get("body", "")) for r in event["Records"] if isinstance(r, dict)]
    return [json.dumps(event)] if event.get("detail-type") else []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: one reconcile pass. Scheduled, or fed EventBridge events (spot
    interruption warnings drain their instance in this pass). Reads ECSFLEET_INFRA (a path,
    s3:// or https:// URL of infra.yml) and, optionally, ECSFLEET_DRAIN_TIMEOUT and
    ECSFLEET_MAX_DRAINING."""
    # imported here, not with the package: `ecsfleet <command> --help` imports the package, not the controller
    from ..aws import AwsTarget, Clients
    from ..config import env_first, fetch
    from ..errors import UserError
    from ..runner import lambda_pass
    from .controller import FleetController
    from .plan import Options
    from .schema import parse_infra

    clients = Clients(AwsTarget.resolve())
    source = env_first("ECSFLEET_INFRA", "VALUES_FILE")
    if not source:
        raise UserError("set ECSFLEET_INFRA to the infra.yml location (path, s3:// or https://)")
    raw, _ = fetch(source, clients)
    assert raw is not None
    infra = parse_infra(source, raw.decode())
    options = Options(drain_timeout=float(env_first("ECSFLEET_DRAIN_TIMEOUT") or 1800),
                      max_draining=int(env_first("ECSFLEET_MAX_DRAINING") or 2),
                      autoscaling=infra.ec2_instances.autoscaling)
    controller = FleetController(clients, infra, options)
    controller.inbox.add_bodies(_event_bodies(event or {}))
    return lambda_pass(controller, context).summary()


__all__ = ["FleetController", "handler"]


def __getattr__(name: str) -> Any:
    """`FleetController` is imported on first use (PEP 562), for the same reason as in `handler`."""
    if name == "FleetController":
        from .controller import FleetController

        return FleetController

    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
