"""Carry out a fleet plan: stale drain marks cleared and rollouts' switches finished first, then
drains (they protect tasks), then lifecycle completions and removals, then capacity changes, then
stack deletions. Each action is reported on its own; a failure never stops the others.

A drain is three calls, ordered so that a drain that fails or is cut short after any of them
never leaves a claim that authorises a removal: the reason (intent) with PutAttributes, then
UpdateContainerInstancesState, then the time (confirmation) only for the instances ECS answered
DRAINING, taken from the clock after its answer. The planner trusts only both marks together on a
DRAINING instance (`plan.drain_started`) and clears marks on ACTIVE instances.

A spot fleet gets one ModifySpotFleetRequest per pass, with the target the pass ends with: AWS
keeps a fleet `modifying` for a while after a modify and refuses another one meanwhile, so two
instances removed from one fleet cannot lower its target one at a time."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..aws import Clients, DeadlineReached, batches, error_code, one_change
from ..runner import Outcome
from .actions import (
    Action,
    ClearDrainMark,
    CompleteLifecycle,
    DeleteStack,
    Drain,
    RemoveInstance,
    SetCapacity,
    SetStatus,
    describe,
)
from .deploy import CAPABILITIES
from .plan import DRAIN_SINCE, DRAIN_WHY, NO_STAMP, REPLACES_TAG, STATUS_STAMP_TAG, intent_value
from .stacks import Stack, parse_stack
from .templates import DRAIN_HOOK

UPDATE_STATE_MAX = 10  # UpdateContainerInstancesState takes at most 10 container instances
ORDER = {"clear-drain-mark": -2, "set-status": -1, "drain": 0, "complete-lifecycle": 2, "remove": 3, "scale": 4,
         "delete-stack": 5}
Clock = Callable[[], float]


def _order(action: Action) -> int:
    """Drains first; a group's new minimum before removals (a group refuses to go below it); a
    group's new capacity after them (it already counts the removals)."""
    if isinstance(action, SetCapacity) and action.min_size is not None:
        return 1
    return ORDER[action.kind]


def _outcome(action: Action, error: BaseException | None = None) -> Outcome:
    if error is None:
        return Outcome(action.kind, action.target, action.reason)
    return Outcome(action.kind, action.target, action.reason, ok=False, error=f"{error_code(error) or ''} {error}"
                   .strip())


