"""The docs' command examples run against the sandbox (doc examples are code).

A fenced block preceded by `<!-- run -->` (or `<!-- run: exit N -->`) holds commands: each
`$ ecsfleet ...` line is run through `ecsfleet.cli.main` and must exit 0 (or N). A block preceded
by `<!-- file: NAME -->` is written to NAME first, so the file a page shows is the one its
commands read. Each page runs in a temporary folder holding a copy of `examples/`, against the
sandbox seeded with the demo world, as `ecsfleet sandbox up --seed demo` serves it. The
convention is documented in docs/development.md."""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecsfleet.cli import main
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import seed_demo

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^[ \t]*<!-- (run(?:: exit (?P<code>\d+))?|file: (?P<file>[\w.-]+)) -->[ \t]*\n"
                    r"[ \t]*```[^\n]*\n(?P<body>.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Step:
    """Write `content` to `file`, or run `argv` expecting `code`."""

    line: int
    file: str | None = None
    content: str = ""
    argv: tuple[str, ...] = ()
    code: int = 0


def steps(text: str) -> list[Step]:
    found = []
    for match in MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        indent = re.match(r"[ \t]*", match.group("body")).group(0)  # type: ignore[union-attr]
        body = "".join(row.removeprefix(indent) for row in match.group("body").splitlines(keepends=True))
        if match.group("file"):
            found.append(Step(line, file=match.group("file"), content=body))
            continue
        commands = [row.strip().removeprefix("$ ") for row in body.splitlines() if row.strip().startswith("$ ")]
        assert commands, f"line {line}: a <!-- run --> block holds no `$ ecsfleet ...` line"
        for command in commands:
            argv = shlex.split(command)
            assert argv[0] == "ecsfleet", f"line {line}: only ecsfleet commands run: {command}"
            found.append(Step(line, argv=tuple(argv[1:]), code=int(match.group("code") or 0)))
    return found


PAGES = sorted(p for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")] if steps(p.read_text()))


def test_the_marker_is_read() -> None:
    page = ("<!-- file: a.json -->\n```json\n[1]\n```\n\n  <!-- run: exit 2 -->\n  ```console\n"
            "  $ ecsfleet status --cluster 'a b'\n  output\n  ```\n\n```console\n$ ecsfleet not-marked\n```\n")
    assert steps(page) == [Step(1, file="a.json", content="[1]\n"),
                           Step(6, argv=("status", "--cluster", "a b"), code=2)]


def test_the_pages_have_examples() -> None:
    """The pages the convention was written for keep runnable examples (a renamed marker would
    otherwise silently run nothing)."""
    assert {p.relative_to(ROOT).as_posix() for p in PAGES} >= {"docs/getting-started.md"}
    assert sum(len(steps(p.read_text())) for p in PAGES) >= 8


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_examples_run(page: Path, sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    seed_demo(sb)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for step in steps(page.read_text()):
        if step.file:
            (tmp_path / step.file).write_text(step.content)
            continue
        code = main(list(step.argv))
        out, err = capsys.readouterr()
        assert code == step.code, f"{page.name}:{step.line}: ecsfleet {shlex.join(step.argv)} exited {code}:\n{err}"
        assert "Traceback" not in out + err
