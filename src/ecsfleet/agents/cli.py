"""`ecsfleet agents status|update`: ecstatic's job, with its defects fixed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from typer._click.core import ParameterSource  # typer bundles its own click

from ..amis import RECOMMENDED_AMI_PARAMETER
from ..command_summaries import SUMMARIES
from ..console import Output
from ..errors import UserError
from ..options import cluster_option, count, dry_run_option, output_option

if TYPE_CHECKING:  # the rest is imported by the command that runs: `agents --help` needs none of it
    from .plan import Options
    from .rollout import AgentUpdates
    from .window import Window

app = typer.Typer(help=SUMMARIES["agents"], no_args_is_help=True)


def _tags(values: list[str] | None, flag: str) -> dict[str, str]:
    tags = {}
    for value in values or []:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {value!r}: expected KEY=VALUE")
        tags[key] = val
    return tags


ClusterOption = Annotated[list[str] | None, cluster_option(
    "A cluster (repeatable; $ECSFLEET_CLUSTER: space-separated names).")]


@app.command()
def status(
    ctx: typer.Context,
    cluster: ClusterOption = None,
    output: Annotated[Output, output_option("table or json.")] = Output.table,
    ami_parameter: Annotated[str, typer.Option(help="SSM public parameter of the recommended ECS-optimized AMI.")]
    = RECOMMENDED_AMI_PARAMETER,
) -> None:
    """Every container instance's agent and Docker versions, connection, update state and AMI."""
    import json

    from ..amis import recommended_ami
    from ..console import out
    from ..snapshot import SnapshotReader
    from .report import status_document, status_tables
    from .rollout import cluster_names

    clients = ctx.obj.clients()
    reader = SnapshotReader(clients)
    snaps = [reader.read(name, include_tasks=False) for name in (cluster or cluster_names(clients))]
    doc = status_document(snaps, recommended_ami(clients, ami_parameter))
    if output is Output.json:
        typer.echo(json.dumps(doc, indent=2))
    else:
        out().print(status_tables(doc))


@app.command()
def update(
    ctx: typer.Context,
    cluster: ClusterOption = None,
    all_clusters: Annotated[bool, typer.Option("--all", help="Every cluster of the account and region.")] = False,
    dry_run: Annotated[bool, dry_run_option("Say which instances would be tried; change nothing.")] = False,
    max_in_flight: Annotated[int, count("Updates rolling at once per cluster.")] = 1,
    window: Annotated[str | None, typer.Option(
        help="Act only inside this window, e.g. 'Mon-Fri 02:00-05:00 UTC' (days, HH:MM-HH:MM, a time zone).")]
    = None,
    include_tag: Annotated[list[str] | None, typer.Option(help="Only instances with this EC2 tag K=V (repeatable).")]
    = None,
    exclude_tag: Annotated[list[str] | None, typer.Option(help="Never instances with this EC2 tag K=V (repeatable).")]
    = None,
    lease_table: Annotated[str | None, typer.Option(
        envvar="ECSFLEET_LEASE_TABLE", help="DynamoDB table for per-cluster leases, so two runs at once never "
                                            "update two instances of one cluster.")] = None,
    webhook_url: Annotated[str | None, typer.Option(
        help="Slack-compatible webhook for notices (default: ECSFLEET_WEBHOOK_URL or ECSTATIC_WEBHOOK_URL).")]
    = None,
) -> None:
    """One pass: for each healthy cluster, ask for the next agent update. Safe to run every few minutes.

    Exit code: 0 when every cluster was handled, 1 when one was skipped (an agent disconnected, an
    update FAILED) or an update failed, 2 for bad input."""
    from ..runner import drive
    from .plan import Options
    from .window import Window, WindowError

    if all_clusters and ctx.get_parameter_source("cluster") is ParameterSource.ENVIRONMENT:
        cluster = None  # --all says every cluster, whatever the shell exported
    if bool(cluster) == all_clusters:
        raise UserError("name the clusters with --cluster NAME (repeatable), or pass --all")
    try:
        parsed_window = Window.parse(window) if window else None
    except WindowError as error:
        raise UserError(f"--window: {error}") from error
    clients = ctx.obj.clients()
    runner = build(clients, cluster, parsed_window, Options(max_in_flight, _tags(include_tag, "--include-tag"),
                                                           _tags(exclude_tag, "--exclude-tag")),
                   lease_table, webhook_url)
    code = drive(runner, clients, once=True, interval=None, dry_run=dry_run, events_queue=None, metrics_port=None,
                 echo=typer.echo)
    raise typer.Exit(code)


def build(clients: object, clusters: list[str] | None, window: Window | None, options: Options,
          lease_table: str | None, webhook_url: str | None) -> AgentUpdates:
    from ..aws import Clients
    from ..config import env_first
    from ..notify import Notifier
    from .lease import Lease
    from .rollout import AgentUpdates

    assert isinstance(clients, Clients)
    url = webhook_url or env_first("ECSFLEET_WEBHOOK_URL", "ECSTATIC_WEBHOOK_URL")
    lease = Lease(clients("dynamodb"), lease_table) if lease_table else None
    return AgentUpdates(clients, clusters or None, options, window, lease, Notifier(url, prefix="ecsfleet agents"))
