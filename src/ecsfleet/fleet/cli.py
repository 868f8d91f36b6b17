"""`ecsfleet fleet ...`: infra.yml (ecs-cluster-deployer's format) -> validated CloudFormation,
deployed as a cluster stack and one compute stack per version."""

from __future__ import annotations

import enum
import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..command_summaries import SUMMARIES
from ..console import Output
from ..console import TemplateFormat as Format
from ..errors import UserError
from ..lazy_group import Lazy, LazyGroup
from ..options import (
    Interval,
    MetricsPort,
    Once,
    chosen_output,
    count,
    dry_run_option,
    legacy_format_option,
    output_option,
    run_mode,
    seconds,
)
from . import ALLOW_OUTSIDE_ENV

if TYPE_CHECKING:  # the rest is imported by the command that runs: `fleet ... --help` needs none of it
    from ..aws import Clients
    from .deploy import DesiredStack
    from .rollout import RolloutSettings
    from .schema import Infra

SEED_DEFAULT_REGION = "us-west-2"


class FleetCommands(LazyGroup):
    """`fleet init` and `fleet pipeline` (ecsfleet.fleet.delivery_cli) load when used, after the
    commands below: the other commands' help needs neither them nor the templates they render."""

    lazy = {"init": Lazy("ecsfleet.fleet.delivery_cli", "init", SUMMARIES["fleet init"]),
            "pipeline": Lazy("ecsfleet.fleet.delivery_cli", "pipeline_app", SUMMARIES["fleet pipeline"])}


app = typer.Typer(cls=FleetCommands, help=SUMMARIES["fleet"], no_args_is_help=True)

InfraArg = Annotated[str | None, typer.Argument(
    metavar="[INFRA_YML]", help="infra.yml to read (default: $VALUES_FILE, then ./infra.yml).", show_default=False)]
VersionOption = Annotated[str | None, typer.Option(
    "--version", "-v", help="Fleet version (default: $VERSION, then `git rev-parse HEAD`).", show_default=False)]

DrainTimeout = Annotated[float, seconds(
    "Seconds a drained instance may keep service tasks before it is removed anyway (reported).")]
MaxDraining = Annotated[int, count("Instances of inactive fleets draining at once.")]
Poll = Annotated[float, seconds("Seconds between progress polls.", 0.1, 600.0)]


def resolve_version(version: str | None) -> str:
    """--version, then $VERSION, then the git commit (the seed's default); safe for stack names."""
    from .templates import safe_version

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


def fleet_clients(ctx: typer.Context) -> Clients:
    """Region as every command resolves it, with the seed's default (us-west-2) as the last resort."""
    from ..aws import AwsTarget, Clients

    obj = ctx.obj
    try:
        return Clients(AwsTarget.resolve(obj.region, obj.endpoint_url, obj.profile))
    except UserError:
        return Clients(AwsTarget.resolve(SEED_DEFAULT_REGION, obj.endpoint_url, obj.profile))


def _lint_or_fail(templates: dict[str, dict[str, Any]], region: str) -> None:
    from ..cfn import lint

    problems = [f"{name}: {problem}" for name, template in templates.items()
                for problem in lint(template, [region])]
    if problems:
        raise UserError("rendered templates fail cfn-lint:\n" + "\n".join(problems))


AllowOutside = Annotated[bool | None, typer.Option(
    "--allow-outside-files", envvar=ALLOW_OUTSIDE_ENV, show_default=False,
    help="Read files infra.yml names (user_data, user_data_append) outside infra.yml's folder "
         "(plan, deploy and rollout read $ECSFLEET_ALLOW_OUTSIDE_FILES).")]


def _checked_stacks(infra: Infra, version: str) -> list[DesiredStack]:
    from .deploy import desired_stacks
    from .templates import UserDataError

    try:
        return desired_stacks(infra, version, {})
    except UserDataError as error:
        raise UserError(f"ec2_instances.user_data {infra.ec2_instances.user_data}: {error}") from error


@app.command()
def validate(
    infra_ymls: Annotated[list[str] | None, typer.Argument(
        metavar="[INFRA_YML]...", show_default=False,
        help="infra.yml files to read (default: $VALUES_FILE, then ./infra.yml).")] = None,
    allow_outside_files: AllowOutside = None,
) -> None:
    """Check infra.yml against the whole schema; every problem is listed with its line and key.
    The files it names are read and its user_data template rendered. Given several files (a
    repository of clusters, in CI), each is checked and reported, and the exit code is 2 if any
    is invalid."""
    if not infra_ymls or len(infra_ymls) == 1:
        typer.echo(_validated(infra_ymls[0] if infra_ymls else None, allow_outside_files))
        return
    from ..cli import fail

    invalid = 0
    for infra_yml in infra_ymls:
        try:
            typer.echo(_validated(infra_yml, allow_outside_files))
        except UserError as error:  # the next file is still checked: a CI run lists every broken one
            invalid += 1
            fail(str(error), error.exit_code)
    if invalid:
        fail(f"{invalid} of {len(infra_ymls)} files invalid", UserError.exit_code)
        raise typer.Exit(UserError.exit_code)


