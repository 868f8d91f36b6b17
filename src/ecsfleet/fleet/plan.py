"""Plan one fleet reconcile pass: a pure function of what was observed.

In order of urgency:
1. Spot interruption warnings: drain the instance at once (AWS terminates it two minutes later).
2. Instances an Auto Scaling group holds in Terminating:Wait: drain them, then let the group go on.
3. Instances ecsfleet drained: once no service task is left on them (ECS has started the
   replacements elsewhere), or after the drain timeout, terminate them and lower their group's
   capacity so they are not replaced. "ecsfleet drained it" is a claim written on the instance,
   and a claim is trusted only while it is true (see `drain_started`): marks on an instance that
   is not DRAINING are cleared (once no other pass can still be acting on them:
   DRAIN_INTENT_GRACE), and an instance DRAINING without ecsfleet's confirmation is someone
   else's and never removed.
4. Inactive fleets older than the newest active one: drain their instances a few at a time, only
   as fast as the active fleets can take their tasks; delete the stack of a fleet with no
   instances left. An active fleet, a fleet newer than every active one (a rollout in progress),
   and the cluster stack are never deflated or deleted.
5. Active fleets, by `ec2_instances.scaling`: `placement` (scaling.py: scale out for what ECS
   cannot place, from the cheapest offer; consolidate instances whose tasks fit elsewhere) or
   `thresholds` (the seed's band: scale out when tasks cannot be placed or fewer than
   `task_threshold_out` copies of the largest task fit; scale in, one drained instance at a time,
   when more than `task_threshold_in` fit and would still fit `task_threshold_out` without it).

An Auto Scaling group's capacity stays within the MinSize..MaxSize it has on AWS (what
DescribeAutoScalingGroups answers, which infra.yml may not match until it is deployed): AWS
refuses a desired capacity outside it. A spot fleet still `modifying` from an earlier change is
left alone until a later pass (AWS refuses to modify it meanwhile); `apply` makes one
ModifySpotFleetRequest per fleet per pass.

A rollout cut short between its status flips (the new fleet active, an older one not yet
inactive) is finished here: the new fleet's stack carries the claim `ecsfleet:replaces`, written
in the same UpdateStack that made it active, naming each fleet it replaces with that fleet's
status stamp at that moment; an older fleet still active with the same stamp is set inactive.
A fleet whose status changed since (a person activated it again) has a new stamp: the claim no
longer binds it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from ..snapshot import ClusterSnapshot, ContainerInstance, Task
from .actions import (
    SCALE_IN,
    SPOT_WARNING,
    Action,
    ClearDrainMark,
    CompleteLifecycle,
    DeleteStack,
    Drain,
    GroupKind,
    RemoveInstance,
    SetCapacity,
    SetStatus,
)
from .capacity import TaskSize, absorb, full_copies, largest, schedulable
from .observe import Fleet, FleetWorld
from .scaling import scale_by_placement, serving_members
from .schema import AutoScalingGroup, Infra, SpotFleet
from .templates import DRAIN_HOOK, asg_logical_id, spot_fleet_logical_id

# The drain marks. The reason is written just before UpdateContainerInstancesState (the intent);
# the time only after ECS answered that the instance is DRAINING (the confirmation), so the drain
# timeout counts from the real transition and a drain that failed or was cut short never leaves
# a confirmed mark behind.
DRAIN_SINCE = "ecsfleet.draining-since"
DRAIN_WHY = "ecsfleet.drain-reason"
DRAIN_MARKS = (DRAIN_SINCE, DRAIN_WHY)
# The intent carries the time it was written ("scale-in@1764576000"). Two passes can run at once
# (a Lambda's schedule and its queue), and a pass that finds an intent on an ACTIVE instance
# cannot tell a drain cut short from one another pass is making (its state change comes one call
# later): clearing that intent would leave the other pass's drain unclaimed, an instance draining
# for ever that ecsfleet never removes. An intent is cleared only once it is older than this,
# which no drain's three calls take (their retries end within minutes), and a confirmation
# counts only if it is no older than the intent it confirms, so an old confirmation left on an
# instance someone set ACTIVE again never confirms a new drain. An intent without a time (an
# older ecsfleet's) is cleared at once, as it always was.
DRAIN_INTENT_GRACE = 900.0
# Stack tags of a rollout's switch: the stamp of a fleet's last status change, and the claim of a
# fleet made active by a rollout: "<version>=<stamp> ..." of the fleets it replaces.
STATUS_STAMP_TAG = "ecsfleet:status-stamp"
REPLACES_TAG = "ecsfleet:replaces"
NO_STAMP = "none"
SEED_THRESHOLD_OUT, SEED_THRESHOLD_IN = 3, 10


@dataclass(frozen=True)
class ServiceState:
    name: str
    desired: int
    running: int
    pending: int
    size: TaskSize
    minimum_healthy_percent: int = 100
    maximum_percent: int = 200

    @property
    def unplaced(self) -> int:
        """Tasks the scheduler wants and could not place anywhere."""
        return max(0, self.desired - self.running - self.pending)


@dataclass(frozen=True)
class Options:
    drain_timeout: float = 1800.0
    max_draining: int = 2
    autoscaling: bool = True


@dataclass(frozen=True)
class LoadSample:
    """The services' desired counts at one pass: the load trend the anti-flap rule reads."""

    time: float
    desired: Mapping[str, int]


