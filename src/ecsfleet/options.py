"""Numeric options every command shares, each with its range checked at parse time.

A bound on both sides also refuses `nan` and `inf` (typer checks ranges through pydantic, which
refuses both against a finite bound), so no command can busy-loop on `--interval 0`, sleep for
ever on `--interval inf` or wait a negative time.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import typer
from typer._click.core import ParameterSource  # typer bundles its own click

from . import console  # console.err, not err: rich is imported on first use
from .errors import UserError

MIN_INTERVAL = 1.0  # seconds between daemon passes: less is a busy loop against AWS's quotas
MAX_INTERVAL = 86_400.0  # a day: a controller that looks less often is not one
MAX_SECONDS = 604_800.0  # a week: the longest timeout or wait any command takes
MAX_COUNT = 1_000  # instances draining or updating at once


def seconds(help: str, minimum: float = 0.0, maximum: float = MAX_SECONDS, **kwargs: Any) -> Any:
    """A duration option: finite, from `minimum` to `maximum` seconds."""
    return typer.Option(help=help, min=minimum, max=maximum, **kwargs)  # --help shows the range


def count(help: str, minimum: int = 1, maximum: int = MAX_COUNT, **kwargs: Any) -> Any:
    return typer.Option(help=help, min=minimum, max=maximum, **kwargs)


Interval = Annotated[float | None, seconds("Run as a daemon: a pass every N seconds.", MIN_INTERVAL, MAX_INTERVAL,
                                           metavar="SECONDS")]
MetricsPort = Annotated[int | None, typer.Option(help="Serve Prometheus metrics on this port.", min=1,
                                                 max=65535, metavar="PORT")]


# The flags below mean the same thing on every command, so they are declared once, here; docs/cli-conventions.md
# writes the convention down and tests/test_cli_convention.py walks every command to hold it.

CLUSTER_ENV = "ECSFLEET_CLUSTER"
T = TypeVar("T")


def cluster_option(help: str, **kwargs: Any) -> Any:
    """`--cluster/-c`, falling back on $ECSFLEET_CLUSTER: a shell that exported it once runs every command on it."""
    return typer.Option("--cluster", "-c", envvar=CLUSTER_ENV, help=help, **kwargs)


def output_option(help: str) -> Any:
    """`--output/-o`: how a command prints what it shows (table, json, yaml, markdown)."""
    return typer.Option("--output", "-o", help=help)


def legacy_format_option(*short: str) -> Any:
    """The `--format` a command took before `--output/-o`: hidden, still accepted, so scripts keep working."""
    return typer.Option("--format", *short, hidden=True, help="Deprecated: use --output/-o.")


def chosen_output(ctx: typer.Context, output: T, legacy: T | None) -> T:
    """--output, or the deprecated --format (with a warning); both, disagreeing, is bad input."""
    if legacy is None:
        return output
    if ctx.get_parameter_source("output") not in (None, ParameterSource.DEFAULT) and legacy != output:
        raise UserError(f"--output {output} and --format {legacy} disagree: give --output only")
    console.err.print("[yellow]warning:[/] --format is deprecated: use --output/-o", highlight=False)
    return legacy


def dry_run_option(help: str) -> Any:
    """`--dry-run`: a plain flag (no --no-dry-run: not changing anything is never the default to undo)."""
    return typer.Option("--dry-run", help=help)


Once = Annotated[bool, typer.Option("--once", help="One pass, then exit (0: all applied, 1: a change failed).")]

ONCE_OR_INTERVAL = "give exactly one of --once (one pass, then exit) or --interval SECONDS (a daemon)"


def run_mode(once: bool, interval: float | None, fallback: float | None = None,
             fallback_hint: str = "") -> float | None:
    """The --once / --interval rule every controller command shares: exactly one of them, or neither
    when the command has a `fallback` interval of its own (lb-sync's statika configuration file).
    Returns the interval to run at (None: one pass)."""
    if once and interval is not None:
        raise UserError(ONCE_OR_INTERVAL)
    if once:
        return None
    if interval is None and fallback is None:
        raise UserError(ONCE_OR_INTERVAL + fallback_hint)
    return interval if interval is not None else fallback
