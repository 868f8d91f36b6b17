"""`ecsfleet iam-policy`: the least-privilege IAM policy of a capability."""

from __future__ import annotations

import enum
import json
import re
from typing import TYPE_CHECKING, Annotated

import typer

from ..command_summaries import SUMMARIES
from ..errors import UserError
from ..options import cluster_option, output_option

if TYPE_CHECKING:  # the rest is imported by the command that runs: `iam-policy --help` needs none of it
    from rich.table import Table

HELP = f"""{SUMMARIES["iam-policy"]}

ecsfleet iam-policy lb-sync --cluster prod --load-balancer web-lb --s3-object s3://ops/svc.json

ecsfleet iam-policy dns-sync --cluster prod --zone-id Z123 --events-queue QUEUE_URL

ecsfleet iam-policy agents --cluster prod --lease-table ecsfleet-leases

ecsfleet iam-policy lb-sync --output table   (each statement and why)

Region and account in ARNs are `*` unless given (ecsfleet --region R iam-policy ... --account ID).
"""


class CapabilityName(enum.StrEnum):
    lb_sync = "lb-sync"
    dns_sync = "dns-sync"
    agents = "agents"
    fleet = "fleet"


class Output(enum.StrEnum):
    json = "json"
    table = "table"
    markdown = "markdown"


class Partition(enum.StrEnum):
    aws = "aws"
    aws_cn = "aws-cn"
    aws_us_gov = "aws-us-gov"
    aws_iso = "aws-iso"
    aws_iso_b = "aws-iso-b"


# A name in a policy's ARN is taken literally: `*` or `?` there would widen it to other clusters.
CLUSTER = re.compile(r"[A-Za-z0-9_-]{1,255}")
ACCOUNT = re.compile(r"\d{12}")


class Source(enum.StrEnum):
    ecs = "ecs"
    docker = "docker"


def iam_policy(
    ctx: typer.Context,
    capability: Annotated[CapabilityName, typer.Argument(help="lb-sync, dns-sync, agents or fleet.")],
    with_features: Annotated[list[str] | None, typer.Option(
        "--with", help="Add an option's statements without narrowing them (repeatable): events-queue, "
                       "s3-files (lb-sync), lease-table, status (agents).")] = None,
    all_features: Annotated[bool, typer.Option("--all-features", help="Every option's statements.")] = False,
    cluster: Annotated[str | None, cluster_option(
        "Narrow ECS actions to this cluster (agents: and drop ecs:ListClusters).")] = None,
    load_balancer: Annotated[list[str] | None, typer.Option(
        help="lb-sync: narrow the load balancer changes to these (repeatable).")] = None,
    zone_id: Annotated[list[str] | None, typer.Option(
        help="dns-sync: narrow record reads and changes to these hosted zones (repeatable).")] = None,
    events_queue: Annotated[str | None, typer.Option(
        help="The events queue (URL or ARN): adds its statement, narrowed to it.")] = None,
    lease_table: Annotated[str | None, typer.Option(
        help="agents: the lease table (name or ARN): adds its statement, narrowed to it.")] = None,
    s3_object: Annotated[list[str] | None, typer.Option(
        help="lb-sync: a config or services file s3://bucket/key (repeatable): adds s3:GetObject on it.")] = None,
    source: Annotated[Source | None, typer.Option(
        help="dns-sync: docker needs no ECS or EC2 reads (default ecs).")] = None,
    account: Annotated[str, typer.Option(help="Account id in ARNs.")] = "*",
    partition: Annotated[Partition, typer.Option(help="ARN partition.")] = Partition.aws,
    output: Annotated[Output, output_option("json (the document), table (each "
                                                                   "statement and why) or markdown.")]
    = Output.json,
) -> None:
    from ..console import err, out
    from . import policies
    from .policies import On, Scope

    cap = policies.capability(capability.value)
    if cluster is not None and not CLUSTER.fullmatch(cluster):
        raise UserError(f"--cluster {cluster!r}: expected a cluster name (letters, digits, - and _, up to "
                        "255); leave it out for every cluster")
    if account != "*" and not ACCOUNT.fullmatch(account):
        raise UserError(f"--account {account!r}: expected a 12-digit account id")
    if source is not None and cap.name != "dns-sync":
        raise UserError("--source applies to dns-sync only")
    try:
        scope = Scope(
            cluster=cluster,
            load_balancers=tuple(load_balancer or ()),
            zone_ids=tuple(zone_id or ()),
            queues=(policies.queue_arn(events_queue),) if events_queue else (),
            lease_tables=(policies.lease_table_arn(lease_table),) if lease_table else (),
            s3_objects=tuple(policies.s3_object_arn(url) for url in s3_object or ()),
        )
    except ValueError as error:
        raise UserError(str(error)) from error
    features = set(with_features or ())
    if all_features:
        features |= cap.feature_names() - {"all-clusters"}
    for given, feature, on, flag in ((events_queue, "events-queue", On.QUEUES, "--events-queue"),
                                     (lease_table, "lease-table", On.LEASE_TABLES, "--lease-table"),
                                     (s3_object, "s3-files", On.S3_OBJECTS, "--s3-object"),
                                     (load_balancer, None, On.LOAD_BALANCERS, "--load-balancer"),
                                     (zone_id, None, On.ZONES, "--zone-id")):
        if not given:
            continue
        if not any(g.on is on for g in cap.grants):
            raise UserError(f"{flag} does not apply to {cap.name}")
        if feature:
            features.add(feature)
    try:
        chosen = policies.effective_features(cap, features, scope, defaults=source is not Source.docker)
    except ValueError as error:
        raise UserError(str(error)) from error
    if source is Source.docker:
        chosen.discard("ecs-source")
    region = (ctx.obj.region if ctx.obj is not None else None) or "*"
    doc = policies.policy(cap.name, chosen, scope, partition=partition.value, region=region, account=account,
                          defaults=False)
    if cap.draft:
        err.print(f"[yellow]note:[/] the {cap.name} policy is a draft: {cap.draft}", highlight=False)
    if output is Output.json:
        typer.echo(json.dumps(doc, indent=2))
    elif output is Output.markdown:
        typer.echo(policies.markdown(cap.name), nl=False)
    else:
        out().print(_table(cap.name, doc))
        size = policies.policy_size(doc)
        if size > policies.MANAGED_POLICY_MAX_CHARS:
            err.print(f"[yellow]warning:[/] {size} characters: more than a managed policy may hold "
                      f"({policies.MANAGED_POLICY_MAX_CHARS}); use it inline or split it", highlight=False)


def _table(name: str, doc: dict[str, object]) -> Table:
    from rich.table import Table

    from . import policies

    why = {g.sid: g.why for g in policies.capability(name).grants}
    table = Table(title=f"IAM policy of {name}", show_lines=True)
    for column in ("Sid", "Actions", "Resource", "Why"):
        table.add_column(column)
    statements = doc["Statement"]
    assert isinstance(statements, list)
    for statement in statements:
        resource = statement["Resource"]
        shown = "\n".join(resource) if isinstance(resource, list) else resource
        if "Condition" in statement:
            shown += "\n" + json.dumps(statement["Condition"])
        table.add_row(statement["Sid"], "\n".join(statement["Action"]), shown, why[statement["Sid"]])
    return table


__all__ = ["HELP", "iam_policy"]
