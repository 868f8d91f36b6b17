"""Spot interruptions, which moto never makes, and what AWS does after one.

A spot fleet request of type `maintain` (AWS's default) replaces an interrupted instance to get
back to its target capacity; one of type `request` does not. moto 5.2.5 drops the `Type` of a
fleet request (API and CloudFormation) and never replenishes, so this module keeps the type,
shows it in DescribeSpotFleetRequests, and launches the replacement after an interruption.
Called with the sandbox lock held.
"""

from __future__ import annotations

from typing import Any

from .ecs_model import ACCOUNT_ID

_PATCHED = "_ecsfleet_sandbox_spot"
_TYPE = "_ecsfleet_sandbox_fleet_type"


def fleet_type(fleet: Any) -> str:
    return str(getattr(fleet, _TYPE, None) or "maintain")


def running_instance(regions: list[str], instance_id: str) -> str:
    """The region of a running EC2 instance; KeyError when none runs with that id."""
    from moto.ec2.models import ec2_backends

    for region in dict.fromkeys(regions):
        instance = ec2_backends[ACCOUNT_ID][region].get_instance_by_id(instance_id)
        if instance is not None and instance._state.name in ("pending", "running"):
            return region
    raise KeyError(f"no running EC2 instance {instance_id!r} in the sandbox")


def interrupt(region: str, instance_id: str) -> None:
    """The end of a spot interruption notice: the instance terminates, its fleet replaces it."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[ACCOUNT_ID][region]
    instance = ec2.get_instance_by_id(instance_id)
    if instance is None or instance._state.name in ("shutting-down", "terminated"):
        return
    fleets = [f for f in ec2.spot_fleet_requests.values()
              if any(r.instance is not None and r.instance.id == instance_id for r in f.spot_requests)]
    # The patched terminate recomputes each fleet's fulfilled capacity from its live instances.
    ec2.terminate_instances([instance_id])
    for fleet in fleets:
        missing = fleet.target_capacity - fleet.fulfilled_capacity
        if fleet_type(fleet) == "maintain" and fleet.state == "active" and missing > 0:
            fleet.create_spot_requests(missing)
    # An Auto Scaling group running spot instances replaces them too.
    autoscaling_backends[ACCOUNT_ID][region].notify_terminate_instances([instance_id])


def patch_moto_spot() -> None:
    from moto.ec2.models.spot_requests import SpotFleetRequest
    from moto.ec2.responses.spot_fleets import SpotFleets

    if getattr(SpotFleetRequest, _PATCHED, False):
        return
    response: Any = SpotFleets
    request_spot_fleet = response.request_spot_fleet

    def request_typed_spot_fleet(self: Any) -> Any:
        result = request_spot_fleet(self)
        fleet = self.ec2_backend.spot_fleet_requests[result.result["SpotFleetRequestId"]]
        setattr(fleet, _TYPE, (self._get_param("SpotFleetRequestConfig", {}) or {}).get("Type"))
        return result

    response.request_spot_fleet = request_typed_spot_fleet

    cfn_create = SpotFleetRequest.create_from_cloudformation_json

    def cfn_create_typed(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
                         **kwargs: Any) -> Any:
        fleet = cfn_create(resource_name, cloudformation_json, account_id, region_name, **kwargs)
        setattr(fleet, _TYPE, cloudformation_json["Properties"]["SpotFleetRequestConfigData"].get("Type"))
        return fleet

    SpotFleetRequest.create_from_cloudformation_json = classmethod(cfn_create_typed)  # type: ignore[method-assign,assignment,arg-type,unused-ignore]

    config = SpotFleetRequest.spot_fleet_request_config.fget  # type: ignore[attr-defined]

    def typed_config(self: Any) -> dict[str, Any]:
        return {**config(self), "Type": fleet_type(self)}

    SpotFleetRequest.spot_fleet_request_config = property(typed_config)  # type: ignore[method-assign,assignment]
    setattr(SpotFleetRequest, _PATCHED, True)
