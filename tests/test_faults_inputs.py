"""Broken inputs, fuzzed on the pure functions that take them: lb-sync's services and config files
(statika's JSON) and containers' SERVICE_* environment. Each either works or gives a clear
error or warning naming the file and field, or the container and variable; never an unhandled
exception, and never anything else held back or sent invalid."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from builders import host, snapshot, task
from ecsfleet.config import ConfigError, Reloading
from ecsfleet.dns.endpoints import Endpoint, Host, container_endpoints, snapshot_endpoints
from ecsfleet.dns.plan import desired_records, plan
from ecsfleet.dns.records import Zone
from ecsfleet.lbsync.services import parse_config, parse_services
from ecsfleet.snapshot import PortBinding

HOST = Host("i-1", "54.0.0.1", "10.0.0.1", "ip-10-0-0-1.ec2.internal")
ZONES = [Zone("ZPUB", "example.com.", False), Zone("ZPRIV", "example.com.", True)]
GOOD_ENTRY = {"serviceName": "web", "family": "web", "exposedContainerName": "web", "loadBalancerName": "web-lb"}

# What Route53 takes, written independently of ecsfleet's own checks: ASCII letters, digits,
# hyphens (not at a label's ends), a leading underscore, a lone `*` label; labels of 1-63
# characters; at most 253 characters without the final dot.
_STRICT_LABEL = re.compile(r"_?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?|_[a-z0-9-]{1,62}|\*", re.ASCII)


def valid_dns_name(name: str) -> bool:
    bare = name.removesuffix(".")
    return 0 < len(bare) <= 253 and all(_STRICT_LABEL.fullmatch(label) for label in bare.split("."))


# Text as people and tools really get it wrong: any Unicode, and the near misses.
messy_text = st.text(max_size=40) | st.sampled_from([
    "", " ", "web.example.com\n", "web\n.example.com", " web.example.com", "web..example.com", "-web.example.com",
    "web-.example.com", "we_b.example.com", "*.example.com", "Web.Example.COM.", "xn--bcher-kva.example.com",
    "\u212aelvin.example.com", "\u0130stanbul.example.com", "a" * 64 + ".example.com", ("a" * 62 + ".") * 4 + "com",
    "٨٠٨٠", "²", "8080 ", "+80", "0", "65536", "80.0", "0x50", "-1", "1e3",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({}, optional={
    "serviceName": st.none() | messy_text | st.integers(),
    "family": st.none() | messy_text | st.booleans(),
    "exposedContainerName": st.none() | messy_text | st.lists(st.integers(), max_size=2),
    "loadBalancerName": st.none() | messy_text | st.sampled_from(["web-lb", "a" * 33, "web_lb", "web-lb\n"]),
    "containerPort": st.none() | st.integers(-5, 70000) | messy_text | st.floats(allow_nan=True),
}), max_size=4))
def test_services_files_give_services_or_errors_naming_each_bad_field(entries: list[dict[str, object]]) -> None:
    raw = json.dumps(entries).encode()
    try:
        services = parse_services("s3://ops/services.json", raw)
    except ConfigError as error:
        lines = str(error).splitlines()
        assert lines[0].startswith("s3://ops/services.json: ")
        # Every problem line says where: the entry's index and, for a field, the field's name.
        for line in lines[1:]:
            where = line.strip().split(":", 1)[0]
            assert re.fullmatch(r"\d+(\.\w+)?|\(document\)", where), line
            index = int(where.split(".")[0]) if where[0].isdigit() else None
            assert index is None or index < len(entries)
        return
    assert len(services) == len(entries)
    for entry in services:
        assert entry.family or entry.serviceName
        assert re.fullmatch(r"[A-Za-z0-9-]{1,32}", entry.loadBalancerName)
        assert entry.exposedContainerName
        assert entry.containerPort is None or 1 <= entry.containerPort <= 65535
    assert len({s.loadBalancerName for s in services}) == len(services)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=100) | messy_text.map(str.encode)
       | st.sampled_from([b"[" * 50_000, b"{\"a\":" * 50_000, b"\xef\xbb\xbf[]", b"[]\x00", b"NaN", b"[1e999]"]))
def test_any_bytes_as_either_document_give_a_value_or_a_config_error(raw: bytes) -> None:
    for parse in (parse_services, parse_config):
        try:
            parse("https://example.com/statika.json", raw)
        except ConfigError as error:
            assert str(error).startswith("https://example.com/statika.json: ")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=60) | st.lists(st.fixed_dictionaries({"loadBalancerName": messy_text})).map(
    lambda v: json.dumps(v).encode()))
def test_a_reloaded_file_that_breaks_keeps_the_last_good_list(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "services.json"
    path.write_text(json.dumps([GOOD_ENTRY]))
    document = Reloading(str(path), parse_services, every=0)
    assert document.get()[0].loadBalancerName == "web-lb"
    written = path.stat().st_mtime_ns
    path.write_bytes(raw)
    # A local file's version is its mtime and size: make sure this write counts as a new version
    # even when it has the good one's size and lands within the file system's clock tick.
    os.utime(path, ns=(written + 10**9, written + 10**9))
    try:
        fresh = parse_services(str(path), raw)
    except ConfigError as error:
        assert document.get()[0].loadBalancerName == "web-lb"  # kept, not raised
        assert document.last_error == str(error)
    else:
        assert document.get(force=True) == fresh and document.last_error is None


variable = st.sampled_from(["SERVICE_FQDN", "SERVICE_FQDN_LOCAL"]) | messy_text.map(lambda s: f"SERVICE_PORT_{s}") \
    | st.sampled_from(["SERVICE_PORT_8080", "SERVICE_PORT_32768", "SERVICE_PORT_", "SERVICE_PORT_80"])


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(variable, messy_text | st.sampled_from(["_web._tcp.example.com", "web.example.com"]),
                       max_size=4))
def test_env_values_give_valid_endpoints_or_warnings_naming_the_variable(env: dict[str, str]) -> None:
    label = "task t1 (web:3) container web"
    # A good variable beside the fuzzed ones: whatever they hold, it is still published.
    assume("SERVICE_FQDN_LOCAL" not in env)
    env = {**env, "SERVICE_FQDN_LOCAL": "ok.example.com"}

    found, warnings = container_endpoints(label, env, [PortBinding(8080, 32768)], HOST)

    assert Endpoint("ok.example.com.", "A", "10.0.0.1", "i-1", True) in found
    for endpoint in found:
        assert valid_dns_name(endpoint.name), endpoint
        if endpoint.record_type == "SRV":
            assert endpoint.value == "1 1 32768 ip-10-0-0-1.ec2.internal."
    # Each variable publishes its one value, or a warning names it (and only it).
    for warning in warnings:
        assert warning.startswith(f"{label}: SERVICE_"), warning
    warned = [v for v in env if any(w.startswith((f"{label}: {v}=", f"{label}: {v}:")) for w in warnings)]
    assert len(found) + len(warned) == len(env), (found, warnings)


long_names = st.integers(1, 235).map(
    lambda n: ".".join(["a" * 60] * (n // 61) + (["b" * (n % 61)] if n % 61 else [])) + ".example.com")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(variable, messy_text | st.just("web.example.com"), max_size=3), min_size=1,
                max_size=4),
       long_names)
def test_a_cluster_of_broken_env_plans_only_valid_changes(envs: list[dict[str, str]], long_name: str) -> None:
    hosts = [host(1), host(2)]
    tasks = [task(n, hosts[n % 2], 32768 + n, family=f"svc{n}", container_port=8080,
                  env={**env, "SERVICE_FQDN_LOCAL": f"svc{n}.example.com"}) for n, env in enumerate(envs)]
    # A long but valid name: its ownership record's name is longer than the name itself.
    tasks.append(task(99, hosts[0], 40000, family="long", env={"SERVICE_FQDN": long_name}))
    snap = snapshot(hosts, tasks)

    endpoints, warnings = snapshot_endpoints(snap)
    desired, placement = desired_records(endpoints, ZONES, 10)
    result = plan(desired, {}, "ecs-cluster/c")

    for n in range(len(envs)):
        assert any(name == f"svc{n}.example.com." for (_, key) in desired for name in [key.name])
    for _, change in result.changes:
        assert valid_dns_name(change.record.name), change.describe()
    assert all(w.startswith("task t") or "no managed hosted zone" in w for w in warnings + placement)
