"""AMIs stay current: drift between the AMI a cluster's active version was created with and the
AMI its source names today, and the refresh that rolls a new version onto the new AMI.

Pure: a function of what one reconcile pass observed. The refresh is a state machine whose
state lives in AWS, one short step per pass, so a pass cut at any point leaves a state the next
pass continues:

  drift, opt-in, settled cluster, inside the window
    -> create `<active>-ami-<short id>` (inactive, tagged `ecsfleet:ami-refresh`)
    -> its instances join (at most `join_timeout` after the stack's creation)
    -> one smoke task pinned to it (startedBy `ecsfleet-ami-refresh`), judged as `fleet rollout`
       judges it, within `smoke_timeout` of the task's creation
    -> passed: the refresh version becomes active, claiming the version it replaces; the
       controller's own steps set that one inactive, drain it only as fast as the active fleet
       takes its tasks, and delete its stack (as after `fleet rollout`)
    -> failed: tagged `ecsfleet:ami-refresh-failed` with the reason, scaled to zero and left
       inactive; the old version keeps serving; that AMI is not tried again.

One refresh at a time, and only on a settled cluster: exactly one active version and no other
fleet but failed refreshes (a rollout or a deflation in progress waits). The maintenance window
gates the start of a refresh; one already started is finished.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..amis import AmiSource, ami_source
from .observe import Fleet, FleetWorld
from .schema import Infra

REFRESH_TAG = "ecsfleet:ami-refresh"  # on a refresh version's stack: the version it replaces
REFRESH_FAILED_TAG = "ecsfleet:ami-refresh-failed"  # why its smoke test or its instances failed
SMOKE_STARTED_BY = "ecsfleet-ami-refresh"
IMAGE_PARAMETER = "ImageId"
VERSION_MAX = 40
SUFFIX = re.compile(r"-ami-[0-9a-f]{8}$")
TAG_VALUE_MAX = 256
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK, DAY = 7 * 1440, 1440


def infra_ami_source(infra: Infra) -> AmiSource:
    nodes = infra.ec2_instances
    name = nodes.ami_name_filter
    return ami_source(nodes.ami, nodes.ami_parameter, name.name if name else None,
                      name.owners if name else ("self",))


def refresh_version(active: str, ami: str) -> str:
    """`<active>-ami-<last 8 hex digits of the AMI>`, within the 40 characters a version may have.
    A refresh of a refresh replaces the earlier suffix: `v1-ami-0a1b2c3d` -> `v1-ami-4e5f6a7b`."""
    base = SUFFIX.sub("", active)
    suffix = f"-ami-{ami.removeprefix('ami-')[-8:].rjust(8, '0')}"
    return base[:VERSION_MAX - len(suffix)].rstrip("-") + suffix


# ---- the maintenance window ------------------------------------------------------------------

def _minute(day: str | None, clock: str) -> int:
    hours, minutes = clock.split(":")
    return (DAYS.index(day) * DAY if day else 0) + int(hours) * 60 + int(minutes)


def in_window(window: str | None, now: float) -> bool:
    """`sun:02:00-sun:05:00` (weekly) or `02:00-05:00` (daily), in UTC; a window may wrap around
    the week or midnight (`sat:22:00-sun:02:00`, `23:00-01:00`). No window: always."""
    if not window:
        return True
    start_text, end_text = window.split("-")
    weekly = start_text.count(":") == 2
    start = _minute(*start_text.split(":", 1)) if weekly else _minute(None, start_text)
    end = _minute(*end_text.split(":", 1)) if weekly else _minute(None, end_text)
    at = dt.datetime.fromtimestamp(now, dt.UTC)
    minute = (at.weekday() * DAY if weekly else 0) + at.hour * 60 + at.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


# ---- what a pass observed ---------------------------------------------------------------------

@dataclass(frozen=True)
class SmokeVerdict:
    """The refresh's smoke task on the candidate fleet: `ok` None while it is still starting."""

    task_arn: str
    ok: bool | None
    detail: str
    created: float  # epoch seconds


@dataclass(frozen=True)
class RefreshObservation:
    world: FleetWorld
    source: AmiSource
    target: str | None  # the AMI the source names now; None: it could not be read
    mode: str  # report | auto
    window: str | None
    now: float
    smoke: SmokeVerdict | None = None  # read only while a candidate's instances have all joined
    join_timeout: float = 600.0
    smoke_timeout: float = 240.0


