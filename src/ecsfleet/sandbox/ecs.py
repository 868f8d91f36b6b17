"""What an ECS control plane, its scheduler and its agents do, for one region of the sandbox.

moto stores ECS resources but runs nothing; this module is the part that runs: placement on
CPU, memory and ports, host port assignment, the task lifecycle (PENDING -> RUNNING, and the
stop sequence: desiredStatus STOPPED first, lastStatus RUNNING for the stopTimeout, then
STOPPED), services that keep their desired count and roll deployments, draining, agent updates,
and EC2 instances that join a cluster from their user data.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import math
import random
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .clock import SandboxClock
from .ecs_model import (
    ACCOUNT_ID,
    AGENT_UPDATE_STEPS,
    Cluster,
    Container,
    ContainerInstance,
    Deployment,
    EcsError,
    Service,
    Task,
    TaskDefinition,
    cluster_not_found,
    instance_resources,
    invalid,
)

STOPPED_TASK_RETENTION = 3600.0


@dataclass(frozen=True)
class Ec2Facts:
    """What the sandbox's agents know of an EC2 instance (read from moto's EC2)."""

    instance_id: str
    state: str
    instance_type: str
    image_id: str
    availability_zone: str
    private_ip: str | None
    public_ip: str | None
    user_data: str


@dataclass
class EcsTimings:
    task_start_seconds: float = 2.0
    agent_update_step_seconds: float = 5.0
    latest_agent_version: str = "1.89.2"
    initial_agent_version: str = "1.88.0"


def _hex_id() -> str:
    return uuid.uuid4().hex


def agent_config(user_data: str) -> dict[str, str]:
    """ECS agent settings (`ECS_CLUSTER=...` lines) from user data, base64 or plain."""
    text = user_data
    try:
        decoded = base64.b64decode(user_data, validate=True).decode()
        if "ECS_" in decoded:
            text = decoded
    except (ValueError, UnicodeDecodeError):
        pass
    found: dict[str, str] = {}
    for match in re.finditer(r"\b(ECS_[A-Z_]+)=(.*)", text):
        value = match.group(2).strip().rstrip("'\"").lstrip("'\"")
        # `echo ECS_CLUSTER=x >> /etc/ecs/ecs.config` puts shell redirection on the same line.
        value = re.split(r"\s*>>?\s*", value)[0].strip().strip("'\"")
        found.setdefault(match.group(1), value)
    return found


class EcsRegion:
    """The ECS of one region. Every public method is called with the sandbox lock held."""

    def __init__(
        self,
        region: str,
        clock: SandboxClock,
        timings: EcsTimings,
        ec2_facts: Callable[[], list[Ec2Facts]],
        emit: Callable[[str, str, list[str], dict[str, Any]], None],
        render_task: Callable[[Task], dict[str, Any]],
        render_instance: Callable[[ContainerInstance], dict[str, Any]],
        start_failure: Callable[[ContainerInstance], str | None] | None = None,
    ) -> None:
        """`start_failure`: why a task placed on this instance cannot start (None: it starts)."""
        self.region = region
        self.clock = clock
        self.timings = timings
        self._ec2_facts = ec2_facts
        self._emit = emit
        self._render_task = render_task
        self._render_instance = render_instance
        self._start_failure = start_failure
        self.clusters: dict[str, Cluster] = {}
        self.task_definitions: dict[str, list[TaskDefinition]] = {}
        self.instances: dict[str, ContainerInstance] = {}  # by ARN, registration order
        self.inactive_instances: dict[str, ContainerInstance] = {}
        self.tasks: dict[str, Task] = {}  # by ARN, creation order
        self.services: dict[str, Service] = {}  # by ARN
        self.resource_tags: dict[str, list[dict[str, str]]] = {}
        self.known_ec2: set[str] = set()
        self._random = random.Random(7)
        # Indexes, kept in step with the stores above, so that no call scans every task or
        # instance of the region: a 50,000-task cluster read page by page would be quadratic.
        self._instances_by_id: dict[str, ContainerInstance] = {}  # registered and deregistered
        self._instances_by_ec2: dict[str, ContainerInstance] = {}  # registered (not INACTIVE)
        self._cluster_instances: dict[str, dict[str, ContainerInstance]] = {}
        self._cluster_tasks: dict[str, dict[str, Task]] = {}
        self._group_tasks: dict[tuple[str, str], dict[str, Task]] = {}
        self._instance_tasks: dict[str, dict[str, Task]] = {}  # by container instance ARN, every status
        self._cluster_services: dict[str, dict[str, Service]] = {}
        self._short: set[str] = set()  # services whose last reconcile could not start every task
        self._due: dict[str, set[str]] = {}  # services to reconcile at the end of this instant, by cluster
        self._instance_order = itertools.count()
        self._service_order = itertools.count()
        # List calls page through one list per query, built once while nothing it depends on changes.
        self._listings: dict[tuple[Any, ...], list[str]] = {}
        self._listed_at: tuple[int, int] = (0, 0)
        self._task_generation = 0
        self._instance_generation = 0

    # ---- names and ARNs -------------------------------------------------------------------

    def arn(self, kind: str, rest: str) -> str:
        return f"arn:aws:ecs:{self.region}:{ACCOUNT_ID}:{kind}/{rest}"

    def cluster(self, ref: str | None) -> Cluster:
        name = (ref or "default").rsplit("/", 1)[-1] if (ref or "").startswith("arn:") else (ref or "default")
        cluster = self.clusters.get(name)
        if cluster is None or cluster.status != "ACTIVE":
            raise cluster_not_found()
        return cluster

    def task_definition(self, ref: str) -> TaskDefinition:
        text = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
        family, _, revision = text.partition(":")
        revisions = self.task_definitions.get(family, [])
        if revision:
            found = [td for td in revisions if str(td.revision) == revision]
        else:
            found = [td for td in revisions if td.status == "ACTIVE"][-1:]
        if not found:
            raise EcsError("ClientException", "Unable to describe task definition.")
        return found[0]

    def instance(self, cluster: Cluster, ref: str) -> ContainerInstance:
        ci = self.find_instance(cluster.name, ref)
        if ci is None:
            raise invalid(f"Container instance {ref} not found.")
        return ci

    def find_instance(self, cluster: str, ref: str) -> ContainerInstance | None:
        """A container instance of `cluster` by ARN or ID, registered or deregistered."""
        ci = self._instances_by_id.get(ref.rsplit("/", 1)[-1])
        return ci if ci is not None and ci.cluster == cluster else None

    def task(self, cluster: Cluster, ref: str) -> Task:
        ident = ref.rsplit("/", 1)[-1]
        task = self.tasks.get(ref) or self.tasks.get(self.arn("task", f"{cluster.name}/{ident}"))
        if task is None or task.cluster != cluster.name:
            raise invalid("The referenced task was not found.")
        return task

    def service(self, cluster: Cluster, ref: str) -> Service:
        name = ref.rsplit("/", 1)[-1]
        svc = self.services.get(self.arn("service", f"{cluster.name}/{name}"))
        if svc is None:
            raise EcsError("ServiceNotFoundException", "Service not found.")
        return svc

    def cluster_instances(self, cluster: str) -> list[ContainerInstance]:
        """Registered (ACTIVE or DRAINING) container instances, in registration order."""
        return list(self._cluster_instances.get(cluster, {}).values())

    def cluster_tasks(self, cluster: str) -> list[Task]:
        """Every task ECS still knows (stopped ones for an hour), in creation order."""
        return list(self._cluster_tasks.get(cluster, {}).values())

    def cluster_services(self, cluster: str) -> list[Service]:
        return list(self._cluster_services.get(cluster, {}).values())

    def task_listing(self, cluster: str, desired: str, *, instance_arn: str | None = None, family: str | None = None,
                     service: str | None = None, started_by: str | None = None) -> list[str]:
        """ARNs ListTasks pages through, in creation order. Built from the narrowest index once
        per change of the tasks, so reading N tasks a page at a time costs O(N), not O(N^2)."""
        key = ("tasks", cluster, desired, instance_arn, family, service, started_by)
        found = self._listing(key)
        if found is None:
            if instance_arn is not None:
                pool: Iterable[Task] = self._instance_tasks.get(instance_arn, {}).values()
            elif service:
                pool = self._group_tasks.get((cluster, f"service:{service}"), {}).values()
            else:
                pool = self._cluster_tasks.get(cluster, {}).values()
            found = self._listings[key] = [
                t.arn for t in pool
                if t.cluster == cluster and t.desired_status == desired
                and (not family or t.task_definition.family == family)
                and (not service or t.service_name == service)
                and (not started_by or t.started_by == started_by)
            ]
        return found

    def instance_listing(self, cluster: str, status: str | None, expression: str | None) -> list[str]:
        """ARNs ListContainerInstances pages through, in registration order (built as `task_listing`)."""
        key = ("instances", cluster, status, expression)
        found = self._listing(key)
        if found is None:
            found = self._listings[key] = [
                ci.arn for ci in self.cluster_instances(cluster)
                if (status is None or ci.status == status) and (not expression or matches_expression(expression, ci))
            ]
        return found

    def _listing(self, key: tuple[Any, ...]) -> list[str] | None:
        generation = (self._task_generation, self._instance_generation)
        if generation != self._listed_at:
            self._listings.clear()
            self._listed_at = generation
        return self._listings.get(key)

    def attributes_changed(self, ci: ContainerInstance) -> None:
        """PutAttributes / DeleteAttributes changed what a filter expression may match."""
        self._instance_generation += 1

    # ---- clusters and task definitions ----------------------------------------------------

    def create_cluster(self, name: str, tags: list[dict[str, str]] | None = None) -> Cluster:
        existing = self.clusters.get(name)
        if existing is not None and existing.status == "ACTIVE":
            return existing
        cluster = Cluster(name, self.arn("cluster", name), self.clock.now(), tags=list(tags or []))
        self.clusters[name] = cluster
        self.resource_tags[cluster.arn] = cluster.tags  # one list: TagResource shows in DescribeClusters
        return cluster

    def delete_cluster(self, ref: str) -> Cluster:
        # A cluster with instances or services is refused by the rules layer (sandbox/rules/ecs.py).
        cluster = self.cluster(ref)
        cluster.status = "INACTIVE"
        return cluster

    def register_task_definition(self, family: str, body: dict[str, Any]) -> TaskDefinition:
        # What AWS refuses in a task definition is refused before this by the rules layer.
        containers = body.get("containerDefinitions") or []
        revisions = self.task_definitions.setdefault(family, [])
        revision = len(revisions) + 1
        extra = {
            k: v
            for k, v in body.items()
            if k not in ("family", "containerDefinitions", "networkMode", "cpu", "memory", "tags")
        }
        td = TaskDefinition(
            arn=self.arn("task-definition", f"{family}:{revision}"),
            family=family,
            revision=revision,
            container_definitions=[dict(c) for c in containers],
            network_mode=body.get("networkMode") or "bridge",
            cpu=body.get("cpu"),
            memory=body.get("memory"),
            registered_at=self.clock.now(),
            extra=extra,
        )
        revisions.append(td)
        if body.get("tags"):
            self.resource_tags[td.arn] = list(body["tags"])
        return td

    # ---- container instances --------------------------------------------------------------

    def register_instance(
        self, cluster: Cluster, facts: Ec2Facts, attributes: dict[str, str] | None = None
    ) -> ContainerInstance:
        known = self._instances_by_ec2.get(facts.instance_id)
        if known is not None:
            return known
        cpu, memory = instance_resources(facts.instance_type)
        ident = _hex_id()
        attrs = {
            "ecs.ami-id": facts.image_id,
            "ecs.availability-zone": facts.availability_zone,
            "ecs.instance-type": facts.instance_type,
            "ecs.os-type": "linux",
            "ecs.cpu-architecture": cpu_architecture(facts.instance_type),
            **(attributes or {}),
        }
        ci = ContainerInstance(
            arn=self.arn("container-instance", f"{cluster.name}/{ident}"),
            id=ident,
            cluster=cluster.name,
            ec2_instance_id=facts.instance_id,
            registered_cpu=cpu,
            registered_memory=memory,
            attributes=attrs,
            registered_at=self.clock.now(),
            agent_version=self.timings.initial_agent_version,
            seq=next(self._instance_order),
        )
        self.instances[ci.arn] = ci
        self._instances_by_id[ci.id] = ci
        self._instances_by_ec2[ci.ec2_instance_id] = ci
        self._cluster_instances.setdefault(cluster.name, {})[ci.arn] = ci
        self.known_ec2.add(facts.instance_id)
        self._instance_changed(ci)
        # A new host only adds room: only a service that could not place every task can use it.
        self._reconcile_some(cluster.name, set())
        return ci

    def deregister_instance(self, ci: ContainerInstance, force: bool, reason: str) -> ContainerInstance:
        live = [self.tasks[a] for a in ci.task_arns if a in self.tasks]
        if live and not force:
            raise invalid(
                "Found running tasks on the instance. Use force to deregister the instance with running tasks."
            )
        for task in live:
            self._finish_stop(task, reason, "TerminationNotice", reconcile=False)
        ci.status = "INACTIVE"
        ci.agent_connected = False
        self.instances.pop(ci.arn, None)
        self._cluster_instances.get(ci.cluster, {}).pop(ci.arn, None)
        if self._instances_by_ec2.get(ci.ec2_instance_id) is ci:
            del self._instances_by_ec2[ci.ec2_instance_id]
        self.inactive_instances[ci.arn] = ci
        self._instance_changed(ci)
        self.reconcile_services(ci.cluster)
        return ci

    def set_instance_state(self, ci: ContainerInstance, status: str) -> None:
        """ACTIVE <-> DRAINING (the rules layer refuses any other status)."""
        if ci.status in (status, "INACTIVE"):
            return
        ci.status = status
        self._instance_changed(ci)
        self.reconcile_services(ci.cluster)

    def set_agent_connected(self, ci: ContainerInstance, connected: bool) -> None:
        if ci.agent_connected != connected:
            ci.agent_connected = connected
            self._instance_changed(ci)
            if connected:
                self.reconcile_services(ci.cluster)

    def update_available(self, ci: ContainerInstance) -> bool:
        return version_tuple(ci.agent_version) < version_tuple(self.timings.latest_agent_version)

    def update_agent(self, ci: ContainerInstance) -> None:
        """Start an update; the rules layer has refused the calls AWS refuses (no version info,
        Windows, arm64, agent disconnected, an update in flight, no update available)."""
        ci.agent_update_status = "PENDING"
        self._instance_changed(ci)
        self._schedule_agent_step(ci, 1)

    def _schedule_agent_step(self, ci: ContainerInstance, step: int) -> None:
        def advance_update() -> None:
            if ci.status == "INACTIVE":
                return
            if not ci.agent_connected:
                # An agent that is not connected cannot report progress: try again later.
                self._schedule_agent_step(ci, step)
                return
            status = AGENT_UPDATE_STEPS[step]
            if status == "UPDATED" and ci.fail_next_update:
                ci.fail_next_update = False
                ci.agent_update_status = "FAILED"
            else:
                ci.agent_update_status = status
                if status == "UPDATED":
                    ci.agent_version = self.timings.latest_agent_version
            self._instance_changed(ci)
            if ci.agent_update_status not in ("UPDATED", "FAILED"):
                self._schedule_agent_step(ci, step + 1)

        self.clock.call_later(self.timings.agent_update_step_seconds, advance_update)

    def instance_changed(self, ci: ContainerInstance) -> None:
        """Announce a change made from outside the API (the sandbox's test controls)."""
        self._instance_changed(ci)

    def _instance_changed(self, ci: ContainerInstance) -> None:
        ci.version += 1
        self._instance_generation += 1
        self._emit("ECS Container Instance State Change", "aws.ecs", [ci.arn], self._render_instance(ci))

    # ---- EC2 instances as agents ----------------------------------------------------------

    def sync_with_ec2(self) -> None:
        """Register instances whose user data names a cluster; deregister those that are gone."""
        facts = {f.instance_id: f for f in self._ec2_facts()}
        for ci in list(self.instances.values()):
            fact = facts.get(ci.ec2_instance_id)
            if fact is None or fact.state in ("shutting-down", "terminated", "stopping", "stopped"):
                self.deregister_instance(
                    ci, force=True, reason=f"Host EC2 (instance {ci.ec2_instance_id}) terminated."
                )
        for fact in facts.values():
            if fact.instance_id in self.known_ec2 or fact.state != "running":
                continue
            config = agent_config(fact.user_data)
            name = config.get("ECS_CLUSTER")
            if not name or name not in self.clusters or self.clusters[name].status != "ACTIVE":
                continue
            attributes: dict[str, str] = {}
            if config.get("ECS_INSTANCE_ATTRIBUTES"):
                try:
                    parsed = json.loads(config["ECS_INSTANCE_ATTRIBUTES"])
                    attributes = {str(k): str(v) for k, v in parsed.items()}
                except (ValueError, AttributeError):
                    attributes = {}
            self.register_instance(self.clusters[name], fact, attributes)

    def ec2_facts(self, instance_id: str) -> Ec2Facts | None:
        # One call per RegisterContainerInstance: a scan of moto's instances is fine here.
        for fact in self._ec2_facts():
            if fact.instance_id == instance_id:
                return fact
        return None

    # ---- tasks ----------------------------------------------------------------------------

    def run_task(
        self,
        cluster: Cluster,
        td: TaskDefinition,
        count: int,
        *,
        group: str | None = None,
        started_by: str = "",
        overrides: dict[str, Any] | None = None,
        constraints: list[dict[str, Any]] | None = None,
        strategy: list[dict[str, Any]] | None = None,
        instances: list[ContainerInstance] | None = None,
        deployment_id: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> tuple[list[Task], list[dict[str, str]]]:
        group = group or f"family:{td.family}"
        all_constraints = list(td.extra.get("placementConstraints") or []) + list(constraints or [])
        placed: list[Task] = []
        failures: list[dict[str, str]] = []
        for _ in range(count):
            candidates = instances if instances is not None else self.cluster_instances(cluster.name)
            chosen, reason = self._choose_instance(cluster, td, group, candidates, all_constraints, strategy)
            if chosen is None:
                failures.append({"arn": reason[1] or cluster.arn, "reason": reason[0]})
                break
            placed.append(self._start_task(cluster, td, chosen, group, started_by, overrides, deployment_id, tags))
        return placed, failures

    def _choose_instance(
        self,
        cluster: Cluster,
        td: TaskDefinition,
        group: str,
        candidates: Iterable[ContainerInstance],
        constraints: list[dict[str, Any]],
        strategy: list[dict[str, Any]] | None,
    ) -> tuple[ContainerInstance | None, tuple[str, str | None]]:
        cpu, memory, needs = td.required_cpu(), td.required_memory(), td.port_needs()
        spread = _GroupSpread(self, group)
        fitting: list[ContainerInstance] = []
        reason: tuple[str, str | None] = ("No Container Instances were found in your cluster.", None)
        for ci in candidates:
            if ci.status != "ACTIVE" or not ci.agent_connected:
                reason = ("INACTIVE" if ci.status == "INACTIVE" else "DRAINING" if ci.status == "DRAINING"
                          else "AGENT", ci.arn)
                continue
            if not all(self._satisfies(ci, c, group) for c in constraints):
                reason = ("MemberOf" if any(c.get("type") == "memberOf" for c in constraints)
                          else "DistinctInstance", ci.arn)
                continue
            misfit = ci.fits(cpu, memory, needs)
            if misfit:
                reason = (misfit, ci.arn)
                continue
            fitting.append(ci)
        if not fitting:
            return None, reason
        return min(fitting, key=lambda ci: (*self._strategy_key(ci, spread, strategy), ci.seq)), reason

    def _strategy_key(
        self, ci: ContainerInstance, spread: _GroupSpread, strategy: list[dict[str, Any]] | None
    ) -> tuple[float, ...]:
        # binpack on memory unless told otherwise: it packs services the way the issue asks.
        steps = strategy or [{"type": "binpack", "field": "memory"}]
        key: list[float] = []
        for step in steps:
            kind, fld = step.get("type"), str(step.get("field", ""))
            if kind == "binpack":
                key.append(ci.remaining_cpu if fld.lower() == "cpu" else ci.remaining_memory)
            elif kind == "spread":
                key.append(spread.count(ci, fld))
            elif kind == "random":
                key.append(self._random.random())
        return tuple(key)

    def group_tasks(self, cluster: str, group: str) -> list[Task]:
        """Tasks of a group (`service:NAME`, `family:NAME`, ...) that are to keep running."""
        return [t for t in self._group_tasks.get((cluster, group), {}).values() if t.desired_status == "RUNNING"]

    def _satisfies(self, ci: ContainerInstance, constraint: dict[str, Any], group: str) -> bool:
        kind = constraint.get("type")
        if kind == "distinctInstance":
            return not any(
                self.tasks[a].group == group and self.tasks[a].desired_status == "RUNNING"
                for a in ci.task_arns
                if a in self.tasks
            )
        if kind == "memberOf":
            return matches_expression(str(constraint.get("expression", "")), ci)
        return True

    def _start_task(
        self,
        cluster: Cluster,
        td: TaskDefinition,
        ci: ContainerInstance,
        group: str,
        started_by: str,
        overrides: dict[str, Any] | None,
        deployment_id: str | None,
        tags: list[dict[str, str]] | None,
    ) -> Task:
        ident = _hex_id()
        arn = self.arn("task", f"{cluster.name}/{ident}")
        bindings: dict[str, list[dict[str, Any]]] = {}
        host_ports: list[int] = []
        for need in td.port_needs():
            port = need.host_port
            if port:
                ci.used_ports.add(port)
            else:
                port = ci.take_dynamic_port()
            host_ports.append(port)
            bindings.setdefault(need.container_name, []).append(
                {"bindIP": "0.0.0.0", "containerPort": need.container_port, "hostPort": port,
                 "protocol": need.protocol}
            )
        containers = [
            Container(
                name=c["name"],
                image=c["image"],
                arn=self.arn("container", f"{cluster.name}/{ident}/{_hex_id()}"),
                essential=c.get("essential", True),
                bindings=bindings.get(c["name"], []),
                cpu=int(c.get("cpu") or 0),
                memory=c.get("memory"),
                memory_reservation=c.get("memoryReservation"),
            )
            for c in td.container_definitions
        ]
        task = Task(
            arn=arn,
            id=ident,
            cluster=cluster.name,
            task_definition=td,
            container_instance_arn=ci.arn,
            group=group,
            started_by=started_by,
            overrides=overrides or {},
            containers=containers,
            created_at=self.clock.now(),
            cpu=td.required_cpu(),
            memory=td.required_memory(),
            host_ports=host_ports,
            availability_zone=ci.attributes.get("ecs.availability-zone"),
            deployment_id=deployment_id,
            tags=list(tags or []),
        )
        ci.used_cpu += task.cpu
        ci.used_memory += task.memory
        ci.task_arns.add(arn)
        self.tasks[arn] = task
        self._cluster_tasks.setdefault(task.cluster, {})[arn] = task
        self._group_tasks.setdefault((task.cluster, task.group), {})[arn] = task
        self._instance_tasks.setdefault(ci.arn, {})[arn] = task
        if task.tags:
            self.resource_tags[arn] = task.tags
        self._task_changed(task)
        self.clock.call_later(self.timings.task_start_seconds, lambda: self._task_running(task))
        return task

    def _task_running(self, task: Task) -> None:
        if task.last_status != "PENDING" or task.desired_status != "RUNNING":
            return
        ci = self.instances.get(task.container_instance_arn)
        failure = self._start_failure(ci) if ci is not None and self._start_failure is not None else None
        if failure is not None:
            # As when an image cannot be pulled: STOPPED straight from PENDING, no exit code.
            for container in task.containers:
                container.reason = failure
            self._finish_stop(task, failure, "TaskFailedToStart", reconcile=False)
            self._reconcile_soon(task)
            return
        task.last_status = "RUNNING"
        task.started_at = self.clock.now()
        for container in task.containers:
            container.last_status = "RUNNING"
            delay = task.task_definition.health_delay(container.name)
            if delay is not None:
                container.health_status = "UNKNOWN"
                self._schedule_health(task, container, delay)
        self._task_changed(task)
        self._reconcile_soon(task)

    def _schedule_health(self, task: Task, container: Container, delay: float) -> None:
        def healthy() -> None:
            if task.last_status == "RUNNING" and container.health_status == "UNKNOWN":
                container.health_status = "HEALTHY"
                self._task_changed(task)
                self._reconcile_soon(task)

        self.clock.call_later(delay, healthy)

    def stop_task(self, task: Task, reason: str, stop_code: str = "UserInitiated") -> None:
        """ECS's stop sequence: desiredStatus first, then SIGTERM and up to stopTimeout, then STOPPED."""
        if task.desired_status == "STOPPED":
            return
        task.desired_status = "STOPPED"
        task.stopping_at = self.clock.now()
        task.stopped_reason = reason
        task.stop_code = stop_code
        if task.last_status == "PENDING":
            self._finish_stop(task, reason, stop_code)
            return
        self._task_changed(task)
        self.clock.call_later(task.task_definition.stop_timeout(), lambda: self._stop_when_due(task, reason, stop_code))

    def _stop_when_due(self, task: Task, reason: str, stop_code: str) -> None:
        if task.last_status != "STOPPED":
            self._finish_stop(task, reason, stop_code, reconcile=False)
            self._reconcile_soon(task)

    def _finish_stop(self, task: Task, reason: str, stop_code: str, reconcile: bool = True) -> None:
        if task.last_status == "STOPPED":
            return
        task.desired_status = "STOPPED"
        task.last_status = "STOPPED"
        task.stopping_at = task.stopping_at or self.clock.now()
        task.stopped_at = self.clock.now()
        task.stopped_reason = task.stopped_reason or reason
        task.stop_code = task.stop_code or stop_code
        for container in task.containers:
            if container.last_status == "RUNNING":
                container.exit_code = 0
            container.last_status = "STOPPED"
        ci = self.instances.get(task.container_instance_arn) or self.inactive_instances.get(
            task.container_instance_arn
        )
        if ci is not None:
            ci.used_cpu -= task.cpu
            ci.used_memory -= task.memory
            ci.task_arns.discard(task.arn)
            ci.used_ports.difference_update(task.host_ports)
        self._task_changed(task)
        self.clock.call_later(STOPPED_TASK_RETENTION, lambda: self._forget(task))
        if reconcile:
            self._reconcile_for(task)

    def _forget(self, task: Task) -> None:
        if self.tasks.pop(task.arn, None) is None:
            return
        self._task_generation += 1
        for index, key in ((self._cluster_tasks, task.cluster), (self._instance_tasks, task.container_instance_arn)):
            index.get(key, {}).pop(task.arn, None)
        self._group_tasks.get((task.cluster, task.group), {}).pop(task.arn, None)

    def _task_changed(self, task: Task) -> None:
        task.version += 1
        self._task_generation += 1
        self._emit("ECS Task State Change", "aws.ecs", [task.arn], self._render_task(task))

    def seed_service_tasks(self, svc: Service, count: int, first_host: int = 0) -> int:
        """Start `count` more tasks of a service on the cluster's ACTIVE hosts in turn from the
        `first_host`-th, and raise its desired count by as many: what its scheduler would do with
        a spread by instance, without a placement search per task (which costs a scan of every
        host). For seeding large worlds; returns the host index to go on from. ValueError when
        the hosts have no room left."""
        cluster = self.clusters[svc.cluster]
        td = self.task_definition(svc.task_definition_arn)
        hosts = [ci for ci in self.cluster_instances(cluster.name) if ci.status == "ACTIVE" and ci.agent_connected]
        cpu, memory, needs = td.required_cpu(), td.required_memory(), td.port_needs()
        cursor, misses = first_host, 0
        for _ in range(count):
            while hosts and hosts[cursor % len(hosts)].fits(cpu, memory, needs) is not None:
                cursor, misses = cursor + 1, misses + 1
                if misses >= len(hosts):
                    raise ValueError(f"no room left in cluster {cluster.name} for service {svc.name}")
            if not hosts:
                raise ValueError(f"cluster {cluster.name} has no ACTIVE container instance")
            self._start_task(cluster, td, hosts[cursor % len(hosts)], f"service:{svc.name}",
                             f"ecs-svc/{svc.primary.id}", None, svc.primary.id, None)
            svc.desired_count += 1
            cursor, misses = cursor + 1, 0
        return cursor

    # ---- services -------------------------------------------------------------------------

    def create_service(self, cluster: Cluster, name: str, td: TaskDefinition, body: dict[str, Any]) -> Service:
        arn = self.arn("service", f"{cluster.name}/{name}")
        existing = self.services.get(arn)
        if existing is not None and existing.status == "ACTIVE":
            raise invalid("Creation of service was not idempotent.")
        now = self.clock.now()
        config = body.get("deploymentConfiguration") or {}
        svc = Service(
            arn=arn,
            name=name,
            cluster=cluster.name,
            task_definition_arn=td.arn,
            desired_count=int(body.get("desiredCount") or 0),
            created_at=now,
            deployments=[Deployment(_hex_id()[:12], td.arn, now, now)],
            maximum_percent=int(config.get("maximumPercent", 200)),
            minimum_healthy_percent=int(config.get("minimumHealthyPercent", 100)),
            placement_constraints=list(body.get("placementConstraints") or []),
            placement_strategy=list(body.get("placementStrategy") or []),
            load_balancers=list(body.get("loadBalancers") or []),
            launch_type=body.get("launchType") or "EC2",
            tags=list(body.get("tags") or []),
            seq=next(self._service_order),
        )
        self.services[arn] = svc
        self._cluster_services.setdefault(cluster.name, {})[arn] = svc
        self.resource_tags[arn] = svc.tags
        self._reconcile_some(cluster.name, {arn})
        return svc

    def update_service(self, svc: Service, body: dict[str, Any]) -> None:
        if svc.status != "ACTIVE":
            raise EcsError("ServiceNotActiveException", "Service was not ACTIVE.")
        if body.get("desiredCount") is not None:
            svc.desired_count = int(body["desiredCount"])
        config = body.get("deploymentConfiguration") or {}
        svc.maximum_percent = int(config.get("maximumPercent", svc.maximum_percent))
        svc.minimum_healthy_percent = int(config.get("minimumHealthyPercent", svc.minimum_healthy_percent))
        if body.get("placementStrategy") is not None:
            svc.placement_strategy = list(body["placementStrategy"])
        if body.get("placementConstraints") is not None:
            svc.placement_constraints = list(body["placementConstraints"])
        new_td = self.task_definition(body["taskDefinition"]).arn if body.get("taskDefinition") else None
        if (new_td and new_td != svc.task_definition_arn) or body.get("forceNewDeployment"):
            now = self.clock.now()
            svc.task_definition_arn = new_td or svc.task_definition_arn
            for deployment in svc.deployments:
                deployment.status = "ACTIVE"
            svc.deployments.insert(0, Deployment(_hex_id()[:12], svc.task_definition_arn, now, now))
        self._reconcile_some(svc.cluster, {svc.arn})

    def delete_service(self, svc: Service, force: bool) -> None:
        if svc.desired_count > 0 and not force:
            raise invalid("The service cannot be stopped while it is scaled above 0.")
        svc.desired_count = 0
        svc.status = "DRAINING"
        self._reconcile_some(svc.cluster, {svc.arn})

    def service_tasks(self, svc: Service) -> list[Task]:
        return self.group_tasks(svc.cluster, f"service:{svc.name}")

    def reconcile_services(self, cluster: str) -> None:
        """The service scheduler: start what is missing, then stop what is surplus, within the
        deployment's minimumHealthyPercent / maximumPercent."""
        for svc in self.cluster_services(cluster):
            if svc.status == "INACTIVE":
                continue
            self._reconcile_service(svc)

    def _reconcile_for(self, task: Task) -> None:
        """A task started, turned healthy or stopped: its own service may take its next step,
        and a stop frees room for a service that could not place every task. No other service
        can be affected, and reconciling every service of the cluster on every task change made
        starting N tasks cost O(N^2)."""
        self._reconcile_some(task.cluster, self._own_service(task))

    def _reconcile_soon(self, task: Task) -> None:
        """`_reconcile_for`, from a timer: once per service at the end of this instant, however
        many of its tasks changed in it (10,000 tasks started together turn RUNNING together,
        and a reconcile per task would scan the service's tasks for each of them)."""
        if not self._due:
            self.clock.call_later(0, self._reconcile_due)
        self._due.setdefault(task.cluster, set()).update(self._own_service(task))

    def _reconcile_due(self) -> None:
        due, self._due = self._due, {}
        for cluster, arns in due.items():
            if cluster in self.clusters:
                self._reconcile_some(cluster, arns)

    def _own_service(self, task: Task) -> set[str]:
        arn = self.arn("service", f"{task.cluster}/{task.service_name}") if task.service_name else ""
        return {arn} if arn in self.services else set()

    def _reconcile_some(self, cluster: str, arns: set[str]) -> None:
        """Reconcile these services and every service still short of tasks, in creation order."""
        wanted = arns | self._short
        if not wanted:
            return
        services = self._cluster_services.get(cluster, {})
        chosen = [services[a] for a in wanted if a in services]
        for svc in sorted(chosen, key=lambda s: s.seq) if len(chosen) > 1 else chosen:
            if svc.status != "INACTIVE":
                self._reconcile_service(svc)

    def _reconcile_service(self, svc: Service) -> None:
        cluster = self.clusters[svc.cluster]
        desired = svc.desired_count if svc.status == "ACTIVE" else 0
        tasks = self.service_tasks(svc)

        def current(t: Task) -> bool:
            ci = self.instances.get(t.container_instance_arn)
            return t.deployment_id == svc.primary.id and ci is not None and ci.status == "ACTIVE"

        good = [t for t in tasks if current(t)]
        surplus = [t for t in tasks if not current(t)]
        if len(good) > desired:
            stopping = self._scale_in_choice(good, len(good) - desired, svc.placement_strategy)
            for t in stopping:
                self.stop_task(t, "Service scaled in.", "ServiceSchedulerInitiated")
            gone = {t.arn for t in stopping}
            good = [t for t in good if t.arn not in gone]
        max_total = math.floor(desired * svc.maximum_percent / 100) if desired else 0
        missing = desired - len(good)
        room = max(0, max_total - len(good) - len(surplus))
        if missing > 0 and room > 0:
            td = self.task_definition(svc.task_definition_arn)
            started, failures = self.run_task(
                cluster,
                td,
                min(missing, room),
                group=f"service:{svc.name}",
                started_by=f"ecs-svc/{svc.primary.id}",
                constraints=svc.placement_constraints,
                strategy=svc.placement_strategy,
                deployment_id=svc.primary.id,
            )
            good += started
            if failures:
                self._service_event(
                    svc,
                    f"(service {svc.name}) was unable to place a task because no container instance met "
                    f"all of its requirements. Reason: {failures[0]['reason']}.",
                )
        min_serving = math.ceil(desired * svc.minimum_healthy_percent / 100)
        serving = sum(1 for t in good + surplus if t.serving)
        # Old or draining tasks leave only while enough others serve; pending ones serve nobody.
        for t in sorted(surplus, key=lambda t: (t.serving, t.created_at)):
            if not t.serving:
                self.stop_task(t, "Task replaced by the service scheduler.", "ServiceSchedulerInitiated")
            elif serving - 1 >= min_serving or desired == 0:
                self.stop_task(t, "Task replaced by the service scheduler.", "ServiceSchedulerInitiated")
                serving -= 1
        for deployment in svc.deployments[1:]:
            if not any(t.deployment_id == deployment.id for t in self.service_tasks(svc)):
                svc.deployments.remove(deployment)
        if len(svc.deployments) == 1 and sum(1 for t in good if t.serving) == desired:
            svc.primary.rollout_state = "COMPLETED"
        if svc.status == "DRAINING" and not self.service_tasks(svc):
            svc.status = "INACTIVE"
        if svc.status != "INACTIVE" and len(good) < desired:
            self._short.add(svc.arn)
        else:
            self._short.discard(svc.arn)

    def _scale_in_choice(
        self, tasks: list[Task], count: int, strategy: list[dict[str, Any]] | None
    ) -> list[Task]:
        """The `count` tasks a service scaling in stops, as ECS documents it: tasks not yet
        running first, then one at a time by the placement strategy read backwards. binpack
        stops the task whose host has the most of the field left after it stops, spread the
        one where the service has most tasks, random any; the newest task breaks ties, then the
        instance registered last."""
        newest_first = sorted(tasks, key=lambda t: -t.created_at)
        chosen = [t for t in newest_first if t.last_status == "PENDING"][:count]
        taken = {t.arn for t in chosen}
        # Each host's tasks oldest first, so that its newest is popped from the end.
        per_host: dict[str, list[Task]] = {}
        for t in reversed(newest_first):
            if t.arn not in taken:
                per_host.setdefault(t.container_instance_arn, []).append(t)
        freed_cpu: Counter[str] = Counter()
        freed_memory: Counter[str] = Counter()
        steps = strategy or [{"type": "binpack", "field": "memory"}]
        by_host = ("instanceid", "host")
        # The attribute each spread on one reads, by the step's place in the strategy.
        attr_at = {n: str(s.get("field", "")).removeprefix("attribute:") for n, s in enumerate(steps)
                   if s.get("type") == "spread" and str(s.get("field", "")).lower() not in by_host}
        spread_on = list(dict.fromkeys(attr_at.values()))

        def values_of(arn: str) -> tuple[str | None, ...]:
            return tuple(self.instances[arn].attributes.get(attr) for attr in spread_on)

        # The service's tasks per value of each attribute it spreads on, kept as tasks stop.
        per_value: dict[str, Counter[str | None]] = {attr: Counter() for attr in spread_on}
        for arn, left in per_host.items():
            for attr, value in zip(spread_on, values_of(arn), strict=True):
                per_value[attr][value] += len(left)

        def own_score(arn: str) -> tuple[float, ...]:
            """The host's claim to stop its newest task next (the largest goes), with each
            attribute spread's count left as 0: hosts sharing their attribute values share those
            counts, so among them only this part orders them, and it changes for a host only when
            a task stops on it. Ties go to the newest task, then to the instance registered last
            (placement fills the first): task ids are random, so nothing random may decide."""
            ci, task = self.instances[arn], per_host[arn][-1]
            out: list[float] = []
            for step in steps:
                kind, fld = step.get("type"), str(step.get("field", "")).lower()
                if kind == "binpack" and fld == "cpu":
                    out.append(ci.remaining_cpu + freed_cpu[arn] + task.cpu)
                elif kind == "binpack":
                    out.append(ci.remaining_memory + freed_memory[arn] + task.memory)
                elif kind == "spread" and fld in by_host:
                    out.append(len(per_host[arn]))
                elif kind == "random":
                    out.append(self._random.random())
                else:  # an attribute spread: filled in by `claim`
                    out.append(0)
            return (*out, task.created_at, ci.seq)

        def claim(own: tuple[float, ...], values: tuple[str | None, ...]) -> tuple[float, ...]:
            """`own_score` with each attribute spread's count as it stands now."""
            value_of = dict(zip(spread_on, values, strict=True))
            filled = list(own)
            for n, attr in attr_at.items():
                filled[n] = per_value[attr][value_of[attr]]
            return tuple(filled)

        # A heap per tuple of attribute values (one heap when the strategy spreads on none): a
        # stop rescores only its own host, and picking the next compares the heaps' tops, where
        # scoring every host at each stop made a large scale-in quadratic.
        heaps: dict[tuple[str | None, ...], list[tuple[tuple[float, ...], str]]] = {}

        def push(arn: str) -> None:
            heapq.heappush(heaps.setdefault(values_of(arn), []), (tuple(-x for x in own_score(arn)), arn))

        for arn in per_host:
            push(arn)
        while len(chosen) < count and any(heaps.values()):
            values, heap = max(((v, h) for v, h in heaps.items() if h),
                               key=lambda vh: claim(tuple(-x for x in vh[1][0][0]), vh[0]))
            _, arn = heapq.heappop(heap)
            task = per_host[arn].pop()
            freed_cpu[arn] += task.cpu
            freed_memory[arn] += task.memory
            for attr, value in zip(spread_on, values, strict=True):
                per_value[attr][value] -= 1
            chosen.append(task)
            if per_host[arn]:
                push(arn)
            else:
                del per_host[arn]
        return chosen

    def _service_event(self, svc: Service, message: str) -> None:
        if svc.events and svc.events[0]["message"] == message:
            return
        svc.events.insert(0, {"id": _hex_id(), "createdAt": self.clock.now(), "message": message})
        del svc.events[100:]

    def reconcile_all(self) -> None:
        self.sync_with_ec2()
        for name, cluster in self.clusters.items():
            if cluster.status == "ACTIVE":
                self.reconcile_services(name)


class _GroupSpread:
    """Tasks of one group per host and per attribute value, counted once per placement (a
    count per candidate host would scan every task for each of them)."""

    def __init__(self, region: EcsRegion, group: str) -> None:
        self._region = region
        self._group = group
        self._per_host: Counter[str] | None = None
        self._per_value: dict[str, Counter[str | None]] = {}

    def count(self, ci: ContainerInstance, fld: str) -> int:
        if self._per_host is None:
            tasks = self._region.group_tasks(ci.cluster, self._group)
            self._per_host = Counter(t.container_instance_arn for t in tasks)
        if fld.lower() in ("instanceid", "host"):
            return self._per_host[ci.arn]
        attr = fld.removeprefix("attribute:")
        per_value = self._per_value.get(attr)
        if per_value is None:
            per_value = self._per_value[attr] = Counter()
            for arn, n in self._per_host.items():
                host = self._region.instances.get(arn)
                if host is not None:
                    per_value[host.attributes.get(attr)] += n
        return per_value[ci.attributes.get(attr)]


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


# Graviton families: a generation digit then "g" (t4g, m6g, c6gn, r7gd, x2gd, im4gn), and a1.
_ARM_FAMILY = re.compile(r"[a-z]+\d+g[a-z]*|a1")


def cpu_architecture(instance_type: str) -> str:
    """What the ECS agent reports as `ecs.cpu-architecture` on an instance of this type."""
    return "arm64" if _ARM_FAMILY.fullmatch(instance_type.split(".", 1)[0]) else "x86_64"


_COMPARISON = re.compile(r"^\s*(\S+)\s*(==|!=|=~|!~|in|not in)\s*(.+?)\s*$")


def matches_expression(expression: str, ci: ContainerInstance) -> bool:
    """The part of ECS's cluster query language that placement constraints use in practice:
    `attribute:NAME op VALUE` and `ec2InstanceId in [...]`, joined by `and` / `or`."""
    if " or " in expression:
        return any(matches_expression(part, ci) for part in expression.split(" or "))
    if " and " in expression:
        return all(matches_expression(part, ci) for part in expression.split(" and "))
    match = _COMPARISON.match(expression.strip("() "))
    if not match:
        return False
    subject, op, raw = match.groups()
    if subject == "ec2InstanceId":
        actual: str | None = ci.ec2_instance_id
    elif subject.startswith("attribute:"):
        actual = ci.attributes.get(subject.removeprefix("attribute:"))
    else:
        actual = ci.attributes.get(subject)
    if op in ("in", "not in"):
        values = [v.strip().strip("'\"") for v in raw.strip("[]").split(",")]
        return (actual in values) == (op == "in")
    value = raw.strip("'\"")
    if op == "==":
        return actual == value
    if op == "!=":
        return actual != value
    pattern = re.fullmatch(value.replace(".", r"\.").replace("*", ".*"), actual or "") is not None
    return pattern if op == "=~" else not pattern
