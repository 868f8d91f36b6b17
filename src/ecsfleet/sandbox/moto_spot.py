"""Spot interruptions, which moto never makes, and what AWS does after one.

A spot fleet request of type `maintain` (AWS's default) replaces an interrupted instance to get
back to its target capacity; one of type `request` does not. moto 5.2.5 drops the `Type` of a
fleet request (API and CloudFormation) and never replenishes, so this module keeps the type,
shows it in DescribeSpotFleetRequests, and launches the replacement after an interruption.

Where moto's spot fleet API is wrong rather than lenient, it is fixed here too:
- AWS keeps a fleet in the `modifying` state for a while after ModifySpotFleetRequest (and
  refuses a second modify meanwhile, see rules/ec2.py); moto's fleet never leaves `active`. The
  sandbox shows `modifying` for `modifying_seconds()` of sandbox time after an API modify.
- RequestSpotFleet without `AllocationStrategy` (optional: AWS defaults it) crashed moto.
- CancelSpotFleetRequests of an unknown id crashed moto; AWS lists it under
  UnsuccessfulFleetRequests. moto also answered `cancelled_terminating` for a cancel that keeps
  the instances running (`cancelled_running` on AWS).
- Which pools a fleet launches from follows its allocation strategy against the sandbox's spot
  market, and DescribeSpotPriceHistory answers from that market (spot_market.py).
Called with the sandbox lock held.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .ecs_model import ACCOUNT_ID
from .spot_market import HISTORY_MAX_RESULTS, HistoryQuery, Pool, SpotMarket, history, launches, market

_PATCHED = "_ecsfleet_sandbox_spot"
_TYPE = "_ecsfleet_sandbox_fleet_type"
_MODIFYING_UNTIL = "_ecsfleet_sandbox_modifying_until"
# AWS's default when a request names none (the API reference of SpotFleetRequestConfigData).
DEFAULT_ALLOCATION_STRATEGY = "lowestPrice"
# How long a fleet stays `modifying` after a modify, in sandbox seconds: AWS takes a few seconds
# (a spot fleet's history shows modify_in_progress, then modify_succeeded about 3 s later).
MODIFYING_SECONDS = 5.0
_modifying = [MODIFYING_SECONDS]


def set_modifying_seconds(seconds: float) -> None:
    if seconds < 0:
        raise ValueError(f"modifying seconds must not be negative, not {seconds}")
    _modifying[0] = float(seconds)


def modifying_seconds() -> float:
    return _modifying[0]


def fleet_type(fleet: Any) -> str:
    return str(getattr(fleet, _TYPE, None) or "maintain")


def fleet_state(fleet: Any, now: float) -> str:
    """The fleet's SpotFleetRequestState at `now`: `modifying` for a while after a modify."""
    state = str(fleet.state)
    if state == "active" and now < float(getattr(fleet, _MODIFYING_UNTIL, 0.0)):
        return "modifying"
    return state


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

    if getattr(SpotFleetRequest, _PATCHED, False):
        return
    _patch_responses()

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

    def state_now(self: Any) -> str:
        from .moto_lifecycle import sandbox_now

        return fleet_state(self, sandbox_now())

    SpotFleetRequest.spot_fleet_request_state = property(state_now)  # type: ignore[method-assign,assignment]
    SpotFleetRequest.get_launch_spec_counts = _launch_spec_counts  # type: ignore[method-assign]
    setattr(SpotFleetRequest, _PATCHED, True)


def region_market(ec2: Any) -> SpotMarket:
    """The spot market of an EC2 backend's region."""
    from .moto_lifecycle import sandbox_now

    return market(ec2.region_name, lambda: {z.name: z.zone_id for z in ec2.describe_availability_zones()},
                  sandbox_now())


def _zone(ec2: Any, subnet_id: str | None) -> str:
    """The zone a launch specification launches in: its subnet's (moto keeps subnets by zone);
    without one (or a subnet deleted since), moto's first zone of the region."""
    for zone, subnets in ec2.subnets.items():
        if subnet_id in subnets:
            return str(zone)
    return f"{ec2.region_name}a"


