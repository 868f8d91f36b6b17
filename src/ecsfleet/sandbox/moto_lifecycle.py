"""Auto Scaling termination lifecycle hooks, which moto stores but never runs.

On AWS an Auto Scaling group with an `autoscaling:EC2_INSTANCE_TERMINATING` hook does not
terminate an instance it chose (TerminateInstanceInAutoScalingGroup, a lower desired capacity or
MaxSize): the instance goes to `Terminating:Wait`, leaves the group's capacity, keeps running, and
an `EC2 Instance-terminate Lifecycle Action` event is put on EventBridge. It is terminated when
CompleteLifecycleAction answers (CONTINUE or ABANDON: both terminate), or when the hook's
HeartbeatTimeout passes without RecordLifecycleActionHeartbeat (then its DefaultResult applies).
A fleet controller drains the instance's ECS tasks in that window.

moto 5.2.5 ignores `LifecycleHookSpecificationList` (CloudFormation and CreateAutoScalingGroup),
has no wait state and does not implement CompleteLifecycleAction or
RecordLifecycleActionHeartbeat; this module patches all of that, once per process. Timeouts run
on the sandbox's clock (`route_lifecycle_timers`), so `Sandbox.advance` drives them; every
patched path runs with the sandbox lock held (moto requests and clock steps both take it).
Groups without a termination hook keep moto's behaviour.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import moto_bridge
from .clock import SandboxClock

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
WAIT = "Terminating:Wait"
RESULTS = ("CONTINUE", "ABANDON")
# AWS ends a lifecycle action after 100 heartbeat timeouts or 48 hours, whichever is sooner.
MAX_GLOBAL_TIMEOUT = 172800.0
HOOK_FIELDS = ("LifecycleHookName", "LifecycleTransition", "HeartbeatTimeout", "DefaultResult",
               "NotificationMetadata", "NotificationTargetARN", "RoleARN")

_PATCHED = "_ecsfleet_sandbox_lifecycle"
_ACTIONS = "_ecsfleet_sandbox_lifecycle_actions"  # on moto's backend, so moto's reset forgets them
_DELETING = "_ecsfleet_sandbox_deleting"
_CFN_HOOKS = "_ecsfleet_sandbox_cfn_hooks"

ClockSource = Callable[[], SandboxClock]
# moto's state is per process; the sandbox started last (and not yet stopped) runs the timers.
_clocks: list[ClockSource] = []


def route_lifecycle_timers(source: ClockSource) -> None:
    _clocks.append(source)


def unroute_lifecycle_timers(source: ClockSource) -> None:
    if source in _clocks:
        _clocks.remove(source)


@dataclass
class _Action:
    group_name: str
    hook_name: str
    instance_id: str
    token: str
    default_result: str
    heartbeat_timeout: float
    deadline: float
    # A heartbeat re-arms the timeout; a timer that fires for an older arming does nothing.
    armed: int = 0


def _clock() -> SandboxClock | None:
    return _clocks[-1]() if _clocks else None


def _now() -> float:
    clock = _clock()
    return clock.now() if clock is not None else time.time()


def sandbox_now() -> float:
    """The clock of the running sandbox (the wall clock when none runs): what moto patches time by."""
    return _now()


def _actions(backend: Any) -> dict[str, dict[str, _Action]]:
    """Pending actions by instance id, then hook name."""
    found: dict[str, dict[str, _Action]] | None = backend.__dict__.get(_ACTIONS)
    if found is None:
        found = {}
        setattr(backend, _ACTIONS, found)
    return found


def _validation_error(message: str) -> Exception:
    from moto.autoscaling.exceptions import ValidationError

    error: Exception = ValidationError(message)
    return error


def termination_hooks(group: Any) -> list[Any]:
    return [hook for hook in group.autoscaling_backend.lifecycle_hooks.values()
            if hook.auto_scaling_group_name == group.name and hook.lifecycle_transition == TERMINATING]


def _waiting(group: Any) -> list[Any]:
    return [s for s in group.instance_states if s.lifecycle_state == WAIT]


def _runs_hooks(group: Any) -> bool:
    if getattr(group, _DELETING, False):
        return False
    return bool(termination_hooks(group) or _waiting(group))


def put_hook(backend: Any, group_name: str, spec: dict[str, Any]) -> Any:
    """Create or replace a hook from PutLifecycleHook / LifecycleHookSpecification fields. A field
    left out of an update keeps the hook's value (moto reset it to its default)."""
    old = next((h for h in backend.lifecycle_hooks.values()
                if h.name == spec["LifecycleHookName"] and h.auto_scaling_group_name == group_name), None)
    timeout = spec.get("HeartbeatTimeout")
    if timeout in (None, "") and old is not None:
        timeout = old.heartbeat_timeout
    hook = backend.create_lifecycle_hook(
        name=spec["LifecycleHookName"], as_name=group_name,
        transition=spec.get("LifecycleTransition") or (old.lifecycle_transition if old else None),
        timeout=int(timeout) if timeout not in (None, "") else None,
        result=spec.get("DefaultResult") or (old.default_result if old else None))
    # moto fills these with made-up ARNs; AWS shows what was given, or nothing.
    hook.notification_target_arn = spec.get("NotificationTargetARN")
    hook.role_arn = spec.get("RoleARN")
    hook.notification_metadata = spec.get("NotificationMetadata")
    hook.global_timeout = int(min(100 * hook.heartbeat_timeout, MAX_GLOBAL_TIMEOUT))
    return hook


