"""Hand-made snapshots for unit tests of pure planners."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType

from ecsfleet.snapshot import ClusterSnapshot, Container, ContainerInstance, PortBinding, Task

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def host(n: int, status: str = "ACTIVE") -> ContainerInstance:
    return ContainerInstance(
        arn=f"arn:aws:ecs:us-east-1:123456789012:container-instance/c/ci{n}", ec2_instance_id=f"i-{n:04d}",
        status=status, agent_connected=True, agent_version="1.88.0", docker_version="25", agent_update_status=None,
        registered_cpu=2048, registered_memory=3904, remaining_cpu=2048, remaining_memory=3904, running_tasks=0,
        pending_tasks=0, attributes=MappingProxyType({}), private_ip=f"10.0.0.{n}", public_ip=f"54.0.0.{n}",
        private_dns_name=f"ip-10-0-0-{n}.ec2.internal",
    )


def task(n: int, on: ContainerInstance, port: int | None, family: str = "web", revision: int = 1,
         started: int = 0, last: str = "RUNNING", desired: str = "RUNNING", container: str = "web",
         container_port: int = 80, health: str = "UNKNOWN", checked: bool = False,
         env: Mapping[str, str] | None = None, service: str | None = "web") -> Task:
    bindings = (PortBinding(container_port, port),) if port is not None else ()
    return Task(
        arn=f"arn:aws:ecs:us-east-1:123456789012:task/c/t{n}", family=family, revision=revision,
        task_definition_arn=f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}",
        group=f"service:{service}" if service else f"family:{family}", last_status=last, desired_status=desired,
        started_by="", container_instance_arn=on.arn, created_at=T0 + dt.timedelta(seconds=started),
        started_at=T0 + dt.timedelta(seconds=started) if last == "RUNNING" else None, health_status=health,
        has_health_check=checked, stop_timeout=30.0,
        containers=(Container(container, last, bindings,
                              env if isinstance(env, MappingProxyType) else MappingProxyType(dict(env or {}))),),
    )


def snapshot(hosts: list[ContainerInstance], tasks: list[Task]) -> ClusterSnapshot:
    return ClusterSnapshot("c", "us-east-1", T0, tuple(hosts), tuple(tasks))