def _marks(action: Drain | ClearDrainMark, values: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [{"name": name, "targetType": "container-instance", "targetId": action.container_instance_arn,
             **({"value": value} if value is not None else {})} for name, value in values.items()]


def _forget(ecs: Any, cluster: str, actions: Sequence[Drain]) -> None:
    """Take back the intent of drains that did not happen (best effort: if this fails too, the
    next pass clears marks on ACTIVE instances)."""
    if actions:
        # The drain's own failure is what is reported; marks this leaves, the next pass clears.
        with contextlib.suppress(Exception):
            ecs.delete_attributes(cluster=cluster, attributes=[m for a in actions
                                                               for m in _marks(a, {DRAIN_WHY: None})])


def _drain_batch(ecs: Any, batch: Sequence[Drain], clock: Clock) -> list[Outcome]:
    cluster = batch[0].cluster
    try:
        # Intent: one attribute per instance, so a batch of 10 is one PutAttributes (10 at most);
        # its time tells a pass running beside this one not to clear it (plan.DRAIN_INTENT_GRACE).
        at = clock()
        ecs.put_attributes(cluster=cluster, attributes=[m for a in batch
                                                        for m in _marks(a, {DRAIN_WHY: intent_value(a.why, at)})])
        answer = ecs.update_container_instances_state(
            cluster=cluster, containerInstances=[a.container_instance_arn for a in batch], status="DRAINING")
    except Exception as error:
        _forget(ecs, cluster, batch)
        return [_outcome(a, error) for a in batch]
    failed = {f.get("arn"): f.get("reason", "failed") for f in answer.get("failures") or []}
    now_draining = {ci.get("containerInstanceArn") for ci in answer.get("containerInstances") or []
                    if ci.get("status") == "DRAINING"}
    done = [a for a in batch if a.container_instance_arn in now_draining and a.container_instance_arn not in failed]
    _forget(ecs, cluster, [a for a in batch if a not in done])
    errors: dict[str, BaseException] = {
        a.container_instance_arn: RuntimeError(failed.get(a.container_instance_arn) or "not DRAINING after the call")
        for a in batch if a not in done}
    if done:
        # After ECS's answer: the drain timeout never starts before the drain. Never before the
        # intent's time either (a confirmation older than its intent confirms nothing).
        since = f"{max(clock(), at):.0f}"
        try:
            ecs.put_attributes(cluster=cluster, attributes=[m for a in done for m in _marks(a, {DRAIN_SINCE: since})])
        except Exception as error:
            for action in done:
                errors[action.container_instance_arn] = RuntimeError(
                    f"DRAINING, but its drain mark could not be written ({error_code(error) or error}): ecsfleet "
                    "will not remove it")
    return [_outcome(a, errors.get(a.container_instance_arn)) for a in batch]


def _drain(clients: Clients, drains: Sequence[Drain], clock: Clock) -> list[Outcome]:
    ecs = clients("ecs")
    outcomes: list[Outcome] = []
    for batch in batches(list(drains), UPDATE_STATE_MAX):
        try:
            with one_change():
                outcomes += _drain_batch(ecs, batch, clock)
        except DeadlineReached as error:  # refused before its first call: nothing of it was written
            outcomes += [_outcome(a, error) for a in batch]
    return outcomes


def _clear_mark(clients: Clients, action: ClearDrainMark) -> None:
    clients("ecs").delete_attributes(cluster=action.cluster, attributes=_marks(action, dict.fromkeys(action.names)))


def _complete(clients: Clients, action: CompleteLifecycle) -> None:
    clients("autoscaling").complete_lifecycle_action(
        LifecycleHookName=action.hook_name, AutoScalingGroupName=action.asg_name,
        LifecycleActionResult="CONTINUE", InstanceId=action.ec2_instance_id)


def spot_targets(actions: Sequence[Action]) -> dict[str, int]:
    """Spot fleet id -> the target capacity the plan leaves it at (its last change, in plan order:
    each change already counts the ones before it)."""
    targets: dict[str, int] = {}
    for action in actions:
        if isinstance(action, RemoveInstance) and action.group_kind == "spot" and action.lowers:
            targets[action.group_id] = action.new_capacity
        elif isinstance(action, SetCapacity) and action.group_kind == "spot":
            targets[action.group_id] = action.capacity
    return targets


class _SpotTargets:
    """Sets each spot fleet's final target once, before the pass's first change to that fleet; a
    refused modify fails every change of that fleet (an instance terminated without a lowered
    target would be replaced)."""

    def __init__(self, clients: Clients, targets: dict[str, int]) -> None:
        self._clients = clients
        self._targets = targets
        self._done: dict[str, BaseException | None] = {}

    def ensure(self, fleet_id: str) -> None:
        if fleet_id not in self._targets:
            return  # nothing of this fleet lowers its target: its removals were paid for by an earlier pass
        if fleet_id not in self._done:
            try:
                self._clients("ec2").modify_spot_fleet_request(
                    SpotFleetRequestId=fleet_id, TargetCapacity=self._targets[fleet_id],
                    ExcessCapacityTerminationPolicy="noTermination")
                self._done[fleet_id] = None
            except Exception as error:
                self._done[fleet_id] = error
        failed = self._done[fleet_id]
        if failed is not None:
            raise failed


def _remove(clients: Clients, action: RemoveInstance, spot: _SpotTargets) -> None:
    if action.group_kind == "asg":
        autoscaling = clients("autoscaling")
        autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=action.ec2_instance_id, ShouldDecrementDesiredCapacity=True)
        try:
            # Already drained: let the termination hook go on at once instead of timing out.
            _complete(clients, CompleteLifecycle(action.group_id, DRAIN_HOOK, action.ec2_instance_id, ""))
        except Exception as error:
            if error_code(error) != "ValidationError":
                raise
        return
    # Lower the target first, or the fleet launches a replacement for the terminated instance.
    spot.ensure(action.group_id)
    clients("ec2").terminate_instances(InstanceIds=[action.ec2_instance_id])


def _set_capacity(clients: Clients, action: SetCapacity, spot: _SpotTargets) -> None:
    if action.group_kind == "asg":
        args: dict[str, Any] = {"AutoScalingGroupName": action.group_id, "DesiredCapacity": action.capacity}
        if action.min_size is not None:
            args["MinSize"] = action.min_size
        clients("autoscaling").update_auto_scaling_group(**args)
        return
    spot.ensure(action.group_id)


