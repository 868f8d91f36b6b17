"""Endpoints leave DNS (and the load balancer) when ECS announces a stop, before the task dies."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.cli import main
from ecsfleet.dns import DnsSync
from ecsfleet.runner import SqsWakeups, run_forever
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances, rule_to_queue, running_tasks, task_definition
from test_dns_ecs import ZONE, dns_sandbox, dsb, records, sync, zone  # noqa: F401 - fixtures


def test_150_hosts_under_one_name_resolve_to_150_values(dsb: Sandbox) -> None:  # noqa: F811
    from dnslib import QTYPE, DNSRecord

    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=150, instance_type="t3.micro")
    ecs = dsb.client("ecs")
    ecs.register_task_definition(**task_definition("wide", ports=[(8080, 0)], memory=64, cpu=64, env={
        "SERVICE_FQDN_LOCAL": f"wide.{ZONE}", "SERVICE_PORT_8080": f"_wide._tcp.{ZONE}"}))
    ecs.create_service(cluster="test", serviceName="wide", taskDefinition="wide", desiredCount=150,
                       placementConstraints=[{"type": "distinctInstance"}])
    dsb.advance(2)
    assert len(running_tasks(dsb, "test")) == 150

    report = sync(dsb)

    assert report.ok, report.summary()
    assert len(records(dsb, zone_id)[(f"wide.{ZONE}.", "A")]) == 150
    assert len(records(dsb, zone_id)[(f"_wide._tcp.{ZONE}.", "SRV")]) == 150
    answer = DNSRecord.parse(DNSRecord.question(f"wide.{ZONE}", "A").send("127.0.0.1", dsb.dns_port, timeout=5))
    assert len([r for r in answer.rr if r.rtype == QTYPE.A]) == 150


def test_status_and_dns_sync_warn_when_stop_timeout_is_shorter_than_the_ttl(
    dsb: Sandbox, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    zone(dsb)
    cluster_with_instances(dsb, count=1)
    ecs = dsb.client("ecs")
    ecs.register_task_definition(**task_definition("quick", env={"SERVICE_FQDN_LOCAL": f"quick.{ZONE}"},
                                                   stopTimeout=5))
    ecs.create_service(cluster="test", serviceName="quick", taskDefinition="quick", desiredCount=1)
    ecs.register_task_definition(**task_definition("patient", env={"SERVICE_FQDN_LOCAL": f"patient.{ZONE}"},
                                                   stopTimeout=30))
    ecs.create_service(cluster="test", serviceName="patient", taskDefinition="patient", desiredCount=1)
    dsb.advance(2)

    warnings = sync(dsb, ttl=10).warnings
    assert [w for w in warnings if "stopTimeout" in w] == [w for w in warnings if w.startswith("quick: stopTimeout 5s")]
    assert len([w for w in warnings if "stopTimeout" in w]) == 1
    assert not [w for w in sync(dsb, ttl=10, min_drain=5).warnings if "stopTimeout" in w]

    assert main(["status", "--cluster", "test", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["warnings"]) == 1 and doc["warnings"][0].startswith("quick: stopTimeout 5s")
    assert main(["status", "--cluster", "test", "--min-drain", "60"]) == 0
    assert capsys.readouterr().err.count("warning:") == 2


def test_event_mode_removes_a_stopping_task_without_waiting_for_the_interval(dsb: Sandbox) -> None:  # noqa: F811
    zone_id = zone(dsb)
    cluster_with_instances(dsb, count=3)
    ecs = dsb.client("ecs")
    ecs.register_task_definition(**task_definition("echo", env={"SERVICE_FQDN_LOCAL": f"echo.{ZONE}"}))
    ecs.create_service(cluster="test", serviceName="echo", taskDefinition="echo", desiredCount=3,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    dsb.advance(2)
    queue = rule_to_queue(dsb, "dns-events", {"source": ["aws.ecs"]})
    clients = Clients(AwsTarget(dsb.region, dsb.endpoint_url))
    wakeups = SqsWakeups(clients, queue).start()
    stop = threading.Event()
    passes: list[Any] = []
    daemon = threading.Thread(target=run_forever, daemon=True, kwargs={
        "reconciler": DnsSync(clients, "test", "ecs-cluster/test"), "interval": 3600.0, "wake": wakeups.wake,
        "stop": stop, "on_report": passes.append})
    daemon.start()
    try:
        deadline = time.monotonic() + 30
        while len(records(dsb, zone_id).get((f"echo.{ZONE}.", "A"), [])) != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        victim = running_tasks(dsb, "test")[0]
        ecs.stop_task(cluster="test", task=victim["taskArn"])  # the event goes to the queue now
        while len(records(dsb, zone_id).get((f"echo.{ZONE}.", "A"), [])) != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(records(dsb, zone_id)[(f"echo.{ZONE}.", "A")]) == 2
        # The sandbox clock has not moved: the task is still running its stopTimeout.
        assert ecs.describe_tasks(cluster="test", tasks=[victim["taskArn"]])["tasks"][0]["lastStatus"] == "RUNNING"
        # The pass that removed it is the first one after the event: woken by it, not by the
        # hour-long interval.
        assert len(passes) >= 2 and passes[0].writes > 0
        (removal,) = [p for p in passes[1:] if p.writes]
        assert removal is passes[1]
        assert [o.detail.split()[:3] for o in removal.outcomes] == [["UPSERT", f"echo.{ZONE}.", "A"]]
    finally:
        stop.set()
        wakeups.stop()
        daemon.join(timeout=5)
