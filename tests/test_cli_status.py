"""`ecsfleet status` and the CLI's handling of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.cli import main
from ecsfleet.sandbox import Sandbox
from ecsfleet.snapshot import SnapshotReader
from ecsfleet.status import status_document
from support import cluster_with_instances, task_definition

ECSFLEET = str(Path(sys.executable).with_name("ecsfleet"))


def _world(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web", ports=[(80, 0)]))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=3)
    sb.advance(2)


def test_status_json_is_stable_and_complete(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    _world(sb)
    assert main(["status", "--cluster", "test", "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "ecsfleet.status/v1"
    assert doc["cluster"] == "test" and doc["region"] == sb.region
    assert len(doc["instances"]) == 2 and len(doc["tasks"]) == 3
    assert set(doc["instances"][0]) == {
        "containerInstanceArn", "ec2InstanceId", "privateIp", "publicIp", "status", "agentConnected",
        "agentVersion", "dockerVersion", "agentUpdateStatus", "cpu", "memory", "runningTasks", "pendingTasks"}
    web_arn = f"arn:aws:ecs:{sb.region}:123456789012:task-definition/web:1"
    assert doc["groups"] == [{"group": "service:web", "service": "web", "taskDefinitions": [web_arn],
                              "running": 3, "pending": 0}]
    ports = [p["hostPort"] for t in doc["tasks"] for p in t["hostPorts"]]
    assert len(ports) == 3 and all(p >= 32768 for p in ports)
    assert sum(i["runningTasks"] for i in doc["instances"]) == 3
    # Ordering is deterministic: the same cluster gives the same document.
    assert main(["status", "--cluster", "test", "--output", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in again.items() if k != "takenAt"} == {k: v for k, v in doc.items() if k != "takenAt"}


def test_status_table_lists_instances_and_tasks(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    _world(sb)
    assert main(["status", "--cluster", "test"]) == 0
    out = capsys.readouterr().out
    assert "Container instances of test" in out and "Tasks" in out
    assert out.count("web:1") == 3
    assert "2 instances, 3 tasks" in out
    # Each instance's row: EC2 id, IP, status, agent version, free CPU/memory, tasks.
    doc = status_document(SnapshotReader(Clients(AwsTarget(sb.region, sb.endpoint_url))).read("test"))
    for instance in doc["instances"]:
        row = next(line for line in out.splitlines() if instance["ec2InstanceId"] in line and instance["privateIp"]
                   in line)
        assert "ACTIVE" in row and instance["agentVersion"] in row
        assert f"{instance['cpu']['remaining']}/{instance['cpu']['registered']}" in row
        assert f"{instance['memory']['remaining']}/{instance['memory']['registered']} MiB" in row
    for task in doc["tasks"]:
        port = task["hostPorts"][0]["hostPort"]
        assert any(f"web:80->{port}" in line and task["ec2InstanceId"] in line for line in out.splitlines())


def test_unknown_cluster_is_one_line_and_exit_2(sb: Sandbox) -> None:
    result = subprocess.run([ECSFLEET, "status", "--cluster", "nope"], capture_output=True, text=True,
                            env=os.environ.copy(), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: cluster 'nope' not found in us-east-1"
    assert "Traceback" not in result.stderr


def test_unreachable_endpoint_is_a_hint_not_a_traceback() -> None:
    env = {**os.environ, "AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_MAX_ATTEMPTS": "1"}
    result = subprocess.run([ECSFLEET, "status", "--cluster", "demo"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach http://127.0.0.1:9" in lines[0]


def test_missing_credentials_is_a_hint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_REGION": "us-east-1",
                "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
                "AWS_EC2_METADATA_DISABLED": "true"})
    result = subprocess.run([ECSFLEET, "status", "--cluster", "demo"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no AWS credentials found" in lines[0]


def test_missing_region_is_a_hint(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": str(tmp_path / "none")})
    result = subprocess.run([ECSFLEET, "status", "--cluster", "demo"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: no AWS region: pass --region or set AWS_REGION"
