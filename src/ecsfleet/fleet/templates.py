"""infra.yml -> CloudFormation templates, as plain dicts (see the README for why not troposphere).

Two kinds of stack: `<name>-cluster` (the ECS cluster, the nodes' security group and ingress,
the node role and instance profile when none is given, the spot fleet role) and one compute
stack per version, `<name>-asg-<version>` (a launch template and every ASG and spot fleet of
the config, with a `Status` parameter active|inactive and tags tying each resource to the
cluster and version)."""

from __future__ import annotations

import re
from typing import Any

from ..amis import RECOMMENDED_AMI_PARAMETER
from .schema import AutoScalingGroup, Infra, SpotFleet

TEMPLATE_VERSION = "2010-09-09"
CLUSTER_TAG = "ecsfleet:cluster"
VERSION_TAG = "ecsfleet:version"
FLEET_TAG = "ecsfleet:fleet"
DRAIN_HOOK = "ecsfleet-drain"
DRAIN_HOOK_TIMEOUT = 3600


def cluster_stack_name(infra: Infra) -> str:
    return f"{infra.cluster.name}-cluster"


def compute_stack_prefix(infra: Infra) -> str:
    return f"{infra.cluster.name}-asg-"


def compute_stack_name(infra: Infra, version: str) -> str:
    return f"{compute_stack_prefix(infra)}{version}"


def stack_tags(infra: Infra, version: str | None = None) -> dict[str, str]:
    """Tags on our stacks (CloudFormation copies them to every resource that takes tags): they
    are how ecsfleet recognises what it owns."""
    tags = {CLUSTER_TAG: infra.cluster.name}
    if version is not None:
        tags[VERSION_TAG] = version
    return tags


