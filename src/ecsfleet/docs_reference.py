"""The flag reference page, generated from the CLI itself so it cannot drift from it:

    python -m ecsfleet.docs_reference > docs/reference/cli.md

It walks the click command tree typer builds (every group and command, in the order `--help`
lists them; reading a group's `commands` imports the capabilities the root otherwise loads only
when used, see ecsfleet.lazy_group) and writes each command's help and a table of its arguments
and options: name, short form, environment variable, default, and the range or choices it accepts.
tests/test_cli_convention.py fails when the committed page differs from this output.
"""

from __future__ import annotations

import enum
import inspect
import typing
from collections.abc import Iterator
from typing import Any

import typer
from typer._click.core import Command, Parameter  # typer bundles its own, reduced, click
from typer.core import TyperArgument, TyperOption

from .cli import app

REGENERATE = "python -m ecsfleet.docs_reference > docs/reference/cli.md"


def commands(command: Command, path: str) -> Iterator[tuple[str, Command]]:
    """Every command under `command`, itself first, depth first in listing order."""
    yield path, command
    subcommands: dict[str, Command] = getattr(command, "commands", {})
    for name, sub in subcommands.items():
        if not sub.hidden:
            yield from commands(sub, f"{path} {name}")


def cell(text: object) -> str:
    """Markdown table cell: one line, pipes escaped, `<word>` shown rather than taken for HTML."""
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def default_text(param: Parameter) -> str:
    value = param.default
    flag = isinstance(param, TyperOption) and param.is_flag
    if value is None or callable(value) or (flag and value is False and not param.secondary_opts):
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, list | tuple):
        if not value:
            return ""
        value = ", ".join(str(v.value if isinstance(v, enum.Enum) else v) for v in value)
    if flag and param.secondary_opts:
        value = param.opts[0] if value else param.secondary_opts[0]
    return f"`{value}`"


def base_type(annotation: Any) -> Any:
    """`list[X] | None` -> X: the type of one value."""
    while typing.get_origin(annotation) is not None:
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def accepts(param: TyperOption | TyperArgument) -> str:
    """The values a parameter takes: its choices, range, or type name."""
    if isinstance(param, TyperOption) and param.is_flag:
        return "flag"
    kind = base_type(param.type_descriptor.annotation)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return " \\| ".join(f"`{c.value}`" for c in kind)
    name = getattr(kind, "__name__", str(kind)).replace("str", "text").replace("Path", "path")
    low = "" if param.min is None else f"{param.min:g} ≤ "
    high = "" if param.max is None else f" ≤ {param.max:g}"
    return f"{low}{name}{high}"


def names(param: Parameter) -> tuple[str, str]:
    """(long names, short names) of a parameter, as `--help` shows them."""
    if isinstance(param, TyperArgument):
        return f"`{param.metavar or (param.name or '').upper()}`", ""
    everything = [*param.opts, *param.secondary_opts]
    long = [n for n in everything if n.startswith("--")]
    short = [n for n in everything if not n.startswith("--")]
    return " / ".join(f"`{n}`" for n in long), " ".join(f"`{n}`" for n in short)


def envvars(param: Parameter) -> str:
    value = param.envvar
    listed = [value] if isinstance(value, str) else list(value or ())
    return ", ".join(f"`{v}`" for v in listed)


def helptext(param: Parameter) -> str:
    text = getattr(param, "help", None) or ""
    notes = []
    if param.required:
        notes.append("required")
    if param.multiple and "repeatable" not in text:
        notes.append("repeatable")
    if getattr(param, "hidden", False):
        notes.append("hidden: a deprecated alias")
    return cell(text + "".join(f" ({n})" for n in notes))


def section(path: str, command: Command) -> list[str]:
    level = "#" * min(2 + path.count(" "), 4)
    lines = [f"{level} `{path}`", ""]
    if command.help:
        lines += ["```text", inspect.cleandoc(command.help), "```", ""]  # verbatim, as --help prints it
    params = [p for p in command.params if isinstance(p, TyperOption | TyperArgument) and p.name != "help"]
    if params:
        lines += ["| Flag | Short | Env var | Default | Accepts | Help |", "|---|---|---|---|---|---|"]
        for param in params:
            long, short = names(param)
            lines.append(f"| {long} | {short} | {envvars(param)} | {cell(default_text(param))} | "
                         f"{accepts(param)} | {helptext(param)} |")
        lines.append("")
    return lines


def markdown() -> str:
    root = typer.main.get_command(app)
    lines = ["# CLI reference", "",
             "Generated from the CLI itself; do not edit by hand: `" + REGENERATE + "`.",
             "The conventions every command follows (flag names, exit codes, completion) are in",
             "[cli-conventions.md](../cli-conventions.md). `-h` is `--help` everywhere.", ""]
    for path, command in commands(root, "ecsfleet"):
        lines += section(path, command)
    return "\n".join(lines).rstrip("\n") + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
