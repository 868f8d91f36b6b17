"""Carry out a fleet plan: drains first (they protect tasks), then lifecycle completions and
removals, then capacity changes, then stack deletions. Each action is reported on its own; a
failure never stops the others."""

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


def _remove(clients: Clients, action: RemoveInstance) -> None:
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
    ec2 = clients("ec2")
    # Lower the target first, or the fleet launches a replacement for the terminated instance.
    ec2.modify_spot_fleet_request(SpotFleetRequestId=action.group_id, TargetCapacity=action.new_capacity,
                                  ExcessCapacityTerminationPolicy="noTermination")
    ec2.terminate_instances(InstanceIds=[action.ec2_instance_id])


def _set_capacity(clients: Clients, action: SetCapacity) -> None:
    if action.group_kind == "asg":
        args: dict[str, Any] = {"AutoScalingGroupName": action.group_id, "DesiredCapacity": action.capacity}
        if action.min_size is not None:
            args["MinSize"] = action.min_size
        clients("autoscaling").update_auto_scaling_group(**args)
        return
    clients("ec2").modify_spot_fleet_request(SpotFleetRequestId=action.group_id, TargetCapacity=action.capacity,
                                             ExcessCapacityTerminationPolicy="noTermination")


def _delete_stack(clients: Clients, action: DeleteStack, cluster: str) -> None:
    """Checked again right before deleting: never an active fleet, never a stack that is not ours."""
    cfn = clients("cloudformation")
    stack = parse_stack(cfn.describe_stacks(StackName=action.stack_name)["Stacks"][0])
    if not stack.owned_by(cluster) or stack.version != action.version:
        raise RuntimeError(f"{action.stack_name} is not ecsfleet's compute stack of version {action.version}")
    if stack.fleet_status == "active":
        raise RuntimeError(f"{action.stack_name} is active again: not deleted")
    cfn.delete_stack(StackName=action.stack_name)


def _run(clients: Clients, cluster: str, action: Action) -> None:
    if isinstance(action, CompleteLifecycle):
        _complete(clients, action)
    elif isinstance(action, RemoveInstance):
        _remove(clients, action)
    elif isinstance(action, SetCapacity):
        _set_capacity(clients, action)
    elif isinstance(action, DeleteStack):
        _delete_stack(clients, action, cluster)


def apply(clients: Clients, cluster: str, actions: Sequence[Action], now: float) -> list[Outcome]:
    ordered = sorted(actions, key=_order)
    outcomes = _drain(clients, [a for a in ordered if isinstance(a, Drain)], now)
    for action in (a for a in ordered if not isinstance(a, Drain)):
        try:
            _run(clients, cluster, action)
            outcomes.append(_outcome(action))
        except Exception as error:
            outcomes.append(_outcome(action, error))
    return outcomes


__all__ = ["apply", "describe"]
