"""The sandbox's rules for ec2: each a documented refusal of the API, checked before the emulator."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .base import Call, Refusal, Rule, as_mapping, not_enforced, param, rule

_API = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/"
_ERRORS = _API + "errors-overview.html"
_MODIFY = _API + "API_ModifySpotFleetRequest.html"
_REQUEST = _API + "API_RequestSpotFleet.html"
_CONFIG = _API + "API_SpotFleetRequestConfigData.html"
_DESCRIBE_FLEETS = _API + "API_DescribeSpotFleetRequests.html"
_DESCRIBE_FLEET_INSTANCES = _API + "API_DescribeSpotFleetInstances.html"
_CANCEL = _API + "API_CancelSpotFleetRequests.html"
_DESCRIBE_INSTANCES = _API + "API_DescribeInstances.html"
_TERMINATE = _API + "API_TerminateInstances.html"
_RUN = _API + "API_RunInstances.html"
_VPCS = _API + "API_DescribeVpcs.html"
_SUBNETS = _API + "API_DescribeSubnets.html"
_IMAGES = _API + "API_DescribeImages.html"
_CREATE_GROUP = _API + "API_CreateSecurityGroup.html"
_INGRESS = _API + "API_AuthorizeSecurityGroupIngress.html"
_TEMPLATE = _API + "API_CreateLaunchTemplate.html"
_PRICE_HISTORY = _API + "API_DescribeSpotPriceHistory.html"

# EC2 resource ids: a prefix, a dash, then 8 or 17 lower-case hex digits.
_INSTANCE_ID = re.compile(r"i-(?:[0-9a-f]{8}|[0-9a-f]{17})")
ALLOCATION_STRATEGIES = ("lowestPrice", "diversified", "capacityOptimized", "capacityOptimizedPrioritized",
                         "priceCapacityOptimized")
TERMINATION_POLICIES = ("noTermination", "default")
FLEET_MAX_RESULTS = 1000
_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "all": "-1"}


def _ec2(call: Call) -> Any:
    return call.world.moto("ec2")


def _fleet(call: Call) -> Any:
    return _ec2(call).spot_fleet_requests.get(param(call, "SpotFleetRequestId"))


def _invalid(message: str) -> Refusal:
    return Refusal("InvalidParameterValue", message)


# ---- spot fleets -------------------------------------------------------------------------------


@rule("modify_spot_fleet_must_exist", "ec2", "ModifySpotFleetRequest",
      "The spot fleet request modified must exist (InvalidSpotFleetRequestId.NotFound).", _ERRORS)
def _modify_exists(call: Call) -> Refusal | None:
    if _fleet(call) is None:
        fleet_id = param(call, "SpotFleetRequestId")
        return Refusal("InvalidSpotFleetRequestId.NotFound", f"The spot fleet request ID '{fleet_id}' does not exist")
    return None


@rule("spot_fleet_target_capacity_not_negative", "ec2", ("ModifySpotFleetRequest", "RequestSpotFleet"),
      "A spot fleet's TargetCapacity is a number of units: not negative.", _CONFIG)
def _target_not_negative(call: Call) -> Refusal | None:
    target = param(call, "TargetCapacity") if call.operation == "ModifySpotFleetRequest" else param(
        call, "SpotFleetRequestConfig", "TargetCapacity")
    if target is not None and target < 0:
        return _invalid(f"Value ({target}) for parameter targetCapacity is invalid. Expecting a value greater than "
                        "or equal to 0.")
    return None


@rule("modify_only_maintain_fleets", "ec2", "ModifySpotFleetRequest",
      "Only a spot fleet request of type maintain can be modified (FleetNotInModifiableState).", _MODIFY)
def _modify_maintain_only(call: Call) -> Refusal | None:
    from ..moto_spot import fleet_type

    fleet = _fleet(call)
    if fleet is not None and fleet_type(fleet) != "maintain":
        # The message AWS answers, as quoted in public issues.
        return Refusal("FleetNotInModifiableState",
                       f"Fleet Request: {fleet.id} is not a modifiable fleet request type.")
    return None


@rule("modify_only_active_fleets", "ec2", "ModifySpotFleetRequest",
      "A spot fleet request must be active to be modified: not while it is still `modifying` from an earlier "
      "modify, nor once cancelled (FleetNotInModifiableState).", _ERRORS)
def _modify_active_only(call: Call) -> Refusal | None:
    from ..moto_spot import fleet_state

    fleet = _fleet(call)
    if fleet is None:
        return None
    state = fleet_state(fleet, call.world.now())
    if state != "active":
        return Refusal("FleetNotInModifiableState", f"Fleet Request: {fleet.id} is in state {state}. The Spot Fleet "
                                                    "request must be in the active state to modify it.")
    return None


@rule("excess_capacity_termination_policy_values", "ec2", "ModifySpotFleetRequest",
      "ExcessCapacityTerminationPolicy is noTermination or default.", _MODIFY)
def _termination_policy(call: Call) -> Refusal | None:
    policy = param(call, "ExcessCapacityTerminationPolicy")
    if policy is not None and policy not in TERMINATION_POLICIES:
        return _invalid(f"Value ({policy}) for parameter excessCapacityTerminationPolicy is invalid. Valid values: "
                        f"{', '.join(TERMINATION_POLICIES)}.")
    return None


@rule("spot_fleet_launch_specifications_or_templates", "ec2", "RequestSpotFleet",
      "A spot fleet request has LaunchSpecifications or LaunchTemplateConfigs: one of them, not both.", _CONFIG)
def _specs_or_templates(call: Call) -> Refusal | None:
    specs = param(call, "SpotFleetRequestConfig", "LaunchSpecifications", default=[])
    templates = param(call, "SpotFleetRequestConfig", "LaunchTemplateConfigs", default=[])
    if specs and templates:
        return Refusal("InvalidSpotFleetRequestConfig",
                       "LaunchSpecifications and LaunchTemplateConfigs cannot both be specified.")
    if not specs and not templates:
        return Refusal("InvalidSpotFleetRequestConfig",
                       "Either LaunchSpecifications or LaunchTemplateConfigs must be specified.")
    return None


@rule("spot_fleet_allocation_strategy_values", "ec2", "RequestSpotFleet",
      "AllocationStrategy, when given, is one of AWS's strategies (omitted, AWS uses its default).", _CONFIG)
def _allocation_strategy(call: Call) -> Refusal | None:
    strategy = param(call, "SpotFleetRequestConfig", "AllocationStrategy")
    if strategy is not None and strategy not in ALLOCATION_STRATEGIES:
        return _invalid(f"Value ({strategy}) for parameter allocationStrategy is invalid. Valid values: "
                        f"{', '.join(ALLOCATION_STRATEGIES)}.")
    return None


def _max_results(call: Call, low: int, high: int) -> Refusal | None:
    limit = param(call, "MaxResults")
    if limit is None or low <= limit <= high:
        return None
    bound = f"greater than or equal to {low}" if limit < low else f"less than or equal to {high}"
    return _invalid(f"Value ( {limit} ) for parameter maxResults is invalid. Expecting a value {bound}.")


@rule("describe_spot_fleets_max_results", "ec2", ("DescribeSpotFleetRequests", "DescribeSpotFleetInstances"),
      "MaxResults is 1 to 1000.", _DESCRIBE_FLEETS)
def _fleet_max_results(call: Call) -> Refusal | None:
    return _max_results(call, 1, FLEET_MAX_RESULTS)


@rule("spot_price_history_zone_or_zone_id", "ec2", "DescribeSpotPriceHistory",
      "AvailabilityZone or AvailabilityZoneId may be given, not both (InvalidParameterCombination).",
      _PRICE_HISTORY)
def _zone_or_zone_id(call: Call) -> Refusal | None:
    if param(call, "AvailabilityZone") is not None and param(call, "AvailabilityZoneId") is not None:
        return Refusal("InvalidParameterCombination",
                       "The parameter availabilityZone cannot be used with the parameter availabilityZoneId")
    return None


@rule("instance_types_exist", "ec2", "DescribeInstanceTypes",
      "Every instance type named exists; one that does not refuses the whole call (InvalidInstanceType).",
      _ERRORS)
def _instance_types_exist(call: Call) -> Refusal | None:
    # Imported at the call: moto's EC2 models take 150 MiB and a second to import, which a
    # process loading the sandbox's rules without serving EC2 (a benchmark, the table) does not need.
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    unknown = [str(t) for t in param(call, "InstanceTypes", default=[]) if str(t) not in INSTANCE_TYPES]
    if unknown:
        return Refusal("InvalidInstanceType",
                       f"The following supplied instance types do not exist: [{', '.join(unknown)}]")
    return None


# ---- instances ---------------------------------------------------------------------------------


def _instance_ids(call: Call) -> list[str]:
    return [str(i) for i in param(call, "InstanceIds", default=[])]


@rule("instance_id_well_formed", "ec2", ("DescribeInstances", "TerminateInstances"),
      "An instance id is i- followed by 8 or 17 hex digits (InvalidInstanceID.Malformed).", _ERRORS)
def _instance_id_format(call: Call) -> Refusal | None:
    bad = next((i for i in _instance_ids(call) if not _INSTANCE_ID.fullmatch(i)), None)
    if bad is not None:
        return Refusal("InvalidInstanceID.Malformed", f'Invalid id: "{bad}"')
    return None


@rule("instance_must_exist", "ec2", ("DescribeInstances", "TerminateInstances"),
      "Every instance named must exist (terminated ones are still known for a while).", _DESCRIBE_INSTANCES)
def _instance_exists(call: Call) -> Refusal | None:
    ec2 = _ec2(call)
    missing = [i for i in _instance_ids(call) if ec2.get_instance_by_id(i) is None]
    if len(missing) == 1:
        return Refusal("InvalidInstanceID.NotFound", f"The instance ID '{missing[0]}' does not exist")
    if missing:
        return Refusal("InvalidInstanceID.NotFound", f"The instance IDs '{', '.join(missing)}' do not exist")
    return None


@rule("describe_instances_max_results", "ec2", "DescribeInstances",
      "MaxResults is 5 to 1000, and cannot be combined with InstanceIds.", _DESCRIBE_INSTANCES)
def _instances_max_results(call: Call) -> Refusal | None:
    if param(call, "MaxResults") is not None and _instance_ids(call):
        return _invalid("The parameter instancesSet cannot be used with the parameter maxResults")
    return _max_results(call, 5, 1000)


@rule("run_instances_counts", "ec2", "RunInstances",
      "MinCount is at least 1 and not above MaxCount.", _RUN)
def _run_counts(call: Call) -> Refusal | None:
    low, high = param(call, "MinCount"), param(call, "MaxCount")
    if low is not None and low < 1:
        return _invalid(f"Value ({low}) for parameter minCount is invalid. Expecting a value greater than 0.")
    if low is not None and high is not None and low > high:
        return _invalid(f"Value ({low}) for parameter minCount is invalid. Expecting a value less than or equal "
                        f"to maxCount ({high}).")
    return None


def _image_missing(ids: Iterable[str], call: Call) -> Refusal | None:
    amis = _ec2(call).amis
    missing = [i for i in ids if i not in amis]
    if not missing:
        return None
    noun = "id" if len(missing) == 1 else "ids"
    verb = "does" if len(missing) == 1 else "do"
    return Refusal("InvalidAMIID.NotFound", f"The image {noun} '[{', '.join(missing)}]' {verb} not exist")


@rule("run_instances_image_must_exist", "ec2", "RunInstances",
      "The AMI launched must exist (InvalidAMIID.NotFound).", _RUN)
def _run_image(call: Call) -> Refusal | None:
    image = param(call, "ImageId")
    return _image_missing([image], call) if image is not None else None


def _subnet_missing(ids: Iterable[str], call: Call) -> Refusal | None:
    known = {s for zone in _ec2(call).subnets.values() for s in zone}
    missing = [i for i in ids if i not in known]
    if len(missing) == 1:
        return Refusal("InvalidSubnetID.NotFound", f"The subnet ID '{missing[0]}' does not exist")
    if missing:
        return Refusal("InvalidSubnetID.NotFound", f"The subnet IDs '{', '.join(missing)}' do not exist")
    return None


@rule("run_instances_subnet_must_exist", "ec2", "RunInstances",
      "The subnet launched into must exist (InvalidSubnetID.NotFound).", _RUN)
def _run_subnet(call: Call) -> Refusal | None:
    subnet = param(call, "SubnetId")
    return _subnet_missing([subnet], call) if subnet is not None else None


# ---- network and images ------------------------------------------------------------------------


@rule("describe_vpcs_ids_must_exist", "ec2", "DescribeVpcs",
      "Every VpcId named must exist (InvalidVpcID.NotFound).", _VPCS)
def _vpcs_exist(call: Call) -> Refusal | None:
    vpcs = _ec2(call).vpcs
    missing = [str(v) for v in param(call, "VpcIds", default=[]) if v not in vpcs]
    if missing:
        # AWS's sentence (moto answers "VpcID {...} does not exist.").
        return Refusal("InvalidVpcID.NotFound", f"The vpc ID '{', '.join(missing)}' does not exist")
    return None


@rule("describe_subnets_ids_must_exist", "ec2", "DescribeSubnets",
      "Every SubnetId named must exist (InvalidSubnetID.NotFound).", _SUBNETS)
def _subnets_exist(call: Call) -> Refusal | None:
    return _subnet_missing([str(s) for s in param(call, "SubnetIds", default=[])], call)


@rule("describe_images_ids_must_exist", "ec2", "DescribeImages",
      "Every ImageId named must exist (InvalidAMIID.NotFound).", _IMAGES)
def _images_exist(call: Call) -> Refusal | None:
    return _image_missing([str(i) for i in param(call, "ImageIds", default=[])], call)


def _default_vpc(call: Call) -> str | None:
    vpc = getattr(_ec2(call), "default_vpc", None)
    return str(vpc.id) if vpc is not None else None


@rule("security_group_name_unique_in_vpc", "ec2", "CreateSecurityGroup",
      "A security group's name is unique in its VPC (InvalidGroup.Duplicate).", _CREATE_GROUP)
def _group_unique(call: Call) -> Refusal | None:
    name, vpc = param(call, "GroupName"), param(call, "VpcId") or _default_vpc(call)
    groups = _ec2(call).groups.get(vpc) or {}
    if any(g.name == name for g in groups.values()):
        return Refusal("InvalidGroup.Duplicate", f"The security group '{name}' already exists for VPC '{vpc}'")
    return None


def _security_group(call: Call) -> Any:
    ec2 = _ec2(call)
    group_id, name = param(call, "GroupId"), param(call, "GroupName")
    if group_id is not None:
        return ec2.get_security_group_from_id(group_id)
    return ec2.get_security_group_from_name(name, _default_vpc(call)) if name is not None else None


@rule("ingress_security_group_must_exist", "ec2", "AuthorizeSecurityGroupIngress",
      "The security group must exist (InvalidGroup.NotFound).", _INGRESS)
def _ingress_group_exists(call: Call) -> Refusal | None:
    if _security_group(call) is None:
        named = param(call, "GroupId") or param(call, "GroupName")
        return Refusal("InvalidGroup.NotFound", f"The security group '{named}' does not exist")
    return None


def _protocol(value: object) -> str:
    text = str(value).lower()
    return _PROTOCOLS.get(text, text)


def _peers(permission: dict[str, Any]) -> list[str]:
    return ([str(as_mapping(r).get("CidrIp")) for r in permission.get("IpRanges") or []]
            + [str(as_mapping(r).get("CidrIpv6")) for r in permission.get("Ipv6Ranges") or []]
            + [str(as_mapping(p).get("GroupId")) for p in permission.get("UserIdGroupPairs") or []])


def _existing(group: Any) -> set[tuple[str, object, object, str]]:
    found = set()
    for r in group.ingress_rules:
        peer = r.ip_range.get("CidrIp") or r.ip_range.get("CidrIpv6") or r.source_group.get("GroupId")
        found.add((_protocol(r.ip_protocol), r.from_port, r.to_port, str(peer)))
    return found


@rule("ingress_rule_not_duplicate", "ec2", "AuthorizeSecurityGroupIngress",
      "A rule the group already has cannot be added again (InvalidPermission.Duplicate).", _INGRESS)
def _ingress_not_duplicate(call: Call) -> Refusal | None:
    group = _security_group(call)
    if group is None:
        return None
    existing = _existing(group)
    for permission in (dict(as_mapping(p)) for p in param(call, "IpPermissions", default=[])):
        protocol = _protocol(permission.get("IpProtocol"))
        ports = (permission.get("FromPort"), permission.get("ToPort")) if protocol != "-1" else (None, None)
        for peer in _peers(permission):
            if (protocol, *ports, peer) in existing:
                return Refusal("InvalidPermission.Duplicate",
                               f'the specified rule "peer: {peer}, {protocol.upper()}, from port: {ports[0]}, to '
                               f'port: {ports[1]}, ALLOW" already exists')
    return None


@rule("launch_template_name_unique", "ec2", "CreateLaunchTemplate",
      "A launch template's name is unique in the Region.", _TEMPLATE)
def _template_unique(call: Call) -> Refusal | None:
    if param(call, "LaunchTemplateName") in _ec2(call).launch_template_name_to_ids:
        return Refusal("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
    return None


_DESCRIBE_UNKNOWN_FLEET = not_enforced(
    "describe_spot_fleet_must_exist", "ec2", ("DescribeSpotFleetRequests", "DescribeSpotFleetInstances"),
    "An unknown spot fleet request id is refused (InvalidSpotFleetRequestId.NotFound).", _DESCRIBE_FLEET_INSTANCES,
    why="moto forgets a fleet cancelled with its instances at once, where AWS still describes it (cancelled) for "
        "48 hours: refusing an id moto forgot would refuse what AWS answers.")

_CANCEL_UNKNOWN_FLEET = not_enforced(
    "cancel_spot_fleet_unknown_id", "ec2", "CancelSpotFleetRequests",
    "An unknown id is not an error of the call: it is listed under UnsuccessfulFleetRequests "
    "(fleetRequestIdDoesNotExist).", _CANCEL,
    why="not a refusal: moto_spot answers it in AWS's shape (moto crashed on it).")

RULES: tuple[Rule, ...] = (
    _modify_exists, _target_not_negative, _termination_policy, _modify_maintain_only, _modify_active_only,
    _specs_or_templates, _allocation_strategy, _fleet_max_results, _instance_id_format, _instance_exists,
    _instances_max_results, _run_counts, _run_image, _run_subnet, _vpcs_exist, _subnets_exist, _images_exist,
    _group_unique, _ingress_group_exists, _ingress_not_duplicate, _template_unique, _DESCRIBE_UNKNOWN_FLEET,
    _CANCEL_UNKNOWN_FLEET, _zone_or_zone_id, _instance_types_exist,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "A spot fleet is `modifying` for a fixed, configurable time after an API modify "
    "(`Sandbox(spot_modifying_seconds=5)`, sandbox clock); a CloudFormation update of its TargetCapacity changes "
    "it at once without the `modifying` window.",
    "Spot capacity is always available: a spot fleet is fulfilled in the call that asks (from the pools its "
    "allocation strategy chooses, among those whose price is within the bid), except after an interruption "
    "(`Sandbox.interrupt_spot`). capacityOptimized and capacityOptimizedPrioritized, which choose by spare "
    "capacity on AWS, choose as priceCapacityOptimized (the cheapest pool per unit of weight).",
    "Spot prices change only when set (`Sandbox.set_spot_price`, `ecsfleet sandbox spot-price`); until then a "
    "pool costs 35% of the type's on-demand price in ecsfleet's table, a few per cent apart by zone. They are "
    "Linux/UNIX prices: DescribeSpotPriceHistory answers nothing for other products.",
    "EC2 quotas (vCPU limits per instance family, security groups per VPC, rules per group) are not emulated.",
    "Messages of refusals whose wording AWS does not document (InvalidParameterValue on counts and enumerations, "
    "FleetNotInModifiableState for a fleet in another state than active) follow EC2's usual sentence shape; the "
    "codes are AWS's.",
)
