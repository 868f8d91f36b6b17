"""`ecsfleet dns-sync`: ecsd's DNS conventions, kept by one controller per cluster."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from ..errors import UserError
from ..runner import drive
from .controller import DEFAULT_TTL, DnsSync
from .names import ttl_problem

HELP = """Publish Route53 A and SRV records from containers' SERVICE_FQDN, SERVICE_FQDN_LOCAL and
SERVICE_PORT_<port> environment (ecsd's conventions), for every running task of a cluster.

Ownership as external-dns does it: a TXT record `_ecsfleet-<type>.<name>` beside each managed
record set names the owner id; record sets without it, or with another owner, are never
changed. `--policy upsert-only` never deletes.
"""


class Source(enum.StrEnum):
    ecs = "ecs"
    docker = "docker"


class Policy(enum.StrEnum):
    sync = "sync"
    upsert_only = "upsert-only"


def default_owner(cluster: str) -> str:
    return f"ecs-cluster/{cluster}"


def dns_sync(
    ctx: typer.Context,
    source: Annotated[Source, typer.Option(help="Where containers are read from.")] = Source.ecs,
    cluster: Annotated[str | None, typer.Option(envvar="ECSFLEET_CLUSTER", help="ECS cluster (ecs source).")] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit (0: all applied, 1: a change failed).")]
    = False,
    interval: Annotated[float | None, typer.Option(help="Run as a daemon: a pass every N seconds.", min=1)] = None,
    zone_id: Annotated[list[str] | None, typer.Option(
        help="Manage only this hosted zone (repeatable; default: every zone the account has).")] = None,
    policy: Annotated[Policy, typer.Option(help="sync deletes what no container asks for; upsert-only never "
                                               "deletes.")] = Policy.sync,
    owner_id: Annotated[str | None, typer.Option(
        help="Owner id written in the TXT registry (default: ecs-cluster/<cluster>).")] = None,
    ttl: Annotated[int, typer.Option(help="TTL of the records, seconds.")] = DEFAULT_TTL,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the planned changes; change nothing.")] = False,
    events_queue: Annotated[str | None, typer.Option(
        help="SQS queue URL receiving ECS events: a pass runs as soon as one arrives.")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus metrics on this port.")] = None,
) -> None:
    if source is Source.docker:
        raise UserError("--source docker is not available in this version; use --source ecs")
    if not cluster:
        raise UserError("no cluster: pass --cluster (or set ECSFLEET_CLUSTER)")
    if once == (interval is not None):
        raise UserError("say how to run: --once, or --interval N")
    problem = ttl_problem(ttl)
    if problem:
        raise UserError(f"--ttl: {problem}")
    clients = ctx.obj.clients()
    controller = DnsSync(clients, cluster, owner_id or default_owner(cluster), tuple(zone_id or ()), policy.value, ttl)
    code = drive(controller, clients, once=once, interval=interval, dry_run=dry_run, events_queue=events_queue,
                 metrics_port=metrics_port, echo=typer.echo)
    raise typer.Exit(code)
