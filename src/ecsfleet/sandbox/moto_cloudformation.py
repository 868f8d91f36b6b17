"""Where moto's CloudFormation stacks differ from AWS in ways a deploy tool trips over, the sandbox
patches moto here (once per process):

- A resource moto refuses to create (a security group that does not exist, a subnet of another
  VPC, ...) made CreateStack itself answer that error and left the stack behind, stuck in
  CREATE_IN_PROGRESS for ever. AWS answers CreateStack with the stack's id, then reports the
  resource CREATE_FAILED with its reason, deletes what it had created (ROLLBACK_IN_PROGRESS) and
  settles in ROLLBACK_COMPLETE; with OnFailure=DELETE it deletes the stack (DELETE_COMPLETE, found
  by its id only); with OnFailure=DO_NOTHING (or DisableRollback) it stops in CREATE_FAILED.
- A stack that failed to create keeps no outputs, no exports and no resources: moto's lazy
  resource map would otherwise create them again the next time anything lists them.
- A failed update ends the way AWS reports it (UPDATE_FAILED, UPDATE_ROLLBACK_COMPLETE) instead of
  an error answered to UpdateStack.
- moto answered "No updates are to be performed." to an update that changes only the stack's
  tags; AWS performs it (the rules layer answers the real no-op updates).

Template and parameter errors that AWS refuses synchronously stay synchronous: they are the rules
layer's (`sandbox/rules/cloudformation.py`), or moto's own CloudFormation errors.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
_PATCHED = "_ecsfleet_sandbox_cloudformation_patched"
# How the CreateStack being served asked failures to end (OnFailure / DisableRollback). moto
# serves one call at a time under the sandbox lock, so the request sets it and its stack reads it.
_on_failure = {"mode": "ROLLBACK"}


class ResourceFailed(Exception):
    """A resource of a stack failed to create or update: its logical id, type and AWS's reason."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(f"{logical_id} ({resource_type}): {reason}")
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def reason_of(error: Exception) -> str:
    """AWS's resource status reason for a service's refusal: its message, then where it came from."""
    message = str(getattr(error, "message", "") or error)
    code = getattr(error, "error_type", None) or getattr(error, "code", None)
    status = getattr(error, "code", None) if getattr(error, "error_type", None) else None
    details = ", ".join(part for part in (f"Status Code: {status}" if isinstance(status, int) else "",
                                          f"Error Code: {code}" if isinstance(code, str) else "") if part)
    return f"{message} ({details})" if details else message


def _synchronous(error: Exception) -> bool:
    """moto's own template errors (a bad Fn::GetAtt, a missing export): AWS refuses those at the
    call, before the stack exists."""
    from moto.cloudformation.exceptions import CloudFormationError, UnformattedGetAttTemplateException

    return isinstance(error, CloudFormationError | UnformattedGetAttTemplateException)


def _event(stack: Any, logical_id: str, resource_type: str, status: str, reason: str | None,
           physical_id: str = "") -> None:
    from moto.cloudformation.models import Event

    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id=physical_id, resource_type=resource_type, resource_status=status,
        resource_status_reason=reason, resource_properties=None))


def _created(stack: Any) -> list[tuple[str, str, str]]:
    """(logical id, type, physical id) of the stack's resources moto has created so far."""
    resource_map = stack.resource_map
    found = []
    for logical_id, resource in resource_map._parsed_resources.items():
        if logical_id in resource_map._resource_json_map and resource is not None and not isinstance(resource, str):
            kind = str(resource_map._resource_json_map[logical_id].get("Type", ""))
            found.append((logical_id, kind, str(getattr(resource, "physical_resource_id", "") or "")))
    return found


def _forget_resources(backend: Any, stack: Any) -> None:
    """A failed stack owns nothing: no resources (the lazy map must not create them again), no
    outputs, no exports."""
    from moto.cloudformation.parsing import OutputMap

    stack.resource_map._resource_json_map = {}
    stack.output_map = OutputMap(stack.resource_map, {}, stack.stack_id)
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]


def _roll_back(backend: Any, stack: Any, failure: ResourceFailed, mode: str) -> None:
    """End a failed create as CloudFormation does: the failed resource's event, then a rollback
    (or a delete, or nothing) of what was created."""
    if not stack.events:
        stack._add_stack_event("CREATE_IN_PROGRESS", resource_status_reason="User Initiated")
    _event(stack, failure.logical_id, failure.resource_type, "CREATE_FAILED", failure.reason)
    failed = f"The following resource(s) failed to create: [{failure.logical_id}]. "
    if mode == "DO_NOTHING":
        stack.status = "CREATE_FAILED"
        stack._add_stack_event("CREATE_FAILED", resource_status_reason=failed)
        return
    deleting = mode == "DELETE"
    stack.status = "DELETE_IN_PROGRESS" if deleting else "ROLLBACK_IN_PROGRESS"
    stack._add_stack_event(stack.status, resource_status_reason=failed + (
        "Delete requested by user." if deleting else "Rollback requested by user."))
    created = _created(stack)
    try:
        stack.resource_map.delete()
    except Exception as error:  # a resource that will not go: AWS stops in *_FAILED with its reason
        log.warning("sandbox: rollback of stack %s failed: %s", stack.name, error)
        stack.status = "DELETE_FAILED" if deleting else "ROLLBACK_FAILED"
        stack._add_stack_event(stack.status, resource_status_reason=reason_of(error))
        return
    for logical_id, kind, physical_id in reversed(created):
        _event(stack, logical_id, kind, "DELETE_COMPLETE", None, physical_id)
    _forget_resources(backend, stack)
    stack.status = "DELETE_COMPLETE" if deleting else "ROLLBACK_COMPLETE"
    stack._add_stack_event(stack.status)
    if deleting:
        backend.stacks.pop(stack.stack_id, None)
        backend.deleted_stacks[stack.stack_id] = stack