def _put_hook_specs(group: Any, specs: list[dict[str, Any]] | None) -> None:
    """CloudFormation owns the hooks it listed: those dropped from the list are deleted."""
    backend = group.autoscaling_backend
    names = {str(spec["LifecycleHookName"]) for spec in specs or []}
    for stale in set(getattr(group, _CFN_HOOKS, set())) - names:
        backend.delete_lifecycle_hook(group.name, stale)
    for spec in specs or []:
        put_hook(backend, group.name, spec)
    setattr(group, _CFN_HOOKS, names)


# ---- the lifecycle action ---------------------------------------------------------------------


def _begin_termination(group: Any, state: Any, hooks: list[Any]) -> None:
    """The instance leaves the group's capacity and waits for its hooks; without hooks it goes."""
    backend = group.autoscaling_backend
    if not hooks:
        _terminate(backend, state.instance.id)
        return
    state.lifecycle_state = WAIT
    now = _now()
    pending = _actions(backend).setdefault(state.instance.id, {})
    for hook in hooks:
        timeout = float(hook.heartbeat_timeout)
        action = _Action(group.name, hook.name, state.instance.id, str(uuid.uuid4()), hook.default_result,
                         timeout, now + min(100 * timeout, MAX_GLOBAL_TIMEOUT))
        pending[hook.name] = action
        _arm(backend, action)
        detail = {
            "Origin": "AutoScalingGroup",
            "Destination": "EC2",
            "LifecycleActionToken": action.token,
            "AutoScalingGroupName": group.name,
            "LifecycleHookName": hook.name,
            "EC2InstanceId": state.instance.id,
            "LifecycleTransition": TERMINATING,
        }
        if getattr(hook, "notification_metadata", None):
            detail["NotificationMetadata"] = hook.notification_metadata
        moto_bridge.put_event(group.region, "EC2 Instance-terminate Lifecycle Action", "aws.autoscaling",
                              [group.arn], detail, now)


def _arm(backend: Any, action: _Action) -> None:
    action.armed += 1
    clock = _clock()
    if clock is None:
        return
    armed = action.armed

    def timed_out() -> None:
        if action.armed == armed:
            _finish(backend, action, action.default_result)

    clock.call_at(min(clock.now() + action.heartbeat_timeout, action.deadline), timed_out)


def _finish(backend: Any, action: _Action, result: str) -> None:
    """CONTINUE lets the instance's other hooks finish; ABANDON ends them. Then it terminates."""
    pending = _actions(backend).get(action.instance_id, {})
    if pending.get(action.hook_name) is not action:
        return
    del pending[action.hook_name]
    if result == "ABANDON":
        pending.clear()
    if pending:
        return
    _actions(backend).pop(action.instance_id, None)
    _terminate(backend, action.instance_id)


def _terminate(backend: Any, instance_id: str) -> None:
    for group in backend.autoscaling_groups.values():
        kept = [s for s in group.instance_states if s.instance.id != instance_id]
        if len(kept) != len(group.instance_states):
            group.instance_states = kept
            backend.update_attached_elbs(group.name)
    instance = backend.ec2_backend.get_instance_by_id(instance_id)
    if instance is not None and instance._state.name != "terminated":
        backend.ec2_backend.terminate_instances([instance_id])


def pending_action(backend: Any, group_name: str | None, hook_name: str | None, instance_id: str | None,
                   token: str | None) -> Any:
    """The lifecycle action waiting on this hook for this instance (or token), or None. Read-only:
    the sandbox's rules ask it before CompleteLifecycleAction and RecordLifecycleActionHeartbeat."""
    actions: dict[str, dict[str, _Action]] = backend.__dict__.get(_ACTIONS) or {}
    for iid, pending in actions.items():
        action = pending.get(hook_name or "")
        if action is None or action.group_name != group_name:
            continue
        if (instance_id and iid == instance_id) or (not instance_id and token and action.token == token):
            return action
    return None


