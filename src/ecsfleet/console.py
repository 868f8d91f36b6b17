"""What the commands share to print: the output choices and the consoles.

rich is imported when something is first printed, not with this module: `ecsfleet --version`
prints nothing through rich and should not pay for importing it.
"""

from __future__ import annotations

import enum
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    err: Console  # stderr, made on first use (see __getattr__)


class Output(enum.StrEnum):
    table = "table"
    json = "json"


class TemplateFormat(enum.StrEnum):
    json = "json"
    yaml = "yaml"


def out() -> Console:
    """stdout; wide when it is not a terminal, so logs and pipes keep whole ids and addresses."""
    from rich.console import Console

    return Console() if sys.stdout.isatty() else Console(width=200)


def __getattr__(name: str) -> Console:
    """`err`, stderr's console: one for the process, made when first imported or used."""
    if name != "err":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    globals()["err"] = console
    return console