def _validated(infra_yml: str | None, allow_outside_files: bool | None) -> str:
    """`validate`'s line for one valid file; a UserError names what is wrong with it."""
    from .schema import load_infra

    path, infra = load_infra(infra_yml, allow_outside_files)
    _checked_stacks(infra, "validate")  # load_infra logged the keys whose meaning differs from the original's
    groups, fleets = infra.ec2_instances.auto_scaling_groups, infra.ec2_instances.spot_fleets
    return (f"{path}: valid: cluster {infra.cluster.name}, {len(groups)} auto scaling group(s), "
            f"{len(fleets)} spot fleet(s)")


@app.command()
def render(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    version: VersionOption = None,
    out: Annotated[Path | None, typer.Option(help="Write one file per stack here instead of stdout.")] = None,
    output: Annotated[Format, output_option("json or yaml.")] = Format.json,
    legacy_format: Annotated[Format | None, legacy_format_option("-f")] = None,
    lint: Annotated[bool, typer.Option(help="Check the templates with cfn-lint (errors fail the command).")]
    = True,
    allow_outside_files: AllowOutside = None,
) -> None:
    """Render the cluster stack and this version's compute stack as CloudFormation templates."""
    from ..cfn import to_yaml
    from .schema import load_infra

    fmt = chosen_output(ctx, output, legacy_format)
    _, infra = load_infra(infra_yml, allow_outside_files)
    stacks = _checked_stacks(infra, resolve_version(version))
    templates = {s.name: dict(s.template) for s in stacks}
    if lint:  # in the region the stacks would go to: instance types are not offered everywhere
        _lint_or_fail(templates, fleet_clients(ctx).target.region)

    def dump(template: dict[str, Any]) -> str:
        if fmt is Format.yaml:
            return to_yaml(template)
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
    from .deploy import plan
    from .network import resolve_network
    from .schema import load_infra

    _, infra = load_infra(infra_yml)
    clients = fleet_clients(ctx)
    _, changes = plan(clients, infra, resolve_version(version), resolve_network(clients, infra))
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
    poll: Poll = 5.0,
) -> None:
    """Create or update the cluster stack, then create this version's compute stack as `inactive`.
    Deploying a version that is already deployed changes nothing."""
    from .deploy import DeployError, deploy, desired_stacks
    from .network import resolve_network
    from .schema import load_infra

    _, infra = load_infra(infra_yml)
    chosen = resolve_version(version)
    clients = fleet_clients(ctx)
    network = resolve_network(clients, infra)
    if lint:
        _lint_or_fail({s.name: dict(s.template) for s in desired_stacks(infra, chosen, network)},
                      clients.target.region)
    try:
        result = deploy(clients, infra, chosen, network, typer.echo, wait=wait, poll=poll)
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
    """The cluster's versions: Status, stack state, AMI, EC2 and container instances, running tasks;
    and the active version's AMI drift from the AMI infra.yml's source names now."""
    from ..console import out
    from .ami_refresh_run import observe_drift
    from .observe import read_world
    from .report import status_document, status_tables
    from .schema import load_infra

    _, infra = load_infra(infra_yml)
    clients = fleet_clients(ctx)
    world = read_world(clients, infra, scaling=False)
    _, drift = observe_drift(clients, infra, world)
    if output is Output.json:
        typer.echo(json.dumps(status_document(world, drift), indent=2))
    else:
        out().print(status_tables(world, drift))


@app.command()
def adopt(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    dry_run: Annotated[bool, dry_run_option("Print what adoption would change; change nothing.")] = False,
    poll: Poll = 5.0,
) -> None:
    """Take over a cluster ecs-cluster-deployer deployed: tag its `<name>-cluster` stack and its
    `<name>-asg-<version>` fleets as ecsfleet's (templates, parameters, the ECS cluster and every
    instance kept; the original's scheduled scaler rules disabled). From then on `fleet status`
    shows the old fleets and the next `fleet rollout` drains and deletes them. Stacks of another
    shape or owner are refused, each with the reason."""
    from .adopt import adopt as adopt_cluster
    from .deploy import DeployError
    from .schema import load_infra

    _, infra = load_infra(infra_yml)
    try:
        adopt_cluster(fleet_clients(ctx), infra, typer.echo, dry_run=dry_run, poll=poll)
    except DeployError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from error


def _settings(smoke_timeout: float, join_timeout: float, follow: bool, follow_timeout: float, poll: float,
              smoke_task_definition: str | None) -> RolloutSettings:
    from .rollout import RolloutSettings

    return RolloutSettings(smoke_timeout, join_timeout, follow, follow_timeout, poll, smoke_task_definition)