def _find_action(backend: Any, group_name: str | None, hook_name: str | None, instance_id: str | None,
                 token: str | None) -> _Action:
    action: _Action | None = pending_action(backend, group_name, hook_name, instance_id, token)
    if action is not None:
        return action
    if instance_id:
        raise _validation_error(f"No active Lifecycle Action found with instance ID {instance_id}")
    if token:
        raise _validation_error(f"No active Lifecycle Action found with token {token}")
    raise _validation_error("Either InstanceId or LifecycleActionToken must be specified.")


def complete_lifecycle_action(backend: Any, group_name: str | None, hook_name: str | None, result: str | None,
                              instance_id: str | None = None, token: str | None = None) -> None:
    if result not in RESULTS:
        raise _validation_error(
            f"Value '{result}' at 'lifecycleActionResult' failed to satisfy constraint: "
            "Member must be one of CONTINUE, ABANDON")
    _finish(backend, _find_action(backend, group_name, hook_name, instance_id, token), result)


def record_heartbeat(backend: Any, group_name: str | None, hook_name: str | None, instance_id: str | None = None,
                     token: str | None = None) -> None:
    _arm(backend, _find_action(backend, group_name, hook_name, instance_id, token))


# ---- patches ----------------------------------------------------------------------------------


def _patch_group() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup

    set_desired_capacity, update = FakeAutoScalingGroup.set_desired_capacity, FakeAutoScalingGroup.update

    def hooked_set_desired_capacity(self: Any, new_capacity: int | None) -> None:
        mixed = self.mixed_instances_policy and (self.mixed_instances_policy.get("LaunchTemplate") or {}).get(
            "Overrides")
        if mixed or not _runs_hooks(self):
            set_desired_capacity(self, new_capacity)
            return
        desired = self.min_size if new_capacity is None else new_capacity
        active = self.active_instances()
        excess = len(active) - int(desired or 0)
        if excess <= 0:
            set_desired_capacity(self, desired)  # moto launches what is missing
            return
        self.desired_capacity = desired
        # Only instances in service are candidates (one already waiting is never picked twice).
        candidates = [s for s in active if not s.protected_from_scale_in]
        if "NewestInstance" in (self.termination_policies or []):
            candidates.reverse()
        hooks = termination_hooks(self)
        for state in candidates[:excess]:
            _begin_termination(self, state, hooks)
        if self.name in self.autoscaling_backend.autoscaling_groups:
            self.autoscaling_backend.update_attached_elbs(self.name)

    def hooked_update(self: Any, *args: Any, **kwargs: Any) -> None:
        # moto compares MaxSize with every instance the group holds, waiting ones included; AWS
        # keeps the desired capacity and clamps it into the new [MinSize, MaxSize].
        if _runs_hooks(self) and not args and kwargs.get("desired_capacity") is None:
            low = kwargs.get("min_size") if kwargs.get("min_size") is not None else self.min_size
            high = kwargs.get("max_size") if kwargs.get("max_size") is not None else self.max_size
            desired = max(int(self.desired_capacity or 0), int(low or 0))
            kwargs["desired_capacity"] = desired if high is None else min(desired, int(high))
        update(self, *args, **kwargs)

    FakeAutoScalingGroup.set_desired_capacity = hooked_set_desired_capacity  # type: ignore[method-assign]
    FakeAutoScalingGroup.update = hooked_update  # type: ignore[method-assign]

    # Applied after moto_fleets: its in-place update is the one wrapped here.
    create = FakeAutoScalingGroup.create_from_cloudformation_json
    cfn_update = FakeAutoScalingGroup.update_from_cloudformation_json

    def cfn_create_with_hooks(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                              region_name: str, **kwargs: Any) -> Any:
        group = create(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        _put_hook_specs(group, cloudformation_json["Properties"].get("LifecycleHookSpecificationList"))
        return group

    def cfn_update_with_hooks(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                              account_id: str, region_name: str) -> Any:
        # Hooks first: an update that adds a hook and lowers MaxSize holds the instances it removes.
        specs = cloudformation_json["Properties"].get("LifecycleHookSpecificationList")
        _put_hook_specs(original_resource, specs)
        group = cfn_update(original_resource, new_resource_name, cloudformation_json, account_id, region_name)
        if group is not original_resource:
            _put_hook_specs(group, specs)
        return group

    FakeAutoScalingGroup.create_from_cloudformation_json = classmethod(cfn_create_with_hooks)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(cfn_update_with_hooks)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]


