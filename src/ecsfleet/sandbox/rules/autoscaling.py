"""The sandbox's rules for Auto Scaling: each a documented refusal of the API, checked before moto."""

from __future__ import annotations

from typing import Any

from .base import Call, Refusal, Rule, as_mapping, param, rule, validation
from .inputs import constraint_refusal, out_of_range

_API = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/"
_UPDATE = _API + "API_UpdateAutoScalingGroup.html"
_CREATE = _API + "API_CreateAutoScalingGroup.html"
_SET_DESIRED = _API + "API_SetDesiredCapacity.html"
_DESCRIBE = _API + "API_DescribeAutoScalingGroups.html"
_TERMINATE = _API + "API_TerminateInstanceInAutoScalingGroup.html"
_COMPLETE = _API + "API_CompleteLifecycleAction.html"
_HEARTBEAT = _API + "API_RecordLifecycleActionHeartbeat.html"
_PUT_HOOK = _API + "API_PutLifecycleHook.html"
_HOOK_SPEC = _API + "API_LifecycleHookSpecification.html"

TRANSITIONS = ("autoscaling:EC2_INSTANCE_LAUNCHING", "autoscaling:EC2_INSTANCE_TERMINATING")
RESULTS = ("CONTINUE", "ABANDON")
HEARTBEAT_RANGE = (30, 7200)
DESCRIBE_MAX_RECORDS = 100
# Operations that name an existing group (CreateAutoScalingGroup names a new one).
_NAMES_A_GROUP = ("UpdateAutoScalingGroup", "SetDesiredCapacity", "PutLifecycleHook")


def _group(call: Call) -> Any:
    groups = call.world.moto("autoscaling").autoscaling_groups
    return groups.get(param(call, "AutoScalingGroupName"))


def _not_found(name: object) -> Refusal:
    # The sentence AWS answers (quoted in public code that matches on it), not moto's "- null".
    return validation(f"AutoScalingGroup name not found - AutoScalingGroup: {name} not found")


@rule("min_size_not_above_max_size", "autoscaling", ("CreateAutoScalingGroup", "UpdateAutoScalingGroup"),
      "MinSize must not be greater than MaxSize.", _UPDATE)
def _min_not_above_max(call: Call) -> Refusal | None:
    low, high = param(call, "MinSize"), param(call, "MaxSize")
    if call.operation == "UpdateAutoScalingGroup" and (low is None or high is None):
        group = _group(call)
        if group is None:
            return None
        low = int(group.min_size) if low is None else low
        high = int(group.max_size) if high is None else high
    if low is not None and high is not None and low > high:
        return validation(f"The parameter MaxSize must be greater than or equal to MinSize (MinSize {low} "
                          f"> MaxSize {high}).")
    return None


@rule("group_must_exist", "autoscaling", _NAMES_A_GROUP,
      "The Auto Scaling group named must exist (ValidationError 'AutoScalingGroup name not found').", _UPDATE)
def _group_must_exist(call: Call) -> Refusal | None:
    name = param(call, "AutoScalingGroupName")
    if name is not None and _group(call) is None:
        return _not_found(name)
    return None


@rule("group_name_unique", "autoscaling", "CreateAutoScalingGroup",
      "A group name is unique in the account and Region (AlreadyExists).", _CREATE)
def _group_name_unique(call: Call) -> Refusal | None:
    name = param(call, "AutoScalingGroupName")
    if _group(call) is not None:
        return Refusal("AlreadyExists", f"AutoScalingGroup by this name already exists - A group with the name "
                                        f"{name} already exists")
    return None


def _bounds(call: Call) -> tuple[int, int] | None:
    """MinSize and MaxSize the group has after this call: the call's own, else the group's."""
    group = _group(call) if call.operation != "CreateAutoScalingGroup" else None
    low, high = param(call, "MinSize"), param(call, "MaxSize")
    if group is not None:
        low = int(group.min_size) if low is None else low
        high = int(group.max_size) if high is None else high
    if low is None or high is None:
        return None
    return int(low), int(high)


@rule("desired_capacity_within_min_and_max", "autoscaling", ("CreateAutoScalingGroup", "UpdateAutoScalingGroup"),
      "DesiredCapacity must be greater than or equal to MinSize and less than or equal to MaxSize.", _CREATE)
