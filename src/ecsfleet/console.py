"""What the commands share to print: the output choices and the consoles."""

from __future__ import annotations

import enum
import sys

from rich.console import Console

err = Console(stderr=True, soft_wrap=True)


class Output(enum.StrEnum):
    table = "table"
    json = "json"


class TemplateFormat(enum.StrEnum):
    json = "json"
    yaml = "yaml"


def out() -> Console:
    """stdout; wide when it is not a terminal, so logs and pipes keep whole ids and addresses."""
    return Console() if sys.stdout.isatty() else Console(width=200)
