"""The migration guides (docs/migrate-from-*.md) followed step by step in the sandbox, with the
commands they give."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ecsd_world import ecsd_a, ecsd_srv, make_zone, plant, served
from ecsfleet.cli import main
from ecsfleet.sandbox import Sandbox
from ownership import all_records
from support import cluster_with_instances, running_tasks, task_definition
from test_agents import Webhook

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_ecsd_guide(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    guide = (DOCS / "migrate-from-ecsd.md").read_text()
    for command in ("ecsfleet dns-sync --cluster prod --adopt-ecsd --once --dry-run",
                    "ecsfleet dns-sync --cluster prod --adopt-ecsd --once", "export ECS_HOSTED_ZONE="):
        assert command in guide
    # A cluster as ecsd served it: two hosts running echo, ecsd's records of both and of a host
    # that is gone, in the zone ECS_HOSTED_ZONE names.
    zone_id = make_zone(sb)
    make_zone(sb, "example.org")  # another zone of the account: not managed
    cluster_with_instances(sb, "prod", count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("echo", ports=[(8080, 0)], memory=16, cpu=8, env={
        "SERVICE_FQDN_LOCAL": "echo.example.com", "SERVICE_PORT_8080": "_echo._tcp.example.com"}))
    ecs.create_service(cluster="prod", serviceName="echo", taskDefinition="echo", desiredCount=2,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(sb.timings.task_start_seconds)
    live = set()
    for task in running_tasks(sb, "prod"):
        ci = ecs.describe_container_instances(cluster="prod", containerInstances=[task["containerInstanceArn"]])[
            "containerInstances"][0]
        host = sb.client("ec2").describe_instances(InstanceIds=[ci["ec2InstanceId"]])["Reservations"][0][
            "Instances"][0]
        port = task["containers"][0]["networkBindings"][0]["hostPort"]
        live |= {("echo.example.com.", "A", host["PrivateIpAddress"]),
                 ("_echo._tcp.example.com.", "SRV", f"1 1 {port} {host['PrivateDnsName']}")}
    plant(sb, zone_id, *[ecsd_a(n, v) for n, k, v in live if k == "A"], ecsd_a("echo.example.com.", "10.0.9.9"),
          *[ecsd_srv(n, v.split()[3], int(v.split()[2])) for n, k, v in live if k == "SRV"])
    monkeypatch.setenv("ECS_HOSTED_ZONE", zone_id)

    # 2. IAM
    assert main(["iam-policy", "dns-sync", "--cluster", "prod", "--zone-id", zone_id]) == 0
    assert "route53:ChangeResourceRecordSets" in capsys.readouterr().out
    # 3. See what it would do: nothing changes.
    before = all_records(sb, zone_id)
    assert main(["dns-sync", "--cluster", "prod", "--adopt-ecsd", "--once", "--dry-run"]) == 0
    assert "DELETE echo.example.com. A" in capsys.readouterr().out
    assert all_records(sb, zone_id) == before
    # 4. Switch: one batch; every served value kept, the gone host's dropped, ecsd's TTLs kept.
    sb.reset_calls()
    assert main(["dns-sync", "--cluster", "prod", "--adopt-ecsd", "--once"]) == 0
    assert sb.count("route53", "ChangeResourceRecordSets") == 1
    assert served(sb, zone_id) == live
    after = all_records(sb, zone_id)
    assert after[("_echo._tcp.example.com.", "SRV", None)]["TTL"] == 0
    assert after[("echo.example.com.", "A", None)]["TTL"] == 10
    # ... and for good: a later pass sends nothing.
    sb.reset_calls()
    assert main(["dns-sync", "--cluster", "prod", "--adopt-ecsd", "--once"]) == 0
    assert sb.count("route53", "ChangeResourceRecordSets") == 0


def test_ecstatic_guide(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    guide = (DOCS / "migrate-from-ecstatic.md").read_text()
    for command in ("set -a; . ./.env; set +a", "ecsfleet agents update --all --dry-run", "ecsfleet agents status",
                    "ecsfleet agents update --all", "ecsfleet bootstrap render --controllers agents",
                    "ecsfleet iam-policy agents"):
        assert command in guide
    hook = Webhook()
    try:
        cluster_with_instances(sb, "prod", count=2)
        cluster_with_instances(sb, "batch", count=1)
        # ecstatic's .env, loaded as the guide says.
        (tmp_path / ".env").write_text(f"ECSTATIC_WEBHOOK_URL={hook.url}\nECSTATIC_LOG_LEVEL=INFO\n")
        env = subprocess.run(["bash", "-c", "set -a; . ./.env; set +a; env"], cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout
        for line in env.splitlines():
            if line.startswith("ECSTATIC_"):
                monkeypatch.setenv(*line.split("=", 1))

        assert main(["iam-policy", "agents"]) == 0
        assert "ecs:UpdateContainerAgent" in capsys.readouterr().out
        assert main(["agents", "status"]) == 0
        sb.reset_calls()
        assert main(["agents", "update", "--all", "--dry-run"]) == 0
        assert sb.count("ecs", "UpdateContainerAgent") == 0 and hook.messages == []

        assert main(["agents", "update", "--all"]) == 0
        # One update per cluster (ecstatic: one for the whole account), each with its notice at
        # ecstatic's webhook.
        assert sb.count("ecs", "UpdateContainerAgent") == 2
        texts = hook.texts()
        assert len(texts) == 2 and all("agent update requested" in t for t in texts)
        assert {t.split(" in ")[1].split()[0] for t in texts} == {"prod", "batch"}

        capsys.readouterr()
        assert main(["bootstrap", "render", "--controllers", "agents"]) == 0
        assert "ecsfleet.agents.handler" in capsys.readouterr().out
    finally:
        hook.server.shutdown()
