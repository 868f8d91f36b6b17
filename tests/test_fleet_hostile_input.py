"""Hostile infra.yml files: each refused quickly, with one clear `error:` line naming the file
(and the line where there is one), never a traceback, a hang or a file read outside infra.yml's
folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ecsfleet.cli import main

VALID = """\
cluster:
  name: shop
ec2_instances:
  spot_fleets:
    - name: main
      min_weight: 0
      max_weight: 4
      bids:
        - instance_type: t3.small
          price: 0.01
"""
LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8))


def _write(text: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / "infra.yml"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        return path
    return make


def _with_user_data(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder.parent / "secret.sh").write_text("root:x:0:0\n")
        return _write(VALID.replace("ec2_instances:\n", f"ec2_instances:\n  user_data: {name}\n"))(folder)
    return make


def _symlinked_user_data(folder: Path) -> Path:
    (folder.parent / "secret.sh").write_text("root:x:0:0\n")
    (folder / "boot.sh").symlink_to(folder.parent / "secret.sh")
    return _write(VALID.replace("ec2_instances:\n", "ec2_instances:\n  user_data: boot.sh\n"))(folder)


HOSTILE = {
    "billion laughs": (_write(LAUGHS), "infra.yml:2: YAML aliases (*name) are not accepted"),
    "deep nesting": (_write("a: " + "[" * 5000 + "]" * 5000 + "\n"), "nested more than 32 levels deep"),
    "deep mappings": (_write("".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "v\n"),
                      "nested more than 32 levels deep"),
    "5 MB": (_write("# " + "x" * (5 * 1024 * 1024) + "\n" + VALID), "more than the 1048576 an infra.yml may have"),
    "binary": (_write(bytes(range(256)) * 4), "not a text file (byte 128 is not UTF-8)"),
    "NUL bytes": (_write(VALID.replace("shop", "sh\x00op")), "not a text file (it holds NUL bytes"),
    "duplicate key": (_write(VALID.replace("  name: shop\n", "  name: shop\n  name: other\n")),
                      "infra.yml:3: cluster.name: duplicate key (first at line 2)"),
    "duplicate fleet key": (_write(VALID.replace("      max_weight: 4\n",
                                                 "      max_weight: 4\n      max_weight: 9\n")),
                            "infra.yml:8: ec2_instances.spot_fleets.0.max_weight: duplicate key (first at line 7)"),
    "../../etc/passwd user_data": (_with_user_data("../../etc/passwd"), "is outside"),
    "/etc/passwd user_data": (_with_user_data("/etc/passwd"), "is outside"),
    "../ user_data": (_with_user_data("../secret.sh"), "is outside"),
    "symlink out of the folder": (_symlinked_user_data, "is outside"),
    "unknown tag": (_write("cluster: !!python/object:os.system {}\n"), "not valid YAML"),
}


@pytest.mark.parametrize("case", list(HOSTILE), ids=list(HOSTILE))
@pytest.mark.parametrize("command", ["validate", "render"])
def test_each_hostile_file_is_refused_quickly_with_a_clear_error(
        case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make, expected = HOSTILE[case]
    folder = tmp_path / "repo"
    folder.mkdir()
    path = make(folder)
    started = time.process_time()
    code = main(["fleet", command, str(path), "--version", "v1"] if command == "render" else
                ["fleet", command, str(path)])
    spent = time.process_time() - started
    captured = capsys.readouterr()
    assert code == 2, captured.out + captured.err
    assert captured.err.startswith(f"error: {path}"), captured.err
    assert expected in captured.err, captured.err
    assert "Traceback" not in captured.err and "root:x" not in captured.out
    assert spent < 5, spent  # CPU seconds: a refusal, not an expansion


def test_allow_outside_files_reads_a_file_outside_the_folder(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "repo"
    folder.mkdir()
    (tmp_path / "boot.j2").write_text("#!/bin/bash\necho ECS_CLUSTER={{ cluster }} asg_version\n")
    path = _write(VALID.replace("ec2_instances:\n", "ec2_instances:\n  user_data: ../boot.j2\n"))(folder)
    assert main(["fleet", "validate", str(path)]) == 2
    capsys.readouterr()
    assert main(["fleet", "validate", str(path), "--allow-outside-files"]) == 0
    assert main(["fleet", "render", str(path), "--version", "v1", "--allow-outside-files"]) == 0
    assert "echo ECS_CLUSTER=shop" in capsys.readouterr().out


def test_a_user_data_path_relative_to_the_working_directory_still_resolves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The original opened user_data relative to where it ran (its tests named
    # tests/regression/user.data.j2.sh from the repository root): still inside infra.yml's folder.
    folder = tmp_path / "tests" / "regression"
    folder.mkdir(parents=True)
    (folder / "boot.j2").write_text("echo ECS_CLUSTER={{ cluster }} asg_version\n")
    _write(VALID.replace("ec2_instances:\n", "ec2_instances:\n  user_data: tests/regression/boot.j2\n"))(folder)
    monkeypatch.chdir(tmp_path)
    assert main(["fleet", "validate", "tests/regression/infra.yml"]) == 0


def test_validate_reports_every_problem_cross_field_rules_included(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = (VALID.replace("min_weight: 0", "min_weight: 5").replace("t3.small", "t3.tiny")
            .replace("  name: shop\n", "  name: shop\n  name: again\n")
            + "  auto_scaling_groups:\n    - {name: g, instance_type: nope, min_size: 3, max_size: 1}\n")
    path = _write(text)(tmp_path)
    assert main(["fleet", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 5 problem(s)" in err, err
    for expected in ("cluster.name: duplicate key", "spot_fleets.0.bids.0.instance_type: expected an EC2",
                     "spot_fleets.0: min_weight 5 is greater than max_weight 4",
                     "auto_scaling_groups.0.instance_type: expected", "auto_scaling_groups.0: min_size 3 is greater"):
        assert expected in err, (expected, err)


def test_a_directory_or_an_endless_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {tmp_path}: Is a directory")
    assert main(["fleet", "validate", "/dev/zero"]) == 2
    assert "/dev/zero: 1048577 bytes, more than the 1048576" in capsys.readouterr().err


def test_validate_checks_every_file_it_is_given_and_fails_if_one_is_invalid(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A repository of cluster files checked in one CI step: a broken file in the middle neither
    hides the ones after it nor passes."""
    for folder in "abc":
        (tmp_path / folder).mkdir()
    first, last = _write(VALID)(tmp_path / "a"), _write(VALID.replace("shop", "shop-eu"))(tmp_path / "c")
    broken = _write(VALID.replace("t3.small", "t3.tiny"))(tmp_path / "b")
    assert main(["fleet", "validate", str(first), str(broken), str(tmp_path / "none.yml"), str(last)]) == 2
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{first}: valid: cluster shop, 0 auto scaling group(s), 1 spot fleet(s)",
                                f"{last}: valid: cluster shop-eu, 0 auto scaling group(s), 1 spot fleet(s)"]
    assert f"error: {broken}: 1 problem(s)" in err and "bids.0.instance_type: expected an EC2" in err, err
    assert f"error: {tmp_path / 'none.yml'}: No such file or directory" in err, err
    assert err.rstrip().endswith("error: 2 of 4 files invalid"), err
    assert main(["fleet", "validate", str(first), str(last)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