@dataclass(frozen=True)
class Drift:
    version: str
    running: str  # the AMI the version was created with
    target: str
    source: str

    def describe(self) -> str:
        return f"version {self.version} runs {self.running}; {self.source} names {self.target}"


# ---- the steps ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateVersion:
    version: str
    ami: str
    replaces: str

    def describe(self) -> str:
        return f"ami-refresh: create version {self.version} on {self.ami} (replaces {self.replaces})"


@dataclass(frozen=True)
class StartSmoke:
    version: str

    def describe(self) -> str:
        return f"ami-refresh: smoke test {self.version}"


@dataclass(frozen=True)
class Switch:
    version: str
    detail: str

    def describe(self) -> str:
        return f"ami-refresh: activate {self.version} ({self.detail})"


@dataclass(frozen=True)
class MarkFailed:
    version: str
    reason: str

    def describe(self) -> str:
        return f"ami-refresh: {self.version} failed, scale it to zero: {self.reason}"


@dataclass(frozen=True)
class ScaleToZero:
    """A failed refresh still holding capacity (a pass cut after its failure was recorded)."""

    version: str

    def describe(self) -> str:
        return f"ami-refresh: scale failed version {self.version} to zero"


@dataclass(frozen=True)
class StopSmoke:
    task_arns: tuple[str, ...]

    def describe(self) -> str:
        return f"ami-refresh: stop {len(self.task_arns)} smoke task(s) left running"


Step = CreateVersion | StartSmoke | Switch | MarkFailed | ScaleToZero | StopSmoke


@dataclass
class RefreshPlan:
    steps: list[Step] = field(default_factory=list)
    drift: Drift | None = None
    candidate: str | None = None  # the refresh version in progress
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def gauges(self) -> dict[str, float]:
        return {"ami_drift": 1.0 if self.drift else 0.0, "ami_refresh_in_progress": 1.0 if self.candidate else 0.0}


# ---- the plan -------------------------------------------------------------------------------

def epoch(created: str) -> float:
    """A stack's CreationTime as DescribeStacks answers it (boto3's datetime, as text)."""
    try:
        return dt.datetime.fromisoformat(created).timestamp()
    except ValueError:
        return 0.0


def failed(fleet: Fleet) -> bool:
    return REFRESH_FAILED_TAG in fleet.stack.tags or fleet.stack.status in ("ROLLBACK_COMPLETE", "CREATE_FAILED",
                                                                           "ROLLBACK_FAILED")


def is_refresh(fleet: Fleet) -> bool:
    return REFRESH_TAG in fleet.stack.tags


def drift_of(world: FleetWorld, source: AmiSource, target: str | None) -> Drift | None:
    """The newest active version's AMI against the source's; None when they agree, when the
    source could not be read, or when the version's AMI is not known (a stack another tool made)."""
    active = [f for f in world.fleets if f.active]
    if not active or target is None:
        return None
    newest = max(active, key=lambda f: f.stack.created)
    running = newest.stack.parameters.get(IMAGE_PARAMETER, "")
    if not running.startswith("ami-") or running == target:
        return None
    return Drift(newest.version, running, target, source.describe())


def _capacity(fleet: Fleet) -> int:
    return sum(g.desired for g in fleet.asgs) + sum(f.target for f in fleet.spot_fleets)


def candidate_of(world: FleetWorld, newest_active: Fleet | None) -> Fleet | None:
    """The refresh in progress: a refresh version newer than every active one, not failed."""
    if newest_active is None:
        return None
    newer = [f for f in world.fleets if is_refresh(f) and not f.active and not failed(f)
             and f.stack.created > newest_active.stack.created]
    return max(newer, key=lambda f: f.stack.created, default=None)