def safe_version(version: str) -> str:
    """Versions end up in stack names: letters, digits and hyphens, at most 40."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", version).strip("-")[:40]
    if not cleaned:
        raise ValueError(f"version {version!r} has nothing usable in a stack name")
    return cleaned


def _logical(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", name) if part)


def asg_logical_id(group: AutoScalingGroup) -> str:
    return f"Asg{_logical(group.name)}"


def spot_fleet_logical_id(fleet: SpotFleet) -> str:
    return f"SpotFleet{_logical(fleet.name)}"


def _export(infra: Infra, what: str) -> dict[str, Any]:
    return {"Fn::ImportValue": f"{cluster_stack_name(infra)}-{what}"}


def cluster_template(infra: Infra) -> dict[str, Any]:
    spec = infra.cluster
    resources: dict[str, Any] = {
        "Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {
            "ClusterName": spec.name,
            "Tags": [{"Key": CLUSTER_TAG, "Value": spec.name}],
        }},
        "SpotFleetRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "spotfleet.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AmazonEC2SpotFleetTaggingRole"],
        }},
    }
    parameters: dict[str, Any] = {}
    outputs: dict[str, Any] = {
        "ClusterName": {"Value": {"Ref": "Cluster"}, "Export": {"Name": f"{cluster_stack_name(infra)}-ClusterName"}},
        "SpotFleetRoleArn": {"Value": {"Fn::GetAtt": ["SpotFleetRole", "Arn"]},
                             "Export": {"Name": f"{cluster_stack_name(infra)}-SpotFleetRoleArn"}},
    }
    if not spec.security_groups:
        if spec.vpc is None:
            parameters["VpcId"] = {"Type": "AWS::EC2::VPC::Id", "Description": "VPC of the nodes (the default VPC)"}
        resources["NodeSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": f"ECS nodes of {spec.name}",
            "VpcId": spec.vpc or {"Ref": "VpcId"},
            "Tags": [{"Key": CLUSTER_TAG, "Value": spec.name}],
        }}
        for index, source in enumerate(spec.security_group_ingress):
            resources[f"NodeIngress{index}"] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
                "GroupId": {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
                "FromPort": 0, "ToPort": 65535, "SourceSecurityGroupId": source,
                "Description": "ingress from a security group named in security_group_ingress"}}
        outputs["NodeSecurityGroup"] = {"Value": {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]},
                                        "Export": {"Name": f"{cluster_stack_name(infra)}-NodeSecurityGroup"}}
    if infra.ec2_instances.instance_profile_arn is None:
        resources["NodeRole"] = {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": [
                "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
                "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
            ],
        }}
        resources["NodeInstanceProfile"] = {"Type": "AWS::IAM::InstanceProfile",
                                            "Properties": {"Roles": [{"Ref": "NodeRole"}]}}
        outputs["NodeInstanceProfileArn"] = {"Value": {"Fn::GetAtt": ["NodeInstanceProfile", "Arn"]},
                                             "Export": {"Name": f"{cluster_stack_name(infra)}-NodeInstanceProfileArn"}}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"ecsfleet: ECS cluster {spec.name}",
        "Resources": resources,
        "Outputs": outputs,
    }
    if parameters:
        template["Parameters"] = parameters
    return template


def user_data(infra: Infra, version: str, stop_timeout: int, extra: str = "") -> str:
    """The nodes' boot script: join the cluster with the version attribute the smoke test and
    the scaler use, then mount EFS (the seed's EFS user data referenced a key that did not exist,
    and mounts broke boot: a failed mount here is logged and never stops the agent joining)."""
    lines = [
        "#!/bin/bash",
        "set -u",
        "cat >> /etc/ecs/ecs.config <<'CONFIG'",
        f"ECS_CLUSTER={infra.cluster.name}",
        f'ECS_INSTANCE_ATTRIBUTES={{"asg_version":"{version}"}}',
        f"ECS_CONTAINER_STOP_TIMEOUT={stop_timeout}s",
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
        "ECS_IMAGE_PULL_BEHAVIOR=once",
        "CONFIG",
    ]
    if infra.ec2_instances.efs_mounts:
        lines.append("dnf install -y amazon-efs-utils || yum install -y amazon-efs-utils || true")
        for mount in infra.ec2_instances.efs_mounts:
            lines += [
                f"mkdir -p {mount.local_path}",
                f"echo '{mount.efs_id}:/ {mount.local_path} efs _netdev,tls 0 0' >> /etc/fstab",
                f"mount {mount.local_path} || echo 'ecsfleet: EFS {mount.name} ({mount.efs_id}) did not mount' >&2",
            ]
    if extra.strip():
        # ec2_instances.user_data: the user's own script, run after the node has joined.
        lines += ["cat > /var/lib/ecsfleet-user-data <<'ECSFLEET_USER_DATA'", extra.rstrip("\n"),
                  "ECSFLEET_USER_DATA", "bash /var/lib/ecsfleet-user-data"]
    return "\n".join(lines) + "\n"


def compute_template(infra: Infra, version: str, extra_user_data: str = "") -> dict[str, Any]:
    spec, nodes = infra.cluster, infra.ec2_instances
    stop_timeout = max([f.timeout_seconds for f in nodes.spot_fleets] or [120])
    tags = [{"Key": CLUSTER_TAG, "Value": spec.name}, {"Key": VERSION_TAG, "Value": version}]
    parameters: dict[str, Any] = {
        "Status": {"Type": "String", "AllowedValues": ["active", "inactive"], "Default": "inactive",
                   "Description": "active fleets keep their minimum size and are never deflated"},
        # A plain AMI id, resolved once when the version is created (from ec2_instances.ami, else
        # the recommended ECS-optimized AMI's SSM public parameter): an SSM-typed parameter would be
        # read again on every stack update, and a Status switch could change a version's AMI.
        "ImageId": {"Type": "AWS::EC2::Image::Id",
                    "Description": f"AMI of the nodes (default: the SSM public parameter {RECOMMENDED_AMI_PARAMETER})"},
    }
    if not spec.subnets:
        parameters["Subnets"] = {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "subnets of the nodes"}
    subnets: Any = spec.subnets or {"Ref": "Subnets"}
    security_groups: Any = spec.security_groups or [_export(infra, "NodeSecurityGroup")]
    # The seed's example writes the ARN with ${AWS::AccountId}: let CloudFormation fill it in.
    profile: Any = nodes.instance_profile_arn or _export(infra, "NodeInstanceProfileArn")
    if isinstance(profile, str) and "${" in profile:
        profile = {"Fn::Sub": profile}
    launch_data: dict[str, Any] = {
        "ImageId": {"Ref": "ImageId"},
        "IamInstanceProfile": {"Arn": profile},
        "SecurityGroupIds": security_groups,
        "UserData": {"Fn::Base64": user_data(infra, version, stop_timeout, extra_user_data)},
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": tags}],
    }
    if spec.keypair:
        launch_data["KeyName"] = spec.keypair
    if nodes.ebs_mounts:
        launch_data["BlockDeviceMappings"] = [
            {"DeviceName": m.device_name, "Ebs": {"VolumeSize": m.size, "VolumeType": "gp3", "Encrypted": True,
                                                 "DeleteOnTermination": True}}
            for m in nodes.ebs_mounts
        ]
    resources: dict[str, Any] = {
        "LaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateName": f"{spec.name}-{version}", "LaunchTemplateData": launch_data}},
    }
    for group in nodes.auto_scaling_groups:
        resources[asg_logical_id(group)] = {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "AutoScalingGroupName": f"{spec.name}-{version}-{group.name}",
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "LaunchTemplate"},
                               "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}},
            "MinSize": {"Fn::If": ["Active", str(group.min_size), "0"]},
            "MaxSize": str(group.max_size),
            "DesiredCapacity": str(group.desired_instances),
            "VPCZoneIdentifier": subnets,
            "NewInstancesProtectedFromScaleIn": False,
            # Whoever scales the group in (ecsfleet, a person, a stack update), the instance waits
            # in Terminating:Wait until ecsfleet has drained it, or until the timeout.
            "LifecycleHookSpecificationList": [{
                "LifecycleHookName": DRAIN_HOOK, "LifecycleTransition": "autoscaling:EC2_INSTANCE_TERMINATING",
                "HeartbeatTimeout": DRAIN_HOOK_TIMEOUT, "DefaultResult": "CONTINUE"}],
            "Tags": [{**t, "PropagateAtLaunch": True} for t in [*tags, {"Key": FLEET_TAG, "Value": group.name}]],
        }}
    # Each override names one subnet; without named subnets, one override spans the parameter's list.
    override_subnets: list[Any] = [*spec.subnets] or [{"Fn::Join": [",", subnets]}]
    for fleet in nodes.spot_fleets:
        resources[spot_fleet_logical_id(fleet)] = {"Type": "AWS::EC2::SpotFleet", "Properties": {
            "SpotFleetRequestConfigData": {
                "IamFleetRole": _export(infra, "SpotFleetRoleArn"),
                "AllocationStrategy": "lowestPrice",
                "TargetCapacity": min(max(fleet.desired_weight, fleet.min_weight), fleet.max_weight),
                "Type": "maintain",
                "ReplaceUnhealthyInstances": True,
                "TerminateInstancesWithExpiration": True,
                "InstanceInterruptionBehavior": "terminate",
                "LaunchTemplateConfigs": [{
                    "LaunchTemplateSpecification": {
                        "LaunchTemplateId": {"Ref": "LaunchTemplate"},
                        "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}},
                    "Overrides": [
                        {"InstanceType": bid.instance_type, "SpotPrice": f"{bid.price:g}",
                         "WeightedCapacity": bid.weight, "SubnetId": subnet}
                        for bid in fleet.bids
                        for subnet in override_subnets
                    ],
                }],
                "TagSpecifications": [{"ResourceType": "spot-fleet-request",
                                       "Tags": [*tags, {"Key": FLEET_TAG, "Value": fleet.name}]}],
            },
        }}
    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"ecsfleet: compute fleet {version} of ECS cluster {spec.name}",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": {"Version": {"Value": version}, "Status": {"Value": {"Ref": "Status"}}},
    }
    if nodes.auto_scaling_groups:
        template["Conditions"] = {"Active": {"Fn::Equals": [{"Ref": "Status"}, "active"]}}
    return template
