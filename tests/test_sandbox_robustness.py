"""The sandbox survives what a careless caller sends it: a region that does not exist, a clock
step of nan or 1e12, a silent endpoint for its control commands; `sandbox ready` waits for the seed."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.exceptions
import pytest

import ecsfleet.sandbox.cli
from ecsfleet.cli import main
from ecsfleet.sandbox import Sandbox


def control(sb: Sandbox, name: str, args: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{sb.endpoint_url}/_sandbox/{name}", data=json.dumps(args).encode(),
                                     method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_unknown_region_is_refused_as_aws_does_and_the_clock_goes_on() -> None:
    with Sandbox(realtime=True) as sb:
        mars = boto3.client("ecs", region_name="mars-1", endpoint_url=sb.endpoint_url,
                            aws_access_key_id="x", aws_secret_access_key="x")
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            mars.create_cluster(clusterName="x")
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
        before = sb.now()
        time.sleep(0.5)
        assert sb.now() > before, "the clock thread still runs"
        assert all(thread.is_alive() for thread in sb._threads)


def test_a_failing_tick_does_not_stop_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    with Sandbox(realtime=True) as sb:
        real = sb.clock.run_due
        failures = []

        def once_broken() -> None:
            if not failures:
                failures.append(1)
                raise KeyError("a region moto does not know")
            real()

        monkeypatch.setattr(sb.clock, "run_due", once_broken)
        time.sleep(0.4)
        assert failures and all(thread.is_alive() for thread in sb._threads)
        before = sb.now()
        time.sleep(0.3)
        assert sb.now() > before


@pytest.mark.parametrize("seconds", ["nan", "inf", 1e12, -1, "soon"])
def test_advance_refuses_nonsense(sb: Sandbox, seconds: Any) -> None:
    before = sb.now()
    status, body = control(sb, "advance", {"seconds": float(seconds) if seconds in ("nan", "inf") else seconds})
    assert status == 400 and "seconds" in body["error"]
    assert sb.now() == before


def test_speed_out_of_range_is_refused() -> None:
    for speed in (-1.0, 0.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="speed"):
            Sandbox(speed=speed)


def test_ready_waits_for_the_seed(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sb.ready = False
    try:
        assert main(["sandbox", "ready", "--endpoint-url", sb.endpoint_url, "--timeout", "0.5"]) == 2
        assert "seed is not ready" in capsys.readouterr().err
        sb.ready = True
        assert main(["sandbox", "ready", "--endpoint-url", sb.endpoint_url, "--timeout", "0.5"]) == 0
    finally:
        sb.ready = True


def test_control_commands_against_a_silent_endpoint_end_in_one_error_line(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(ecsfleet.sandbox.cli, "CONTROL_TIMEOUT", 0.3)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        for argv in (["sandbox", "calls", "--endpoint-url", url], ["sandbox", "advance", "5", "--endpoint-url", url]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert "Traceback" not in err
            assert err.strip().splitlines()[-1].startswith(f"error: no sandbox answers at {url}")
