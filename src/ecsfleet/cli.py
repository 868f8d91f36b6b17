"""The `ecsfleet` command: one Typer app with a sub-command (group) per capability, each imported
when first used (`Root.lazy`): a command pays only for the imports of its own capability."""

from __future__ import annotations

try:  # Ctrl-C (SIGINT) during the imports ends the command quietly, as later on
    import enum
    import sys
    from dataclasses import dataclass
    from typing import TYPE_CHECKING, Annotated

    import typer

    # typer bundles its own click: a usage error is one of these types, never one of click's
    from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from . import __version__, console
    from .aws import aws_errors, error_code, explain_connection_error
    from .command_summaries import SUMMARIES
    from .console import Output
    from .errors import UserError
    from .lazy_group import Lazy, LazyGroup, summary
    from .options import cluster_option, output_option, seconds

    if TYPE_CHECKING:
        from .aws import Clients
except KeyboardInterrupt:
    raise SystemExit(130) from None

__all__ = ["Root", "app", "main", "status", "summary"]  # summary: what a command list shows of a help text


class Root(LazyGroup):
    """`ecsfleet`: each capability's module is imported when its command runs or its help is
    asked for, so `--version`, `--help` and one command's `--help` import only what they show."""

    lazy = {name: Lazy(module, attribute, SUMMARIES[name], help_text) for name, module, attribute, help_text in (
        ("lb-sync", "ecsfleet.lbsync.cli", "lb_sync", "HELP"),
        ("dns-sync", "ecsfleet.dns.cli", "dns_sync", "HELP"),
        ("iam-policy", "ecsfleet.iam.cli", "iam_policy", "HELP"),
        ("status", "ecsfleet.cli", "status", None),
        ("sandbox", "ecsfleet.sandbox.cli", "app", None),
        ("agents", "ecsfleet.agents.cli", "app", None),
        ("bootstrap", "ecsfleet.bootstrap.cli", "app", None),
        ("fleet", "ecsfleet.fleet.cli", "app", None),
    )}


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
    # its help is its summary (command_summaries.SUMMARIES["status"])
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
