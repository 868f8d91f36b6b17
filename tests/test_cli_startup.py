"""Start-up: `ecsfleet --version`, `--help` and one command's `--help` import only what they show.

The subprocess tests run what the installed `ecsfleet` script runs, in a fresh interpreter, and
read `sys.modules` as it exits (not `-X importtime`, which does not see modules imported through
importlib, as the lazy commands are); the others check in-process that the lazily listed
commands are the commands that load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperCommand

import ecsfleet.lazy_group
from ecsfleet import __version__
from ecsfleet.cli import Root, app, main, summary
from ecsfleet.lazy_group import Lazy, LazyCommands

# Today `--version` imports about 150 modules and `--help` about 330 (typer's help is drawn with
# rich, markdown-it and pygments); before the commands were loaded lazily both imported over 700.
MAX_VERSION_MODULES = 180
MAX_HELP_MODULES = 400
# What a command with nothing to show of them must not import: AWS's SDK, the sandbox's moto,
# the schema and template libraries, and (for --version) the library that draws help and tables.
HEAVY = ("boto3", "botocore", "moto", "pydantic", "jinja2", "yaml")
CAPABILITIES = {name: entry.module.rsplit(".", 1)[0] for name, entry in Root.lazy.items() if name != "status"}


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


@pytest.mark.parametrize("command", sorted(CAPABILITIES))
def test_a_commands_help_imports_its_own_capability_and_no_aws_sdk(command: str) -> None:
    done, modules = imported(command, "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"ecsfleet {command}" in done.stdout
    assert CAPABILITIES[command] in modules
    assert not top_level(modules) & {"boto3", "moto"}
    # bootstrap renders the other controllers' policies and fleet's events; nothing else reaches across
    others = {p for c, p in CAPABILITIES.items() if c not in (command, "iam-policy")}
    if command == "bootstrap":
        others.discard(CAPABILITIES["fleet"])
    assert not [m for m in modules if m in others], sorted(m for m in modules if m in others)


def test_completing_a_command_name_imports_no_command() -> None:
    done, modules = imported(env={"_ECSFLEET_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "ecsfleet "})
    assert done.returncode == 0, done.stderr
    for name, entry in Root.lazy.items():
        assert f'"{name}":"{entry.summary.split()[0]}' in done.stdout, name
    assert not [m for m in modules if m.startswith(tuple(CAPABILITIES.values()))]


def test_each_listed_summary_is_the_loaded_commands_own() -> None:
    """Root.lazy repeats each command's first help paragraph so the list needs no import: when a help
    text changes, its summary there must change with it."""
    root = typer.main.get_command(app)
    assert isinstance(root, Root)
    assert list(root.commands) == list(Root.lazy)
    for name, command in root.commands.items():
        assert command.help, name
        assert Root.lazy[name].summary == summary(command.help) == command.short_help, name


def test_the_lazy_help_is_the_help_of_the_loaded_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    lazily = capsys.readouterr().out
    root = typer.main.get_command(app)
    list(root.commands.values())  # load them all: the list then shows the commands' own short help
    assert root.main(["--help"], prog_name="ecsfleet", standalone_mode=False) == 0
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

    lazy = {"b": Lazy("m", "b", "B."), "a": Lazy("m", "a", "A.")}
    commands = LazyCommands({}, lazy, load)
    assert (list(commands), "a" in commands, "z" in commands, len(commands), loads) == (["b", "a"], True, False, 2, [])
    listed = commands.listed("a")
    assert listed is not None and listed.short_help == "A." and loads == []
    assert commands["a"] is real and commands.get("a") is real and loads == ["a"]  # loaded once
    commands["c"] = real
    del commands["b"]
    assert list(commands) == ["a", "c"] and loads == ["a"]
