"""EC2 rules of the sandbox (spot fleets, instances, network): each refused call answers AWS's error code."""

from __future__ import annotations

from typing import Any

from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import any_image, network
from rules_support import refused

ROLE = "arn:aws:iam::123456789012:role/spot-fleet"
UNKNOWN_FLEET = "sfr-00000000-0000-0000-0000-000000000000"
UNKNOWN_INSTANCE = "i-0123456789abcdef0"


def _config(sb: Sandbox, target: int = 1, **extra: Any) -> dict[str, Any]:
    ec2 = sb.client("ec2")
    return {"IamFleetRole": ROLE, "TargetCapacity": target, "AllocationStrategy": "lowestPrice",
            "LaunchSpecifications": [{"ImageId": any_image(ec2), "InstanceType": "t3.micro"}], **extra}


def _fleet(sb: Sandbox, target: int = 1, **extra: Any) -> str:
    return str(sb.client("ec2").request_spot_fleet(SpotFleetRequestConfig=_config(sb, target, **extra))[
        "SpotFleetRequestId"])


def _described(sb: Sandbox, fleet: str) -> dict[str, Any]:
    (found,) = sb.client("ec2").describe_spot_fleet_requests(SpotFleetRequestIds=[fleet])["SpotFleetRequestConfigs"]
    return dict(found)


def _target(sb: Sandbox, fleet: str) -> int:
    return int(_described(sb, fleet)["SpotFleetRequestConfig"]["TargetCapacity"])


