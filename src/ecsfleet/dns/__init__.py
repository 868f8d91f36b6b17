"""dns-sync: Route53 A and SRV records from running containers (ecsd's conventions)."""

from __future__ import annotations

import os
from typing import Any

from ..aws import AwsTarget, Clients
from ..errors import UserError
from ..runner import safe_pass
from .cli import default_owner
from .controller import DEFAULT_TTL, DnsSync


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: one pass of the ECS source for ECSFLEET_CLUSTER (scheduled, or fed
    ECS events, which only mean "look again"). Optional: ECSFLEET_DNS_OWNER_ID,
    ECSFLEET_DNS_ZONE_IDS (comma-separated), ECSFLEET_DNS_POLICY, ECSFLEET_DNS_TTL,
    ECSFLEET_DNS_ADOPT_ECSD (true: convert ecsd's records, as --adopt-ecsd)."""
    cluster = os.environ.get("ECSFLEET_CLUSTER")
    if not cluster:
        raise UserError("set ECSFLEET_CLUSTER")
    zones = tuple(z for z in os.environ.get("ECSFLEET_DNS_ZONE_IDS", "").split(",") if z)
    controller = DnsSync(
        Clients(AwsTarget.resolve()), cluster, os.environ.get("ECSFLEET_DNS_OWNER_ID") or default_owner(cluster),
        zones, os.environ.get("ECSFLEET_DNS_POLICY", "sync"), int(os.environ.get("ECSFLEET_DNS_TTL", DEFAULT_TTL)),
        adopt_ecsd=os.environ.get("ECSFLEET_DNS_ADOPT_ECSD", "").lower() in ("1", "true", "yes"),
    )
    return safe_pass(controller, dry_run=False).summary()


__all__ = ["DnsSync", "handler"]
