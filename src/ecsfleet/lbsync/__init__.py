"""lb-sync: Classic ELB listeners and health checks follow ECS tasks' dynamic host ports."""

from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point: one cluster-wide pass. Scheduled or fed ECS task state change
    events alike; an event only means "look again". Reads ECSFLEET_CLUSTER (or the cluster of
    CONFIGURATION_URL) and SERVICES_URL."""
    # imported here, not with the package: `ecsfleet <command> --help` imports the package, not the controller
    from ..aws import AwsTarget, Clients
    from ..config import Reloading, env_first, fetch
    from ..errors import UserError
    from ..runner import lambda_pass
    from .controller import LbSync
    from .services import parse_config, parse_services

    clients = Clients(AwsTarget.resolve())
    services_url = env_first("ECSFLEET_LBSYNC_SERVICES", "SERVICES_URL")
    if not services_url:
        raise UserError("set SERVICES_URL")
    cluster = env_first("ECSFLEET_CLUSTER")
    config_url = env_first("ECSFLEET_LBSYNC_CONFIG", "CONFIGURATION_URL")
    if not cluster and config_url:
        raw, _ = fetch(config_url, clients)
        assert raw is not None
        cluster = parse_config(config_url, raw).cluster
    if not cluster:
        raise UserError("set ECSFLEET_CLUSTER or CONFIGURATION_URL")
    document = Reloading(services_url, parse_services, clients)
    report = lambda_pass(LbSync(clients, cluster, document.get), context)
    return report.summary()


__all__ = ["LbSync", "handler"]


def __getattr__(name: str) -> Any:
    """`LbSync` is imported on first use (PEP 562), for the same reason as in `handler`."""
    if name == "LbSync":
        from .controller import LbSync

        return LbSync

    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
