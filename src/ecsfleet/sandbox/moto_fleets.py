"""Where moto's spot fleets and Auto Scaling groups differ from AWS in ways a fleet controller
would trip over, the sandbox patches moto's classes here (once per process):

- CloudFormation's `AWS::EC2::SpotFleet` reads only `LaunchSpecifications`; AWS also takes
  `LaunchTemplateConfigs` (every override, not only the first), `TagSpecifications` and
  `InstanceInterruptionBehavior`.
- Deleting a stack left its spot fleet and instances running; AWS cancels the request and, with
  `TerminateInstancesWithExpiration`, terminates its instances.
- A stack update replaced the spot fleet and the Auto Scaling group (new instances, old ones
  terminated); AWS updates `TargetCapacity`, `MinSize` and `MaxSize` in place.
- An instance of a spot fleet terminated on its own (TerminateInstances, a spot interruption)
  stayed counted in the fleet's fulfilled capacity.
- A stack update that changes only a parameter left alone the resources that use it through a
  condition (`Fn::If`); AWS updates them (a fleet's `Status` sets its group's MinSize that way).
- DescribeStacks showed a `List<...>` parameter as a Python list's repr; AWS joins it with commas.
- `fail_stack` makes the next create or update of a stack end the way AWS reports a failed
  resource: a `*_FAILED` event with its reason and a stack in ROLLBACK_COMPLETE (the rollback of
  a create is moto_cloudformation's, as for any resource that fails) / UPDATE_ROLLBACK_COMPLETE.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .moto_cloudformation import ResourceFailed

_PATCHED = "_ecsfleet_sandbox_patched"
# stack name -> (logical id, reason) of the resource whose next create or update fails.
_failing_stacks: dict[str, tuple[str, str]] = {}


def fail_stack(stack_name: str, logical_id: str, reason: str) -> None:
    _failing_stacks[stack_name] = (logical_id, reason)


def clear_stack_failures() -> None:
    _failing_stacks.clear()


def _update_failed(stack: Any) -> bool:
    """Fail this update as CloudFormation would if a fault is armed for the stack."""
    from moto.cloudformation.models import Event

    armed = _failing_stacks.pop(stack.name, None)
    if armed is None:
        return False
    logical_id, reason = armed
    resource_type = (stack.template_dict.get("Resources", {}).get(logical_id) or {}).get("Type", "AWS::Unknown")
    stack._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.events.append(Event(
        stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=logical_id,
        physical_resource_id="", resource_type=resource_type, resource_status="UPDATE_FAILED",
        resource_status_reason=reason, resource_properties=None))
    stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS",
                           resource_status_reason=f"The following resource(s) failed to update: [{logical_id}]. ")
    stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
    stack.status = "UPDATE_ROLLBACK_COMPLETE"
    return True


def _launch_specs(ec2: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """LaunchTemplateConfigs -> one launch specification per override, as AWS expands them."""
    specs: list[dict[str, Any]] = list(config.get("LaunchSpecifications") or [])
    for entry in config.get("LaunchTemplateConfigs") or []:
        ref = entry["LaunchTemplateSpecification"]
        template = (ec2.get_launch_template(template_id=ref["LaunchTemplateId"]) if "LaunchTemplateId" in ref
                    else ec2.get_launch_template_by_name(name=ref["LaunchTemplateName"]))
        data = dict(template.latest_version().data)
        data.setdefault("SecurityGroups", data.get("SecurityGroupIds", []))
        for override in entry.get("Overrides") or [{}]:
            subnets = str(override.get("SubnetId") or "").split(",")
            for subnet in subnets:
                spec = {**data, **{k: v for k, v in override.items() if k != "SubnetId"}}
                if subnet:
                    spec["SubnetId"] = subnet.strip()
                specs.append(spec)
    return specs


def _spot_fleet_create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                       **_: Any) -> Any:
    from moto.ec2.models import ec2_backends

    config = cloudformation_json["Properties"]["SpotFleetRequestConfigData"]
    ec2 = ec2_backends[account_id][region_name]
    return ec2.request_spot_fleet(
        spot_price=config.get("SpotPrice"),
        target_capacity=config["TargetCapacity"],
        iam_fleet_role=config["IamFleetRole"],
        allocation_strategy=config.get("AllocationStrategy", "lowestPrice"),
        launch_specs=_launch_specs(ec2, config),
        instance_interruption_behaviour=config.get("InstanceInterruptionBehavior"),
        tag_specifications=config.get("TagSpecifications"),
    )


def _spot_fleet_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                       account_id: str, region_name: str) -> Any:
    from moto.ec2.models import ec2_backends

    target = int(cloudformation_json["Properties"]["SpotFleetRequestConfigData"]["TargetCapacity"])
    ec2_backends[account_id][region_name].modify_spot_fleet_request(original_resource.id, target, "Default")
    return original_resource


def _spot_fleet_delete(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                       region_name: str) -> None:
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account_id][region_name]
    fleet = ec2.spot_fleet_requests.get(resource_name)
    if fleet is None:
        return
    if any(r.instance is not None for r in fleet.spot_requests):
        ec2.cancel_spot_fleet_requests([resource_name], terminate_instances=True)
    else:  # moto's cancel asks EC2 to terminate an empty list, which EC2 refuses
        del ec2.spot_fleet_requests[resource_name]


def _asg_update(cls: Any, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
                account_id: str, region_name: str) -> Any:
    """Sizes change in place; the desired capacity a controller set is kept while it fits."""
    props = cloudformation_json["Properties"]
    group = original_resource
    min_size = int(props.get("MinSize", group.min_size))
    max_size = int(props.get("MaxSize", group.max_size))
    desired = min(max(int(group.desired_capacity or 0), min_size), max_size)
    group.update(
        availability_zones=[], desired_capacity=desired, max_size=max_size, min_size=min_size,
        launch_config_name=None, launch_template={}, vpc_zone_identifier=None, health_check_period=None,
        health_check_type=None,
    )
    return group


def _forget_terminated(ec2: Any, instance_ids: list[str]) -> None:
    """Fulfilled capacity counts live instances only (moto's own scale-in forgot to lower it)."""
    gone = set(instance_ids)
    for fleet in ec2.spot_fleet_requests.values():
        fleet.spot_requests = [r for r in fleet.spot_requests if r.instance is None or r.instance.id not in gone]
        weights = {(s.instance_type, s.subnet_id): s.weighted_capacity for s in fleet.launch_specs}
        fleet.fulfilled_capacity = float(sum(
            weights.get((r.instance.instance_type, r.instance.subnet_id), 1)
            for r in fleet.spot_requests if r.instance is not None))


def walk_template(node: Any) -> Iterator[Any]:
    """Every node of a template (or of one of its blocks), depth first."""
    yield node
    if isinstance(node, Mapping):
        for value in node.values():
            yield from walk_template(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_template(value)


def _refs(node: Any) -> set[str]:
    return {n["Ref"] for n in walk_template(node) if isinstance(n, dict) and isinstance(n.get("Ref"), str)}


def _conditions_used(node: Any) -> set[str]:
    used = set()
    for n in walk_template(node):
        if isinstance(n, dict) and isinstance(n.get("Fn::If"), list) and n["Fn::If"]:
            used.add(str(n["Fn::If"][0]))
        if isinstance(n, dict) and isinstance(n.get("Condition"), str):
            used.add(n["Condition"])
    return used


def _patch_condition_updates() -> None:
    from moto.cloudformation.parsing import ResourceMap

    original = ResourceMap.build_resource_diff

    def build_resource_diff(self: Any, other_template: dict[str, Any],
                            parameters: dict[str, Any] | None = None) -> dict[str, Any]:
        diff: dict[str, Any] = original(self, other_template, parameters)
        if not parameters:
            return diff
        changed = {p for p in parameters if self.input_parameters.get(p) != parameters[p]}
        conditions = other_template.get("Conditions") or {}
        affected = {name for name, condition in conditions.items() if changed & _refs(condition)}
        for name, resource in other_template.get("Resources", {}).items():
            if name in self._resource_json_map and name not in diff["Modify"] and affected & _conditions_used(
                    resource):
                diff["Modify"].append(name)
        return diff

    ResourceMap.build_resource_diff = build_resource_diff  # type: ignore[method-assign]


def patch_moto_fleets() -> None:
    from moto.autoscaling.models import FakeAutoScalingGroup
    from moto.cloudformation.models import Stack
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.spot_requests import SpotFleetRequest

    if getattr(SpotFleetRequest, _PATCHED, False):
        return
    SpotFleetRequest.create_from_cloudformation_json = classmethod(_spot_fleet_create)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]
    SpotFleetRequest.update_from_cloudformation_json = classmethod(_spot_fleet_update)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]
    SpotFleetRequest.delete_from_cloudformation_json = classmethod(_spot_fleet_delete)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]
    FakeAutoScalingGroup.update_from_cloudformation_json = classmethod(_asg_update)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]

    terminate = EC2Backend.terminate_instances

    def terminate_instances(self: Any, instance_ids: list[str]) -> Any:
        result = terminate(self, instance_ids)
        _forget_terminated(self, instance_ids)
        return result

    EC2Backend.terminate_instances = terminate_instances  # type: ignore[method-assign]

    create_resources, update = Stack.create_resources, Stack.update

    def create_resources_or_fail(self: Any) -> None:
        armed = _failing_stacks.pop(self.name, None)
        if armed is not None:  # the create's rollback is moto_cloudformation's, as for any failed resource
            logical_id, reason = armed
            resource_type = (self.template_dict.get("Resources", {}).get(logical_id) or {}).get("Type", "AWS::Unknown")
            raise ResourceFailed(logical_id, resource_type, reason)
        create_resources(self)

    def update_or_fail(self: Any, template: str, *args: Any, **kwargs: Any) -> None:
        if not _update_failed(self):
            update(self, template, *args, **kwargs)

    parameter_list = Stack.parameter_list.fget  # type: ignore[attr-defined]

    def joined_parameter_list(self: Any) -> list[dict[str, Any]]:
        return [{**p, "ParameterValue": ",".join(map(str, p["ParameterValue"]))}
                if isinstance(p["ParameterValue"], list) else p for p in parameter_list(self)]

    _patch_condition_updates()
    Stack.parameter_list = property(joined_parameter_list)  # type: ignore[method-assign,assignment]
    Stack.create_resources = create_resources_or_fail  # type: ignore[method-assign]
    Stack.update = update_or_fail  # type: ignore[method-assign]
    setattr(SpotFleetRequest, _PATCHED, True)

