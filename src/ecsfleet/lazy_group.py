"""A command group whose sub-commands are imported when first needed.

typer builds the whole click tree from the Typer apps it is given, so every capability (boto3,
pydantic, moto for the sandbox) used to be imported before `ecsfleet --version` could answer.
A `LazyGroup` names each sub-command instead (`Lazy`: module, attribute, and the one-line
summary its command list shows) and imports the module only when the command is run, its own
help is asked for, or the tree is walked: `commands` is a mapping that loads an entry when it
is read, so whatever walks `group.commands` (the reference page, the tests) still sees every
command and flag. The group's help and shell completion list the summaries without importing.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer._click.core import Command, Context  # typer bundles its own click
from typer._click.formatting import HelpFormatter
from typer._click.shell_completion import CompletionItem
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A sub-command in `module`: `attribute` is a Typer app (a group) or a command function,
    whose help is the module's attribute named `help`, or else the function's docstring."""

    module: str
    attribute: str
    summary: str  # the first paragraph of its help, on one line (a test holds the two equal)
    help: str | None = None

    def load(self, name: str, prepare: Callable[[typer.Typer], None]) -> Command:
        """The click command typer builds for it, as `add_typer` / `command` on the parent would."""
        module = importlib.import_module(self.module)
        target = getattr(module, self.attribute)
        parent = typer.Typer()
        if isinstance(target, typer.Typer):
            parent.add_typer(target, name=name)
        else:
            parent.command(name, help=getattr(module, self.help) if self.help else None)(target)
        prepare(parent)
        return typer.main.get_group(parent).commands[name]


class LazyCommands(MutableMapping[str, Command]):
    """A group's sub-commands by name, in listing order; a lazy one is loaded when first read."""

    def __init__(self, loaded: Mapping[str, Command], lazy: Mapping[str, Lazy],
                 load: Callable[[str, Lazy], Command]) -> None:
        self._order = [*lazy, *(name for name in loaded if name not in lazy)]
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
            return TyperCommand(name=name, short_help=self._lazy[name].summary)
        return self._loaded.get(name)


class LazyGroup(TyperGroup):
    """A TyperGroup (`typer.Typer(cls=...)`) whose sub-commands are the class's `lazy` entries,
    in the order its help lists them."""

    lazy: ClassVar[Mapping[str, Lazy]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._commands = LazyCommands(self.commands, self.lazy, self._load)
        self.commands = self._commands
        self._listing = False

    def prepare(self, parent: typer.Typer) -> None:
        """Adjust a loaded sub-command's Typer app (held by `parent`) before click's command is built."""

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
