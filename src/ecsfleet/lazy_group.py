"""A command group whose sub-commands are imported when first needed.

typer builds the whole click tree from the Typer apps it is given, so every capability (boto3,
pydantic, moto for the sandbox) used to be imported before `ecsfleet --version` could answer.
A `LazyGroup` names each sub-command instead (`Lazy`: module, attribute, and the summary its
command list shows, from ecsfleet.command_summaries) and imports the module only when the command
is run, its own help is asked for, or the tree is walked: `commands` is a mapping that loads an entry when it
is read, so whatever walks `group.commands` (the reference page, the tests) still sees every
command and flag. The group's help and shell completion list the summaries without importing.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click.core import Command, Context  # typer bundles its own click
from typer._click.formatting import HelpFormatter
from typer._click.shell_completion import CompletionItem
from typer.core import TyperCommand, TyperGroup
from typer.models import DefaultPlaceholder


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


@dataclass(frozen=True)
class Lazy:
    """A sub-command in `module`: `attribute` is a Typer app (a group) or a command function,
    whose help is the module's attribute named `help`, else the function's docstring, else
    `summary` (a command whose whole help is its summary)."""

    module: str
    attribute: str
    summary: str  # the first paragraph of its help (its help begins with this text: a test holds it)
    help: str | None = None

    def load(self, name: str, prepare: Callable[[typer.Typer], None]) -> Command:
        """The click command typer builds for it, as `add_typer` / `command` on the parent would."""
        module = importlib.import_module(self.module)
        target = getattr(module, self.attribute)
        parent = typer.Typer()
        if isinstance(target, typer.Typer):
            parent.add_typer(target, name=name)
        else:
            text = getattr(module, self.help) if self.help else (target.__doc__ or self.summary)
            parent.command(name, help=text)(target)
        prepare(parent)
        return typer.main.get_group(parent).commands[name]


class LazyCommands(MutableMapping[str, Command]):
    """A group's sub-commands by name, in listing order (those already built, then the lazy ones);
    a lazy one is loaded when first read."""

    def __init__(self, loaded: Mapping[str, Command], lazy: Mapping[str, Lazy],
                 load: Callable[[str, Lazy], Command]) -> None:
        self._order = [*loaded, *(name for name in lazy if name not in loaded)]
        self._loaded = dict(loaded)
        self._lazy = {name: entry for name, entry in lazy.items() if name not in loaded}
        self._load = load

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in self._lazy:
            self._loaded[name] = self._load(name, self._lazy.pop(name))
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self:
            self._order.append(name)
        self._lazy.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._order.remove(name)
        self._lazy.pop(name, None)
        self._loaded.pop(name, None)

    def __contains__(self, name: object) -> bool:  # Mapping's would load the command to answer
        return name in self._loaded or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._order))

    def __len__(self) -> int:
        return len(self._order)

    def listed(self, name: str) -> Command | None:
        """What a command list needs of `name` (its name and summary), without loading it."""
        if name in self._lazy:
            return TyperCommand(name=name, short_help=summary(self._lazy[name].summary))
        return self._loaded.get(name)


class LazyGroup(TyperGroup):
    """A TyperGroup (`typer.Typer(cls=...)`) whose sub-commands are those registered on its Typer
    app, then the class's `lazy` entries, in the order its help lists them."""

    lazy: ClassVar[Mapping[str, Lazy]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._commands = LazyCommands(self.commands, self.lazy, self._load)
        self.commands = self._commands
        self._listing = False

    def prepare(self, parent: typer.Typer) -> None:
        """Adjust a loaded sub-command's Typer app (held by `parent`) before click's command is built:
        its command lists show each help's first paragraph on one line, as the lazy list does."""
        one_line_summaries(parent)

    def _load(self, name: str, entry: Lazy) -> Command:
        return entry.load(name, self.prepare)

    @contextlib.contextmanager
    def _only_listing(self) -> Iterator[None]:
        self._listing = True
        try:
            yield
        finally:
            self._listing = False

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # TyperGroup's reads every item, which would load them all

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if self._listing:
            return self._commands.listed(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        with self._only_listing():  # the command list shows summaries: nothing to import
            super().format_help(ctx, formatter)

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        with self._only_listing():  # completing a command's name: its summary is all that shows
            return super().shell_complete(ctx, incomplete)
