"""agents: rolling ECS agent updates against the sandbox, with a real local webhook server."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from ecsfleet.agents import handler
from ecsfleet.agents.lease import Lease
from ecsfleet.agents.plan import Options
from ecsfleet.agents.rollout import AgentUpdates
from ecsfleet.agents.window import Window
from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.notify import Notifier
from ecsfleet.runner import PassReport, safe_pass
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances


class Webhook:
    """A real HTTP server receiving Slack-style notices."""

    def __init__(self, status: int = 200) -> None:
        self.messages: list[dict[str, Any]] = []
        received = self.messages

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/SECRET"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.server.shutdown()


def versions(sb: Sandbox, cluster: str) -> dict[str, tuple[str | None, str | None]]:
    ecs = sb.client("ecs")
    arns = [a for p in ecs.get_paginator("list_container_instances").paginate(cluster=cluster)
            for a in p["containerInstanceArns"]]
    found = {}
    for start in range(0, len(arns), 100):
        for ci in ecs.describe_container_instances(cluster=cluster, containerInstances=arns[start:start + 100])[
                "containerInstances"]:
            found[ci["ec2InstanceId"]] = (ci["versionInfo"].get("agentVersion"), ci.get("agentUpdateStatus"))
    return found


def updates(clients: Clients, clusters: list[str] | None = None, **kwargs: Any) -> AgentUpdates:
    return AgentUpdates(clients, clusters, **kwargs)


def test_a_healthy_cluster_rolls_one_instance_per_pass_until_current(
    sb: Sandbox, clients: Clients, webhook: Webhook
) -> None:
    cluster_with_instances(sb, "prod", count=3)
    runner = updates(clients, ["prod"], notifier=Notifier(webhook.url))
    latest = sb.timings.latest_agent_version
    for done in range(1, 4):
        report = safe_pass(runner, dry_run=False)
        assert report.ok and [o.kind for o in report.outcomes] == ["update"]
        # While it rolls, a pass starts nothing else.
        assert [o.kind for o in safe_pass(runner, dry_run=False).outcomes] == ["cluster"]
        sb.advance(20)
        assert sum(1 for v, _ in versions(sb, "prod").values() if v == latest) == done
    sb.reset_calls()
    report = safe_pass(runner, dry_run=False)
    assert report.ok and [o.kind for o in report.outcomes] == ["current"]
    # Current agents cost one refused call, not one per instance.
    assert sb.count("ecs", "UpdateContainerAgent") == 1
    assert len([t for t in webhook.texts() if "agent update requested" in t]) == 3


def test_disconnected_agent_blocks_its_cluster_only(sb: Sandbox, clients: Clients, webhook: Webhook) -> None:
    broken = cluster_with_instances(sb, "broken", count=2)
    cluster_with_instances(sb, "fine", count=2)
    sb.disconnect_agent(broken[0])
    report = safe_pass(updates(clients, ["broken", "fine"], notifier=Notifier(webhook.url)), dry_run=False)
    assert not report.ok
    assert [(o.kind, o.target, o.ok) for o in report.outcomes] == [("cluster", "broken", False),
                                                                   ("update", "fine", True)]
    (fine,) = [o for o in report.outcomes if o.target == "fine"]
    assert webhook.messages == [
        {"text": f"ecsfleet: cluster broken skipped: agent disconnected on {broken[0]}"},
        {"text": f"ecsfleet: {fine.detail}"},
    ]
    assert main(["agents", "update", "--cluster", "broken"]) == 1


def test_failed_update_blocks_and_notifies(sb: Sandbox, clients: Clients, webhook: Webhook) -> None:
    ids = cluster_with_instances(sb, "prod", count=2)
    runner = updates(clients, ["prod"], notifier=Notifier(webhook.url))
    target = min(ids)  # the first candidate: same version, lowest id
    sb.fail_agent_update(target)
    assert safe_pass(runner, dry_run=False).ok
    sb.advance(20)
    assert versions(sb, "prod")[target][1] == "FAILED"
    report = safe_pass(runner, dry_run=False)
    assert not report.ok and "last agent update FAILED on " + target in report.outcomes[0].error  # type: ignore[operator]
    assert any("FAILED" in t and target in t for t in webhook.texts())


def _roll_out(sb: Sandbox, runner: AgentUpdates, passes: int) -> list[PassReport]:
    reports = []
    for _ in range(passes):
        reports.append(safe_pass(runner, dry_run=False))
        sb.advance(20)
    return reports


def test_an_arm64_host_does_not_stall_the_roll_out(sb: Sandbox, clients: Clients, webhook: Webhook) -> None:
    (arm,) = cluster_with_instances(sb, "prod", count=1, instance_type="t4g.medium")  # Graviton: arm64
    others = cluster_with_instances(sb, "prod", count=2)
    runner = updates(clients, ["prod"], notifier=Notifier(webhook.url))
    reports = _roll_out(sb, runner, 3)
    latest = sb.timings.latest_agent_version
    assert {i: v for i, (v, _) in versions(sb, "prod").items()} == {
        arm: sb.timings.initial_agent_version, **dict.fromkeys(others, latest)}
    for report in reports:  # every pass: healthy, and the arm64 host reported as skipped
        assert report.ok
        (skip,) = [o for o in report.outcomes if o.kind == "unsupported"]
        assert skip.skipped and skip.detail.startswith(f"{arm} in prod skipped: ") and "arm64" in skip.detail
    assert [o.kind for o in reports[-1].outcomes] == ["current", "unsupported"]
    assert not any(arm in t for t in webhook.texts())  # never "update requested" (nor any notice)
    assert len([t for t in webhook.texts() if "agent update requested" in t]) == 2


def test_a_refusal_aws_gives_for_one_host_skips_it_and_the_roll_out_goes_on(
    sb: Sandbox, clients: Clients, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = cluster_with_instances(sb, "prod", count=3)
    stale = min(ids)  # the first candidate of every pass (same version, lowest id)
    sb.set_agent_facts(stale, version_info=False)
    # The plan foresees this host; here it does not (a refusal ecsfleet does not predict), so
    # AWS's refusal itself must not stall the roll-out.
    monkeypatch.setattr("ecsfleet.agents.plan.unsupported", lambda instance: None)
    runner = updates(clients, ["prod"], notifier=Notifier(webhook.url))
    reports = _roll_out(sb, runner, 2)
    assert all(r.ok for r in reports)
    assert [o.kind for o in reports[0].outcomes] == ["refused", "update"]
    refusal = reports[0].outcomes[0]
    assert refusal.skipped and "MissingVersionException" in refusal.detail
    assert {i for i, (v, _) in versions(sb, "prod").items() if v == sb.timings.latest_agent_version} == set(ids) - {
        stale}
    assert not any("requested" in t and stale in t for t in webhook.texts())
    assert any("refused, host skipped" in t and stale in t for t in webhook.texts())
    assert main(["agents", "update", "--cluster", "prod"]) == 0  # a skipped host is not a failed pass


def test_more_than_100_instances_are_all_seen(sb: Sandbox, clients: Clients) -> None:
    cluster_with_instances(sb, "big", count=130, instance_type="t3.micro")
    report = safe_pass(updates(clients, ["big"], options=Options(max_in_flight=130)), dry_run=False)
    assert report.ok and len([o for o in report.outcomes if o.kind == "update"]) == 130
    assert sb.count("ecs", "DescribeContainerInstances") == 2


def lease_table(sb: Sandbox) -> None:
    sb.client("dynamodb").create_table(
        TableName="leases", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "lease", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lease", "KeyType": "HASH"}])


def test_two_concurrent_runs_update_at_most_one_instance_per_cluster(sb: Sandbox, clients: Clients) -> None:
    ids = cluster_with_instances(sb, "prod", count=4)
    # Two schedules with different tag filters: without the lease each would pick its own instance.
    ec2 = sb.client("ec2")
    ec2.create_tags(Resources=ids[:2], Tags=[{"Key": "team", "Value": "a"}])
    ec2.create_tags(Resources=ids[2:], Tags=[{"Key": "team", "Value": "b"}])
    lease_table(sb)
    reports: list[Any] = []
    barrier = threading.Barrier(4)

    def run(team: str) -> None:
        own = Clients(clients.target)
        runner = updates(own, ["prod"], lease=Lease(own("dynamodb"), "leases"),
                         options=Options(include_tags={"team": team}))
        barrier.wait()
        reports.append(safe_pass(runner, dry_run=False))

    threads = [threading.Thread(target=run, args=(team,)) for team in ("a", "b", "a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(reports) == 4 and all(r.ok for r in reports)
    assert sum(1 for r in reports for o in r.outcomes if o.kind == "update") == 1
    rolling = [i for i, (_, status) in versions(sb, "prod").items() if status == "PENDING"]
    assert len(rolling) == 1


def test_a_held_lease_keeps_other_runs_off_its_cluster_until_released_or_expired(
    sb: Sandbox, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster_with_instances(sb, "prod", count=2)
    cluster_with_instances(sb, "dev", count=1)
    lease_table(sb)
    dynamodb = sb.client("dynamodb")
    other = Lease(dynamodb, "leases", owner="another-run")
    assert other.acquire("agents/prod")
    runner = updates(clients, ["prod", "dev"], lease=Lease(dynamodb, "leases"))

    sb.reset_calls()
    report = safe_pass(runner, dry_run=False)
    assert report.ok  # held by another run counts as handled
    assert [(o.kind, o.target, o.skipped) for o in report.outcomes] == [("cluster", "prod", True),
                                                                        ("update", "dev", False)]
    assert "another run holds" in report.outcomes[0].detail
    assert sb.count("ecs", "UpdateContainerAgent") == 1  # dev only
    assert main(["agents", "update", "--cluster", "prod", "--lease-table", "leases"]) == 0
    assert "another run holds this cluster's lease" in capsys.readouterr().out

    other.release("agents/prod")
    assert [o.kind for o in safe_pass(runner, dry_run=False).outcomes] == ["update", "cluster"]  # prod; dev rolls
    assert "Item" not in dynamodb.get_item(TableName="leases", Key={"lease": {"S": "agents/prod"}})

    # A run that died holding the lease does not block the cluster past the lease's expiry.
    assert Lease(dynamodb, "leases", seconds=-1, owner="dead-run").acquire("agents/prod")
    outcomes = safe_pass(runner, dry_run=False).outcomes
    assert [(o.kind, o.target) for o in outcomes] == [("cluster", "prod"), ("cluster", "dev")]
    assert all("lease" not in o.detail for o in outcomes)  # read, and found rolling: not locked out
    assert "Item" not in dynamodb.get_item(TableName="leases", Key={"lease": {"S": "agents/prod"}})


def test_window_and_tag_filters_hold(sb: Sandbox, clients: Clients) -> None:
    ids = cluster_with_instances(sb, "prod", count=3)
    ec2 = sb.client("ec2")
    ec2.create_tags(Resources=[ids[0]], Tags=[{"Key": "agents", "Value": "hold"}])
    ec2.create_tags(Resources=ids[1:], Tags=[{"Key": "team", "Value": "web"}])
    monday_night = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    window = Window.parse("Mon-Fri 02:00-05:00 UTC")
    closed = updates(clients, ["prod"], window=window, now=lambda: monday_night.replace(hour=12))
    report = safe_pass(closed, dry_run=False)
    assert report.outcomes == () and "outside the window" in report.warnings[0]
    assert sb.count("ecs", "UpdateContainerAgent") == 0
    tagged = updates(clients, ["prod"], window=window, now=lambda: monday_night,
                     options=Options(max_in_flight=3, include_tags={"team": "web"}, exclude_tags={"agents": "hold"}))
    report = safe_pass(tagged, dry_run=False)
    updated = {o.detail.split()[4] for o in report.outcomes if o.kind == "update"}
    assert updated == set(ids[1:])


def test_ecstatic_webhook_variable_and_a_failed_update_call(
    sb: Sandbox, webhook: Webhook, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = cluster_with_instances(sb, "prod", count=2)
    monkeypatch.setenv("ECSTATIC_WEBHOOK_URL", webhook.url)
    sb.fail("ecs", "UpdateContainerAgent", times=5)  # every attempt: the call fails
    assert main(["agents", "update", "--cluster", "prod"]) == 1
    assert "agent update of" in capsys.readouterr().out
    (failed,) = webhook.texts()
    assert failed.startswith(f"ecsfleet agents: agent update of {min(ids)} in prod failed: ")

    assert main(["agents", "update", "--cluster", "prod"]) == 0
    assert webhook.messages[1:] == [
        {"text": f"ecsfleet agents: agent update requested on {min(ids)} in prod "
                 f"(from {sb.timings.initial_agent_version})"}]


def test_every_cluster_is_seen_past_the_first_page(sb: Sandbox, clients: Clients) -> None:
    ecs = sb.client("ecs")
    for n in range(104):
        ecs.create_cluster(clusterName=f"empty-{n:03d}")
    cluster_with_instances(sb, "last", count=1)  # the 105th cluster: on the second page
    sb.reset_calls()
    report = safe_pass(updates(clients, None), dry_run=False)
    assert report.ok and [(o.kind, o.target) for o in report.outcomes] == [("update", "last")]
    assert sb.count("ecs", "ListClusters") == 2 and sb.count("ecs", "ListContainerInstances") == 105


def test_failing_webhook_never_stops_the_run_and_its_url_is_never_logged(
    sb: Sandbox, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    cluster_with_instances(sb, "prod", count=1)
    refusing = Webhook(status=500)
    closed_port = "http://127.0.0.1:9/services/T111/B111/SECRET"
    try:
        with caplog.at_level(logging.DEBUG):
            for url in (refusing.url, closed_port):
                sb.reset_calls()
                report = safe_pass(updates(clients, ["prod"], notifier=Notifier(url)), dry_run=False)
                assert report.ok
                sb.advance(20)
        assert refusing.messages  # it was called
        assert "SECRET" not in caplog.text and "services/T" not in caplog.text
        assert "webhook notice not delivered" in caplog.text
    finally:
        refusing.server.shutdown()


def test_status_json_lists_versions_and_recommended_ami(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    cluster_with_instances(sb, "prod", count=2)
    assert main(["agents", "status", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "ecsfleet.agents-status/v1" and doc["recommendedAmi"].startswith("ami-")
    (cluster,) = doc["clusters"]
    assert cluster["summary"]["instances"] == 2 and cluster["summary"]["agentConnected"] == 2
    assert cluster["summary"]["agentVersions"] == {sb.timings.initial_agent_version: 2}
    assert {i["recommendedAmi"] for i in cluster["instances"]} == {False}
    assert main(["agents", "status"]) == 0
    assert "recommended ECS-optimized AMI" in capsys.readouterr().out


def test_lambda_handler_runs_the_pass_and_cli_reports(sb: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cluster_with_instances(sb, "prod", count=2)
    summary = handler({}, None)
    assert summary["ok"] and len(summary["applied"]) == 1
    assert main(["agents", "update", "--all", "--dry-run"]) == 0
    assert "rolling" in capsys.readouterr().out
    assert main(["agents", "update"]) == 2
    assert main(["agents", "update", "--all", "--window", "Someday 25:00-26:00"]) == 2
