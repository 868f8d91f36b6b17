"""AMIs stay current, against AWS: observe what the refresh plan needs (the AMI the source names,
the refresh's smoke task), and carry out its steps with the pieces `fleet rollout` is made of.

Each step is one short write (or a few), never a wait: a CreateStack not followed, a RunTask, an
UpdateStack of `Status`, a tag and a scale to zero. What a step leaves behind (the stack and its
tags, the task) is what the next pass observes, so a pass cut between two calls is continued by
the next one (see `ami_refresh`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from ..amis import latest_ami
from ..aws import Clients, describe_in_batches, paginate
from ..runner import Outcome, PassReport
from ..snapshot import ECS_DESCRIBE_MAX
from .ami_refresh import (
    REFRESH_TAG,
    SMOKE_STARTED_BY,
    CreateVersion,
    Drift,
    MarkFailed,
    RefreshObservation,
    RefreshPlan,
    ScaleToZero,
    SmokeVerdict,
    StartSmoke,
    Step,
    StopSmoke,
    Switch,
    candidate_of,
    drift_of,
    failure_tags,
    infra_ami_source,
    plan_refresh,
)
from .apply import kept_update
from .deploy import apply_change, plan
from .network import resolve_network
from .observe import FleetWorld
from .rollout import (
    RolloutSettings,
    has_health_check,
    scale_to_zero,
    set_status,
    smoke_verdict,
    start_smoke_task,
)
from .schema import Infra
from .stacks import read_stacks

Echo = Callable[[str], None]


def observe_drift(clients: Clients, infra: Infra, world: FleetWorld) -> tuple[str | None, Drift | None]:
    """The AMI infra.yml's source names now, and the active version's drift from it (`fleet status`)."""
    source = infra_ami_source(infra)
    target = latest_ami(clients, source)
    return target, drift_of(world, source, target)


def _smoke(clients: Clients, infra: Infra, world: FleetWorld, version: str) -> SmokeVerdict | None:
    """The newest refresh smoke task placed on `version`'s instances (running or stopped)."""
    fleet = world.fleet(version)
    if fleet is None:
        return None
    members = {ci.arn for ci in world.members(fleet)}
    ecs, cluster = clients("ecs"), infra.cluster.name
    arns = [arn for status in ("RUNNING", "STOPPED") for arn in paginate(
        ecs, "list_tasks", "taskArns", cluster=cluster, startedBy=SMOKE_STARTED_BY, desiredStatus=status)]
    tasks = [t for t in describe_in_batches(arns, ECS_DESCRIBE_MAX, lambda batch: ecs.describe_tasks(
        cluster=cluster, tasks=list(batch))["tasks"]) if t.get("containerInstanceArn") in members]
    if not tasks:
        return None
    task = max(tasks, key=lambda t: t["createdAt"].timestamp())
    # Read only: the task definition exists, the smoke task was started from it.
    family = task.get("taskDefinitionArn", "").rsplit("/", 1)[-1]
    verdict = smoke_verdict(task, bool(has_health_check(clients, family)))
    detail = verdict.detail if verdict else f"still {task.get('lastStatus', 'PROVISIONING')}"
    return SmokeVerdict(task["taskArn"], verdict.ok if verdict else None, detail, task["createdAt"].timestamp())


def observe(clients: Clients, infra: Infra, world: FleetWorld, now: float, mode: str | None = None,
            settings: RolloutSettings | None = None) -> RefreshObservation:
    nodes, settings = infra.ec2_instances, settings or RolloutSettings()
    source = infra_ami_source(infra)
    observation = RefreshObservation(world, source, latest_ami(clients, source), mode or nodes.ami_refresh,
                                     nodes.ami_refresh_window, now, join_timeout=settings.join_timeout,
                                     smoke_timeout=settings.smoke_timeout)
    active = [f for f in world.fleets if f.active]
    candidate = candidate_of(world, max(active, key=lambda f: f.stack.created, default=None))
    if candidate is None:
        return observation
    joined = [ci for ci in world.members(candidate) if ci.status == "ACTIVE"]
    if not candidate.instance_ids or len(joined) < len(candidate.instance_ids):
        return observation
    return dataclasses.replace(observation, smoke=_smoke(clients, infra, world, candidate.version))


