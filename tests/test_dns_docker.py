"""dns-sync's Docker source against a real Docker engine and the sandbox's Route53."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from docker_engine import busybox_image, containers, docker_client, run_httpd  # noqa: F401 - fixtures
from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.dns.docker_source import DockerDnsSync
from ecsfleet.dns.endpoints import Host
from ecsfleet.runner import run_forever, safe_pass
from ecsfleet.sandbox import Sandbox

ZONE = "example.com"
HOST = Host("i-0123456789abcdef0", "54.1.2.3", "10.0.0.7", "ip-10-0-0-7.ec2.internal")


def records(sb: Sandbox, zone_id: str) -> dict[tuple[str, str, str | None], list[str]]:
    found = {}
    for page in sb.client("route53").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for r in page["ResourceRecordSets"]:
            if r["Type"] in ("A", "SRV", "TXT"):
                found[(r["Name"], r["Type"], r.get("SetIdentifier"))] = sorted(v["Value"] for v in r["ResourceRecords"])
    return found


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.fixture
def world(sb: Sandbox, docker_client: Any) -> tuple[str, DockerDnsSync]:  # noqa: F811
    zone_id = sb.client("route53").create_hosted_zone(Name=ZONE, CallerReference="docker")["HostedZone"]["Id"]
    agent = DockerDnsSync(Clients(AwsTarget(sb.region, sb.endpoint_url)), docker_client, HOST,
                          f"host/{HOST.id}")
    return zone_id.rsplit("/", 1)[-1], agent


def test_container_gets_srv_and_a_records_with_its_real_host_port(
    sb: Sandbox, world: tuple[str, DockerDnsSync], docker_client: Any, busybox_image: str,  # noqa: F811
    containers: list[Any],  # noqa: F811
) -> None:
    zone_id, agent = world
    stop = threading.Event()
    agent.watch()
    assert agent.watching.wait(10)
    loop = threading.Thread(target=run_forever, daemon=True,
                            kwargs={"reconciler": agent, "interval": 3600.0, "wake": agent.wake, "stop": stop})
    loop.start()
    try:
        container = run_httpd(docker_client, busybox_image, {
            "SERVICE_PORT_8080": f"_echo._tcp.{ZONE}", "SERVICE_FQDN_LOCAL": f"echo.{ZONE}"}, {"8080/tcp": None})
        containers.append(container)
        container.reload()
        port = int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        srv_key = (f"_echo._tcp.{ZONE}.", "SRV", f"{HOST.hostname}:{port}")
        # The start event wakes the agent: the records appear without waiting for the interval.
        assert wait_for(lambda: srv_key in records(sb, zone_id))
        found = records(sb, zone_id)
        assert found[srv_key] == [f"1 1 {port} {HOST.hostname}."]
        assert found[(f"echo.{ZONE}.", "A", HOST.private_ip)] == [HOST.private_ip]
        assert found[(f"_ecsfleet-srv._echo._tcp.{ZONE}.", "TXT", f"{HOST.hostname}:{port}")] == [
            f'"heritage=ecsfleet,ecsfleet/owner=host/{HOST.id}"']

        container.stop(timeout=5)  # kill, die, stop: leaving, then gone
        assert wait_for(lambda: not [k for k in records(sb, zone_id) if k[1] in ("A", "SRV")])
    finally:
        stop.set()
        agent.stop_watching()
        loop.join(timeout=5)


def test_restarted_agent_resyncs_and_leaves_other_hosts_alone(
    sb: Sandbox, world: tuple[str, DockerDnsSync], docker_client: Any, busybox_image: str,  # noqa: F811
    containers: list[Any],  # noqa: F811
) -> None:
    zone_id, agent = world
    # Another host's agent already published its value under the same name.
    other = DockerDnsSync(agent.clients, docker_client, Host("i-other", None, "10.0.0.99", "ip-10-0-0-99.internal"),
                          "host/i-other")
    containers.append(run_httpd(docker_client, busybox_image, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"},
                                {"8080/tcp": None}))
    assert safe_pass(other, dry_run=False).ok
    # This host's agent starts with the container already running: a full resync publishes it.
    assert safe_pass(agent, dry_run=False).ok
    found = records(sb, zone_id)
    assert found[(f"echo.{ZONE}.", "A", "10.0.0.99")] == ["10.0.0.99"]
    assert found[(f"echo.{ZONE}.", "A", HOST.private_ip)] == [HOST.private_ip]
    # Its container goes away while it is down; at its next start it removes only its own value.
    containers[0].remove(force=True)
    sb.reset_calls()
    assert safe_pass(agent, dry_run=False).ok
    assert sb.count("route53", "ChangeResourceRecordSets") == 1
    found = records(sb, zone_id)
    assert (f"echo.{ZONE}.", "A", HOST.private_ip) not in found
    assert found[(f"echo.{ZONE}.", "A", "10.0.0.99")] == ["10.0.0.99"]


def test_kill_event_marks_a_container_leaving_before_it_dies(world: tuple[str, DockerDnsSync]) -> None:
    _, agent = world
    agent.on_event({"Type": "container", "Action": "kill", "Actor": {"ID": "abc", "Attributes": {"signal": "15"}}})
    assert "abc" in agent.leaving and agent.wake.is_set()
    agent.on_event({"Type": "container", "Action": "start", "Actor": {"ID": "abc"}})
    assert "abc" not in agent.leaving
    # A reload signal (`docker kill -s HUP`) is not a stop.
    agent.on_event({"Type": "container", "Action": "kill", "Actor": {"ID": "abc", "Attributes": {"signal": "1"}}})
    assert "abc" not in agent.leaving


def test_a_container_told_to_stop_leaves_dns_while_it_still_runs(
    sb: Sandbox, world: tuple[str, DockerDnsSync], docker_client: Any, busybox_image: str,  # noqa: F811
    containers: list[Any],  # noqa: F811
) -> None:
    zone_id, agent = world
    passes: list[Any] = []
    stop = threading.Event()
    agent.watch()
    assert agent.watching.wait(10)
    loop = threading.Thread(target=run_forever, daemon=True, kwargs={
        "reconciler": agent, "interval": 3600.0, "wake": agent.wake, "stop": stop, "on_report": passes.append})
    loop.start()
    try:
        # A shell as PID 1 (no init) ignores SIGTERM: the container keeps running, as a service
        # draining its last requests during its stop timeout would.
        container = docker_client.containers.run(
            busybox_image, ["/bin/sh", "-c", "while true; do sleep 1; done"], detach=True,
            environment={"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"}, ports={"8080/tcp": None},
            labels={"ecsfleet-test": "1"})
        containers.append(container)
        a_key = (f"echo.{ZONE}.", "A", HOST.private_ip)
        assert wait_for(lambda: a_key in records(sb, zone_id))

        seen = len(passes)
        container.kill(signal="SIGHUP")  # a reload: it keeps its records
        assert wait_for(lambda: len(passes) > seen)
        assert a_key in records(sb, zone_id)

        container.kill(signal="SIGTERM")  # what `docker stop` sends first
        assert wait_for(lambda: a_key not in records(sb, zone_id))
        container.reload()
        assert container.status == "running"
    finally:
        stop.set()
        agent.stop_watching()
        loop.join(timeout=5)


def test_adopting_ecsd_records_in_place(
    sb: Sandbox, world: tuple[str, DockerDnsSync], docker_client: Any, busybox_image: str,  # noqa: F811
    containers: list[Any],  # noqa: F811
) -> None:
    zone_id, agent = world
    containers.append(run_httpd(docker_client, busybox_image, {"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"},
                                {"8080/tcp": None}))
    ecsd_record = {"Name": f"echo.{ZONE}", "Type": "A", "TTL": 10, "SetIdentifier": HOST.private_ip, "Weight": 100,
                   "ResourceRecords": [{"Value": HOST.private_ip}]}
    sb.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": ecsd_record}]})
    # Without --adopt-ecsd the record is not ours: left alone, and said so.
    report = safe_pass(agent, dry_run=False)
    assert report.outcomes == () and any("not owned" in w for w in report.warnings)
    agent.adopt_ecsd = True
    report = safe_pass(agent, dry_run=False)
    assert [o.detail.split()[:3] for o in report.outcomes] == [["CREATE", f"_ecsfleet-a.echo.{ZONE}.", "TXT"]]
    found = records(sb, zone_id)
    assert found[(f"echo.{ZONE}.", "A", HOST.private_ip)] == [HOST.private_ip]
    assert safe_pass(agent, dry_run=False).outcomes == ()


def test_cli_docker_source_once(
    sb: Sandbox, world: tuple[str, DockerDnsSync], docker_client: Any, busybox_image: str,  # noqa: F811
    containers: list[Any], capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    from ecsfleet.cli import main

    zone_id, _ = world
    containers.append(run_httpd(docker_client, busybox_image, {"SERVICE_PORT_8080": f"_echo._tcp.{ZONE}"},
                                {"8080/tcp": None}))
    containers[0].reload()
    port = int(containers[0].attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
    engine = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    args = ["dns-sync", "--source", "docker", "--docker-host", engine, "--host-id", HOST.id,
            "--private-ip", HOST.private_ip, "--hostname", HOST.hostname, "--once"]
    assert main(args) == 0
    assert "2 change(s) applied, 0 failed" in capsys.readouterr().out
    assert records(sb, zone_id)[(f"_echo._tcp.{ZONE}.", "SRV", f"{HOST.hostname}:{port}")] == [
        f"1 1 {port} {HOST.hostname}."]
    assert main(args) == 0
    assert "converged" in capsys.readouterr().out


def test_host_network_container_publishes_srv_at_the_port_it_names(
    sb: Sandbox, world: tuple[str, DockerDnsSync], docker_client: Any, busybox_image: str,  # noqa: F811
    containers: list[Any],  # noqa: F811
) -> None:
    zone_id, agent = world
    # --net=host: Docker reports no port bindings; the port in the variable's name is the host's.
    containers.append(docker_client.containers.run(
        busybox_image, ["/bin/busybox", "httpd", "-f", "-p", "19090", "-h", "/www"], detach=True, init=True,
        network_mode="host", environment={"SERVICE_PORT_19090": f"_hostnet._tcp.{ZONE}"},
        labels={"ecsfleet-test": "1"}))
    assert safe_pass(agent, dry_run=False).ok
    assert records(sb, zone_id)[(f"_hostnet._tcp.{ZONE}.", "SRV", f"{HOST.hostname}:19090")] == [
        f"1 1 19090 {HOST.hostname}."]