@dataclass(frozen=True)
class Observation:
    world: FleetWorld
    infra: Infra
    services: tuple[ServiceState, ...] = ()
    interrupted: frozenset[str] = frozenset()
    now: float = 0.0
    # What this controller saw in earlier passes (kept in memory: a restarted controller starts
    # with none, and so waits a window before it consolidates).
    history: tuple[LoadSample, ...] = ()
    last_scale_out: float | None = None
    last_scale_in: float | None = None  # the last drain to scale in (a consolidation)


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    gauges: dict[str, float] = field(default_factory=dict)
    scaled_out: bool = False  # capacity added for tasks or headroom (starts the anti-flap window)


@dataclass
class Group:
    """A scalable group of one fleet, with the capacity it will have after this plan's changes."""

    kind: GroupKind
    group_id: str
    fleet: Fleet
    capacity: int
    min_capacity: int
    max_capacity: int
    instance_ids: frozenset[str]
    weights: Mapping[str, int]  # instance type -> weight (spot fleets)
    config: AutoScalingGroup | SpotFleet | None
    fulfilled: float = 0.0  # capacity running: instances in service (ASG), fulfilled weight (spot)
    modifying: bool = False  # a spot fleet AWS still applies an earlier modify to: not modifiable now
    # Weight running beyond a spot fleet's target: a removal whose target was already lowered (a
    # pass cut between the modify and the termination) or whose weights overshot it. A removal
    # uses it up before lowering the target again, so no capacity is taken off twice.
    excess: float = 0.0

    def weight(self, instance: ContainerInstance | None) -> int:
        if self.kind == "asg" or instance is None:
            return 1
        return self.weights.get(instance.instance_type or "", 1)


def _groups(world: FleetWorld, infra: Infra) -> list[Group]:
    asg_config = {asg_logical_id(g): g for g in infra.ec2_instances.auto_scaling_groups}
    spot_config = {spot_fleet_logical_id(f): f for f in infra.ec2_instances.spot_fleets}
    groups: list[Group] = []
    for fleet in world.fleets:
        for asg in fleet.asgs:
            a = asg_config.get(asg.logical_id)
            # The deployed bounds, not infra.yml's: AWS refuses a desired capacity outside them.
            groups.append(Group("asg", asg.name, fleet, asg.desired, asg.min_size if fleet.active else 0,
                                asg.max_size,
                                frozenset(i.instance_id for i in asg.instances
                                          if i.lifecycle_state not in ("Terminating:Wait", "Terminated")),
                                {}, a, float(sum(1 for i in asg.instances if i.lifecycle_state == "InService"))))
        for spot in fleet.spot_fleets:
            f = spot_config.get(spot.logical_id)
            groups.append(Group("spot", spot.request_id, fleet, spot.target,
                                f.min_weight if f and fleet.active else 0, f.max_weight if f else spot.target,
                                frozenset(spot.instance_ids), {b.instance_type: b.weight for b in f.bids} if f else {},
                                f, spot.fulfilled, modifying=spot.state == "modifying",
                                excess=max(0.0, spot.fulfilled - spot.target)))
    return groups


def _service_tasks(snapshot: ClusterSnapshot, instance: ContainerInstance) -> list[Task]:
    return [t for t in snapshot.tasks_on(instance.arn) if t.service and t.last_status != "STOPPED"]


def _standalone(snapshot: ClusterSnapshot, instance: ContainerInstance) -> int:
    return sum(1 for t in snapshot.tasks_on(instance.arn) if not t.service and t.last_status != "STOPPED")