def _new_stack(backend: Any, name: str) -> Any:
    return next((s for s in backend.stacks.values() if s.name == name), None)


def _patch_resource_creation() -> None:
    """Name the resource whose creation failed (moto creates dependencies lazily, from inside
    their dependents: the innermost failure is the one to report)."""
    from moto.cloudformation import parsing

    original = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        try:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        except ResourceFailed:
            raise
        except Exception as error:
            if _synchronous(error):
                raise
            raise ResourceFailed(logical_id, str(resource_json.get("Type", "")), reason_of(error)) from error

    parsing.parse_and_create_resource = parse_and_create_resource


def _patch_create() -> None:
    from moto.cloudformation.models import CloudFormationBackend
    from moto.cloudformation.responses import CloudFormationResponse

    create_stack = CloudFormationBackend.create_stack

    def create_stack_or_roll_back(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return create_stack(self, name, *args, **kwargs)
        except ResourceFailed as failure:
            stack = _new_stack(self, name)
            if stack is None:
                raise
            _roll_back(self, stack, failure, _on_failure["mode"])
            return stack
        except Exception:
            # A synchronous refusal after moto registered the stack: AWS keeps no stack then.
            stack = _new_stack(self, name)
            if stack is not None and stack.status in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
                self.stacks.pop(stack.stack_id, None)
                for export in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
                    del self.exports[export]
            raise

    respond = CloudFormationResponse.create_stack

    def create_stack_response(self: Any) -> Any:
        disable = self._get_bool_param("DisableRollback", False)
        _on_failure["mode"] = "DO_NOTHING" if disable else str(self._get_param("OnFailure") or "ROLLBACK")
        try:
            return respond(self)
        finally:
            _on_failure["mode"] = "ROLLBACK"

    CloudFormationBackend.create_stack = create_stack_or_roll_back  # type: ignore[method-assign]
    CloudFormationResponse.create_stack = create_stack_response  # type: ignore[method-assign]


def _patch_update() -> None:
    from moto.cloudformation.models import Stack

    update = Stack.update

    def update_or_roll_back(self: Any, template: str, *args: Any, **kwargs: Any) -> None:
        events = len(self.events)
        try:
            update(self, template, *args, **kwargs)
        except Exception as error:
            if _synchronous(error):
                raise
            failure = error if isinstance(error, ResourceFailed) else ResourceFailed(
                self.name, "AWS::CloudFormation::Stack", reason_of(error))
            del self.events[events + 1:]  # keep the update's UPDATE_IN_PROGRESS, drop anything after it
            if len(self.events) == events:
                self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
            _event(self, failure.logical_id, failure.resource_type, "UPDATE_FAILED", failure.reason)
            self._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=(
                f"The following resource(s) failed to update: [{failure.logical_id}]. "))
            self._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            self.status = "UPDATE_ROLLBACK_COMPLETE"

    Stack.update = update_or_roll_back  # type: ignore[method-assign]


def _patch_update_parameters_and_exports() -> None:
    """Two differences from AWS in moto's update: UsePreviousValue of a parameter that took its
    Default crashes (moto looks only at the values the create passed), and an update that adds
    exported outputs does not register them (ImportValue of them then fails)."""
    from moto.cloudformation.models import CloudFormationBackend

    def resolve(self: Any, instance: Any, incoming_params: list[dict[str, Any]]) -> dict[str, Any]:
        incoming = incoming_params
        resolved = getattr(instance, "stack_parameters", {}) or {}
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming if "ParameterValue" in p}
        for p in incoming:
            if p.get("UsePreviousValue", False):
                key = p["ParameterKey"]
                previous = instance.parameters.get(key, resolved.get(key))
                parameters[key] = ",".join(previous) if isinstance(previous, list) else previous
        return parameters

    update = CloudFormationBackend.update_stack

    def update_and_export(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        stack = update(self, name, *args, **kwargs)
        for stale in [k for k, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            self.exports.pop(stale)
        for export in stack.exports:
            self.exports[export.name] = export
        return stack

    CloudFormationBackend._resolve_update_parameters = resolve  # type: ignore[method-assign]
    CloudFormationBackend.update_stack = update_and_export  # type: ignore[method-assign]


def _no_own_sameness_check(self: Any, *_: Any) -> None:
    """moto's "No updates are to be performed." ignores tags (AWS updates a stack whose tags alone
    change); the rules layer answers it the way AWS does (update_changes_something)."""


def patch_moto_cloudformation() -> None:
    from moto.cloudformation.models import Stack
    from moto.cloudformation.responses import CloudFormationResponse

    if getattr(Stack, _PATCHED, False):
        return
    _patch_resource_creation()
    _patch_create()
    _patch_update()
    _patch_update_parameters_and_exports()
    CloudFormationResponse._validate_different_update = _no_own_sameness_check  # type: ignore[method-assign,assignment]
    setattr(Stack, _PATCHED, True)
