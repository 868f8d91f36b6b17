"""Carry out a fleet plan: drains first (they protect tasks), then lifecycle completions and
removals, then capacity changes, then stack deletions. Each action is reported on its own; a
failure never stops the others.

A spot fleet gets one ModifySpotFleetRequest per pass, with the target the pass ends with: AWS
keeps a fleet `modifying` for a while after a modify and refuses another one meanwhile, so two
instances removed from one fleet cannot lower its target one at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..aws import Clients, batches, error_code
from ..runner import Outcome
from .actions import Action, CompleteLifecycle, DeleteStack, Drain, RemoveInstance, SetCapacity, describe
from .plan import DRAIN_SINCE, DRAIN_WHY
from .stacks import parse_stack
from .templates import DRAIN_HOOK

UPDATE_STATE_MAX = 10  # UpdateContainerInstancesState takes at most 10 container instances
ORDER = {"drain": 0, "complete-lifecycle": 2, "remove": 3, "scale": 4, "delete-stack": 5}


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


def _drain(clients: Clients, drains: Sequence[Drain], now: float) -> list[Outcome]:
    ecs = clients("ecs")
    outcomes: list[Outcome] = []
    for batch in batches(list(drains), UPDATE_STATE_MAX):
        try:
            # The mark first: an instance is only ever removed by ecsfleet if ecsfleet drained it.
            for action in batch:
                why = action.reason.rsplit("[", 1)[-1].rstrip("]")
                ecs.put_attributes(cluster=action.cluster, attributes=[
                    {"name": DRAIN_SINCE, "value": f"{now:.0f}", "targetType": "container-instance",
                     "targetId": action.container_instance_arn},
                    {"name": DRAIN_WHY, "value": why, "targetType": "container-instance",
                     "targetId": action.container_instance_arn}])
            answer = ecs.update_container_instances_state(
                cluster=batch[0].cluster, containerInstances=[a.container_instance_arn for a in batch],
                status="DRAINING")
        except Exception as error:
            outcomes += [_outcome(a, error) for a in batch]
            continue
        failed = {f.get("arn"): f.get("reason", "failed") for f in answer.get("failures") or []}
        for action in batch:
            reason = failed.get(action.container_instance_arn)
            outcomes.append(_outcome(action, RuntimeError(reason) if reason else None))
    return outcomes


def _complete(clients: Clients, action: CompleteLifecycle) -> None:
    clients("autoscaling").complete_lifecycle_action(
        LifecycleHookName=action.hook_name, AutoScalingGroupName=action.asg_name,
        LifecycleActionResult="CONTINUE", InstanceId=action.ec2_instance_id)


def spot_targets(actions: Sequence[Action]) -> dict[str, int]:
    """Spot fleet id -> the target capacity the plan leaves it at (its last change, in plan order:
    each change already counts the ones before it)."""
    targets: dict[str, int] = {}
    for action in actions:
        if isinstance(action, RemoveInstance) and action.group_kind == "spot":
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


def _run(clients: Clients, cluster: str, action: Action, spot: _SpotTargets) -> None:
    if isinstance(action, CompleteLifecycle):
        _complete(clients, action)
    elif isinstance(action, RemoveInstance):
        _remove(clients, action, spot)
    elif isinstance(action, SetCapacity):
        _set_capacity(clients, action, spot)
    elif isinstance(action, DeleteStack):
        _delete_stack(clients, action, cluster)


def apply(clients: Clients, cluster: str, actions: Sequence[Action], now: float) -> list[Outcome]:
    ordered = sorted(actions, key=_order)
    outcomes = _drain(clients, [a for a in ordered if isinstance(a, Drain)], now)
    spot = _SpotTargets(clients, spot_targets(actions))
    for action in (a for a in ordered if not isinstance(a, Drain)):
        try:
            _run(clients, cluster, action, spot)
            outcomes.append(_outcome(action))
        except Exception as error:
            outcomes.append(_outcome(action, error))
    return outcomes


__all__ = ["apply", "describe", "spot_targets"]
