"""`ecsfleet lb-sync`: statika's job, per host or for a whole cluster."""

from __future__ import annotations

from typing import Annotated

import typer

from ..command_summaries import SUMMARIES
from ..errors import UserError
from ..options import Interval, MetricsPort, Once, cluster_option, dry_run_option, run_mode

HELP = f"""{SUMMARIES["lb-sync"]}

statika users change nothing: with no flags, CONFIGURATION_URL (cluster, sleepTimeSeconds),
SERVICES_URL and AWS_REGION are read as statika reads them, and it runs per host (this EC2
instance, from instance metadata) every sleepTimeSeconds.
"""


def lb_sync(
    ctx: typer.Context,
    once: Once = False,
    interval: Interval = None,
    dry_run: Annotated[bool, dry_run_option("Print the planned changes; change nothing.")] = False,
    cluster: Annotated[str | None, cluster_option("ECS cluster (default: the config file's `cluster`).")] = None,
    services: Annotated[str | None, typer.Option(
        help="Services file: a path, s3://bucket/key or https:// URL (default: $SERVICES_URL).")] = None,
    config: Annotated[str | None, typer.Option(
        help="statika configuration file {cluster, sleepTimeSeconds} (default: $CONFIGURATION_URL).")] = None,
    instance_id: Annotated[str | None, typer.Option(
        help="Manage only this host's registration (default: this EC2 instance, from metadata).")] = None,
    all_instances: Annotated[bool, typer.Option(
        "--all-instances", help="One controller for every host of the cluster.")] = False,
    events_queue: Annotated[str | None, typer.Option(
        help="SQS queue URL receiving ECS events: a pass runs as soon as one arrives.")] = None,
    metrics_port: MetricsPort = None,
) -> None:
    # imported here, not with the module: `lb-sync --help` needs none of them (botocore, the controller)
    from ..config import Reloading, env_first, fetch
    from ..metadata import instance_id as metadata_instance_id
    from ..runner import drive
    from .controller import LbSync
    from .services import parse_config, parse_services

    clients = ctx.obj.clients()
    config_url = config or env_first("ECSFLEET_LBSYNC_CONFIG", "CONFIGURATION_URL")
    services_url = services or env_first("ECSFLEET_LBSYNC_SERVICES", "SERVICES_URL")
    if not services_url:
        raise UserError("no services file: pass --services or set SERVICES_URL")
    settings = None
    if config_url:
        raw, _ = fetch(config_url, clients)
        assert raw is not None
        settings = parse_config(config_url, raw)
    chosen_cluster = cluster or (settings.cluster if settings else None)
    if not chosen_cluster:
        raise UserError("no cluster: pass --cluster (or set ECSFLEET_CLUSTER), or a statika configuration file "
                        "with `cluster` (--config, CONFIGURATION_URL)")
    if instance_id and all_instances:
        raise UserError("--instance-id and --all-instances exclude each other")
    from_config = not once and interval is None and settings is not None
    interval = run_mode(once, interval, settings.interval if settings else None,
                        " (or a statika configuration file with sleepTimeSeconds: --config, CONFIGURATION_URL)")
    if from_config and settings is not None and not settings.sleepTimeSeconds:
        typer.echo(f"warning: {config_url}: sleepTimeSeconds is {settings.sleepTimeSeconds}: statika looped "
                   f"without a pause; lb-sync runs a pass every {interval:g} s", err=True)
    host = None if all_instances else (instance_id or metadata_instance_id())
    document = Reloading(services_url, parse_services, clients)
    document.get()  # a broken file at start is an error, not something to wait out
    controller = LbSync(clients, chosen_cluster, document.get, host,
                        config_warning=lambda: document.last_error)
    code = drive(controller, clients, once=once, interval=interval, dry_run=dry_run, events_queue=events_queue,
                 metrics_port=metrics_port, echo=typer.echo)
    raise typer.Exit(code)
