"""One CLI convention (docs/cli-conventions.md), held by walking every command typer builds: the
same flag, short form and environment variable for the same thing everywhere, one --once /
--interval rule and message, whole summaries in command lists, and a flag reference page
generated from the commands themselves."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer._click.core import Command
from typer.core import TyperArgument, TyperOption

from ecsfleet.aws import Clients
from ecsfleet.cli import app, main, summary
from ecsfleet.docs_reference import REGENERATE, base_type, commands, markdown
from ecsfleet.options import CLUSTER_ENV, ONCE_OR_INTERVAL
from ecsfleet.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def every_command() -> list[tuple[str, Command]]:
    return list(commands(typer.main.get_command(app), "ecsfleet"))


def options() -> Iterator[tuple[str, TyperOption]]:
    for path, command in every_command():
        for param in command.params:
            if isinstance(param, TyperOption):
                yield path, param


def flags(param: TyperOption) -> set[str]:
    return {*param.opts, *param.secondary_opts}


def test_the_walk_sees_every_command() -> None:
    paths = {path for path, _ in every_command()}
    assert {"ecsfleet lb-sync", "ecsfleet dns-sync", "ecsfleet status", "ecsfleet agents update",
            "ecsfleet fleet reconcile", "ecsfleet bootstrap render", "ecsfleet iam-policy",
            "ecsfleet sandbox rules"} <= paths
    assert len(paths) >= 25


def test_cluster_is_dash_c_and_ecsfleet_cluster_everywhere() -> None:
    seen = []
    for path, param in options():
        if "--cluster" in flags(param):
            seen.append(path)
            assert flags(param) == {"--cluster", "-c"}, path
            assert param.envvar == CLUSTER_ENV, path
        else:
            assert "-c" not in flags(param), (path, param.opts)
    assert len(seen) >= 7  # status, lb-sync, dns-sync, agents status/update, iam-policy, bootstrap render


def output_format_choice(param: TyperOption) -> bool:
    """An option choosing how output is printed: an enum offering json."""
    kind = base_type(param.type_descriptor.annotation)
    return isinstance(kind, type) and issubclass(kind, enum.Enum) and "json" in {m.value for m in kind}


def test_every_output_format_choice_is_dash_dash_output_dash_o() -> None:
    seen = []
    for path, param in options():
        if output_format_choice(param) and not param.hidden:
            seen.append(path)
            assert flags(param) == {"--output", "-o"}, (path, param.opts)
        elif param.hidden:
            assert flags(param) <= {"--format", "-f"}, (path, param.opts)  # only the deprecated alias hides
        else:
            assert not flags(param) & {"--output", "-o", "--format", "-f"}, (path, param.opts)
    assert len(seen) >= 7


def test_dry_run_is_a_plain_flag() -> None:
    seen = []
    for path, param in options():
        assert not any(f.startswith("--no-dry-run") for f in flags(param)), path
        if "--dry-run" in flags(param):
            seen.append(path)
            assert param.is_flag and not param.secondary_opts and param.default is False, path
    assert len(seen) >= 5  # lb-sync, dns-sync, agents update, fleet adopt, fleet reconcile


def test_once_and_interval_come_together_with_one_range() -> None:
    for path, command in every_command():
        by_flag = {f: p for p in command.params if isinstance(p, TyperOption) for f in flags(p)}
        if "--once" in by_flag or "--interval" in by_flag:
            assert "--once" in by_flag and "--interval" in by_flag, path
            assert (by_flag["--interval"].min, by_flag["--interval"].max) == (1.0, 86_400.0), path


def test_every_summary_is_whole_sentences_on_one_line() -> None:
    for path, command in every_command()[1:]:  # the root's own help is not listed anywhere
        assert command.help, path
        listed = command.short_help or ""
        assert listed == summary(command.help), path  # the whole first paragraph, never cut
        assert "\n" not in listed and listed.endswith("."), (path, listed)
        assert not listed.endswith(("..", "…", " with.", " with")), (path, listed)


def test_bootstrap_help_lists_render_with_a_whole_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "--help"]) == 0
    listing = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "render Render the controllers' CloudFormation template: Lambda functions, roles, schedules and " \
           "queues." in listing
    assert "Deploy it with" not in listing


def test_every_option_and_argument_has_help() -> None:
    for path, command in every_command():
        for param in command.params:
            if isinstance(param, TyperOption | TyperArgument) and param.name != "help":
                assert param.help, (path, param.name)


def once_and_interval_commands() -> list[list[str]]:
    found = []
    for path, command in every_command():
        if any(isinstance(p, TyperOption) and "--once" in flags(p) for p in command.params):
            found.append(path.split()[1:])
    return found


ENOUGH_TO_GET_THERE = {("lb-sync",): ["--services", "services.yml", "--cluster", "c"]}


@pytest.mark.parametrize("command", once_and_interval_commands(), ids=" ".join)
@pytest.mark.parametrize("given", [["--once", "--interval", "5"], []], ids=["both", "neither"])
def test_once_and_interval_conflicts_give_the_one_shared_message(
        command: list[str], given: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("CONFIGURATION_URL", "ECSFLEET_LBSYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert main([*command, *given, *ENOUGH_TO_GET_THERE.get(tuple(command), [])]) == 2
    assert ONCE_OR_INTERVAL in capsys.readouterr().err.replace("\n", "")


def test_the_commands_with_once_are_the_controllers() -> None:
    assert sorted(once_and_interval_commands()) == [["dns-sync"], ["fleet", "reconcile"], ["lb-sync"]]


def test_lb_sync_reads_ecsfleet_cluster(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """No --cluster and no statika config: the cluster comes from the environment, as for status."""
    for name in ("CONFIGURATION_URL", "ECSFLEET_LBSYNC_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert main(["lb-sync", "--services", "services.yml", "--once", "--interval", "5"]) == 2
    assert "no cluster" in capsys.readouterr().err
    monkeypatch.setenv(CLUSTER_ENV, "prod")
    assert main(["lb-sync", "--services", "services.yml", "--once", "--interval", "5"]) == 2
    assert ONCE_OR_INTERVAL in capsys.readouterr().err.replace("\n", "")


def test_agents_status_reads_ecsfleet_cluster_and_all_overrides_it(
        sb: Sandbox, clients: Clients, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("blue", "green"):
        clients("ecs").create_cluster(clusterName=name)
    monkeypatch.setenv(CLUSTER_ENV, "blue")
    assert main(["agents", "status", "-o", "json"]) == 0
    shown = capsys.readouterr().out
    assert "blue" in shown and "green" not in shown
    assert main(["agents", "update", "--all", "--dry-run"]) == 0  # --all is every cluster, whatever was exported


def test_format_is_a_hidden_deprecated_alias_of_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "render", "--controllers", "agents", "--format", "yaml"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("AWSTemplateFormatVersion") or "Resources:" in captured.out
    assert "--format is deprecated: use --output/-o" in captured.err
    assert main(["bootstrap", "render", "--controllers", "agents", "-o", "yaml"]) == 0
    captured_o = capsys.readouterr()
    assert captured_o.out == captured.out and "deprecated" not in captured_o.err
    assert main(["bootstrap", "render", "--controllers", "agents", "-o", "json", "--format", "yaml"]) == 2
    assert "disagree" in capsys.readouterr().err
    assert main(["bootstrap", "render", "--help"]) == 0
    assert "--format" not in capsys.readouterr().out


def test_fleet_render_keeps_dash_f(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    infra = tmp_path / "infra.yml"
    infra.write_text((ROOT / "tests" / "fixtures" / "infra-minimal.yml").read_text())
    args = ["fleet", "render", str(infra), "--version", "v1", "--no-lint"]
    assert main([*args, "-f", "yaml"]) == 0
    old = capsys.readouterr()
    assert main([*args, "-o", "yaml"]) == 0
    assert capsys.readouterr().out == old.out and "deprecated" in old.err


def test_root_offers_shell_completion() -> None:
    root = typer.main.get_command(app)
    names = {f for p in root.params if isinstance(p, TyperOption) for f in flags(p)}
    assert {"--install-completion", "--show-completion"} <= names


def test_show_completion_prints_a_script(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # Typer names the shell from the process tree (shellingham), not from an argument: a test run
    # with no shell among its ancestors (a supervisor, a detached job) would find none.
    monkeypatch.setattr("typer.completion._get_shell_name", lambda: "bash")
    with pytest.raises(SystemExit) as done:  # typer ends the process itself once the script is out
        main(["--show-completion"])
    assert done.value.code == 0
    assert "_ECSFLEET_COMPLETE" in capsys.readouterr().out


def test_the_reference_page_is_generated_from_the_cli() -> None:
    page = (ROOT / "docs" / "reference" / "cli.md").read_text()
    assert page == markdown(), f"regenerate: {REGENERATE}"


def test_the_reference_page_names_every_command_and_flag() -> None:
    page = markdown()
    for path, command in every_command():
        assert f"`{path}`" in page
        for param in command.params:
            if isinstance(param, TyperOption) and param.name != "help":
                assert f"`{param.opts[0]}`" in page, (path, param.opts)


def test_the_conventions_page_states_exit_codes_and_completion() -> None:
    page = (ROOT / "docs" / "cli-conventions.md").read_text()
    for needle in ("--cluster", "-c", CLUSTER_ENV, "--output", "-o", "--dry-run", "--once", "--interval",
                   ONCE_OR_INTERVAL, "--install-completion", "--show-completion", "130", "reference/cli.md"):
        assert needle in page, needle
