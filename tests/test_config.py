"""Configuration documents: loaders, validation messages, last-good on reload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsfleet.config import ConfigError, Reloading
from ecsfleet.lbsync.services import parse_config, parse_services

GOOD = [{"serviceName": "web", "family": "web", "exposedContainerName": "web", "loadBalancerName": "web-lb"}]


def test_reload_keeps_the_last_good_document_and_says_why(tmp_path: Path) -> None:
    path = tmp_path / "services.json"
    path.write_text(json.dumps(GOOD))
    doc = Reloading(str(path), parse_services, every=0)
    assert doc.get()[0].loadBalancerName == "web-lb"
    path.write_text(json.dumps([{**GOOD[0], "loadBalancerName": "bad name!"}]))
    assert doc.get()[0].loadBalancerName == "web-lb"
    assert doc.last_error is not None and "0.loadBalancerName" in doc.last_error
    path.write_text(json.dumps([{**GOOD[0], "loadBalancerName": "other-lb"}]))
    assert doc.get()[0].loadBalancerName == "other-lb" and doc.last_error is None


def test_every_problem_is_listed_with_file_and_field(tmp_path: Path) -> None:
    raw = json.dumps([{"family": "web", "loadBalancerName": "x"},
                      {"family": "a", "exposedContainerName": "a", "loadBalancerName": "y", "containerPort": "http"},
                      {"exposedContainerName": "b", "loadBalancerName": "z"}])
    with pytest.raises(ConfigError) as error:
        parse_services("s3://ops/services.json", raw.encode())
    text = str(error.value)
    assert text.startswith("s3://ops/services.json: 3 problem(s)")
    assert "0.exposedContainerName: Field required" in text
    assert "1.containerPort: Input should be a valid integer" in text
    assert "2: Value error, give `family` (the task definition family) or `serviceName`" in text


def test_one_load_balancer_per_service() -> None:
    with pytest.raises(ConfigError, match="given to both 'web' and 'api'"):
        parse_services("f", json.dumps([*GOOD, {**GOOD[0], "serviceName": "api", "family": "api"}]).encode())


def test_statika_config_defaults() -> None:
    assert parse_config("c", b'{"cluster": "prod"}').sleepTimeSeconds == 30
    with pytest.raises(ConfigError, match="cluster"):
        parse_config("c", b'{"sleepTimeSeconds": 5}')


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json"):
        Reloading(str(tmp_path / "nope.json"), parse_services).get()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=4)).map(
           lambda v: json.dumps(v).encode()))
def test_any_bytes_give_services_or_a_config_error(raw: bytes) -> None:
    try:
        services = parse_services("fuzz.json", raw)
    except ConfigError as error:
        assert str(error).startswith("fuzz.json: ")
    else:
        assert all(s.exposedContainerName and s.loadBalancerName for s in services)


ENTRY = '{"serviceName": "web", "exposedContainerName": "web", "loadBalancerName": "web-lb"}'
# (file content, what the one-line-per-problem error must say). Each is refused before any AWS call.
HOSTILE: list[tuple[bytes, str]] = [
    (b'[{"serviceName": "web",\n  "exposedContainerName": "web",\n  "serviceName": "api",\n'
     b'  "loadBalancerName": "web-lb"}]', "line 3: key 'serviceName' given again (first at line 1)"),
    (b'[{"serviceName": "web",\n  "servicename": "api", "exposedContainerName": "web", "loadBalancerName": "x"}]',
     "line 2: key 'servicename' given again (first at line 1 as 'serviceName': keys are matched whatever"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary data (a NUL byte at offset 7)"),
    (b"\xff\xfe[\x00{\x00", "binary data"),
    (b'[{"serviceName": "caf\xe9"}]', "not UTF-8 text (byte 0xe9 at offset 21)"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32 levels"),
    (b'[{"a": ' * 40 + b"1" + b"}]" * 40, "nested deeper than 32 levels"),
    (b"[" + b",".join([ENTRY.encode()] * 1001) + b"]", "1001 services: at most 1000"),
    (b"[" + b" " * (4 * 1024 * 1024) + b"]", "larger than 4 MiB"),
    (b"[null]", "entry 0 is null"),
    (b"[" + ENTRY.encode() + b"," + ENTRY.replace("web", "api", 1).encode() + b"]",
     "give each service its own load balancer, or remove one of the two entries"),
    (b"", "not valid JSON"),
    (b"{", "not valid JSON"),
]


@pytest.mark.parametrize(("raw", "expected"), HOSTILE, ids=[e[:30] for _, e in HOSTILE])
def test_hostile_services_files_are_one_clear_error_naming_the_file(raw: bytes, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_services("s3://ops/services.json", raw)
    message = str(caught.value)
    assert message.startswith("s3://ops/services.json: ") and expected in message, message


def test_statika_inputs_read_as_statika_read_them() -> None:
    # Go's encoding/json: keys in any case, unknown keys ignored, a `null` document is no service.
    (entry,) = parse_services("s.json", b'[{"SERVICENAME": "web", "ExposedContainerName": "web", '
                                        b'"loadbalancername": "web-lb", "color": "blue"}]')
    assert (entry.serviceName, entry.exposedContainerName, entry.loadBalancerName) == ("web", "web", "web-lb")
    assert parse_services("s.json", b"null") == []
    assert len(parse_services("s.json", f"[{ENTRY}, {ENTRY}]".encode())) == 1  # the same entry twice: once
    config = parse_config("c.json", b'{"Cluster": "prod", "SleepTimeSeconds": 0}')
    assert (config.cluster, config.interval) == ("prod", 1.0)
    assert parse_config("c.json", b'{"cluster": "prod", "sleepTimeSeconds": null}').interval == 1.0
    assert parse_config("c.json", b'{"cluster": "prod"}').interval == 30.0
    with pytest.raises(ConfigError, match="sleepTimeSeconds"):
        parse_config("c.json", b'{"cluster": "prod", "sleepTimeSeconds": -5}')


@pytest.mark.parametrize("kind", ["dev-zero", "directory", "5 MB, 60,000 entries"])
def test_unreadable_or_huge_services_end_in_one_error_line_at_once(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ecsfleet.cli import main

    if kind == "dev-zero":
        path = "/dev/zero"
    elif kind == "directory":
        path = str(tmp_path)
    else:
        big = tmp_path / "services.json"
        big.write_text("[" + ",".join(ENTRY.replace("web-lb", f"lb-{n}") for n in range(60_000)) + "]")
        assert big.stat().st_size > 5_000_000
        path = str(big)
    # Refused before the cluster or any AWS call is needed: no endpoint is configured here.
    code = main(["--region", "eu-west-1", "lb-sync", "--once", "--all-instances", "--cluster", "c", "--services", path])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: {path}: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
