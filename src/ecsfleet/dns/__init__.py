"""dns-sync: Route53 A and SRV records from running containers (ecsd's conventions)."""

from __future__ import annotations

import os
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: one pass of the ECS source for ECSFLEET_CLUSTER (scheduled, or fed
    ECS events, which only mean "look again"). Optional: ECSFLEET_DNS_OWNER_ID,
    ECSFLEET_DNS_ZONE_IDS (comma-separated), ECSFLEET_DNS_POLICY, ECSFLEET_DNS_TTL,
    ECSFLEET_DNS_ADOPT_ECSD (true: convert ecsd's records, as --adopt-ecsd), ECSFLEET_DNS_SRV_TTL,
    ECSFLEET_DNS_DOMAIN_FILTER (comma-separated), ECSFLEET_DNS_ALLOW_APEX and ECSFLEET_DNS_ALLOW_WILDCARD
    (true); without zone ids, ecsd's ECS_HOSTED_ZONE."""
    # imported here, not with the package: `ecsfleet <command> --help` imports the package, not the controller
    from ..aws import AwsTarget, Clients
    from ..errors import UserError
    from ..runner import lambda_pass
    from .cli import default_owner, ecsd_zone, name_rules
    from .controller import DnsSync
    from .records import DEFAULT_TTL

    cluster = os.environ.get("ECSFLEET_CLUSTER")
    if not cluster:
        raise UserError("set ECSFLEET_CLUSTER")
    zones = tuple(z for z in os.environ.get("ECSFLEET_DNS_ZONE_IDS", "").split(",") if z) or ecsd_zone()
    srv_ttl = os.environ.get("ECSFLEET_DNS_SRV_TTL")
    names = name_rules([d for d in os.environ.get("ECSFLEET_DNS_DOMAIN_FILTER", "").split(",") if d.strip()],
                       _true("ECSFLEET_DNS_ALLOW_APEX"), _true("ECSFLEET_DNS_ALLOW_WILDCARD"))
    controller = DnsSync(
        Clients(AwsTarget.resolve()), cluster, os.environ.get("ECSFLEET_DNS_OWNER_ID") or default_owner(cluster),
        zones, os.environ.get("ECSFLEET_DNS_POLICY", "sync"), int(os.environ.get("ECSFLEET_DNS_TTL", DEFAULT_TTL)),
        adopt_ecsd=_true("ECSFLEET_DNS_ADOPT_ECSD"), srv_ttl=int(srv_ttl) if srv_ttl else None, names=names,
    )
    return lambda_pass(controller, context).summary()


def _true(variable: str) -> bool:
    return os.environ.get(variable, "").lower() in ("1", "true", "yes")


__all__ = ["DnsSync", "handler"]


def __getattr__(name: str) -> Any:
    """`DnsSync` is imported on first use (PEP 562), for the same reason as in `handler`."""
    if name == "DnsSync":
        from .controller import DnsSync

        return DnsSync

    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