def _desired_within_bounds(call: Call) -> Refusal | None:
    desired, bounds = param(call, "DesiredCapacity"), _bounds(call)
    if desired is None or bounds is None:
        return None  # without DesiredCapacity, AWS moves the desired capacity into the new bounds
    low, high = bounds
    if not low <= desired <= high:
        return validation(f"Desired capacity:{desired} must be between the specified min size:{low} and max "
                          f"size:{high}")
    return None


@rule("set_desired_capacity_within_min_and_max", "autoscaling", "SetDesiredCapacity",
      "SetDesiredCapacity: the new capacity must lie within the group's MinSize..MaxSize.", _SET_DESIRED)
def _set_desired_within_bounds(call: Call) -> Refusal | None:
    group, desired = _group(call), param(call, "DesiredCapacity")
    if group is None or desired is None:
        return None
    if desired > int(group.max_size):
        return validation(f"New SetDesiredCapacity value {desired} is above max value {group.max_size} for the "
                          "AutoScalingGroup.")
    if desired < int(group.min_size):
        return validation(f"New SetDesiredCapacity value {desired} is below min value {group.min_size} for the "
                          "AutoScalingGroup.")
    return None


@rule("describe_groups_max_records", "autoscaling", "DescribeAutoScalingGroups",
      "MaxRecords is at most 100.", _DESCRIBE)
def _describe_max_records(call: Call) -> Refusal | None:
    records = param(call, "MaxRecords")
    problem = out_of_range(records, "maxRecords", None, DESCRIBE_MAX_RECORDS) if records is not None else None
    return constraint_refusal(call, [problem]) if problem is not None else None


def _state_of(call: Call, instance_id: object) -> Any:
    for group in call.world.moto("autoscaling").autoscaling_groups.values():
        for state in group.instance_states:
            if state.instance.id == instance_id:
                return group, state
    return None


@rule("terminate_instance_must_be_in_a_group", "autoscaling", "TerminateInstanceInAutoScalingGroup",
      "The instance must belong to an Auto Scaling group.", _TERMINATE)
