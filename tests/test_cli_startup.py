"""Start-up: `ecsfleet --version`, `--help` and every command's `--help` import only what they show.

The subprocess tests run what the installed `ecsfleet` script runs, in a fresh interpreter, and
read `sys.modules` as it exits (not `-X importtime`, which does not see modules imported through
importlib, as the lazy commands are); the others check in-process that the lazily listed
commands are the commands that load.
"""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer._click.core import Command
from typer.core import TyperCommand

import ecsfleet.fleet.cli
import ecsfleet.lazy_group
from ecsfleet import __version__
from ecsfleet.cli import Root, app, main
from ecsfleet.command_summaries import SUMMARIES
from ecsfleet.fleet.cli import FleetCommands
from ecsfleet.lazy_group import Lazy, LazyCommands, summary

# Today `--version` imports about 150 modules and `--help` about 330 (typer's help is drawn with
# rich, markdown-it and pygments); before the commands were loaded lazily both imported over 700.
MAX_VERSION_MODULES = 180
MAX_HELP_MODULES = 400
# What a command with nothing to show of them must not import: AWS's SDK, the sandbox's moto,
# the schema and template libraries, and (for --version) the library that draws help and tables.
HEAVY = ("boto3", "botocore", "moto", "pydantic", "jinja2", "yaml")
CAPABILITIES = {name: entry.module.rsplit(".", 1)[0] for name, entry in Root.lazy.items() if name != "status"}
# What no command's help imports: AWS's SDK, the Docker client, the sandbox's moto, the template linter.
NEVER_FOR_HELP = {"boto3", "botocore", "docker", "moto", "cfnlint"}
# Today a command's help imports about 430 modules (typer builds its options with pydantic), fleet's
# 455 (yaml, for to_yaml), those whose options show the templates' names 485 (jinja2), the sandbox's
# about 540 (its package imports the emulator); each imported its whole capability before, up to 531.
MAX_COMMAND_HELP_MODULES = {"": 460, "bootstrap": 500, "fleet init": 500, "fleet pipeline": 500}
# ecsfleet's modules any command's help has: the root's, and the summaries of the commands it lists
HELP_FLOOR = {"ecsfleet", "ecsfleet.cli", "ecsfleet.aws", "ecsfleet.command_summaries", "ecsfleet.console",
              "ecsfleet.errors", "ecsfleet.lazy_group", "ecsfleet.options"}
# The modules holding what a command's options show (a default, the choices, a range), which its
# help therefore imports, with what they import; longest matching command path first.
SHOWN = {
    "agents": ("ecsfleet.amis",),  # --ami-parameter's default
    "bootstrap": ("ecsfleet.bootstrap.template",),  # --controllers' choices and default
    "dns-sync": ("ecsfleet.dns.records",),  # --ttl's default
    "fleet init": ("ecsfleet.cfn", "ecsfleet.fleet.pipeline", "ecsfleet.fleet.scaffold"),  # instance types, price
    "fleet pipeline": ("ecsfleet.cfn", "ecsfleet.fleet.pipeline", "ecsfleet.fleet.scaffold"),  # --source, ...
    "sandbox": ("ecsfleet.amis", "ecsfleet.sandbox.clock"),  # the AMI parameter, --speed's and advance's bounds
}


