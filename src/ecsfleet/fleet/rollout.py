"""Blue/green between compute fleets: switch a version's `Status`, smoke-test a new fleet, and roll
out (deploy, smoke test, make the new fleet the only active one, then follow the deflation of
the old ones)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..aws import Clients, error_code
from ..errors import UserError
from .actions import SetCapacity
from .apply import apply, status_update
from .controller import FleetController
from .deploy import DeployError, Echo, deploy, no_updates, wait_for_stack
from .observe import VERSION_ATTRIBUTE, Fleet, FleetWorld, read_world
from .plan import NO_STAMP, STATUS_STAMP_TAG, Options, format_claims
from .schema import Infra
from .stacks import Stack, read_stacks

Sleep = Callable[[float], None]
SMOKE_IMAGE = "public.ecr.aws/docker/library/busybox:stable"
SMOKE_STARTED_BY = "ecsfleet-smoke-test"


class RolloutError(DeployError):
    """The new fleet did not prove itself; the old one still serves."""


def set_status(clients: Clients, infra: Infra, version: str, status: str, echo: Echo, poll: float = 5.0,
               replaces: Sequence[Stack] = (), wait: bool = True) -> bool:
    """Set a compute stack's `Status` (template and other parameters kept). Returns False when it
    already had that status. `replaces`: the active fleets a rollout is about to set inactive,
    claimed in the same UpdateStack (see `plan._unfinished_switches`), so a process stopped
    before their own updates leaves work the next reconcile pass finishes. Without `wait`, the
    update is started and not followed (a reconcile pass: the next one sees where it went)."""
    stacks = read_stacks(clients, infra)
    stack = stacks.version(version)
    if stack is None:
        known = ", ".join(s.version or "?" for s in stacks.compute) or "none"
        raise UserError(f"no compute stack of version {version} for cluster {infra.cluster.name} "
                        f"(deployed versions: {known})")
    if stack.fleet_status == status:
        echo(f"{stack.name}: already {status}")
        return False
    claims = format_claims({s.version or "": s.tags.get(STATUS_STAMP_TAG, NO_STAMP) for s in replaces})
    try:
        clients("cloudformation").update_stack(**status_update(stack, status, claims))
    except Exception as error:
        if no_updates(error):  # it took that Status since we read it: nothing left to do
            echo(f"{stack.name}: already {status}")
            return False
        raise DeployError(f"{stack.name}: CloudFormation refused to set Status={status}: {error}") from error
    echo(f"{stack.name}: Status -> {status}")
    if wait:
        wait_for_stack(clients, stack.name, echo, poll)
    return True


@dataclass(frozen=True)
class SmokeResult:
    ok: bool
    detail: str


def _health_task(clients: Clients, infra: Infra, task_definition: str | None) -> tuple[str, bool]:
    """The user's task definition, or a tiny one ecsfleet registers once
    (`<cluster>-cluster-health-task`); and whether it defines a health check to wait for."""
    ecs = clients("ecs")
    family = task_definition or f"{infra.cluster.name}-cluster-health-task"
    checked = has_health_check(clients, family)
    if checked is not None:
        return family, checked
    if task_definition:
        raise UserError(f"--smoke-task-definition {task_definition}: no such task definition")
    ecs.register_task_definition(family=family, containerDefinitions=[{
        "name": "health", "image": SMOKE_IMAGE, "essential": True, "memory": 32, "cpu": 16,
        "command": ["sh", "-c", "sleep 120"]}])
    return family, False


def has_health_check(clients: Clients, family: str) -> bool | None:
    """Whether the task definition defines a health check to wait for; None when it is not registered."""
    try:
        found = clients("ecs").describe_task_definition(taskDefinition=family)["taskDefinition"]
    except Exception as error:
        if error_code(error) not in ("ClientException", "InvalidParameterException"):
            raise
        return None
    return any(c.get("healthCheck") for c in found.get("containerDefinitions") or [])


def wait_for_instances(clients: Clients, infra: Infra, version: str, timeout: float, sleep: Sleep,
                       echo: Echo, poll: float = 5.0) -> FleetWorld:
    """Until every instance the fleet has launched is an ACTIVE container instance (the seed ran
    its smoke test without waiting, on whatever had joined by then)."""
    waited = 0.0
    while True:
        world = read_world(clients, infra, scaling=False)
        fleet = world.fleet(version)
        if fleet is None:
            raise RolloutError(f"no compute stack of version {version}")
        joined = [ci for ci in world.members(fleet) if ci.status == "ACTIVE"]
        if joined and len(joined) >= len(fleet.instance_ids):
            echo(f"{version}: {len(joined)} instance(s) joined the cluster")
            return world
        if waited >= timeout:
            raise RolloutError(f"smoke test of {version} failed: {len(joined)} of {len(fleet.instance_ids)} "
                               f"instance(s) joined cluster {infra.cluster.name} within {timeout:.0f}s")
        sleep(poll)
        waited += poll


def start_smoke_task(clients: Clients, infra: Infra, version: str, task_definition: str | None = None,
                     started_by: str = SMOKE_STARTED_BY) -> tuple[str | None, bool, str]:
    """Run one small task pinned to the fleet (`attribute:asg_version == <version>`). Returns its
    ARN (None when it could not be placed), whether it has a health check to wait for, and the
    placement failure's reasons."""
    family, needs_health = _health_task(clients, infra, task_definition)
    answer = clients("ecs").run_task(
        cluster=infra.cluster.name, taskDefinition=family, count=1, startedBy=started_by,
        placementConstraints=[{"type": "memberOf", "expression": f"attribute:{VERSION_ATTRIBUTE} == {version}"}])
    if not answer.get("tasks"):
        reasons = ", ".join(f.get("reason", "?") for f in answer.get("failures") or []) or "no reason given"
        return None, needs_health, reasons
    return str(answer["tasks"][0]["taskArn"]), needs_health, ""