def _terminate_in_a_group(call: Call) -> Refusal | None:
    instance_id = param(call, "InstanceId")
    if _state_of(call, instance_id) is None:
        return validation(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    return None


@rule("terminate_with_decrement_keeps_min_size", "autoscaling", "TerminateInstanceInAutoScalingGroup",
      "ShouldDecrementDesiredCapacity may not take the desired capacity below MinSize.", _TERMINATE)
def _terminate_keeps_min(call: Call) -> Refusal | None:
    found = _state_of(call, param(call, "InstanceId"))
    if found is None or not param(call, "ShouldDecrementDesiredCapacity", default=False):
        return None
    group, state = found
    # Only an instance in service gives capacity back (moto_lifecycle keeps the same rule).
    if state.lifecycle_state == "InService" and int(group.desired_capacity or 0) <= int(group.min_size or 0):
        return validation(
            f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance without replacement "
            "will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or "
            "lower group's min size.")
    return None


def _pending(call: Call) -> Refusal | None:
    from ..moto_lifecycle import pending_action

    instance_id, token = param(call, "InstanceId"), param(call, "LifecycleActionToken")
    if instance_id is None and token is None:
        return validation("Either InstanceId or LifecycleActionToken must be specified.")
    backend = call.world.moto("autoscaling")
    if pending_action(backend, param(call, "AutoScalingGroupName"), param(call, "LifecycleHookName"), instance_id,
                      token) is not None:
        return None
    if instance_id is not None:
        return validation(f"No active Lifecycle Action found with instance ID {instance_id}")
    return validation(f"No active Lifecycle Action found with token {token}")


@rule("complete_lifecycle_action_must_be_pending", "autoscaling", "CompleteLifecycleAction",
      "CompleteLifecycleAction needs a lifecycle action waiting for that hook and instance (or token).", _COMPLETE)
def _complete_pending(call: Call) -> Refusal | None:
    return _pending(call)


@rule("lifecycle_action_result_is_continue_or_abandon", "autoscaling", "CompleteLifecycleAction",
      "LifecycleActionResult is CONTINUE or ABANDON.", _COMPLETE)
def _complete_result(call: Call) -> Refusal | None:
    result = param(call, "LifecycleActionResult")
    if result not in RESULTS:
        return validation(f"1 validation error detected: Value '{result}' at 'lifecycleActionResult' failed to "
                          "satisfy constraint: Member must be one of CONTINUE, ABANDON")
    return None


@rule("heartbeat_needs_a_pending_action", "autoscaling", "RecordLifecycleActionHeartbeat",
      "RecordLifecycleActionHeartbeat needs a lifecycle action waiting for that hook and instance (or token).",
      _HEARTBEAT)
def _heartbeat_pending(call: Call) -> Refusal | None:
    return _pending(call)


def _hooks(call: Call) -> list[dict[str, Any]]:
    """The hooks this call defines: PutLifecycleHook's own fields, or CreateAutoScalingGroup's list."""
    if call.operation == "PutLifecycleHook":
        return [dict(call.params)]
    return [dict(as_mapping(spec)) for spec in param(call, "LifecycleHookSpecificationList", default=[])]


@rule("lifecycle_hook_heartbeat_timeout_range", "autoscaling", ("PutLifecycleHook", "CreateAutoScalingGroup"),
      "A lifecycle hook's HeartbeatTimeout is 30 to 7200 seconds.", _PUT_HOOK)
def _hook_timeout(call: Call) -> Refusal | None:
    low, high = HEARTBEAT_RANGE
    for hook in _hooks(call):
        timeout = hook.get("HeartbeatTimeout")
        if timeout is not None and not low <= int(timeout) <= high:
            return validation(f"Heartbeat timeout {timeout} is not valid: the heartbeat timeout of a lifecycle hook "
                              f"must be between {low} and {high} seconds.")
    return None


@rule("lifecycle_hook_default_result", "autoscaling", ("PutLifecycleHook", "CreateAutoScalingGroup"),
      "A lifecycle hook's DefaultResult is CONTINUE or ABANDON.", _HOOK_SPEC)
def _hook_result(call: Call) -> Refusal | None:
    for hook in _hooks(call):
        result = hook.get("DefaultResult")
        if result is not None and result not in RESULTS:
            return validation(f"Invalid value '{result}' for DefaultResult: valid values are CONTINUE and ABANDON.")
    return None


@rule("lifecycle_hook_transition", "autoscaling", ("PutLifecycleHook", "CreateAutoScalingGroup"),
      "A lifecycle hook's LifecycleTransition is autoscaling:EC2_INSTANCE_LAUNCHING or "
      "autoscaling:EC2_INSTANCE_TERMINATING (required when the hook is created).", _PUT_HOOK)
def _hook_transition(call: Call) -> Refusal | None:
    for hook in _hooks(call):
        transition = hook.get("LifecycleTransition")
        if transition is None and call.operation == "PutLifecycleHook" and not _hook_exists(call, hook):
            return validation("LifecycleTransition must be specified when creating a lifecycle hook.")
        if transition is not None and transition not in TRANSITIONS:
            return validation(f"Invalid Lifecycle Transition: {transition}. Valid values are "
                              f"{' and '.join(TRANSITIONS)}.")
    return None


def _hook_exists(call: Call, hook: dict[str, Any]) -> bool:
    hooks = call.world.moto("autoscaling").lifecycle_hooks
    return any(h.name == hook.get("LifecycleHookName") and h.auto_scaling_group_name == hook.get(
        "AutoScalingGroupName") for h in hooks.values())


RULES: tuple[Rule, ...] = (
    _group_must_exist, _group_name_unique, _min_not_above_max, _desired_within_bounds, _set_desired_within_bounds,
    _describe_max_records, _terminate_in_a_group, _terminate_keeps_min, _complete_result, _complete_pending,
    _heartbeat_pending, _hook_transition, _hook_timeout, _hook_result,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Scaling activities are immediate: a group reaches its desired capacity in the call that sets it, and "
    "DescribeScalingActivities shows no activity in progress, so a capacity change is never refused as "
    "'in progress' (ScalingActivityInProgress).",
    "Error messages for an invalid lifecycle hook (HeartbeatTimeout, DefaultResult, LifecycleTransition) state "
    "the documented constraint; AWS's exact wording was not found quoted and may differ (the code, "
    "ValidationError, is AWS's).",
)
