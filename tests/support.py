"""Building blocks for sandbox scenarios in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ecsfleet.aws import Clients
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.rollout import RolloutSettings, rollout
from ecsfleet.fleet.schema import Infra
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import launch_instances, network


def in_fresh_interpreter(code: str) -> str:
    """The standard output of `code` run in an interpreter of its own, with the tests folder on
    its path: for what the threads of other tests in this process (a sandbox's server, a daemon)
    would disturb, such as what the garbage collector finds or which objects appear."""
    prelude = f"import sys\nsys.path.insert(0, {str(Path(__file__).parent)!r})\n"
    done = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rolled_out(sb: Sandbox, clients: Clients, infra: Infra) -> Infra:
    """`infra` rolled out as v1 in the sandbox (not followed: there is no older fleet to deflate)."""
    rollout(clients, infra, "v1", resolve_network(clients, infra), lambda _: None,
            RolloutSettings(follow=False, poll=5), sleep=sb.advance)
    return infra


def stop_codes(sb: Sandbox, cluster: str) -> set[str]:
    """The stop codes of the cluster's stopped tasks (TerminationNotice: a task was still on an
    instance when it went away)."""
    ecs = sb.client("ecs")
    stopped = ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"]
    return {t["stopCode"] for t in ecs.describe_tasks(cluster=cluster, tasks=stopped)["tasks"]} if stopped else set()


def fresh(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    """Reset the sandbox and point boto3 and ecsfleet (through the environment) at it."""
    sandbox.reset()
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return sandbox


def cluster_with_instances(sb: Sandbox, name: str = "test", count: int = 2,
                           instance_type: str = "t3.medium") -> list[str]:
    """A cluster with `count` registered container instances; returns their EC2 ids."""
    _, subnet, group = network(sb)
    sb.client("ecs").create_cluster(clusterName=name)
    return launch_instances(sb, name, count, subnet, group, instance_type)


def container_instances(sb: Sandbox, cluster: str) -> dict[str, str]:
    """EC2 id -> container instance ARN of every container instance in the cluster."""
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    docs = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]
    return {d["ec2InstanceId"]: d["containerInstanceArn"] for d in docs}


def task_definition(family: str = "app", ports: list[tuple[int, int]] | None = None, memory: int = 128,
                    cpu: int = 128, env: dict[str, str] | None = None, **container: Any) -> dict[str, Any]:
    """Arguments for RegisterTaskDefinition: one container named after the family."""
    return {
        "family": family,
        "containerDefinitions": [{
            "name": family,
            "image": "busybox",
            "memory": memory,
            "cpu": cpu,
            "portMappings": [{"containerPort": c, "hostPort": h} for c, h in (ports or [(80, 0)])],
            "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
            **container,
        }],
    }


def describe_tasks(sb: Sandbox, cluster: str, arns: list[str]) -> list[dict[str, Any]]:
    ecs = sb.client("ecs")
    found: list[dict[str, Any]] = []
    for start in range(0, len(arns), 100):
        found += ecs.describe_tasks(cluster=cluster, tasks=arns[start:start + 100])["tasks"]
    return found


def running_tasks(sb: Sandbox, cluster: str, **filters: Any) -> list[dict[str, Any]]:
    ecs = sb.client("ecs")
    arns = [a for page in ecs.get_paginator("list_tasks").paginate(cluster=cluster, **filters)
            for a in page["taskArns"]]
    return describe_tasks(sb, cluster, arns) if arns else []


def host_ports(task: dict[str, Any]) -> list[int]:
    return [b["hostPort"] for c in task["containers"] for b in c.get("networkBindings", [])]


def rule_to_queue(sb: Sandbox, name: str, pattern: dict[str, Any]) -> str:
    """An SQS queue that an EventBridge rule (same name) fills with the events matching `pattern`."""
    sqs, events = sb.client("sqs"), sb.client("events")
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    return str(queue)