def smoke_verdict(task: Mapping[str, Any], needs_health: bool) -> SmokeResult | None:
    """The verdict on a smoke task as DescribeTasks answers it: it passes when it runs (healthy,
    where it has a health check) or exits 0; None while it is still starting."""
    status = task.get("lastStatus")
    containers = task.get("containers") or []
    if status == "STOPPED":
        codes = [c.get("exitCode") for c in containers if c.get("essential", True)]
        if codes and all(code == 0 for code in codes):
            return SmokeResult(True, "the smoke task ran and exited 0")
        why = task.get("stoppedReason") or "stopped"
        details = "; ".join(f"{c['name']}: {c.get('reason') or 'exit code ' + str(c.get('exitCode'))}"
                            for c in containers)
        return SmokeResult(False, f"the smoke task stopped: {why}" + (f" ({details})" if details else ""))
    if status == "RUNNING" and (not needs_health or task.get("healthStatus") == "HEALTHY"):
        return SmokeResult(True, "the smoke task reached RUNNING" + (" and HEALTHY" if needs_health else ""))
    return None


def smoke_test(clients: Clients, infra: Infra, version: str, timeout: float, sleep: Sleep, echo: Echo,
               task_definition: str | None = None, poll: float = 4.0) -> SmokeResult:
    """Run the smoke task on the fleet and wait for its verdict (`smoke_verdict`) within the
    timeout; the task is always stopped afterwards."""
    ecs, cluster = clients("ecs"), infra.cluster.name
    arn, needs_health, reasons = start_smoke_task(clients, infra, version, task_definition)
    if arn is None:
        return SmokeResult(False, f"the smoke task could not be placed on {version} ({reasons})")
    echo(f"{version}: smoke task {arn.rsplit('/', 1)[-1]} started")
    waited = 0.0
    try:
        while True:
            task = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
            verdict = smoke_verdict(task, needs_health)
            if verdict is not None:
                return verdict
            if waited >= timeout:
                return SmokeResult(False, f"the smoke task was still {task.get('lastStatus')} after {timeout:.0f}s")
            sleep(poll)
            waited += poll
    finally:
        try:
            ecs.stop_task(cluster=cluster, task=arn, reason="ecsfleet smoke test finished")
        except Exception as error:  # the test's verdict stands; the stop is reported
            echo(f"{version}: could not stop the smoke task: {error}")


def scale_to_zero(clients: Clients, infra: Infra, version: str, echo: Echo) -> None:
    world = read_world(clients, infra, scaling=False)
    fleet = world.fleet(version)
    if fleet is None:
        return
    actions = [SetCapacity("asg", g.name, 0, "failed smoke test", min_size=0) for g in fleet.asgs]
    actions += [SetCapacity("spot", f.request_id, 0, "failed smoke test") for f in fleet.spot_fleets]
    for outcome in apply(clients, infra.cluster.name, actions, time.time):
        echo(f"  {outcome.log_line()}")