# the console script's own two lines, plus a note of every module loaded when the process exits
ENTRY = ("import atexit, os, sys\n"
         "atexit.register(lambda: open(os.environ['MODULES_OUT'], 'w').write('\\n'.join(sys.modules)))\n"
         "from ecsfleet.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


def imported(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `ecsfleet ARGS`; its result and every module loaded when it exits (the interpreter's own too)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "modules"
        done = subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **(env or {}), "MODULES_OUT": str(out), "COLUMNS": "120"})
        return done, out.read_text().splitlines()


def top_level(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def command_paths(command: Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command under `command` (loading each), itself first."""
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from command_paths(sub, (*path, name))


COMMAND_PATHS = [path for path in command_paths(typer.main.get_command(app)) if path]


def matching(table: dict[str, Any], path: tuple[str, ...], default: Any) -> Any:
    """The entry of the longest command path in `table` that `path` starts with."""
    for length in range(len(path), 0, -1):
        if " ".join(path[:length]) in table:
            return table[" ".join(path[:length])]
    return default


@functools.cache
def loaded_by(*modules: str) -> frozenset[str]:
    """ecsfleet's modules a fresh interpreter holds after importing `modules`."""
    done = subprocess.run([sys.executable, "-c", f"import sys, {', '.join(modules)}; print(*sys.modules)"],
                          capture_output=True, text=True, timeout=120, check=True)
    return frozenset(m for m in done.stdout.split() if m.split(".")[0] == "ecsfleet")


def may_import(path: tuple[str, ...]) -> set[str]:
    """ecsfleet's modules `<path> --help` may import: the floor, the command's module and its
    packages (with what their __init__ imports), and the modules of what its options show."""
    if path[0] == "status":
        return set(HELP_FLOOR)
    modules = [Root.lazy[path[0]].module]
    if path[0] == "fleet" and len(path) > 1 and path[1] in FleetCommands.lazy:
        modules.append(FleetCommands.lazy[path[1]].module)
    packages = {m.rsplit(".", depth)[0] for m in modules for depth in range(1, m.count("."))}
    return {*HELP_FLOOR, *modules, *loaded_by(*sorted(packages), *matching(SHOWN, path, ()))}


@functools.cache
def root_help_modules() -> frozenset[str]:
    return frozenset(imported("--help")[1])


def test_version_imports_no_command_nor_any_heavy_library() -> None:
    done, modules = imported("--version")
    assert (done.returncode, done.stdout) == (0, f"ecsfleet {__version__}\n")
    assert len(modules) <= MAX_VERSION_MODULES, modules
    assert not top_level(modules) & {*HEAVY, "rich"}, sorted(top_level(modules) & {*HEAVY, "rich"})
    assert not [m for m in modules if m.startswith(tuple(CAPABILITIES.values()))]


def test_help_lists_every_command_without_importing_one() -> None:
    done, modules = imported("--help")
    assert done.returncode == 0
    for name, entry in Root.lazy.items():
        assert name in done.stdout and entry.summary.split()[0] in done.stdout, name
    assert len(modules) <= MAX_HELP_MODULES, len(modules)
    assert not top_level(modules) & set(HEAVY), sorted(top_level(modules) & set(HEAVY))
    assert not [m for m in modules if m.startswith(tuple(CAPABILITIES.values()))]


def test_every_command_is_checked() -> None:
    assert len(COMMAND_PATHS) >= 30 and ("fleet", "pipeline", "deploy") in COMMAND_PATHS, COMMAND_PATHS
    assert {path[0] for path in COMMAND_PATHS} == set(Root.lazy)


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=" ".join)
def test_a_commands_help_imports_its_signatures_only(path: tuple[str, ...]) -> None:
    """The command's module and what its options show; no controller, no AWS SDK, no rich beyond
    what typer draws every help with."""
    done, modules = imported(*path, "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"ecsfleet {' '.join(path)}" in done.stdout
    assert not top_level(modules) & NEVER_FOR_HELP, sorted(top_level(modules) & NEVER_FOR_HELP)
    extra = sorted({m for m in modules if m.split(".")[0] == "ecsfleet"} - may_import(path))
    assert not extra, extra
    passes = [m for m in modules if m.endswith(".controller") or m == "ecsfleet.runner"]
    assert not passes, passes  # whatever the modules of its options' defaults import
    # rich's character width tables load with whatever text is drawn: the rest is what typer draws help with
    rich = {m for m in modules if m.split(".")[0] == "rich" and not m.startswith("rich._unicode_data.")}
    assert not rich - root_help_modules(), sorted(rich - root_help_modules())
    assert len(modules) <= matching(MAX_COMMAND_HELP_MODULES, path, MAX_COMMAND_HELP_MODULES[""]), len(modules)


def test_a_command_that_runs_imports_what_its_help_does_not() -> None:
    """The check above can fail: the same command, run, imports its controller."""
    _, modules = imported("dns-sync", "--cluster", "c", "--once", "--dry-run",
                          env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1"})
    assert "ecsfleet.dns.controller" in modules and "ecsfleet.dns.controller" not in may_import(("dns-sync",))


def test_completing_a_command_name_imports_no_command() -> None:
    done, modules = imported(env={"_ECSFLEET_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "ecsfleet "})
    assert done.returncode == 0, done.stderr
    for name, entry in Root.lazy.items():
        assert f'"{name}":"{entry.summary.split()[0]}' in done.stdout, name
    assert not [m for m in modules if m.startswith(tuple(CAPABILITIES.values()))]


def test_each_listed_summary_is_the_loaded_commands_own() -> None:
    """The lists show command_summaries' texts without importing the commands; each command's help
    begins with its own, so the two are one text."""
    root = typer.main.get_command(app)
    assert isinstance(root, Root)
    assert list(root.commands) == list(Root.lazy)
    fleet = root.commands["fleet"]
    assert isinstance(fleet, FleetCommands)
    lazy = [(name, Root.lazy[name], command) for name, command in root.commands.items()]
    lazy += [(f"fleet {name}", entry, fleet.commands[name]) for name, entry in FleetCommands.lazy.items()]
    assert sorted(name for name, _, _ in lazy) == sorted(SUMMARIES)
    for name, entry, command in lazy:
        assert command.help, name
        assert entry.summary == SUMMARIES[name], name
        assert inspect.cleandoc(command.help).startswith(entry.summary), name
        assert summary(entry.summary) == summary(command.help) == command.short_help, name
    # fleet's own commands are listed first, as before its delivery commands were loaded lazily
    assert list(fleet.commands)[-2:] == ["init", "pipeline"] and next(iter(fleet.commands)) == "validate"


@pytest.mark.parametrize("group", [(), ("fleet",)], ids=["ecsfleet", "fleet"])
def test_the_lazy_help_is_the_help_of_the_loaded_tree(capsys: pytest.CaptureFixture[str],
                                                      group: tuple[str, ...]) -> None:
    assert main([*group, "--help"]) == 0
    lazily = capsys.readouterr().out
    root = typer.main.get_command(app)
    assert isinstance(root, Root)
    loaded = root
    for name in group:
        loaded = root.commands[name]
    assert isinstance(loaded, typer.core.TyperGroup)
    list(loaded.commands.values())  # load them all: the list then shows their own short help
    assert root.main([*group, "--help"], prog_name="ecsfleet", standalone_mode=False) == 0
    assert capsys.readouterr().out == lazily


def test_ctrl_c_while_a_command_is_imported_ends_with_130(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    real = ecsfleet.lazy_group.importlib.import_module

    def interrupted(name: str, *args: Any, **kwargs: Any) -> object:
        if name == Root.lazy["lb-sync"].module:
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    monkeypatch.setattr(ecsfleet.lazy_group.importlib, "import_module", interrupted)
    assert main(["lb-sync", "--help"]) == 130
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err  # typer ends an interrupted command quietly, 130


def test_a_mistyped_command_is_suggested_without_loading_any(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    real = Lazy.load
    monkeypatch.setattr(Lazy, "load", lambda self, *a: loads.append(self.module) or real(self, *a))
    assert main(["lb-sink"]) == 2
    assert "Did you mean 'lb-sync'?" in capsys.readouterr().err
    assert loads == []


def test_lazy_commands_load_on_read_only() -> None:
    loads: list[str] = []
    real = TyperCommand(name="stand-in")

    def load(name: str, entry: Lazy) -> TyperCommand:
        loads.append(name)
        return real

    lazy = {"b": Lazy("m", "b", "B,\nwrapped."), "a": Lazy("m", "a", "A.")}
    built = TyperCommand(name="built")
    commands = LazyCommands({"built": built}, lazy, load)
    assert (list(commands), "a" in commands, "z" in commands, len(commands), loads) == (
        ["built", "b", "a"], True, False, 3, [])
    listed, wrapped = commands.listed("a"), commands.listed("b")
    assert listed is not None and listed.short_help == "A." and loads == []
    assert wrapped is not None and wrapped.short_help == "B, wrapped." and commands.listed("built") is built
    assert commands["a"] is real and commands.get("a") is real and loads == ["a"]  # loaded once
    commands["c"] = real
    del commands["b"]
    assert list(commands) == ["built", "a", "c"] and loads == ["a"]
