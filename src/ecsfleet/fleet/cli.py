"""`ecsfleet fleet ...`: infra.yml (ecs-cluster-deployer's format) -> validated CloudFormation,
deployed as a cluster stack and one compute stack per version."""

from __future__ import annotations

import enum
import json
import os
import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ..aws import AwsTarget, Clients
from ..errors import UserError
from .deploy import DeployError, deploy, desired_stacks, plan
from .network import resolve_network
from .observe import read_world
from .report import status_document, status_tables
from .schema import Infra, load_infra
from .templates import safe_version

SEED_DEFAULT_REGION = "us-west-2"

app = typer.Typer(help="Compute fleets from infra.yml (ecs-cluster-deployer's format): validate, render "
                       "CloudFormation, plan and deploy versioned stacks, and show their state.",
                  no_args_is_help=True)

InfraArg = Annotated[str | None, typer.Argument(
    metavar="[INFRA_YML]", help="infra.yml to read (default: $VALUES_FILE, then ./infra.yml).", show_default=False)]
VersionOption = Annotated[str | None, typer.Option(
    "--version", "-v", help="Fleet version (default: $VERSION, then `git rev-parse HEAD`).", show_default=False)]


class Format(enum.StrEnum):
    json = "json"
    yaml = "yaml"


class Output(enum.StrEnum):
    table = "table"
    json = "json"


def resolve_version(version: str | None) -> str:
    """--version, then $VERSION, then the git commit (the seed's default); safe for stack names."""
    chosen = version or os.environ.get("VERSION")
    if not chosen:
        try:
            chosen = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                    timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            chosen = ""
    if not chosen:
        raise UserError("no fleet version: pass --version, set VERSION, or run inside a git checkout")
    try:
        return safe_version(chosen)
    except ValueError as error:
        raise UserError(str(error)) from error


def extra_user_data(path: str, infra: Infra) -> str:
    """ec2_instances.user_data names a script, relative to infra.yml."""
    if not infra.ec2_instances.user_data:
        return ""
    script = Path(path).parent / infra.ec2_instances.user_data
    try:
        return script.read_text()
    except OSError as error:
        raise UserError(f"{path}: ec2_instances.user_data: cannot read {script}: {error.strerror}") from error


def fleet_clients(ctx: typer.Context) -> Clients:
    """Region as every command resolves it, with the seed's default (us-west-2) as the last resort."""
    obj = ctx.obj
    try:
        return Clients(AwsTarget.resolve(obj.region, obj.endpoint_url, obj.profile))
    except UserError:
        return Clients(AwsTarget.resolve(SEED_DEFAULT_REGION, obj.endpoint_url, obj.profile))


def _lint_or_fail(templates: dict[str, dict[str, Any]]) -> None:
    from .lint import lint

    problems = [f"{name}: {problem}" for name, template in templates.items() for problem in lint(template)]
    if problems:
        raise UserError("rendered templates fail cfn-lint:\n" + "\n".join(problems))


@app.command()
def validate(infra_yml: InfraArg = None) -> None:
    """Check infra.yml against the whole schema; every problem is listed with its line and key."""
    path, infra = load_infra(infra_yml)
    groups, fleets = infra.ec2_instances.auto_scaling_groups, infra.ec2_instances.spot_fleets
    typer.echo(f"{path}: valid: cluster {infra.cluster.name}, {len(groups)} auto scaling group(s), "
               f"{len(fleets)} spot fleet(s)")


@app.command()
def render(
    infra_yml: InfraArg = None,
    version: VersionOption = None,
    out: Annotated[Path | None, typer.Option(help="Write one file per stack here instead of stdout.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="json or yaml.")] = Format.json,
    lint: Annotated[bool, typer.Option(help="Check the templates with cfn-lint (errors fail the command).")]
    = True,
) -> None:
    """Render the cluster stack and this version's compute stack as CloudFormation templates."""
    path, infra = load_infra(infra_yml)
    stacks = desired_stacks(infra, resolve_version(version), {}, extra_user_data(path, infra))
    templates = {s.name: dict(s.template) for s in stacks}
    if lint:
        _lint_or_fail(templates)

    def dump(template: dict[str, Any]) -> str:
        if fmt is Format.yaml:
            return str(yaml.safe_dump(template, sort_keys=False, width=120))
        return json.dumps(template, indent=2) + "\n"

    if out is None:
        if fmt is Format.json:
            typer.echo(json.dumps(templates, indent=2))
        else:
            typer.echo("---\n".join(f"# stack: {name}\n{dump(t)}" for name, t in templates.items()), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, template in templates.items():
        target = out / f"{name}.{fmt.value}"
        target.write_text(dump(template))
        typer.echo(f"wrote {target}")


@app.command("plan")
def plan_command(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    version: VersionOption = None,
) -> None:
    """What a deploy would change: stacks to create or update, and the resources and parameters of each."""
    path, infra = load_infra(infra_yml)
    clients = fleet_clients(ctx)
    _, changes = plan(clients, infra, resolve_version(version), resolve_network(clients, infra),
                      extra_user_data(path, infra))
    for change in changes:
        typer.echo(change.describe())
    if all(c.action == "unchanged" for c in changes):
        typer.echo("nothing to deploy")


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    version: VersionOption = None,
    wait: Annotated[bool, typer.Option(help="Follow the compute stack until CloudFormation finishes.")] = True,
    lint: Annotated[bool, typer.Option(help="Refuse templates that fail cfn-lint.")] = True,
    poll: Annotated[float, typer.Option(help="Seconds between progress polls.")] = 5.0,
) -> None:
    """Create or update the cluster stack, then create this version's compute stack as `inactive`.
    Deploying a version that is already deployed changes nothing."""
    path, infra = load_infra(infra_yml)
    chosen = resolve_version(version)
    clients = fleet_clients(ctx)
    network = resolve_network(clients, infra)
    if lint:
        _lint_or_fail({s.name: dict(s.template) for s in desired_stacks(infra, chosen, network)})
    try:
        result = deploy(clients, infra, chosen, network, typer.echo, wait=wait, extra_user_data=extra_user_data(
            path, infra), poll=poll)
    except DeployError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from error
    for change, final in zip(result.changes, result.statuses, strict=True):
        typer.echo(change.describe() + ("" if change.action == "unchanged" else f" -> {final}"))


@app.command()
def status(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json.")] = Output.table,
) -> None:
    """The cluster's versions: Status, stack state, EC2 and container instances, running tasks."""
    from ..cli import out

    _, infra = load_infra(infra_yml)
    world = read_world(fleet_clients(ctx), infra)
    if output is Output.json:
        typer.echo(json.dumps(status_document(world), indent=2))
    else:
        out().print(status_tables(world))