@app.command("rollout")
def rollout_command(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    version: VersionOption = None,
    smoke_timeout: Annotated[float, seconds("Seconds the smoke task has to reach RUNNING.", 1.0)] = 240.0,
    join_timeout: Annotated[float, seconds("Seconds the new instances have to join the cluster.", 1.0)] = 600.0,
    smoke_task_definition: Annotated[str | None, typer.Option(
        help="Task definition for the smoke test (default: a tiny busybox task ecsfleet registers).")] = None,
    follow: Annotated[bool, typer.Option(help="After the switch, reconcile until the older fleets are deflated "
                                              "and deleted.")] = True,
    follow_timeout: Annotated[float, seconds("Seconds to follow the deflation.")] = 3600.0,
    drain_timeout: DrainTimeout = 1800.0,
    max_draining: MaxDraining = 2,
    poll: Poll = 5.0,
) -> None:
    """Deploy this version, smoke-test its fleet, make it the only active fleet, then deflate the
    older ones. A failed smoke test scales the new fleet to zero, leaves it inactive and the old one
    serving, and fails the command with the reason."""
    from .deploy import DeployError
    from .network import resolve_network
    from .plan import Options
    from .rollout import rollout
    from .schema import load_infra

    _, infra = load_infra(infra_yml)
    chosen = resolve_version(version)
    clients = fleet_clients(ctx)
    try:
        rollout(clients, infra, chosen, resolve_network(clients, infra), typer.echo,
                _settings(smoke_timeout, join_timeout, follow, follow_timeout, poll, smoke_task_definition),
                Options(drain_timeout=drain_timeout, max_draining=max_draining,
                        autoscaling=infra.ec2_instances.autoscaling))
    except DeployError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from error


def _switch(ctx: typer.Context, infra_yml: str | None, version: str | None, status: str) -> None:
    from .deploy import DeployError
    from .rollout import set_status
    from .schema import load_infra

    _, infra = load_infra(infra_yml)
    if not version:
        raise UserError("pass --version")
    try:
        set_status(fleet_clients(ctx), infra, version, status, typer.echo)
    except DeployError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from error


@app.command()
def activate(ctx: typer.Context, infra_yml: InfraArg = None, version: VersionOption = None) -> None:
    """Set a version's Status to active: it keeps its minimum size and is never deflated. Several
    versions may be active at once (the manual override when a new fleet misbehaves)."""
    _switch(ctx, infra_yml, version, "active")


@app.command()
def deactivate(ctx: typer.Context, infra_yml: InfraArg = None, version: VersionOption = None) -> None:
    """Set a version's Status to inactive: once a newer fleet is active, reconcile deflates it and
    deletes its stack."""
    _switch(ctx, infra_yml, version, "inactive")


class AmiRefresh(enum.Enum):
    report = "report"
    auto = "auto"


@app.command()
def reconcile(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    once: Once = False,
    interval: Interval = None,
    dry_run: Annotated[bool, dry_run_option("Print the decisions and their reasons; change nothing.")] = False,
    events_queue: Annotated[str | None, typer.Option(
        envvar="ECSFLEET_EVENTS_QUEUE",
        help="SQS queue URL fed by EventBridge: spot interruption warnings drain their instance at once; "
             "ECS and Auto Scaling events start a pass early.")] = None,
    metrics_port: MetricsPort = None,
    drain_timeout: DrainTimeout = 1800.0,
    max_draining: MaxDraining = 2,
    ami_refresh: Annotated[AmiRefresh | None, typer.Option(
        envvar="ECSFLEET_AMI_REFRESH", show_default=False,
        help="When the AMI source names a newer AMI than the active version's: report it, or roll a new "
             "version onto it (default: infra.yml's ec2_instances.ami_refresh, else report).")] = None,
) -> None:
    """One controller pass (or a daemon): scale active fleets, drain before every removal, complete
    Auto Scaling lifecycle hooks, deflate inactive fleets and delete their stacks when empty; report
    AMI drift, or refresh the AMI one version at a time (`--ami-refresh auto`)."""
    from ..runner import drive, read_queue
    from .controller import FleetController
    from .plan import Options
    from .schema import load_infra

    interval = run_mode(once, interval)
    _, infra = load_infra(infra_yml)
    clients = fleet_clients(ctx)
    controller = FleetController(clients, infra, Options(drain_timeout=drain_timeout, max_draining=max_draining,
                                                         autoscaling=infra.ec2_instances.autoscaling))
    controller.ami_refresh = ami_refresh.value if ami_refresh else None
    if once and events_queue:
        controller.inbox.add_bodies(read_queue(clients, events_queue))
    code = drive(controller, clients, once=once, interval=interval, dry_run=dry_run, events_queue=events_queue,
                 metrics_port=metrics_port, echo=typer.echo, on_bodies=controller.inbox.add_bodies)
    raise typer.Exit(code)