def _create(clients: Clients, infra: Infra, step: CreateVersion, echo: Echo) -> str:
    """The deploy path with the refresh's AMI and tag; the compute stack's create is started, not
    followed. A cluster stack infra.yml would change is left to `fleet deploy`: a refresh changes
    the AMI only."""
    _, changes = plan(clients, infra, step.version, resolve_network(clients, infra), image_id=step.ami)
    cluster, compute = changes
    if cluster.action != "unchanged":
        raise RuntimeError(f"not started: infra.yml changes the cluster stack ({cluster.describe()}); "
                           f"`fleet rollout` it first")
    tagged = dataclasses.replace(compute.stack, tags={**compute.stack.tags, REFRESH_TAG: step.replaces})
    apply_change(clients, dataclasses.replace(compute, stack=tagged), echo, wait=False)
    return f"created on {step.ami}, replacing {step.replaces}"


def _mark_failed(clients: Clients, infra: Infra, step: MarkFailed, echo: Echo) -> str:
    """The failure is recorded on the stack first (the state the next pass reads), then the
    fleet scaled to zero; a pass cut between the two scales it next time (`ScaleToZero`)."""
    stack = read_stacks(clients, infra).version(step.version)
    if stack is None:
        raise RuntimeError(f"no compute stack of version {step.version}")
    clients("cloudformation").update_stack(**kept_update(stack, failure_tags(stack.tags, step.reason)))
    scale_to_zero(clients, infra, step.version, echo)
    return f"failed and scaled to zero: {step.reason}"


def _switch(clients: Clients, infra: Infra, step: Switch, echo: Echo) -> str:
    """Active, claiming the versions it replaces (the controller's next passes set them inactive,
    deflate and delete them, as after a rollout)."""
    older = [s for s in read_stacks(clients, infra).compute if s.version != step.version and s.fleet_status == "active"]
    set_status(clients, infra, step.version, "active", echo, replaces=older, wait=False)
    return f"active: {step.detail}; replaces {', '.join(s.version or '?' for s in older) or 'none'}"


def _stop(clients: Clients, infra: Infra, arns: Sequence[str]) -> str:
    for arn in arns:
        clients("ecs").stop_task(cluster=infra.cluster.name, task=arn, reason="ecsfleet AMI refresh smoke test done")
    return f"stopped {len(arns)}"


def apply_step(clients: Clients, infra: Infra, step: Step, echo: Echo) -> Outcome:
    target = step.version if not isinstance(step, StopSmoke) else "smoke-tasks"
    try:
        if isinstance(step, CreateVersion):
            detail = _create(clients, infra, step, echo)
        elif isinstance(step, StartSmoke):
            arn, _, reasons = start_smoke_task(clients, infra, step.version, started_by=SMOKE_STARTED_BY)
            if arn is None:
                detail = _mark_failed(clients, infra, MarkFailed(
                    step.version, f"the smoke task could not be placed ({reasons})"), echo)
            else:
                detail = f"smoke task {arn.rsplit('/', 1)[-1]} started"
        elif isinstance(step, Switch):
            detail = _switch(clients, infra, step, echo)
        elif isinstance(step, MarkFailed):
            detail = _mark_failed(clients, infra, step, echo)
        elif isinstance(step, ScaleToZero):
            scale_to_zero(clients, infra, step.version, echo)
            detail = "scaled to zero"
        else:
            detail = _stop(clients, infra, step.task_arns)
    except Exception as error:  # reported; the next pass observes where the step stopped
        return Outcome("ami-refresh", target, step.describe(), ok=False, error=str(error))
    return Outcome("ami-refresh", target, detail)


def refresh_pass(clients: Clients, infra: Infra, world: FleetWorld, now: float, dry_run: bool,
                 report: PassReport, mode: str | None = None, echo: Echo | None = None) -> PassReport:
    """The controller's pass with the AMI refresh's drift, step and outcome added."""
    result: RefreshPlan = plan_refresh(observe(clients, infra, world, now, mode))
    outcomes: tuple[Outcome, ...] = () if dry_run else tuple(
        apply_step(clients, infra, step, echo or _quiet) for step in result.steps)
    drift = (f"AMI drift: {result.drift.describe()}",) if result.drift and not any(
        w.startswith("AMI drift") for w in result.warnings) else ()
    return dataclasses.replace(
        report,
        planned=report.planned + tuple(s.describe() for s in result.steps),
        outcomes=report.outcomes + outcomes,
        warnings=report.warnings + tuple(result.warnings),
        notes=report.notes + drift + tuple(result.notes),
        gauges={**report.gauges, **result.gauges},
    )


def _quiet(_: str) -> None:
    pass

