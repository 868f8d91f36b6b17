"""Numeric options every command shares, each with its range checked at parse time.

A bound on both sides also refuses `nan` and `inf` (typer checks ranges through pydantic, which
refuses both against a finite bound), so no command can busy-loop on `--interval 0`, sleep for
ever on `--interval inf` or wait a negative time.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

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