def fleet_counts(world: FleetWorld) -> str:
    """`v1 (inactive): 2 instances, 3 tasks | v2 (active): ...`: progress of a rollout."""
    parts = []
    for fleet in world.fleets:
        members = world.members(fleet)
        tasks = [t for t in world.tasks_on(fleet) if t.last_status == "RUNNING"]
        parts.append(f"{fleet.version} ({fleet.stack.fleet_status}): {len(members)} instance(s), {len(tasks)} task(s)")
    return " | ".join(parts)


def _older_inactive(world: FleetWorld, version: str) -> list[Fleet]:
    target = world.fleet(version)
    return [f for f in world.fleets if target is not None and f.stack.created < target.stack.created
            and not f.active]


def follow(controller: FleetController, version: str, timeout: float, sleep: Sleep, echo: Echo,
           poll: float = 15.0) -> None:
    """Reconcile until only fleets at least as new as `version` remain (the old ones deflated and deleted)."""
    waited = 0.0
    if not _older_inactive(read_world(controller.clients, controller.infra, scaling=False), version):
        echo(f"{version}: no older fleet to deflate")
        return
    while True:
        report = controller.reconcile(dry_run=False)
        world = controller.last_world
        assert world is not None
        for outcome in report.outcomes:
            echo(f"  {outcome.log_line()}")
        for warning in report.warnings:
            echo(f"  warning: {warning}")
        echo(f"  {fleet_counts(world)}")
        older = _older_inactive(world, version)
        if not older:
            echo(f"rollout of {version} complete: older fleets deflated and deleted")
            return
        if waited >= timeout:
            raise RolloutError(f"{version} is active, but {', '.join(f.version for f in older)} still deflating "
                               f"after {timeout:.0f}s; `ecsfleet fleet reconcile` carries on")
        sleep(poll)
        waited += poll


def switch(clients: Clients, infra: Infra, version: str, echo: Echo, poll: float = 5.0) -> None:
    """Make `version` the only active fleet: first active, claiming the fleets it replaces (never
    a moment with no active fleet), then each of those inactive. Cut after any of these updates,
    the next `fleet reconcile` pass finishes the switch."""
    older = [s for s in read_stacks(clients, infra).compute if s.version != version and s.fleet_status == "active"]
    set_status(clients, infra, version, "active", echo, poll, replaces=older)
    for stack in older:
        set_status(clients, infra, stack.version or "", "inactive", echo, poll)


@dataclass(frozen=True)
class RolloutSettings:
    smoke_timeout: float = 240.0
    join_timeout: float = 600.0
    follow: bool = True
    follow_timeout: float = 3600.0
    poll: float = 5.0
    smoke_task_definition: str | None = None


def rollout(clients: Clients, infra: Infra, version: str, network: Mapping[str, str], echo: Echo,
            settings: RolloutSettings = RolloutSettings(), options: Options | None = None,
            sleep: Sleep | None = None, extra_user_data: str = "", now: Callable[[], float] | None = None) -> None:
    """`sleep` waits between polls (tests pass the sandbox clock's advance); `now` stamps drains."""
    sleep, now = sleep or time.sleep, now or time.time
    result = deploy(clients, infra, version, network, echo, wait=True, extra_user_data=extra_user_data,
                    poll=settings.poll)
    for change in result.changes:
        echo(change.describe())
    try:
        wait_for_instances(clients, infra, version, settings.join_timeout, sleep, echo, settings.poll)
        verdict = smoke_test(clients, infra, version, settings.smoke_timeout, sleep, echo,
                             settings.smoke_task_definition, settings.poll)
    except RolloutError as error:
        verdict = SmokeResult(False, str(error))
    echo(f"{version}: smoke test {'passed' if verdict.ok else 'failed'}: {verdict.detail}")
    if not verdict.ok:
        scale_to_zero(clients, infra, version, echo)
        active = [s.version for s in read_stacks(clients, infra).compute if s.fleet_status == "active"]
        raise RolloutError(f"smoke test of {version} failed: {verdict.detail}. {version} is scaled to zero and "
                           f"stays inactive; still active: {', '.join(v or '?' for v in active) or 'none'}")
    switch(clients, infra, version, echo, settings.poll)
    if settings.follow:
        controller = FleetController(clients, infra, options or Options(), now=now)
        follow(controller, version, settings.follow_timeout, sleep, echo, settings.poll)
