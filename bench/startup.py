"""Start-up of the `ecsfleet` command: `--version`, `--help`, each command's `--help` and some sub-commands'.

Each row starts the command as a new process, as the installed `ecsfleet` script does, RUNS times
after one warm-up, and gives the median wall time, the median CPU time (user + system, the
operating system's accounting of the finished child: less moved than wall time by other work on
the machine) and how many modules the process had loaded when it exited. With `--baseline SRC`
(the src/ folder of another tree, e.g. the last commit: `git archive HEAD | tar -x -C /tmp/old`,
then `--baseline /tmp/old/src`) each command runs there too, the two in turn, and the table adds
the ratios of each pair's times (this tree / baseline), so a machine that slows down during the
run changes both sides of a pair alike. A command the baseline tree does not have (an older tree)
gets no baseline figures.

    python bench/startup.py [--runs 9] [--baseline /tmp/old/src]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import machine, markdown_table

SRC = Path(__file__).resolve().parent.parent / "src"
COMMANDS = [["--version"], ["--help"], ["status", "--help"], ["lb-sync", "--help"], ["dns-sync", "--help"],
            ["agents", "--help"], ["agents", "update", "--help"], ["iam-policy", "--help"], ["bootstrap", "--help"],
            ["fleet", "--help"], ["fleet", "rollout", "--help"], ["fleet", "init", "--help"],
            ["fleet", "pipeline", "deploy", "--help"], ["sandbox", "--help"], ["sandbox", "up", "--help"]]
# the `ecsfleet` console script's two lines, plus a note of the modules loaded when the process exits
ENTRY = ("import atexit, os, sys\n"
         "atexit.register(lambda: open(os.environ['MODULES_OUT'], 'w').write('\\n'.join(sys.modules)))\n"
         "from ecsfleet.cli import main\n"
         "sys.exit(main(sys.argv[1:]))\n")


def cpu_of_children() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run(src: Path, args: list[str], folder: Path) -> tuple[float, float, int]:
    """One start of `ecsfleet ARGS` from `src`: wall seconds, CPU seconds and modules loaded."""
    notes = folder / "modules"
    env = {**os.environ, "PYTHONPATH": str(src), "MODULES_OUT": str(notes)}
    cpu, start = cpu_of_children(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", ENTRY, *args], check=False, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    took, cpu = time.perf_counter() - start, cpu_of_children() - cpu
    if done.returncode != 0:
        raise SystemExit(f"ecsfleet {' '.join(args)} ({src}) failed:\n{done.stderr}")
    return took, cpu, len(notes.read_text().splitlines())


def lacks(src: Path, args: list[str]) -> bool:
    """Whether the tree at `src` has no such command (click's usage error names it)."""
    done = subprocess.run([sys.executable, "-m", "ecsfleet.cli", *args], check=False, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(src)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return done.returncode == 2 and "No such command" in done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="counted runs of each command (after one warm-up)")
    parser.add_argument("--baseline", type=Path, help="another tree's src/ folder to compare with")
    options = parser.parse_args()
    sides = [SRC] + ([options.baseline.resolve()] if options.baseline else [])
    headers = ["command", "modules", "median ms", "cpu ms"]
    if options.baseline:
        headers += ["baseline modules", "baseline median ms", "baseline cpu ms", "time ratio (median)", "min", "max",
                    "cpu ratio (median)"]
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as folder:
        for args in COMMANDS:
            pair = [side for side in sides if side == SRC or not lacks(side, args)]
            times: dict[Path, list[float]] = {side: [] for side in pair}
            cpus: dict[Path, list[float]] = {side: [] for side in pair}
            modules: dict[Path, int] = {}
            for index in range(options.runs + 1):
                for side in pair:  # in turn, so both see the same machine
                    took, cpu, modules[side] = run(side, args, Path(folder))
                    if index:  # the first run of each warms the file cache
                        times[side].append(took)
                        cpus[side].append(cpu)
            row: list[object] = [f"`ecsfleet {' '.join(args)}`", modules[SRC], statistics.median(times[SRC]) * 1000,
                                 statistics.median(cpus[SRC]) * 1000]
            if options.baseline and len(pair) == 1:
                row += ["n/a"] * 7
            elif options.baseline:
                base = sides[1]
                ratios = [new / old for new, old in zip(times[SRC], times[base], strict=True)]
                cpu_ratios = [new / old for new, old in zip(cpus[SRC], cpus[base], strict=True)]
                row += [modules[base], statistics.median(times[base]) * 1000, statistics.median(cpus[base]) * 1000,
                        statistics.median(ratios), min(ratios), max(ratios), statistics.median(cpu_ratios)]
            rows.append(row)
    print(f"## Start-up ({machine()}, {options.runs} runs each)\n")
    print(markdown_table(headers, rows))


if __name__ == "__main__":
    main()
