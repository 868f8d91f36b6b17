"""Signals as `docker stop`, ECS, systemd and Ctrl-C send them: a daemon finishes what it does,
logs one line and exits 0; a second signal exits at once; a signal at start-up is no traceback.
The real command runs as a subprocess against the sandbox."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecsfleet.sandbox import Sandbox

ECSFLEET = str(Path(sys.executable).with_name("ecsfleet"))


def start_daemon(sb: Sandbox, tmp_path: Path) -> subprocess.Popen[str]:
    sb.client("ecs").create_cluster(clusterName="sig")
    services = tmp_path / "services.json"
    services.write_text("[]")
    env = {**os.environ, **sb.env()}
    # A test run started in the background by a shell without job control inherits SIGINT
    # ignored, and so would the daemon until it installs its own handler. A handler (not an
    # ignore) is reset to the default by exec: the daemon starts as from a terminal.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([ECSFLEET, "lb-sync", "--cluster", "sig", "--services", str(services),
                                 "--all-instances", "--interval", "1"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_for_passes(sb: Sandbox, passes: int, timeout: float = 60.0) -> None:
    """Until the daemon has read the cluster `passes` times (each pass lists its tasks once)."""
    end = time.monotonic() + timeout
    while sb.count("ecs", "ListTasks") < passes:
        assert time.monotonic() < end, "the daemon never ran a pass"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_the_daemon_with_one_line_and_exit_0(sb: Sandbox, tmp_path: Path, signum: int) -> None:
    daemon = start_daemon(sb, tmp_path)
    wait_for_passes(sb, 1)
    daemon.send_signal(signum)
    out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    assert "Traceback" not in out + err
    stops = [line for line in err.splitlines() if "stopped on" in line]
    assert len(stops) == 1 and stops[0].endswith(f"lb-sync: stopped on {signal.Signals(signum).name}")


@pytest.mark.parametrize("seed", range(6))
def test_a_signal_at_a_random_point_of_a_pass_still_exits_0(sb: Sandbox, tmp_path: Path, seed: int) -> None:
    """Passes run every second; the signal lands anywhere in or between them (seeded delays)."""
    delay = random.Random(seed).uniform(0.0, 1.5)
    daemon = start_daemon(sb, tmp_path)
    wait_for_passes(sb, 1)
    time.sleep(delay)
    daemon.send_signal(signal.SIGTERM)
    out, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, (delay, err)
    assert "Traceback" not in out + err
    assert sum("stopped on SIGTERM" in line for line in err.splitlines()) == 1


def test_a_second_signal_exits_at_once(sb: Sandbox, tmp_path: Path) -> None:
    daemon = start_daemon(sb, tmp_path)
    wait_for_passes(sb, 1)
    daemon.send_signal(signal.SIGTERM)
    daemon.send_signal(signal.SIGTERM)
    out, err = daemon.communicate(timeout=30)
    # the first may already have ended the loop (exit 0); if not, the second ends it now (128 + 15)
    assert daemon.returncode in (0, 128 + signal.SIGTERM), err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_sigint_during_start_up_is_no_traceback(sb: Sandbox, tmp_path: Path, delay: float) -> None:
    daemon = start_daemon(sb, tmp_path)
    time.sleep(delay)
    daemon.send_signal(signal.SIGINT)
    out, err = daemon.communicate(timeout=30)
    assert "Traceback" not in out + err, err
    assert daemon.returncode in (0, 130)
