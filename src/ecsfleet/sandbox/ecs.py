"""What an ECS control plane, its scheduler and its agents do, for one region of the sandbox.

moto stores ECS resources but runs nothing; this module is the part that runs: placement on
CPU, memory and ports, host port assignment, the task lifecycle (PENDING -> RUNNING, and the
stop sequence: desiredStatus STOPPED first, lastStatus RUNNING for the stopTimeout, then
STOPPED), services that keep their desired count and roll deployments, draining, agent updates,
and EC2 instances that join a cluster from their user data.
"""

from __future__ import annotations

import base64
import json
import math
import random
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .clock import SandboxClock
from .ecs_model import (
    ACCOUNT_ID,
    AGENT_UPDATE_STEPS,
    DEFAULT_RESOURCES,
    INSTANCE_RESOURCES,
    Cluster,
    Container,
    ContainerInstance,
    Deployment,
    EcsError,
    Service,
    Task,
    TaskDefinition,
    cluster_not_found,
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
        ident = ref.rsplit("/", 1)[-1]
        for store in (self.instances, self.inactive_instances):
            for ci in store.values():
                if ci.cluster == cluster.name and (ci.arn == ref or ci.id == ident):
                    return ci
        raise invalid(f"Container instance {ref} not found.")

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
        return [ci for ci in self.instances.values() if ci.cluster == cluster]

    def cluster_tasks(self, cluster: str) -> list[Task]:
        return [t for t in self.tasks.values() if t.cluster == cluster]

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
        for ci in self.instances.values():
            if ci.ec2_instance_id == facts.instance_id:
                return ci
        cpu, memory = INSTANCE_RESOURCES.get(facts.instance_type, DEFAULT_RESOURCES)
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
        )
        self.instances[ci.arn] = ci
        self.known_ec2.add(facts.instance_id)
        self._instance_changed(ci)
        self.reconcile_services(cluster.name)
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
        order = {arn: i for i, arn in enumerate(self.instances)}
        return min(fitting, key=lambda ci: (*self._strategy_key(ci, group, strategy), order.get(ci.arn, 0))), reason

    def _strategy_key(
        self, ci: ContainerInstance, group: str, strategy: list[dict[str, Any]] | None
    ) -> tuple[float, ...]:
        # binpack on memory unless told otherwise: it packs services the way the issue asks.
        steps = strategy or [{"type": "binpack", "field": "memory"}]
        key: list[float] = []
        for step in steps:
            kind, fld = step.get("type"), str(step.get("field", ""))
            if kind == "binpack":
                key.append(ci.remaining_cpu if fld.lower() == "cpu" else ci.remaining_memory)
            elif kind == "spread":
                key.append(self._spread_count(ci, group, fld))
            elif kind == "random":
                key.append(self._random.random())
        return tuple(key)

    def _spread_count(self, ci: ContainerInstance, group: str, fld: str) -> int:
        """Tasks of the group already on this instance, or on instances sharing its attribute value."""
        if fld.lower() in ("instanceid", "host"):
            hosts = {ci.arn}
        else:
            attr = fld.removeprefix("attribute:")
            value = ci.attributes.get(attr)
            hosts = {i.arn for i in self.instances.values() if i.attributes.get(attr) == value}
        return sum(
            1 for t in self.tasks.values()
            if t.group == group and t.desired_status == "RUNNING" and t.container_instance_arn in hosts
        )

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
            self._finish_stop(task, failure, "TaskFailedToStart")
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
        self.reconcile_services(task.cluster)

    def _schedule_health(self, task: Task, container: Container, delay: float) -> None:
        def healthy() -> None:
            if task.last_status == "RUNNING" and container.health_status == "UNKNOWN":
                container.health_status = "HEALTHY"
                self._task_changed(task)
                self.reconcile_services(task.cluster)

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
        self.clock.call_later(
            task.task_definition.stop_timeout(), lambda: self._finish_stop(task, reason, stop_code)
        )

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
            self.reconcile_services(task.cluster)

    def _forget(self, task: Task) -> None:
        self.tasks.pop(task.arn, None)

    def _task_changed(self, task: Task) -> None:
        task.version += 1
        self._emit("ECS Task State Change", "aws.ecs", [task.arn], self._render_task(task))

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
        )
        self.services[arn] = svc
        self.resource_tags[arn] = svc.tags
        self.reconcile_services(cluster.name)
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
        self.reconcile_services(svc.cluster)

    def delete_service(self, svc: Service, force: bool) -> None:
        if svc.desired_count > 0 and not force:
            raise invalid("The service cannot be stopped while it is scaled above 0.")
        svc.desired_count = 0
        svc.status = "DRAINING"
        self.reconcile_services(svc.cluster)

    def service_tasks(self, svc: Service) -> list[Task]:
        return [
            t for t in self.tasks.values()
            if t.cluster == svc.cluster and t.group == f"service:{svc.name}" and t.desired_status == "RUNNING"
        ]

    def reconcile_services(self, cluster: str) -> None:
        """The service scheduler: start what is missing, then stop what is surplus, within the
        deployment's minimumHealthyPercent / maximumPercent."""
        for svc in [s for s in self.services.values() if s.cluster == cluster]:
            if svc.status == "INACTIVE":
                continue
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
        # Scale-in: pending tasks first, then the busiest instance, newest first.
        if len(good) > desired:
            load: dict[str, int] = {}
            for t in good:
                load[t.container_instance_arn] = load.get(t.container_instance_arn, 0) + 1
            ranked = sorted(
                good,
                key=lambda t: (t.last_status != "PENDING", -load[t.container_instance_arn], -t.created_at),
            )
            for t in ranked[: len(good) - desired]:
                self.stop_task(t, "Service scaled in.", "ServiceSchedulerInitiated")
            good = ranked[len(good) - desired:]
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