def _delete_stack(clients: Clients, action: DeleteStack, cluster: str) -> None:
    """Checked again right before deleting: never an active fleet, never a stack that is not ours."""
    cfn = clients("cloudformation")
    stack = parse_stack(cfn.describe_stacks(StackName=action.stack_name)["Stacks"][0])
    if not stack.owned_by(cluster) or stack.version != action.version:
        raise RuntimeError(f"{action.stack_name} is not ecsfleet's compute stack of version {action.version}")
    if stack.fleet_status == "active":
        raise RuntimeError(f"{action.stack_name} is active again: not deleted")
    cfn.delete_stack(StackName=action.stack_name)


def kept_update(stack: Stack, tags: Mapping[str, str], values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """UpdateStack arguments that keep a stack's template and every parameter but `values`, and
    give it `tags` (CloudFormation replaces a stack's tags with those an update names)."""
    values = values or {}
    parameters: list[dict[str, Any]] = [{"ParameterKey": k, "UsePreviousValue": True}
                                        for k in stack.parameters if k not in values]
    parameters += [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]
    return {"StackName": stack.name, "UsePreviousTemplate": True, "Parameters": parameters,
            "Capabilities": CAPABILITIES, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}


def status_update(stack: Stack, status: str, claims: str | None = None) -> dict[str, Any]:
    """UpdateStack arguments that set a compute stack's `Status`, template and other parameters
    kept, with a new status stamp (any later change of the fleet's status voids a rollout's claim
    on it), and the rollout's claim `ecsfleet:replaces` only when given (a stack set by hand, or
    set inactive, carries none)."""
    tags = {k: v for k, v in stack.tags.items() if k != REPLACES_TAG}
    tags[STATUS_STAMP_TAG] = secrets.token_hex(6)
    if claims:
        tags[REPLACES_TAG] = claims
    return kept_update(stack, tags, {"Status": status})


def _set_status(clients: Clients, action: SetStatus, cluster: str) -> None:
    """Checked again right before the update: the claim still on an active fleet, the older fleet
    still active, ours, and unchanged since the claim was written."""
    cfn = clients("cloudformation")
    old = parse_stack(cfn.describe_stacks(StackName=action.stack_name)["Stacks"][0])
    if not old.owned_by(cluster) or old.version != action.version:
        raise RuntimeError(f"{action.stack_name} is not ecsfleet's compute stack of version {action.version}")
    if old.fleet_status == action.status or old.tags.get(STATUS_STAMP_TAG, NO_STAMP) != action.stamp:
        raise RuntimeError(f"{action.stack_name} changed since the rollout of {action.replaced_by}: left as it is")
    cfn.update_stack(**status_update(old, action.status))


def _run(clients: Clients, cluster: str, action: Action, spot: _SpotTargets) -> None:
    if isinstance(action, ClearDrainMark):
        _clear_mark(clients, action)
    elif isinstance(action, SetStatus):
        _set_status(clients, action, cluster)
    elif isinstance(action, CompleteLifecycle):
        _complete(clients, action)
    elif isinstance(action, RemoveInstance):
        _remove(clients, action, spot)
    elif isinstance(action, SetCapacity):
        _set_capacity(clients, action, spot)
    elif isinstance(action, DeleteStack):
        _delete_stack(clients, action, cluster)


def apply(clients: Clients, cluster: str, actions: Sequence[Action], clock: Clock) -> list[Outcome]:
    """`clock` stamps confirmed drains (the controller's clock: the one its planner compares with)."""
    ordered = sorted(actions, key=_order)
    spot = _SpotTargets(clients, spot_targets(actions))
    outcomes: list[Outcome] = []

    def run(action: Action) -> None:
        try:
            _run(clients, cluster, action, spot)
            outcomes.append(_outcome(action))
        except Exception as error:
            outcomes.append(_outcome(action, error))

    for action in (a for a in ordered if _order(a) < 0):
        run(action)  # marks cleared before this pass's drains write theirs
    # An old time left on an instance would make a drain whose confirmation then fails look
    # confirmed, and old: no drain of an instance whose old marks could not be cleared.
    uncleared = {o.target for o in outcomes if o.kind == "clear-drain-mark" and not o.ok}
    drains = [a for a in ordered if isinstance(a, Drain)]
    outcomes += [_outcome(a, RuntimeError("its old drain marks could not be cleared: drained in a later pass"))
                 for a in drains if a.ec2_instance_id in uncleared]
    outcomes += _drain(clients, [a for a in drains if a.ec2_instance_id not in uncleared], clock)
    for action in (a for a in ordered if _order(a) > 0):
        run(action)
    return outcomes


__all__ = ["apply", "describe", "spot_targets", "status_update"]
