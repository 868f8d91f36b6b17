"""One read of a cluster: what it holds, and how few calls it costs."""

from __future__ import annotations

import math

import pytest

from ecsfleet.aws import Clients
from ecsfleet.errors import NotFound
from ecsfleet.sandbox import Sandbox
from ecsfleet.snapshot import SnapshotReader
from support import cluster_with_instances, task_definition


def test_snapshot_of_1000_tasks_on_50_instances_costs_the_floor(sb: Sandbox, clients: Clients) -> None:
    cluster_with_instances(sb, count=50)
    ecs = sb.client("ecs")
    families = ["alpha", "beta", "gamma", "delta"]
    for family in families:
        ecs.register_task_definition(**task_definition(family, memory=64, cpu=32))
        ecs.create_service(cluster="test", serviceName=family, taskDefinition=family, desiredCount=250)
    sb.advance(2)
    sb.reset_calls()

    snap = SnapshotReader(clients).read("test")

    assert len(snap.tasks) == 1000 and len(snap.instances) == 50
    assert {t.last_status for t in snap.tasks} == {"RUNNING"}
    assert sb.calls("ecs") == {
        ("ecs", "ListContainerInstances"): 1,
        ("ecs", "ListTasks"): math.ceil(1000 / 100),
        ("ecs", "DescribeContainerInstances"): math.ceil(50 / 100),
        ("ecs", "DescribeTasks"): math.ceil(1000 / 100),
        ("ecs", "DescribeTaskDefinition"): len(families),
    }
    assert sb.count("ec2", "DescribeInstances") == 1
    # Values the tasks repeat are one object each, whichever answer brought them: a task's host
    # ARN is the host's own, so looking the host up compares no characters.
    hosts = {i.arn: i.arn for i in snap.instances}
    assert all(t.container_instance_arn is hosts[t.container_instance_arn] for t in snap.tasks)
    for values in ([t.last_status for t in snap.tasks], [t.group for t in snap.tasks if t.family == "alpha"],
                   [t.containers[0].name for t in snap.tasks if t.family == "alpha"]):
        assert all(value is values[0] for value in values)
    # So are equal containers (a service's tasks bind the same ports on many hosts), their port
    # bindings and the tuples of them: the read holds one object for each distinct part.
    containers = [c for t in snap.tasks for c in t.containers]
    distinct = {(c.name, c.last_status, c.bindings, id(c.environment), c.health_status) for c in containers}
    assert len({id(c) for c in containers}) == len(distinct) < len(containers) / 2
    assert len({id(t.containers) for t in snap.tasks}) == len(distinct)
    assert len({id(c.bindings) for c in containers}) == len({c.bindings for c in containers})

    # A second read with the same reader fetches no task definition again.
    sb.reset_calls()
    reader = SnapshotReader(clients)
    reader.read("test")
    reader.read("test")
    assert sb.count("ecs", "DescribeTaskDefinition") == len(families)


def test_snapshot_records_ports_environment_and_hosts(sb: Sandbox, clients: Clients) -> None:
    ec2_ids = cluster_with_instances(sb, count=1)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition(
        "web", ports=[(80, 0), (443, 8443)], env={"SERVICE_FQDN": "web.example.com", "KEEP": "1"}))
    ecs.run_task(cluster="test", taskDefinition="web", overrides={"containerOverrides": [
        {"name": "web", "environment": [{"name": "SERVICE_FQDN", "value": "override.example.com"}]}]})
    sb.advance(2)

    snap = SnapshotReader(clients).read("test")

    (instance,) = snap.instances
    assert instance.ec2_instance_id == ec2_ids[0]
    assert instance.private_ip and instance.public_ip
    assert instance.status == "ACTIVE" and instance.agent_connected
    assert instance.agent_version == sb.timings.initial_agent_version
    assert instance.remaining_memory == instance.registered_memory - 128
    assert instance.running_tasks == 1
    (task,) = snap.tasks
    assert (task.family, task.revision, task.group) == ("web", 1, "family:web")
    assert (task.last_status, task.desired_status) == ("RUNNING", "RUNNING")
    assert task.started_at is not None and task.container_instance_arn == instance.arn
    container = task.container("web")
    assert container is not None
    assert dict(container.environment) == {"SERVICE_FQDN": "override.example.com", "KEEP": "1"}
    assert container.host_port(443) == 8443
    dynamic = container.host_port(80)
    assert dynamic is not None and dynamic >= 32768
    assert snap.tasks_on(instance.arn) == (task,)


def test_snapshot_of_unknown_cluster_names_it(sb: Sandbox, clients: Clients) -> None:
    with pytest.raises(NotFound, match="cluster 'missing' not found in us-east-1"):
        SnapshotReader(clients).read("missing")


def test_snapshot_survives_throttling(sb: Sandbox, clients: Clients) -> None:
    cluster_with_instances(sb, count=2)
    sb.client("ecs").register_task_definition(**task_definition("web"))
    sb.client("ecs").create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=3)
    sb.advance(2)
    sb.throttle("ecs", "DescribeTasks", times=2)
    sb.fail("ecs", "ListTasks", times=1)
    sb.reset_calls()
    snap = SnapshotReader(clients).read("test")
    assert len(snap.tasks) == 3
    assert sb.count("ecs", "DescribeTasks") == 3
    assert sb.count("ecs", "ListTasks") == 2
