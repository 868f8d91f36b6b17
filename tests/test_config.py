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
