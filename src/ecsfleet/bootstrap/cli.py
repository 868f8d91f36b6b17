"""`ecsfleet bootstrap render`: the controllers as scheduled Lambda functions, in one template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..command_summaries import SUMMARIES
from ..console import TemplateFormat as Format
from ..errors import UserError
from ..options import chosen_output, cluster_option, count, legacy_format_option, output_option
from .template import CONTROLLERS, Options

app = typer.Typer(help=SUMMARIES["bootstrap"], no_args_is_help=True)


@app.command("render")
def render_command(
    ctx: typer.Context,
    controllers: Annotated[str, typer.Option(
        help=f"Comma-separated: {', '.join(CONTROLLERS)}.")] = ",".join(Options().controllers),
    cluster: Annotated[str | None, cluster_option(
        "The ECS cluster (lb-sync, dns-sync and fleet need it — for fleet, infra.yml's cluster.name; "
             "agents without it update every cluster).")] = None,
    schedule: Annotated[str, typer.Option(help="How often each controller resyncs: rate(...) or cron(...).")]
    = "rate(1 minute)",
    code_bucket: Annotated[str | None, typer.Option(
        help="S3 bucket of the Lambda zip (default of the template's CodeBucket parameter).")] = None,
    code_key: Annotated[str | None, typer.Option(
        help="S3 key of the Lambda zip (default of the CodeKey parameter).")] = None,
    services: Annotated[str | None, typer.Option(
        help="lb-sync: its services file, s3://bucket/key or https:// (its role may read only that object).")]
    = None,
    load_balancer: Annotated[list[str] | None, typer.Option(
        help="lb-sync: allow changes to these load balancers only (repeatable; default: any).")] = None,
    zone_id: Annotated[list[str] | None, typer.Option(
        help="dns-sync: manage (and be allowed to change) only these hosted zones (repeatable).")] = None,
    window: Annotated[str | None, typer.Option(help="agents: update only inside this window, e.g. "
                                                    "'Mon-Fri 02:00-05:00 UTC'.")] = None,
    max_in_flight: Annotated[int, count("agents: updates rolling at once per cluster.")] = 1,
    infra_url: Annotated[str | None, typer.Option(
        help="fleet: its infra.yml, s3://bucket/key or https:// (its role may read only that object).")] = None,
    output: Annotated[Format, output_option("json or yaml.")] = Format.json,
    legacy_format: Annotated[Format | None, legacy_format_option()] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the template here (default: stdout).")] = None,
) -> None:
    """Render the controllers' CloudFormation template: Lambda functions, roles, schedules and queues.

    Deploy it with

      aws cloudformation deploy --template-file ecsfleet.json --stack-name ecsfleet-controllers \\
          --capabilities CAPABILITY_IAM --parameter-overrides CodeBucket=B CodeKey=K

    Per controller: a Lambda function, a role with that capability's policy (`ecsfleet iam-policy`), a log
    group and an EventBridge Scheduler schedule; lb-sync, dns-sync and fleet also get an EventBridge rule
    putting the cluster's ECS state changes on an SQS queue that triggers them (fleet's also spot
    interruption warnings and its groups' termination lifecycle actions); agents gets a DynamoDB lease
    table."""
    from ..cfn import to_yaml
    from .template import render

    options = Options(
        controllers=tuple(c.strip() for c in controllers.split(",") if c.strip()),
        cluster=cluster, schedule=schedule, code_bucket=code_bucket, code_key=code_key, services=services,
        load_balancers=tuple(load_balancer or ()), zone_ids=tuple(zone_id or ()), window=window,
        max_in_flight=max_in_flight, infra_url=infra_url,
    )
    output_format = chosen_output(ctx, output, legacy_format)
    template = render(options)
    text = json.dumps(template, indent=2) + "\n" if output_format is Format.json else \
        to_yaml(template)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror}") from error
    typer.echo(f"wrote {out}: {len(template['Resources'])} resources", err=True)
