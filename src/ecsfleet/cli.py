"""The `ecsfleet` command: one Typer app with a sub-command (group) per capability, each imported
when first used (`Root.lazy`): a command pays only for the imports of its own capability."""

from __future__ import annotations

try:  # Ctrl-C (SIGINT) during the imports ends the command quietly, as later on
    import enum
    import inspect
    import sys
    from dataclasses import dataclass
    from typing import TYPE_CHECKING, Annotated

    import typer

    # typer bundles its own click: a usage error is one of these types, never one of click's
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    from typer.models import DefaultPlaceholder

    from . import __version__, console
    from .aws import aws_errors, error_code, explain_connection_error
    from .console import Output
    from .errors import UserError
    from .lazy_group import Lazy, LazyGroup
    from .options import cluster_option, output_option, seconds

    if TYPE_CHECKING:
        from .aws import Clients
except KeyboardInterrupt:
    raise SystemExit(130) from None


class Root(LazyGroup):
    """`ecsfleet`: each capability's module is imported when its command runs or its help is
    asked for, so `--version`, `--help` and one command's `--help` import only what they show."""

    lazy = {
        "lb-sync": Lazy("ecsfleet.lbsync.cli", "lb_sync", help="HELP", summary=(
            "Keep Classic ELB listeners and health checks on the dynamic host ports of ECS tasks, and register the "
            "hosts that run them.")),
        "dns-sync": Lazy("ecsfleet.dns.cli", "dns_sync", help="HELP", summary=(
            "Publish Route53 A and SRV records from containers' SERVICE_FQDN, SERVICE_FQDN_LOCAL and "
            "SERVICE_PORT_<port> environment (ecsd's conventions).")),
        "iam-policy": Lazy("ecsfleet.iam.cli", "iam_policy", help="HELP", summary=(
            "Print the IAM policy document a capability needs: only the actions it calls, each statement named "
            "(Sid) after what it is for. Options that need more (an events queue, a lease table, files on S3) add "
            "their statements when given; scope flags narrow the resources.")),
        "status": Lazy("ecsfleet.cli", "status", summary=(
            "Show a cluster's container instances and tasks, from one snapshot.")),
        "sandbox": Lazy("ecsfleet.sandbox.cli", "app", summary=(
            "An emulated AWS on one local endpoint (moto plus an ECS scheduler and agents), for trying ecsfleet "
            "before giving it credentials.")),
        "agents": Lazy("ecsfleet.agents.cli", "app", summary=(
            "ECS container agents: a fleet version report, and safe rolling updates (one instance at a time per "
            "healthy cluster).")),
        "bootstrap": Lazy("ecsfleet.bootstrap.cli", "app", summary=(
            "Deploy the cluster-wide controllers (lb-sync, dns-sync, agents, fleet) as scheduled AWS Lambda "
            "functions, each with a role holding only its own policy.")),
        "fleet": Lazy("ecsfleet.fleet.cli", "app", summary=(
            "Compute fleets from infra.yml (ecs-cluster-deployer's format): validate, render CloudFormation, plan "
            "and deploy versioned stacks, and show their state.")),
    }

    def prepare(self, parent: typer.Typer) -> None:
        one_line_summaries(parent)