def intent_value(why: str, at: float) -> str:
    """The intent mark's value: the drain's reason and when it was written. A spot warning's
    drain keeps the bare reason: AWS terminates that instance whatever becomes of the mark, so no
    pass needs the time, and an earlier ecsfleet running beside this one during an upgrade (which
    compares the value with "spot") still leaves the instance to AWS."""
    return why if why == SPOT_WARNING else f"{why}@{at:.0f}"


def _time(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class DrainIntent(NamedTuple):
    reason: str
    at: float | None  # None: written by an older ecsfleet, without a time (or not a number)


def drain_intent(instance: ContainerInstance) -> DrainIntent | None:
    """The intent mark, None for no mark."""
    raw = instance.attributes.get(DRAIN_WHY)
    if raw is None:
        return None
    reason, sep, at = raw.rpartition("@")
    return DrainIntent(reason, _time(at)) if sep else DrainIntent(raw, None)


def _fresh_for(intent: DrainIntent | None, now: float) -> float | None:
    """How long ago an intent another pass may still be acting on was written
    (DRAIN_INTENT_GRACE); None for no intent, or one that is old or has no time."""
    if intent is None or intent.at is None or abs(now - intent.at) > DRAIN_INTENT_GRACE:
        return None
    return now - intent.at


def drain_started(instance: ContainerInstance) -> float | None:
    """When ecsfleet's own drain of this instance took effect, or None when the instance is not
    draining by ecsfleet's hand: not DRAINING, or DRAINING without both marks (drained by a
    person, by the ECS agent for a spot interruption, by another tool, or by an ecsfleet drain
    whose confirmation was never written: ecsfleet cannot tell these apart, so it claims none),
    or with a confirmation older than its intent (left from an earlier drain)."""
    intent = drain_intent(instance)
    if instance.status != "DRAINING" or intent is None:
        return None
    since = _time(instance.attributes.get(DRAIN_SINCE, ""))
    if since is None or (intent.at is not None and since < intent.at):
        return None
    return since


def _drained_for(instance: ContainerInstance, now: float) -> float | None:
    since = drain_started(instance)
    return None if since is None else now - since


def _stale_marks(snap: ClusterSnapshot, now: float, result: Plan) -> None:
    """Marks on ACTIVE instances: a drain that failed or was cut short (or an instance someone set
    ACTIVE again). Cleared, so that a later drain by anyone else finds no old claim to match;
    but not while the intent is fresh: another pass may be draining the instance right now."""
    for ci in snap.instances:
        if ci.status != "ACTIVE" or not (names := tuple(n for n in DRAIN_MARKS if n in ci.attributes)):
            continue
        intent = drain_intent(ci)
        age = _fresh_for(intent, now)
        if intent is not None and age is not None:
            result.notes.append(f"{ci.ec2_instance_id}: a drain ({intent.reason}) was begun {age:.0f}s ago and the "
                                "instance is not DRAINING yet: its mark is kept (another pass may be draining it; "
                                f"the mark of a drain cut short is cleared after {DRAIN_INTENT_GRACE:.0f}s)")
            continue
        result.actions.append(ClearDrainMark(snap.cluster, ci.arn, ci.ec2_instance_id, names,
                                             "not draining: an old drain mark no longer holds"))


def parse_claims(value: str) -> dict[str, str]:
    """`ecsfleet:replaces` -> {version: stamp}."""
    return dict(item.rsplit("=", 1) for item in value.split() if "=" in item)


def format_claims(claims: Mapping[str, str]) -> str:
    return " ".join(f"{version}={stamp}" for version, stamp in sorted(claims.items()))


def _unfinished_switches(world: FleetWorld, result: Plan) -> None:
    """Older fleets a rollout made inactive only in its claim: the process stopped after making
    the new fleet active. Set them inactive now, if the claim still binds them."""
    for fleet in (f for f in world.fleets if f.active and REPLACES_TAG in f.stack.tags):
        for version, stamp in parse_claims(fleet.stack.tags[REPLACES_TAG]).items():
            old = world.fleet(version)
            if old is None or not old.active or old.stack.tags.get(STATUS_STAMP_TAG, NO_STAMP) != stamp:
                continue
            if old.stack.in_progress:
                result.notes.append(f"{old.stack.name}: waits for its stack update before the switch to "
                                    f"{fleet.version} is finished")
                continue
            result.actions.append(SetStatus(old.stack.name, version, "inactive", fleet.version, stamp,
                                            f"finish the rollout of {fleet.version}: it replaces {version}"))


def _newest_active(world: FleetWorld) -> Fleet | None:
    active = [f for f in world.fleets if f.active]
    return max(active, key=lambda f: f.stack.created) if active else None


def plan(obs: Observation, options: Options = Options()) -> Plan:
    world, result = obs.world, Plan()
    snap = world.snapshot
    if snap is None:
        result.warnings.append(f"cluster {world.cluster} does not exist yet: nothing to reconcile")
        return result
    by_ec2 = {ci.ec2_instance_id: ci for ci in snap.instances}
    groups = _groups(world, obs.infra)
    group_of = {ec2: g for g in groups for ec2 in g.instance_ids}
    ours = {ec2 for g in groups for ec2 in g.instance_ids}
    draining: set[str] = set()  # instances draining after this pass (ours, or planned here)
    handled: set[str] = set()
    timed_out = 0  # instances given up on after the drain timeout: exported so an alert can see it
    _stale_marks(snap, obs.now, result)
    _unfinished_switches(world, result)

    def drain(ci: ContainerInstance, why: str, reason: str) -> None:
        if ci.ec2_instance_id in draining or ci.status != "ACTIVE":
            return
        draining.add(ci.ec2_instance_id)
        result.actions.append(Drain(world.cluster, ci.arn, ci.ec2_instance_id, f"{reason} [{why}]", why))

    def remove(ec2: str, ci: ContainerInstance | None, reason: str) -> None:
        group = group_of.get(ec2)
        if group is None or ec2 in handled:
            return
        handled.add(ec2)
        if group.modifying:
            draining.add(ec2)  # still counts as on its way out: no other drain starts meanwhile
            result.notes.append(f"{ec2}: removal waits for the next pass: spot fleet {group.group_id} is still "
                                "modifying")
            return
        weight = group.weight(ci)
        paid = min(group.excess, float(weight))
        group.excess -= paid
        group.capacity = max(0, group.capacity - math.floor(weight - paid))
        standalone = _standalone(snap, ci) if ci is not None else 0
        extra = f"; {standalone} standalone task(s) stop with it" if standalone else ""
        result.actions.append(RemoveInstance(ec2, group.kind, group.group_id, weight, group.capacity, reason + extra,
                                             lowers=paid < weight))

    # 1. Spot interruption warnings.
    for ec2 in sorted(obs.interrupted & ours):  # warnings name every spot instance of the account
        ci = by_ec2.get(ec2)
        if ci is not None and ci.status == "ACTIVE":
            drain(ci, SPOT_WARNING, "spot interruption warning: AWS terminates it in two minutes")
            handled.add(ec2)

    # 2. Instances held by a termination lifecycle hook.
    for fleet in world.fleets:
        for asg in fleet.asgs:
            for held in (i for i in asg.instances if i.lifecycle_state == "Terminating:Wait"):
                ec2, ci = held.instance_id, by_ec2.get(held.instance_id)
                handled.add(ec2)
                since = _drained_for(ci, obs.now) if ci else None
                if ci is None or (ci.status == "DRAINING" and not _service_tasks(snap, ci)):
                    result.actions.append(CompleteLifecycle(asg.name, DRAIN_HOOK, ec2, "drained: the group may "
                                                                                        "terminate it"))
                elif ci.status == "ACTIVE":
                    drain(ci, "lifecycle", f"{asg.name} is terminating it")
                elif since is not None and since > options.drain_timeout:
                    result.warnings.append(f"{ec2}: still has {len(_service_tasks(snap, ci))} service task(s) after "
                                           f"the {options.drain_timeout:.0f}s drain timeout; terminating anyway")
                    result.actions.append(CompleteLifecycle(asg.name, DRAIN_HOOK, ec2, "drain timed out"))
                    timed_out += 1
                else:
                    draining.add(ec2)

    # 3. Instances ecsfleet drained.
    for ci in snap.instances:
        ec2 = ci.ec2_instance_id
        if ci.status != "DRAINING" or ec2 in handled or ec2 not in ours:
            continue
        intent = drain_intent(ci)
        if drain_started(ci) is None:
            if _fresh_for(intent, obs.now) is not None:
                result.notes.append(f"{ec2}: DRAINING, ecsfleet's drain of it not confirmed yet (another pass may "
                                    "be confirming it)")
            elif intent is not None:
                result.warnings.append(
                    f"{ec2}: DRAINING, but ecsfleet's drain of it ({intent.reason}) was never confirmed "
                    "(its pass failed or was cut short): someone else may have drained it, so ecsfleet leaves it "
                    "alone; terminate it, or set it ACTIVE and ecsfleet decides again")
            continue
        if intent is not None and intent.reason == SPOT_WARNING:
            handled.add(ec2)  # AWS terminates it; the spot fleet replaces the capacity
            continue
        left = _service_tasks(snap, ci)
        since = _drained_for(ci, obs.now) or 0.0  # never None here: drain_started() was checked
        if not left:
            remove(ec2, ci, "drained: its service tasks run elsewhere")
        elif since > options.drain_timeout:
            result.warnings.append(f"{ec2}: {len(left)} service task(s) still on it after the "
                                   f"{options.drain_timeout:.0f}s drain timeout; removing it anyway")
            remove(ec2, ci, "drain timed out")
            timed_out += 1
        else:
            draining.add(ec2)
            result.notes.append(f"{ec2}: draining, {len(left)} service task(s) left")

    result.gauges["drain_timeouts"] = timed_out
    newest = _newest_active(world)
    if newest is None:
        if world.fleets:
            result.warnings.append("no fleet is active: nothing is deflated or scaled (activate one with "
                                   "`ecsfleet fleet activate`)")
        return result
    active_fleets = [f for f in world.fleets if f.active]
    active_hosts = [ci for f in active_fleets for ci in world.members(f)
                    if ci.status == "ACTIVE" and ci.agent_connected and ci.ec2_instance_id not in draining]

    # 4. Deflate inactive fleets older than the newest active one.
    must_move: list[Task] = []
    for fleet in sorted((f for f in world.fleets if not f.active and f.stack.created < newest.stack.created),
                        key=lambda f: f.stack.created):
        fleet_groups = [g for g in groups if g.fleet is fleet]
        for group in fleet_groups:
            state = next((a for a in fleet.asgs if a.name == group.group_id), None)
            if state is not None and state.min_size > 0:
                # Applied before this pass's removals, which lower the desired capacity themselves:
                # the desired capacity observed, not the one after them.
                result.actions.append(SetCapacity("asg", state.name, state.desired, f"inactive fleet "
                                                  f"{fleet.version}: no minimum size", min_size=0))
        members = world.members(fleet)
        registered = {ci.ec2_instance_id for ci in members}
        for ec2 in sorted(fleet.instance_ids - registered - handled):
            remove(ec2, None, f"inactive fleet {fleet.version}: instance is not in the cluster")
        for ci in sorted((m for m in members if m.status == "ACTIVE" and m.ec2_instance_id not in handled),
                         key=lambda m: (m.running_tasks, m.arn)):
            if len(draining) >= options.max_draining:
                break
            tasks = [t for t in _service_tasks(snap, ci) if t.desired_status == "RUNNING"]
            fits, after = absorb(tasks, active_hosts)
            if not fits:
                must_move += tasks
                result.notes.append(f"{ci.ec2_instance_id}: waiting for room in active fleets for "
                                    f"{len(tasks)} task(s)")
                break
            active_hosts = after
            drain(ci, "deflate", f"inactive fleet {fleet.version}: its tasks move to active fleets")
        if not members and not fleet.instance_ids:  # instances ended in this pass count until gone
            if any(g.capacity > 0 for g in fleet_groups):
                for group in (g for g in fleet_groups if g.capacity > 0):
                    if group.modifying:
                        result.notes.append(f"spot fleet {group.group_id} is still modifying: it goes to zero in a "
                                            "later pass")
                        continue
                    result.actions.append(SetCapacity(group.kind, group.group_id, 0,
                                                      f"inactive fleet {fleet.version} is empty", min_size=0))
            elif not fleet.stack.in_progress and fleet.stack.status != "DELETE_IN_PROGRESS":
                result.actions.append(DeleteStack(fleet.stack.name, fleet.version,
                                                  f"inactive fleet {fleet.version} has no instances and no tasks"))

    # 5. Scale the active fleets.
    _scale(obs, options, result, groups, active_fleets, by_ec2, draining, must_move, drain)
    return result


def _scale(obs: Observation, options: Options, result: Plan, groups: list[Group], active_fleets: list[Fleet],
           by_ec2: Mapping[str, ContainerInstance], draining: set[str], must_move: list[Task],
           drain: Callable[[ContainerInstance, str, str], None]) -> None:
    """`scaling: placement` (the default) or `scaling: thresholds` (the seed's band, as it was)."""
    scale = scale_by_placement if obs.infra.scaling_mode == "placement" else _scale_thresholds
    scale(obs, options, result, groups, active_fleets, by_ec2, draining, must_move, drain)


def _scale_thresholds(obs: Observation, options: Options, result: Plan, groups: list[Group],
                      active_fleets: list[Fleet], by_ec2: Mapping[str, ContainerInstance], draining: set[str],
                      must_move: list[Task], drain: Callable[[ContainerInstance, str, str], None]) -> None:
    world = obs.world
    snap = world.snapshot
    assert snap is not None
    active_groups = [g for g in groups if g.fleet in active_fleets and g.config is not None]
    members = serving_members(world, active_fleets, draining)
    running = [t for t in snap.tasks if t.last_status != "STOPPED"]
    size = largest([s.size for s in obs.services if s.desired > 0] + [TaskSize(t.memory, t.cpu) for t in running])
    free = schedulable(members, size) if size else 0
    unplaced = sum(s.unplaced for s in obs.services) + len(must_move)
    spot_configs = [g.config for g in active_groups if isinstance(g.config, SpotFleet)]
    threshold_out = spot_configs[0].task_threshold_out if spot_configs else SEED_THRESHOLD_OUT
    threshold_in = spot_configs[0].task_threshold_in if spot_configs else SEED_THRESHOLD_IN
    result.gauges.update({"schedulable_tasks": free, "unplaced_tasks": unplaced,
                          "active_instances": len(members), "draining_instances": len(draining)})
    if not options.autoscaling or not active_groups:
        return
    booting = sorted(ec2 for g in active_groups for ec2 in g.instance_ids if ec2 not in by_ec2)
    short = [g.group_id for g in active_groups if g.fulfilled < g.capacity]
    modifying = [g.group_id for g in active_groups if g.modifying]
    if booting or short or modifying:
        # State, not a timer, is the cooldown: capacity asked for is not judged before it has joined.
        result.notes.append(f"scaling waits: {len(booting)} instance(s) not yet in the cluster"
                            + (f", {', '.join(short)} still launching" if short else "")
                            + (f", {', '.join(modifying)} still modifying" if modifying else ""))
        return
    if size is not None and (unplaced > 0 or free < threshold_out):
        per_instance = max([full_copies(ci, size) for ci in members] or [1]) or 1
        wanted = max(1, math.ceil((unplaced + max(0, threshold_out - free)) / per_instance))
        why = (f"{unplaced} task(s) cannot be placed" if unplaced
               else f"{free} copies of the largest task fit, below task_threshold_out {threshold_out}")
        # On-demand groups first (the seed's place for reserved instances, paid for whether used or not).
        for group in sorted(active_groups, key=lambda g: g.kind != "asg"):
            room = group.max_capacity - group.capacity
            if room <= 0 or wanted <= 0:
                continue
            unit = min(group.weights.values()) if group.weights else 1
            step = min(room, wanted * unit)
            group.capacity += step
            wanted -= math.ceil(step / unit)
            result.actions.append(SetCapacity(group.kind, group.group_id, group.capacity, f"scale out: {why}"))
        if wanted > 0:
            result.warnings.append(f"every active group is at its maximum: {why}")
        return
    if draining or any(ci.status == "DRAINING" for f in active_fleets for ci in world.members(f)):
        # One removal at a time, none while inactive fleets move their tasks, and none while any
        # host (drained by a person, or for a spot interruption) is still handing its tasks over.
        return
    idle = size is None
    if not idle and free <= threshold_in:
        return
    # Scale in: spot capacity first, the emptiest instance first.
    candidates = [(g, ci) for g in active_groups for ec2 in g.instance_ids
                  if (ci := by_ec2.get(ec2)) is not None and ci in members
                  and g.capacity - g.weight(ci) >= g.min_capacity]
    candidates.sort(key=lambda pair: (pair[0].kind != "spot", pair[1].running_tasks + pair[1].pending_tasks,
                                      pair[1].ec2_instance_id))
    for _, ci in candidates:
        if idle:
            drain(ci, SCALE_IN, "scale in: the cluster runs no tasks")
            return
        assert size is not None
        left = free - full_copies(ci, size)
        if left >= threshold_out:
            drain(ci, SCALE_IN, f"scale in: {free} copies of the largest task fit, above task_threshold_in "
                                  f"{threshold_in}; {left} without this instance")
            return