def _instance(sb: Sandbox) -> str:
    ec2 = sb.client("ec2")
    return str(ec2.run_instances(ImageId=any_image(ec2), MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"])


# ---- spot fleets -------------------------------------------------------------------------------


def test_modify_spot_fleet_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    error = refused(ec2.modify_spot_fleet_request, "InvalidSpotFleetRequestId.NotFound",
                    SpotFleetRequestId=UNKNOWN_FLEET, TargetCapacity=2)  # moto: a 500 (KeyError)
    assert UNKNOWN_FLEET in error["Message"]


def test_spot_fleet_target_capacity_not_negative(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    fleet = _fleet(sb, 2)
    refused(ec2.modify_spot_fleet_request, "InvalidParameterValue", SpotFleetRequestId=fleet, TargetCapacity=-1)
    refused(ec2.request_spot_fleet, "InvalidParameterValue", SpotFleetRequestConfig=_config(sb, -1))
    assert _target(sb, fleet) == 2
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet, TargetCapacity=0)  # zero: a fleet kept for later


def test_excess_capacity_termination_policy_values(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    fleet = _fleet(sb, 2)
    refused(ec2.modify_spot_fleet_request, "InvalidParameterValue", SpotFleetRequestId=fleet, TargetCapacity=1,
            ExcessCapacityTerminationPolicy="no-termination")
    assert _target(sb, fleet) == 2
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet, TargetCapacity=1,
                                  ExcessCapacityTerminationPolicy="noTermination")


def test_modify_only_maintain_fleets(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    one_time = _fleet(sb, 1, Type="request")
    error = refused(ec2.modify_spot_fleet_request, "FleetNotInModifiableState", SpotFleetRequestId=one_time,
                    TargetCapacity=2)
    assert error["Message"] == f"Fleet Request: {one_time} is not a modifiable fleet request type."
    assert _target(sb, one_time) == 1
    ec2.modify_spot_fleet_request(SpotFleetRequestId=_fleet(sb, 1, Type="maintain"), TargetCapacity=2)


def test_modify_only_active_fleets(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    fleet = _fleet(sb, 1)
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet, TargetCapacity=2)
    # AWS applies a modify for a while: the fleet shows `modifying` and refuses a second modify.
    assert _described(sb, fleet)["SpotFleetRequestState"] == "modifying"
    error = refused(ec2.modify_spot_fleet_request, "FleetNotInModifiableState", SpotFleetRequestId=fleet,
                    TargetCapacity=3)
    assert "modifying" in error["Message"]
    assert _target(sb, fleet) == 2
    sb.advance(sb.spot_modifying_seconds)
    assert _described(sb, fleet)["SpotFleetRequestState"] == "active"
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet, TargetCapacity=3)
    sb.advance(sb.spot_modifying_seconds)
    # A cancelled fleet is not active either.
    ec2.cancel_spot_fleet_requests(SpotFleetRequestIds=[fleet], TerminateInstances=False)
    refused(ec2.modify_spot_fleet_request, "FleetNotInModifiableState", SpotFleetRequestId=fleet, TargetCapacity=1)


def test_spot_fleet_launch_specifications_or_templates(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    ec2.create_launch_template(LaunchTemplateName="spot", LaunchTemplateData={
        "ImageId": any_image(ec2), "InstanceType": "t3.micro"})
    templates = [{"LaunchTemplateSpecification": {"LaunchTemplateName": "spot", "Version": "1"}}]
    refused(ec2.request_spot_fleet, "InvalidSpotFleetRequestConfig",
            SpotFleetRequestConfig=_config(sb, 1, LaunchTemplateConfigs=templates))
    bare = {k: v for k, v in _config(sb, 1).items() if k != "LaunchSpecifications"}
    refused(ec2.request_spot_fleet, "InvalidSpotFleetRequestConfig", SpotFleetRequestConfig=bare)
    assert ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"] == []
    ec2.request_spot_fleet(SpotFleetRequestConfig={**bare, "LaunchTemplateConfigs": templates})


def test_spot_fleet_allocation_strategy_values(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    refused(ec2.request_spot_fleet, "InvalidParameterValue",
            SpotFleetRequestConfig=_config(sb, 1, AllocationStrategy="cheapest"))
    # AllocationStrategy is optional (AWS applies its default); moto crashed on it (a 500).
    config = {k: v for k, v in _config(sb, 1).items() if k != "AllocationStrategy"}
    fleet = ec2.request_spot_fleet(SpotFleetRequestConfig=config)["SpotFleetRequestId"]
    assert _described(sb, fleet)["SpotFleetRequestConfig"]["AllocationStrategy"] == "lowestPrice"


def test_describe_spot_fleets_max_results(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    fleet = _fleet(sb)
    refused(ec2.describe_spot_fleet_requests, "InvalidParameterValue", MaxResults=1001)
    refused(ec2.describe_spot_fleet_instances, "InvalidParameterValue", SpotFleetRequestId=fleet, MaxResults=1001)
    assert len(ec2.describe_spot_fleet_instances(SpotFleetRequestId=fleet, MaxResults=1000)["ActiveInstances"]) == 1


def test_cancelling_an_unknown_fleet_is_an_unsuccessful_entry_not_a_crash(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    fleet = _fleet(sb)
    answer = ec2.cancel_spot_fleet_requests(SpotFleetRequestIds=[fleet, UNKNOWN_FLEET], TerminateInstances=False)
    assert [f["SpotFleetRequestId"] for f in answer["SuccessfulFleetRequests"]] == [fleet]
    assert answer["SuccessfulFleetRequests"][0]["CurrentSpotFleetRequestState"] == "cancelled_running"
    (failed,) = answer["UnsuccessfulFleetRequests"]
    assert (failed["SpotFleetRequestId"], failed["Error"]["Code"]) == (UNKNOWN_FLEET, "fleetRequestIdDoesNotExist")


# ---- instances ---------------------------------------------------------------------------------


def test_instance_id_well_formed(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    running = _instance(sb)
    error = refused(ec2.terminate_instances, "InvalidInstanceID.Malformed", InstanceIds=[running, "i-bogus"])
    assert error["Message"] == 'Invalid id: "i-bogus"'
    refused(ec2.describe_instances, "InvalidInstanceID.Malformed", InstanceIds=["web-1"])
    state = ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"  # the refused batch terminated nothing


def test_instance_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    running = _instance(sb)
    error = refused(ec2.terminate_instances, "InvalidInstanceID.NotFound", InstanceIds=[running, UNKNOWN_INSTANCE])
    assert error["Message"] == f"The instance ID '{UNKNOWN_INSTANCE}' does not exist"
    refused(ec2.describe_instances, "InvalidInstanceID.NotFound", InstanceIds=[UNKNOWN_INSTANCE])
    assert ec2.describe_instances(InstanceIds=[running])["Reservations"][0]["Instances"][0]["State"][
        "Name"] == "running"
    # A terminated instance is still known: terminating it again is accepted.
    ec2.terminate_instances(InstanceIds=[running])
    ec2.terminate_instances(InstanceIds=[running])


def test_describe_instances_max_results(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    running = _instance(sb)
    refused(ec2.describe_instances, "InvalidParameterValue", MaxResults=4)
    refused(ec2.describe_instances, "InvalidParameterValue", InstanceIds=[running], MaxResults=5)
    assert ec2.describe_instances(MaxResults=5)["Reservations"]


def test_run_instances_counts(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    image = any_image(ec2)
    refused(ec2.run_instances, "InvalidParameterValue", ImageId=image, MinCount=3, MaxCount=2)
    refused(ec2.run_instances, "InvalidParameterValue", ImageId=image, MinCount=0, MaxCount=2)
    assert ec2.describe_instances()["Reservations"] == []
    assert len(ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2)["Instances"]) == 2


def test_run_instances_image_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    error = refused(ec2.run_instances, "InvalidAMIID.NotFound", ImageId="ami-00000000000000000", MinCount=1,
                    MaxCount=1)
    assert error["Message"] == "The image id '[ami-00000000000000000]' does not exist"
    assert ec2.describe_instances()["Reservations"] == []


def test_run_instances_subnet_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    refused(ec2.run_instances, "InvalidSubnetID.NotFound", ImageId=any_image(ec2), MinCount=1, MaxCount=1,
            SubnetId="subnet-0000000000000000a")
    _, subnet, _ = network(sb)
    ec2.run_instances(ImageId=any_image(ec2), MinCount=1, MaxCount=1, SubnetId=subnet)


# ---- network and images ------------------------------------------------------------------------


def test_describe_vpcs_ids_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    error = refused(ec2.describe_vpcs, "InvalidVpcID.NotFound", VpcIds=["vpc-0000000000000000a"])
    assert error["Message"] == "The vpc ID 'vpc-0000000000000000a' does not exist"
    vpc, _, _ = network(sb)
    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["VpcId"] == vpc


def test_describe_subnets_ids_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    refused(ec2.describe_subnets, "InvalidSubnetID.NotFound", SubnetIds=["subnet-0000000000000000a"])
    _, subnet, _ = network(sb)
    assert ec2.describe_subnets(SubnetIds=[subnet])["Subnets"][0]["SubnetId"] == subnet


def test_describe_images_ids_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    refused(ec2.describe_images, "InvalidAMIID.NotFound", ImageIds=["ami-0000000000000000a"])
    image = any_image(ec2)
    assert ec2.describe_images(ImageIds=[image])["Images"][0]["ImageId"] == image


def test_security_group_name_unique_in_vpc(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    vpc, _, group = network(sb)
    error = refused(ec2.create_security_group, "InvalidGroup.Duplicate", GroupName="ecs-nodes", Description="again",
                    VpcId=vpc)
    assert error["Message"] == f"The security group 'ecs-nodes' already exists for VPC '{vpc}'"
    # The same name in another VPC is another group.
    other = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    assert ec2.create_security_group(GroupName="ecs-nodes", Description="x", VpcId=other)["GroupId"] != group


def test_ingress_security_group_must_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    refused(ec2.authorize_security_group_ingress, "InvalidGroup.NotFound", GroupId="sg-0000000000000000a",
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])


def test_ingress_rule_not_duplicate(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    _, _, group = network(sb)
    web = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[web])
    error = refused(ec2.authorize_security_group_ingress, "InvalidPermission.Duplicate", GroupId=group,
                    IpPermissions=[web])
    assert "10.0.0.0/8" in error["Message"]
    # Another port range or peer is another rule.
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{**web, "FromPort": 443, "ToPort": 443}])
    other_peer = {**web, "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[other_peer])


def test_launch_template_name_unique(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    data = {"ImageId": any_image(ec2), "InstanceType": "t3.micro"}
    ec2.create_launch_template(LaunchTemplateName="nodes", LaunchTemplateData=data)
    refused(ec2.create_launch_template, "InvalidLaunchTemplateName.AlreadyExistsException",
            LaunchTemplateName="nodes", LaunchTemplateData={**data, "InstanceType": "t3.large"})
    (template,) = ec2.describe_launch_templates(LaunchTemplateNames=["nodes"])["LaunchTemplates"]
    assert template["LatestVersionNumber"] == 1


# ---- spot prices -------------------------------------------------------------------------------


def test_spot_price_history_zone_or_zone_id(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    error = refused(ec2.describe_spot_price_history, "InvalidParameterCombination", InstanceTypes=["m5.large"],
                    AvailabilityZone="us-east-1a", AvailabilityZoneId="use1-az6")
    assert "availabilityZoneId" in error["Message"]
    by_name = ec2.describe_spot_price_history(InstanceTypes=["m5.large"], AvailabilityZone="us-east-1a")
    by_id = ec2.describe_spot_price_history(InstanceTypes=["m5.large"], AvailabilityZoneId="use1-az6")
    assert by_name["SpotPriceHistory"] == by_id["SpotPriceHistory"] and len(by_id["SpotPriceHistory"]) == 1


# ---- instance types ----------------------------------------------------------------------------


def test_instance_types_exist(sb: Sandbox) -> None:
    ec2 = sb.client("ec2")
    error = refused(ec2.describe_instance_types, "InvalidInstanceType", InstanceTypes=["m3.medium", "x9.huge"])
    assert "x9.huge" in error["Message"] and "m3.medium" not in error["Message"]
    described = ec2.describe_instance_types(InstanceTypes=["m3.medium", "t2.medium"])["InstanceTypes"]
    assert {(t["InstanceType"], t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"]) for t in described} == {
        ("m3.medium", 1, 3840), ("t2.medium", 2, 4096)}
    # At most 100 types a call (the model's limit, checked for every operation).
    refused(ec2.describe_instance_types, "InvalidParameterValue", InstanceTypes=["t3.micro"] * 101)