app = typer.Typer(
    name="ecsfleet",
    cls=Root,
    help="Run Amazon ECS on EC2 cheaply and safely: keep load balancers and DNS on the tasks' "
    "dynamic ports, roll agent updates, deploy versioned compute fleets. Every command reads "
    "AWS_REGION / AWS_PROFILE / AWS_ENDPOINT_URL like the AWS CLI; `ecsfleet sandbox up` serves an "
    "emulated AWS to try it on.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class LogLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


@dataclass
class Globals:
    region: str | None
    endpoint_url: str | None
    profile: str | None

    def clients(self) -> Clients:
        from .aws import AwsTarget, Clients

        return Clients(AwsTarget.resolve(self.region, self.endpoint_url, self.profile))


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecsfleet {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    region: Annotated[str | None, typer.Option(help="AWS region (default: AWS_REGION, "
                                               "AWS_DEFAULT_REGION, then the profile's).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(
        envvar="AWS_ENDPOINT_URL", help="Send every AWS call here (the sandbox, a VPC endpoint).")] = None,
    profile: Annotated[str | None, typer.Option(envvar="AWS_PROFILE", help="AWS profile to use.")] = None,
    log_level: Annotated[LogLevel, typer.Option(envvar=["ECSFLEET_LOG_LEVEL", "ECSTATIC_LOG_LEVEL"],
                                                case_sensitive=False, help="DEBUG, INFO, WARNING, ERROR.")]
    = LogLevel.INFO,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    import logging

    logging.basicConfig(level=log_level.value, format="%(asctime)s %(levelname)s %(name)s %(message)s",
                        stream=sys.stderr)
    for noisy in ("botocore", "urllib3", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ctx.obj = Globals(region, endpoint_url, profile)


def status(
    ctx: typer.Context,
    cluster: Annotated[str, cluster_option("Cluster name or ARN.")],
    output: Annotated[Output, output_option("table or json.")] = Output.table,
    min_drain: Annotated[float, seconds(
        "Warn about services publishing DNS (SERVICE_* env) whose stopTimeout is shorter than this many "
        "seconds: the records' TTL (dns-sync's default is 10).")] = 10.0,
) -> None:
    """Show a cluster's container instances and tasks, from one snapshot."""
    import json

    from rich.markup import escape

    from .draining import short_stop_timeouts
    from .snapshot import SnapshotReader
    from .status import status_document, status_tables

    snap = SnapshotReader(ctx.obj.clients()).read(cluster)
    warnings = short_stop_timeouts(snap, min_drain)
    if output is Output.json:
        typer.echo(json.dumps({**status_document(snap), "warnings": warnings}, indent=2))
    else:
        console.out().print(status_tables(snap))
        for warning in warnings:
            console.err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)


def summary(text: str) -> str:
    """A help text's first paragraph on one line: what a command list shows of it."""
    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def one_line_summaries(typer_app: typer.Typer) -> None:
    """typer's rich help keeps a docstring's line breaks in command lists, so a summary wrapped at
    the source's width breaks mid-line there: give every command and group its first paragraph,
    joined, as short help (tests/test_cli_convention.py checks each is whole sentences)."""
    def given(value: object) -> str | None:
        return None if isinstance(value, DefaultPlaceholder) else value  # type: ignore[return-value]

    for command in typer_app.registered_commands:
        text = given(command.help) or (command.callback.__doc__ if command.callback else None)
        if text and not given(command.short_help):
            command.short_help = summary(text)
    for group in typer_app.registered_groups:
        if group.typer_instance is None:
            continue
        text = given(group.help) or given(group.typer_instance.info.help)
        if text and not given(group.short_help):
            group.short_help = summary(text)
        one_line_summaries(group.typer_instance)


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors, user errors and unreachable AWS end in one `error:` line on
    stderr with the exit code the README's table documents, never a traceback."""
    try:
        result = app(args=argv, prog_name="ecsfleet", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        console.err.print("aborted")
        return 130
    except UsageError as error:
        return usage_error(error)
    except ClickException as error:
        return fail(error.format_message(), error.exit_code)
    except UserError as error:
        return fail(str(error), error.exit_code)
    except aws_errors() as error:  # evaluated only once an error gets here: botocore is imported then
        hint = explain_connection_error(error, None)
        if hint:
            return fail(hint, 2)
        return fail(f"AWS call failed ({error_code(error) or type(error).__name__}): {error}", 1)
    except OSError as error:
        # a file or port the user named: a directory given as a file, --out under a file, a port in use
        where = f"{error.filename}: " if error.filename else ""
        return fail(f"{where}{error.strerror or error}", 2)
    except UnicodeDecodeError as error:
        return fail(f"input is not UTF-8 text ({error.reason} at byte {error.start})", 2)
    return result if isinstance(result, int) else 0


def fail(message: str, code: int) -> int:
    from rich.markup import escape

    console.err.print(f"[red]error:[/] {escape(message)}", highlight=False)
    return code


def usage_error(error: UsageError) -> int:
    """click's usage and hint lines, then the one `error:` line; exit 2. A group run with no
    command shows its help first (click's `no_args_is_help`), also with exit 2."""
    from rich.markup import escape

    ctx = error.ctx
    if isinstance(error, NoArgsIsHelpError):
        error.format_message()  # typer renders the help itself (stdout)
        return fail(f"missing command: see the list above ({ctx.command_path if ctx else 'ecsfleet'} COMMAND)",
                    error.exit_code)
    if ctx is not None:
        console.err.print(escape(ctx.get_usage()), highlight=False)
        console.err.print(f"Try '{escape(ctx.command_path)} --help' for help.", highlight=False)
    return fail(error.format_message(), error.exit_code)


if __name__ == "__main__":
    raise SystemExit(main())