def _patch_backend() -> None:
    from moto.autoscaling.models import AutoScalingBackend, TerminateInstanceActivity

    terminate_instance = AutoScalingBackend.terminate_instance
    delete_group = AutoScalingBackend.delete_auto_scaling_group

    def hooked_terminate_instance(self: Any, instance_id: str, should_decrement: bool) -> Any:
        state = next((s for g in self.autoscaling_groups.values() for s in g.instance_states
                      if s.instance.id == instance_id), None)
        if state is None:
            raise _validation_error(
                f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
        group = state.instance.autoscaling_group
        if not _runs_hooks(group):
            return terminate_instance(self, instance_id, should_decrement)
        if state.lifecycle_state not in ("InService", "Standby"):
            raise _validation_error(f"The instance {instance_id} is not in InService or Standby.")
        original_size = group.desired_capacity
        # moto counts only InService instances toward capacity: a Standby one has nothing to give back.
        if should_decrement and state.lifecycle_state == "InService":
            if int(group.desired_capacity or 0) <= int(group.min_size or 0):
                raise _validation_error(
                    f"Currently, desiredSize equals minSize ({group.min_size}). Terminating instance without "
                    "replacement will violate group's min size constraint. Either set "
                    "shouldDecrementDesiredCapacity flag to false or lower group's min size.")
            group.desired_capacity -= 1
        _begin_termination(group, state, termination_hooks(group))
        # Without the decrement the waiting instance no longer counts: a replacement launches.
        group.set_desired_capacity(group.desired_capacity)
        return TerminateInstanceActivity(state.instance, original_size)

    def delete_group_and_hooks(self: Any, group_name: str) -> None:
        # Deleting a group ends its lifecycle actions; its instances terminate without waiting.
        group = self.autoscaling_groups.get(group_name)
        if group is not None:
            setattr(group, _DELETING, True)
            for state in _waiting(group):
                # moto's scale-in to zero counts InService instances only, then takes any.
                _actions(self).pop(state.instance.id, None)
                state.lifecycle_state = "InService"
        delete_group(self, group_name)
        for key, hook in list(self.lifecycle_hooks.items()):
            if hook.auto_scaling_group_name == group_name:
                del self.lifecycle_hooks[key]

    AutoScalingBackend.terminate_instance = hooked_terminate_instance  # type: ignore[method-assign]
    AutoScalingBackend.delete_auto_scaling_group = delete_group_and_hooks  # type: ignore[method-assign]


def _patch_responses() -> None:
    from moto.autoscaling.responses import AutoScalingResponse
    from moto.core.responses import EmptyResult

    response: Any = AutoScalingResponse
    create_group = response.create_auto_scaling_group

    def create_auto_scaling_group(self: Any) -> Any:
        result = create_group(self)
        specs = self._get_param("LifecycleHookSpecificationList", [])
        if specs:
            group = self.autoscaling_backend.autoscaling_groups[self._get_param("AutoScalingGroupName")]
            for spec in specs:
                put_hook(self.autoscaling_backend, group.name, spec)
        return result

    def put_lifecycle_hook(self: Any) -> Any:
        put_hook(self.autoscaling_backend, self._get_param("AutoScalingGroupName"),
                 {name: self._get_param(name) for name in HOOK_FIELDS})
        return EmptyResult()

    def complete(self: Any) -> Any:
        complete_lifecycle_action(
            self.autoscaling_backend, self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName"),
            self._get_param("LifecycleActionResult"), instance_id=self._get_param("InstanceId"),
            token=self._get_param("LifecycleActionToken"))
        return EmptyResult()

    def heartbeat(self: Any) -> Any:
        record_heartbeat(
            self.autoscaling_backend, self._get_param("AutoScalingGroupName"), self._get_param("LifecycleHookName"),
            instance_id=self._get_param("InstanceId"), token=self._get_param("LifecycleActionToken"))
        return EmptyResult()

    # moto dispatches a query action to the response method named after it in snake case.
    response.create_auto_scaling_group = create_auto_scaling_group
    response.put_lifecycle_hook = put_lifecycle_hook
    response.complete_lifecycle_action = complete
    response.record_lifecycle_action_heartbeat = heartbeat


def patch_moto_lifecycle() -> None:
    """Apply after `patch_moto_fleets` (the CloudFormation update wrapped here is its own)."""
    from moto.autoscaling.models import FakeAutoScalingGroup

    if getattr(FakeAutoScalingGroup, _PATCHED, False):
        return
    _patch_group()
    _patch_backend()
    _patch_responses()
    setattr(FakeAutoScalingGroup, _PATCHED, True)