def _advance(obs: RefreshObservation, fleet: Fleet, result: RefreshPlan) -> None:
    """One step of the refresh in progress."""
    version, stack = fleet.version, fleet.stack
    if stack.in_progress:
        result.notes.append(f"ami-refresh: {version}: waiting for its stack ({stack.status})")
        return
    launched = len(fleet.instance_ids)
    joined = [ci for ci in obs.world.members(fleet) if ci.status == "ACTIVE"]
    waited = obs.now - epoch(stack.created)
    if not launched or len(joined) < launched:
        if waited >= obs.join_timeout:
            result.steps.append(MarkFailed(version, f"{len(joined)} of {launched} instance(s) joined cluster "
                                                    f"{obs.world.cluster} within {obs.join_timeout:.0f}s"))
        else:
            result.notes.append(f"ami-refresh: {version}: {len(joined)} of {launched} instance(s) joined")
        return
    smoke = obs.smoke
    if smoke is None:
        result.steps.append(StartSmoke(version))
    elif smoke.ok is None:
        if obs.now - smoke.created >= obs.smoke_timeout:
            result.steps.append(MarkFailed(version, f"smoke test: {smoke.detail} after {obs.smoke_timeout:.0f}s"))
        else:
            result.notes.append(f"ami-refresh: {version}: smoke task {smoke.detail}")
    elif smoke.ok:
        result.steps.append(Switch(version, f"smoke test passed: {smoke.detail}"))
    else:
        result.steps.append(MarkFailed(version, f"smoke test failed: {smoke.detail}"))


def _blockers(world: FleetWorld, active: list[Fleet]) -> str:
    """Why the cluster is not settled enough to start a refresh ('' when it is)."""
    if len(active) != 1:
        return f"{len(active)} versions are active ({', '.join(f.version for f in active)}); a refresh starts " \
               f"when exactly one is"
    busy = [f.version for f in world.fleets if not f.active and not (is_refresh(f) and failed(f))]
    if busy:
        return f"waiting for {', '.join(busy)} (a rollout or a deflation in progress) to finish"
    return ""


def plan_refresh(obs: RefreshObservation) -> RefreshPlan:
    world, result = obs.world, RefreshPlan()
    active = [f for f in world.fleets if f.active]
    newest = max(active, key=lambda f: f.stack.created, default=None)
    running_smoke = {t.arn for t in (world.snapshot.tasks if world.snapshot else ())
                     if t.started_by == SMOKE_STARTED_BY and t.desired_status == "RUNNING"}
    if obs.target is None:
        result.warnings.append(f"AMI drift not checked: {obs.source.describe()} could not be read")
    result.drift = drift_of(world, obs.source, obs.target)
    for fleet in world.fleets:
        if is_refresh(fleet) and failed(fleet) and not fleet.active and _capacity(fleet):
            result.steps.append(ScaleToZero(fleet.version))
    candidate = candidate_of(world, newest)
    if candidate is not None:
        result.candidate = candidate.version
        if obs.mode == "auto":
            _advance(obs, candidate, result)
        else:
            result.notes.append(f"ami-refresh: {candidate.version} paused (ami_refresh: {obs.mode})")
    elif result.drift is not None and newest is not None:
        _start(obs, result.drift, newest, active, result)
    keep = {obs.smoke.task_arn} if obs.smoke is not None and candidate is not None and \
        not any(isinstance(s, Switch | MarkFailed) for s in result.steps) else set()
    if running_smoke - keep:
        result.steps.append(StopSmoke(tuple(sorted(running_smoke - keep))))
    return result


def _start(obs: RefreshObservation, drift: Drift, newest: Fleet, active: list[Fleet], result: RefreshPlan) -> None:
    version = refresh_version(newest.version, drift.target)
    if obs.mode != "auto":
        result.warnings.append(f"AMI drift: {drift.describe()}; not rolled out (ami_refresh: {obs.mode}): "
                               f"`fleet rollout` a new version, or set ec2_instances.ami_refresh: auto")
        return
    earlier = obs.world.fleet(version)
    if earlier is not None:
        why = earlier.stack.tags.get(REFRESH_FAILED_TAG) or earlier.stack.status
        result.warnings.append(f"AMI drift: {drift.describe()}; the refresh to it failed earlier on {version} "
                               f"({why}): not tried again until the source names another AMI or {version} "
                               f"is deleted")
        return
    blocked = _blockers(obs.world, active)
    if blocked:
        result.notes.append(f"ami-refresh: {drift.describe()}; {blocked}")
        return
    if not in_window(obs.window, obs.now):
        result.notes.append(f"ami-refresh: {drift.describe()}; waiting for the maintenance window {obs.window} (UTC)")
        return
    result.steps.append(CreateVersion(version, drift.target, newest.version))


def failure_tags(tags: Mapping[str, str], reason: str) -> dict[str, str]:
    """The stack's tags with the failure recorded (a tag value holds at most 256 characters)."""
    return {**tags, REFRESH_FAILED_TAG: reason[:TAG_VALUE_MAX]}
