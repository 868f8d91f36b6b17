"""`ecsfleet fleet init` (a cluster repository) and `ecsfleet fleet pipeline render|deploy` (the
stack that rolls out every push: ecs-cluster-deployer's `put-pipeline`)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from ..command_summaries import SUMMARIES
from ..console import TemplateFormat as Format
from ..errors import UserError
from ..options import cluster_option, dry_run_option, output_option, seconds

# the options' defaults and choices (SOURCES, DEFAULT_INSTANCE_TYPES, ...) are shown by --help: these two
# modules, and the schema and templates they import, load with this one; the rest loads when a command runs
from .pipeline import (
    SEED_TOKEN_SECRET,
    SOURCES,
    PipelineOptions,
    Source,
    Stage,
    pipeline_template,
    role_template,
    stack_name,
    stack_tags,
    workflow,
)
from .scaffold import DEFAULT_INSTANCE_TYPES, DEFAULT_SPOT_PRICE, Answers, conflicts, scaffold
from .schema import NAME, Infra, load_infra
from .templates import CLUSTER_TAG

if TYPE_CHECKING:
    from ..aws import Clients
    from .stacks import Stack

SEED_DEFAULT_REGION = "us-west-2"
GITHUB_REMOTE = re.compile(r"github\.com[:/](?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+?)(\.git)?/?$")

# `init` and `pipeline_app` join `ecsfleet fleet` (FleetCommands in ecsfleet.fleet.cli)
pipeline_app = typer.Typer(help=SUMMARIES["fleet pipeline"], no_args_is_help=True)

InfraArg = Annotated[str | None, typer.Argument(
    metavar="[INFRA_YML]", help="infra.yml to read (default: $VALUES_FILE, then ./infra.yml).", show_default=False)]
SourceOption = Annotated[str, typer.Option(
    "--source", help=f"Where the pipeline reads the repository: {', '.join(SOURCES)} (a CodeStar connection to "
                     f"GitHub; a GitHub token kept in Secrets Manager, as ecs-cluster-deployer did; CodeCommit; "
                     f"an S3 object).")]
RepositoryOption = Annotated[str | None, typer.Option(
    "--repository", help="OWNER/REPO on GitHub (default: the git remote `origin`), a CodeCommit repository "
                         "name, or BUCKET/KEY of a zip for --source s3.", show_default=False)]
BranchOption = Annotated[str, typer.Option("--branch", help="The branch whose pushes are rolled out.")]
ConnectionOption = Annotated[str | None, typer.Option(
    "--connection-arn", help="An existing CodeStar/CodeConnections connection (default: the stack creates one, "
                             "PENDING until approved once in the console).", show_default=False)]
TokenOption = Annotated[str, typer.Option(
    "--token-secret", help="--source github-token: the Secrets Manager secret holding the GitHub token.")]
ImageOption = Annotated[str | None, typer.Option(
    "--image", help="ecsfleet's container image (the repository's Dockerfile) for the builds (default: this "
                    "account's ECR repository `ecsfleet`, tagged with this release).", show_default=False)]
RegionsOption = Annotated[list[str] | None, typer.Option(
    "--region", help="A region to deliver in (repeatable: the pipeline stack is deployed in each; the workflow "
                     "rolls out in each). Default: the global --region, AWS_REGION, then us-west-2.",
    show_default=False)]


# ---- fleet init ------------------------------------------------------------------------------------

def _default_region(ctx: typer.Context) -> str:
    obj = ctx.obj
    return (getattr(obj, "region", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or SEED_DEFAULT_REGION)


def _terminal() -> bool:
    """Questions only for a person at a terminal: CI and pipes get flags and defaults."""
    return sys.stdin.isatty()


def _ask(interactive: bool, question: str, default: str) -> str:
    return str(typer.prompt(question, default=default)) if interactive else default


def init(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(metavar="[DIR]", help="Where to write the cluster repository.")]
    = Path("."),
    cluster: Annotated[str | None, cluster_option(
        "The cluster's name (default: asked, or the folder's name).", show_default=False)] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help="The cluster's region, for the Makefile and the workflow (default: the global --region, "
                         "AWS_REGION, then us-west-2).", show_default=False)] = None,
    vpc: Annotated[str | None, typer.Option(
        help="The VPC (default: the region's default VPC, found at deploy time).", show_default=False)] = None,
    subnet: Annotated[list[str] | None, typer.Option(
        "--subnet", help="A subnet of --vpc (repeatable; required with --vpc).", show_default=False)] = None,
    spot: Annotated[bool, typer.Option("--spot/--on-demand", help="Spot fleet, or an on-demand Auto Scaling "
                                                                  "group.")] = True,
    instance_type: Annotated[list[str] | None, typer.Option(
        "--instance-type", help=f"An instance type (repeatable; default: {', '.join(DEFAULT_INSTANCE_TYPES)}; "
                                f"on-demand uses the first).", show_default=False)] = None,
    spot_price: Annotated[float, typer.Option(
        min=0.001, max=1000.0, help="The most a spot instance-hour may cost, in USD.")] = DEFAULT_SPOT_PRICE,
    branch: Annotated[str, typer.Option("--branch", help="The branch whose pushes the workflow rolls out.")]
    = "main",
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Ask nothing: flags and defaults only (what CI does; "
                                                          "without a terminal nothing is asked either).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that exist.")] = False,
    dry_run: Annotated[bool, dry_run_option("List the files it would write; write nothing.")] = False,
) -> None:
    # its help is its summary (command_summaries.SUMMARIES["fleet init"])
    interactive = not yes and _terminal()
    folder_name = directory.resolve().name
    chosen_cluster = cluster or _ask(interactive, "Cluster name", folder_name)
    if not re.fullmatch(NAME, chosen_cluster):
        raise UserError(f"cluster name {chosen_cluster!r}: expected letters, digits and hyphens starting with a "
                        f"letter (at most 40); pass --cluster")
    chosen_region = region or _ask(interactive, "Region", _default_region(ctx))
    if vpc is None and interactive:
        vpc = _ask(interactive, "VPC id (empty: the default VPC)", "") or None
        if vpc and not subnet:
            subnet = [s.strip() for s in _ask(interactive, "Subnet ids, comma-separated", "").split(",") if s.strip()]
    if vpc and not subnet:
        raise UserError("--vpc needs its subnets: pass --subnet once per subnet")
    if subnet and not vpc:
        raise UserError("--subnet needs the --vpc the subnets belong to")
    types = tuple(instance_type or ())
    if not types and interactive:
        types = tuple(t.strip() for t in _ask(interactive, "Instance types, comma-separated",
                                               ",".join(DEFAULT_INSTANCE_TYPES)).split(",") if t.strip())
    answers = Answers(cluster=chosen_cluster, region=chosen_region, vpc=vpc, subnets=tuple(subnet or ()),
                      spot=spot, instance_types=types or DEFAULT_INSTANCE_TYPES, spot_price=spot_price,
                      branch=branch)
    files = scaffold(answers)  # an InfraError here names the flag's value that infra.yml refuses
    existing = conflicts(directory, list(files))
    if dry_run:
        for name, content in files.items():
            note = " (exists: --force overwrites it)" if name in existing else ""
            typer.echo(f"would write {directory / name} ({len(content.encode())} bytes){note}")
        return
    if existing and not force:
        raise UserError(f"{directory}: would overwrite {', '.join(existing)}; pass --force to replace them, or "
                        f"choose another folder")
    for name, content in files.items():
        target = directory / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".partial")
            partial.write_text(content)
            partial.replace(target)  # a killed init leaves either the old file or the new one
        except OSError as error:
            raise UserError(f"cannot write {target}: {error.strerror}") from error
        typer.echo(f"wrote {target}")
    typer.echo("next: `make validate`, then `make pipeline` (CodePipeline) or push with the role of "
               "`ecsfleet fleet pipeline render --github-actions` (GitHub Actions)")


# ---- what the pipeline rolls out ----------------------------------------------------------------------

def resolve_stages(path: str, infra: Infra) -> list[Stage]:
    """The environments of infra.yml, each read from its values file (relative to infra.yml's
    folder), as the build sees them (relative to the repository root, the working directory);
    without environments, infra.yml itself."""
    where = Path(path)
    if not infra.environments:
        return [Stage("default", _build_path(where, "infra.yml"), infra.cluster.name)]
    stages: list[Stage] = []
    for index, environment in enumerate(infra.environments):
        if any(s.name == environment.name for s in stages):
            raise UserError(f"{path}: environments.{index}.name: {environment.name!r} appears twice (expected one "
                            f"entry per environment)")
        values = where.parent / environment.values_path
        if not values.is_file():
            raise UserError(f"{path}: environments.{index}: values file {values} does not exist (expected an "
                            f"infra.yml for the environment {environment.name}; set values_file)")
        _, other = load_infra(str(values))
        stages.append(Stage(environment.name, _build_path(values, "environments"), other.cluster.name,
                            environment.approval))
    return stages


def _build_path(values: Path, field: str) -> str:
    relative = os.path.relpath(values.resolve(), Path.cwd())
    if relative.startswith(".."):
        raise UserError(f"{values}: outside the working directory ({field}); run ecsfleet from the repository's "
                        f"root, where the build runs")
    return Path(relative).as_posix()


def _repository(source: str, repository: str | None) -> str:
    if repository:
        if source in ("connection", "github-token") and not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+",
                                                                         repository):
            raise UserError(f"--repository {repository!r}: expected OWNER/REPO on GitHub")
        if source == "s3" and "/" not in repository:
            raise UserError(f"--repository {repository!r}: expected BUCKET/KEY of the zip for --source s3")
        return repository
    if source not in ("connection", "github-token"):
        raise UserError(f"--source {source}: pass --repository")
    try:
        remote = subprocess.run(["git", "remote", "get-url", "origin"], capture_output=True, text=True,
                                check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        remote = ""
    found = GITHUB_REMOTE.search(remote)
    if not found:
        raise UserError("no GitHub repository: pass --repository OWNER/REPO (the git remote `origin` is not on "
                        "GitHub)")
    return found["repo"]


def _options(source: str, repository: str | None, branch: str, connection_arn: str | None, token_secret: str,
             image: str | None) -> PipelineOptions:
    if source not in SOURCES:
        raise UserError(f"--source {source!r}: expected one of {', '.join(SOURCES)}")
    if connection_arn and source != "connection":
        raise UserError("--connection-arn applies to --source connection only")
    return PipelineOptions(source=cast(Source, source), repository=_repository(source, repository), branch=branch,
                           connection_arn=connection_arn or "", token_secret=token_secret, image=image or "")


def _linted(name: str, template: dict[str, Any], regions: list[str]) -> dict[str, Any]:
    from ..cfn import lint

    problems = lint(template, regions)
    if problems:
        raise UserError(f"the {name} template fails cfn-lint:\n" + "\n".join(problems))
    return template


def _dump(template: dict[str, Any], fmt: Format) -> str:
    from ..cfn import to_yaml

    return json.dumps(template, indent=2) + "\n" if fmt is Format.json else to_yaml(template)


def _regions(ctx: typer.Context, regions: list[str] | None) -> list[str]:
    return list(dict.fromkeys(regions or [_default_region(ctx)]))


@pipeline_app.command("render")
def render(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    source: SourceOption = "connection",
    repository: RepositoryOption = None,
    branch: BranchOption = "main",
    connection_arn: ConnectionOption = None,
    token_secret: TokenOption = SEED_TOKEN_SECRET,
    image: ImageOption = None,
    github_actions: Annotated[bool, typer.Option(
        "--github-actions", help="Print the GitHub Actions workflow and the CloudFormation template of the IAM role "
                                 "it assumes through OIDC, instead of the pipeline.")] = False,
    deployer_policy: Annotated[bool, typer.Option(
        "--deployer-policy", help="Print the IAM policy `fleet pipeline deploy` needs, instead of the "
                                  "pipeline.")] = False,
    region: RegionsOption = None,
    output: Annotated[Format, output_option("json or yaml (templates).")] = Format.json,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the files into this folder instead of stdout.", show_default=False)] = None,
) -> None:
    """Print the delivery stack's CloudFormation template (CodePipeline, one CodeBuild rollout per
    environment, their least-privilege roles), or the GitHub Actions workflow and its OIDC role."""
    from ..iam import policies

    path, infra = load_infra(infra_yml)
    if deployer_policy:
        features = ["github-token"] if source == "github-token" else []
        typer.echo(json.dumps(policies.pipeline_deployer_policy(infra.cluster.name, features), indent=2))
        return
    stages = resolve_stages(path, infra)
    files: dict[str, str]
    if github_actions:
        repo = _repository("connection", repository)
        regions = _regions(ctx, region)
        role = _linted("role", role_template(infra, stages, repo, branch, image or ""), regions)
        files = {".github/workflows/deploy.yml": workflow(infra, stages, regions, branch, image or ""),
                 f"{infra.cluster.name}-github-role.{output.value}": _dump(role, output)}
    else:
        options = _options(source, repository, branch, connection_arn, token_secret, image)
        template = _linted("pipeline", pipeline_template(infra, stages, options), _regions(ctx, region))
        files = {f"{stack_name(infra)}.{output.value}": _dump(template, output)}
    if out is None:
        if len(files) == 1:
            typer.echo(next(iter(files.values())), nl=False)
        else:
            typer.echo("---\n".join(f"# file: {name}\n{text}" for name, text in files.items()), nl=False)
        return
    for name, text in files.items():
        target = out / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        except OSError as error:
            raise UserError(f"cannot write {target}: {error.strerror}") from error
        typer.echo(f"wrote {target}")


def _deployed(clients: Clients, name: str) -> Stack | None:
    from ..aws import error_code
    from .stacks import parse_stack, template_body

    cfn = clients("cloudformation")
    try:
        doc = cfn.describe_stacks(StackName=name)["Stacks"][0]
    except Exception as error:
        if error_code(error) == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return parse_stack(doc, template_body(cfn.get_template(StackName=name)["TemplateBody"]))


@pipeline_app.command("deploy")
def deploy(
    ctx: typer.Context,
    infra_yml: InfraArg = None,
    source: SourceOption = "connection",
    repository: RepositoryOption = None,
    branch: BranchOption = "main",
    connection_arn: ConnectionOption = None,
    token_secret: TokenOption = SEED_TOKEN_SECRET,
    image: ImageOption = None,
    region: RegionsOption = None,
    dry_run: Annotated[bool, dry_run_option("Print what would be created or updated in each region; change "
                                            "nothing.")] = False,
    wait: Annotated[bool, typer.Option(help="Follow each stack until CloudFormation finishes.")] = True,
    poll: Annotated[float, seconds("Seconds between progress polls.", 0.1, 600.0)] = 5.0,
) -> None:
    """Create or update the delivery stack `<cluster>-cluster-codepipeline` in each region (what
    ecs-cluster-deployer's `make put-pipeline` did); from then on every push rolls out a new
    version. Running it again changes nothing when nothing changed."""
    from ..aws import AwsTarget, Clients
    from .deploy import DeployError, DesiredStack, apply_change, failed_earlier, plan_stack

    path, infra = load_infra(infra_yml)
    stages = resolve_stages(path, infra)
    options = _options(source, repository, branch, connection_arn, token_secret, image)
    template = _linted("pipeline", pipeline_template(infra, stages, options), _regions(ctx, region))
    desired = DesiredStack(stack_name(infra), template, {}, stack_tags(infra))
    obj = ctx.obj
    for chosen in _regions(ctx, region):
        clients = Clients(AwsTarget.resolve(chosen, getattr(obj, "endpoint_url", None), getattr(obj, "profile", None)))
        deployed = _deployed(clients, desired.name)
        if deployed is not None and not deployed.owned_by(infra.cluster.name):
            raise UserError(f"{chosen}: stack {desired.name} exists but is not ecsfleet's (it lacks the tag "
                            f"{CLUSTER_TAG}={infra.cluster.name}); if ecs-cluster-deployer's put-pipeline made it, "
                            f"delete it first (aws cloudformation delete-stack --stack-name {desired.name})")
        if deployed is not None and deployed.in_progress:
            raise UserError(f"{chosen}: stack {desired.name} is busy ({deployed.status}); try again when it settles")
        reason = failed_earlier(clients, desired.name) if deployed and deployed.status == "ROLLBACK_COMPLETE" else ""
        change = plan_stack(desired, deployed, reason)
        typer.echo(f"{chosen}: {change.describe()}")
        if dry_run:
            continue
        try:
            final = apply_change(clients, change, _prefixed(chosen), wait, poll)
        except DeployError as error:
            typer.echo(f"error: {chosen}: {error}", err=True)
            raise typer.Exit(error.exit_code) from error
        if final != "unchanged":
            typer.echo(f"{chosen}: {desired.name}: {final}")
        _show_outputs(clients, desired.name, chosen)
    if dry_run:
        typer.echo("dry run: nothing changed")


def _prefixed(region: str) -> Callable[[str], None]:
    """Progress lines name their region: one command may deploy in several."""
    return lambda line: typer.echo(f"{region}: {line}")


def _show_outputs(clients: Clients, name: str, region: str) -> None:
    doc = clients("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    for output in doc.get("Outputs") or []:
        typer.echo(f"{region}: {output['OutputKey']} = {output.get('OutputValue', '')}")
        if output["OutputKey"] == "ConnectionArn":
            typer.echo(f"{region}: approve the connection once: console, Developer Tools > Settings > Connections "
                       f"(it stays PENDING, and the pipeline's Source fails, until then)")

