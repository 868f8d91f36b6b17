"""`ecsfleet fleet init`: a cluster repository whose infra.yml validates and renders, whose
workflow passes actionlint, and which never overwrites a file without --force."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecsfleet.cli import app, main
from ecsfleet.fleet import delivery_cli
from ecsfleet.fleet.schema import load_infra

FILES = {"infra.yml", "Makefile", ".github/workflows/deploy.yml", ".gitignore"}


def actionlint() -> str:
    """The binary the dev extras install; a missing one fails the test (never a skip)."""
    found = Path(sys.executable).with_name("actionlint")
    if found.exists():
        return str(found)
    on_path = shutil.which("actionlint")
    assert on_path, "actionlint is missing: install the dev extras (pip install -e '.[dev]')"
    return on_path


def lint_workflow(path: Path) -> None:
    result = subprocess.run([actionlint(), "-no-color", str(path)], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout + result.stderr) == (0, ""), result.stdout + result.stderr


def written(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("flags", [
    [],
    ["--on-demand", "--vpc", "vpc-0abc1234", "--subnet", "subnet-0abc1234", "--subnet", "subnet-0def5678",
     "--instance-type", "m5.large"],
    ["--spot", "--instance-type", "c5.large", "--instance-type", "c5a.large", "--spot-price", "0.09"],
], ids=["defaults", "on-demand-own-vpc", "spot-types"])
def test_the_repository_validates_renders_and_passes_actionlint(
        flags: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "shop-cluster"
    assert main(["fleet", "init", str(target), "--yes", "--cluster", "shop", "--region", "eu-west-1", *flags]) == 0
    assert written(target) == FILES
    infra_yml = str(target / "infra.yml")
    assert main(["fleet", "validate", infra_yml]) == 0
    assert main(["fleet", "render", infra_yml, "--version", "v1", "--out", str(tmp_path / "rendered")]) == 0
    _, infra = load_infra(infra_yml)
    assert infra.cluster.name == "shop"
    if "--on-demand" in flags:
        assert [g.instance_type for g in infra.ec2_instances.auto_scaling_groups] == ["m5.large"]
        assert infra.cluster.subnets == ["subnet-0abc1234", "subnet-0def5678"] and not infra.ec2_instances.spot_fleets
    else:
        bids = infra.ec2_instances.spot_fleets[0].bids
        assert [b.instance_type for b in bids] == (["c5.large", "c5a.large"] if "--spot" in flags
                                                   else ["t3.medium", "t3a.medium"])
    assert "REGION ?= eu-west-1" in (target / "Makefile").read_text()
    workflow = (target / ".github/workflows/deploy.yml").read_text()
    assert "- eu-west-1" in workflow and "fleet rollout" in workflow
    lint_workflow(target / ".github/workflows/deploy.yml")
    capsys.readouterr()


def test_init_refuses_to_overwrite_and_names_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "infra.yml").write_text("mine\n")
    (tmp_path / "Makefile").write_text("mine\n")
    assert main(["fleet", "init", str(tmp_path), "-y", "-c", "shop"]) == 2
    err = capsys.readouterr().err
    assert "would overwrite infra.yml, Makefile; pass --force" in err
    assert written(tmp_path) == {"infra.yml", "Makefile"}  # nothing written, not even the new files
    assert (tmp_path / "infra.yml").read_text() == "mine\n"

    assert main(["fleet", "init", str(tmp_path), "-y", "-c", "shop", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"would write {tmp_path / 'infra.yml'}" in out and "(exists: --force overwrites it)" in out
    assert out.count("would write") == 4 and (tmp_path / "infra.yml").read_text() == "mine\n"

    assert main(["fleet", "init", str(tmp_path), "-y", "-c", "shop", "--force"]) == 0
    assert written(tmp_path) == FILES and "cluster:\n  name: shop" in (tmp_path / "infra.yml").read_text()
    # Running it again without --force changes nothing: every file exists now.
    before = {name: (tmp_path / name).read_text() for name in FILES}
    assert main(["fleet", "init", str(tmp_path), "-y", "-c", "other"]) == 2
    assert {name: (tmp_path / name).read_text() for name in FILES} == before


@pytest.mark.parametrize(("flags", "message"), [
    (["-c", "9bad"], "cluster name '9bad': expected letters, digits and hyphens starting with a letter"),
    (["-c", "shop", "--vpc", "vpc-0abc1234"], "--vpc needs its subnets: pass --subnet once per subnet"),
    (["-c", "shop", "--subnet", "subnet-0abc1234"], "--subnet needs the --vpc the subnets belong to"),
    (["-c", "shop", "--vpc", "vpc-0abc1234", "--subnet", "net-1"],
     "cluster.subnets.0: expected a subnet id such as subnet-0abc1234 (got 'net-1')"),
    (["-c", "shop", "--instance-type", "t3.huge"],
     "expected an EC2 instance type such as t3.medium or m5.2xlarge (got 't3.huge')"),
])
def test_bad_answers_are_clear_errors(flags: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "init", str(tmp_path), "-y", *flags]) == 2
    assert message in capsys.readouterr().err
    assert written(tmp_path) == set()


def test_without_flags_a_terminal_is_asked_and_ci_gets_defaults(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setattr(delivery_cli, "_terminal", lambda: True)
    asked = tmp_path / "asked"
    result = CliRunner().invoke(app, ["fleet", "init", str(asked)], input="payments\nap-south-1\n\nm5.large\n")
    assert result.exit_code == 0, result.output
    _, infra = load_infra(str(asked / "infra.yml"))
    assert infra.cluster.name == "payments"
    assert [b.instance_type for b in infra.ec2_instances.spot_fleets[0].bids] == ["m5.large"]
    assert "REGION ?= ap-south-1" in (asked / "Makefile").read_text()

    # Not a terminal (CI, a pipe): nothing is asked; the folder's name and us-west-2 (the seed's).
    monkeypatch.setattr(delivery_cli, "_terminal", lambda: False)
    quiet = tmp_path / "orders"
    result = CliRunner().invoke(app, ["fleet", "init", str(quiet)])
    assert result.exit_code == 0, result.output
    assert "Cluster name" not in result.output
    assert load_infra(str(quiet / "infra.yml"))[1].cluster.name == "orders"
    assert "REGION ?= us-west-2" in (quiet / "Makefile").read_text()