def _launch_spec_counts(self: Any, weight_to_add: float) -> tuple[dict[Any, int], float]:
    """moto's hook for what a raise launches: the pools the allocation strategy chooses."""
    ec2 = self.ec2_backend
    prices = region_market(ec2)
    pools = [Pool(spec, spec.instance_type, _zone(ec2, spec.subnet_id), spec.weighted_capacity,
                  float(spec.spot_price) if spec.spot_price else None) for spec in self.launch_specs]
    by_pool = {(p.instance_type, p.key.subnet_id): p.key for p in pools}
    running: dict[Any, int] = {}
    for request in self.spot_requests:
        instance = request.instance
        if instance is not None and instance._state.name in ("pending", "running"):
            spec = by_pool.get((instance.instance_type, instance.subnet_id))
            if spec is not None:
                running[spec] = running.get(spec, 0) + 1
    counts = launches(self.allocation_strategy or DEFAULT_ALLOCATION_STRATEGY, pools, running, weight_to_add,
                      prices.price)
    return counts, sum(spec.weighted_capacity * n for spec, n in counts.items())


def _patch_responses() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.responses.spot_fleets import SpotFleets

    from .moto_lifecycle import sandbox_now

    response: Any = SpotFleets
    modify = response.modify_spot_fleet_request

    def request_spot_fleet(self: Any) -> Any:
        # moto's own handler, less its KeyError on an AllocationStrategy left to AWS's default.
        config = self._get_param("SpotFleetRequestConfig", {}) or {}
        fleet = self.ec2_backend.request_spot_fleet(
            spot_price=config.get("SpotPrice"), target_capacity=config["TargetCapacity"],
            iam_fleet_role=config["IamFleetRole"],
            allocation_strategy=config.get("AllocationStrategy") or DEFAULT_ALLOCATION_STRATEGY,
            launch_specs=config.get("LaunchSpecifications"),
            launch_template_config=self._get_param("SpotFleetRequestConfig.LaunchTemplateConfigs", []),
            instance_interruption_behaviour=config.get("InstanceInterruptionBehavior"),
            tag_specifications=config.get("TagSpecifications", []))
        setattr(fleet, _TYPE, config.get("Type"))
        return ActionResult({"SpotFleetRequestId": fleet.id})

    def modify_and_hold(self: Any) -> Any:
        result = modify(self)
        fleet = self.ec2_backend.spot_fleet_requests.get(self._get_param("SpotFleetRequestId"))
        if fleet is not None:
            setattr(fleet, _MODIFYING_UNTIL, sandbox_now() + modifying_seconds())
        return result

    def cancel(self: Any) -> Any:
        ids = self._get_param("SpotFleetRequestIds", [])
        terminate = self._get_bool_param("TerminateInstances")
        known = [i for i in ids if i in self.ec2_backend.spot_fleet_requests]
        before = {i: fleet_state(self.ec2_backend.spot_fleet_requests[i], sandbox_now()) for i in known}
        self.ec2_backend.cancel_spot_fleet_requests(known, terminate)
        return ActionResult({
            "SuccessfulFleetRequests": [
                {"SpotFleetRequestId": i, "PreviousSpotFleetRequestState": before[i],
                 "CurrentSpotFleetRequestState": "cancelled_terminating" if terminate else "cancelled_running"}
                for i in known],
            "UnsuccessfulFleetRequests": [
                {"SpotFleetRequestId": i, "Error": {"Code": "fleetRequestIdDoesNotExist",
                                                    "Message": f"The spot fleet request ID '{i}' does not exist"}}
                for i in ids if i not in known],
        })

    def describe_spot_price_history(self: Any) -> Any:
        query = HistoryQuery(
            instance_types=self._get_param("InstanceTypes", []), products=self._get_param("ProductDescriptions", []),
            zone=self._get_param("AvailabilityZone"), zone_id=self._get_param("AvailabilityZoneId"),
            start=_epoch(self._get_param("StartTime")), end=_epoch(self._get_param("EndTime")),
            filters=self._filters_from_querystring())
        found = history(region_market(self.ec2_backend), query, sandbox_now())
        start = int(self._get_param("NextToken") or 0)
        size = int(self._get_param("MaxResults") or HISTORY_MAX_RESULTS)
        page: dict[str, Any] = {"SpotPriceHistory": found[start:start + size]}
        if start + size < len(found):
            page["NextToken"] = str(start + size)
        return ActionResult(page)

    # moto dispatches an EC2 action to the response method named after it in snake case.
    response.request_spot_fleet = request_spot_fleet
    response.modify_spot_fleet_request = modify_and_hold
    response.cancel_spot_fleet_requests = cancel
    response.describe_spot_price_history = describe_spot_price_history


def _epoch(value: Any) -> float | None:
    """A timestamp parameter (ISO 8601, as botocore sends it; or epoch seconds) as epoch seconds."""
    if value in (None, ""):
        return None
    text = str(value)
    try:
        return float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
