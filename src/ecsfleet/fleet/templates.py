"""infra.yml -> CloudFormation templates, as plain dicts (see the README for why not troposphere).

Two kinds of stack: `<name>-cluster` (the ECS cluster, the nodes' security group and its ingress,
the original's badge security groups, the node role and instance profile when none is given, the
spot fleet role) and one compute stack per version, `<name>-asg-<version>` (a launch template and
every ASG and spot fleet of the config, with a `Status` parameter active|inactive and tags tying
each resource to the cluster and version).

The cluster stack's outputs and exports are a contract (compute stacks, users' own stacks and
`fleet adopt` import them); keep their names stable:

| Output | Export | Value |
| --- | --- | --- |
| ClusterName | `<name>-cluster-ClusterName` | the ECS cluster |
| SpotFleetRoleArn | `<name>-cluster-SpotFleetRoleArn` | the spot fleet role |
| NodeSecurityGroup | `<name>-cluster-NodeSecurityGroup` | the group every node carries |
| NodeInstanceProfileArn | `<name>-cluster-NodeInstanceProfileArn` | only without `instance_profile_arn` |
| ALBBadgeSg, DBBadgeSg, | `<name>-cluster:ALBBadgeSg`, ... | the original's badge groups (its names), |
| CacheBadgeSg, AuxBadgeSg | | unless `badge_security_groups: false` |

Nodes accept TCP from the ALB badge and carry the DB badge, as ecs-cluster-deployer's nodes did
(its IncomingSg and DBBadgeSg); the Cache and Aux badges are exported for the user's own rules."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import jinja2
import jinja2.sandbox

from ..amis import RECOMMENDED_AMI_PARAMETER
from .schema import AutoScalingGroup, Infra, SpotFleet

TEMPLATE_VERSION = "2010-09-09"
CLUSTER_TAG = "ecsfleet:cluster"
VERSION_TAG = "ecsfleet:version"
FLEET_TAG = "ecsfleet:fleet"
DRAIN_HOOK = "ecsfleet-drain"
DRAIN_HOOK_TIMEOUT = 3600
BADGES = ("ALB", "DB", "Cache", "Aux")  # ecs-cluster-deployer's badge security groups, in its order
DEFAULT_DEPLOYER_VERSION = "ecsfleet"  # the ecs_deploy_version attribute when infra.yml names none
# The original's compute stack parameters a user_data template may reference as ${Name}.
SUB_VARIABLES = ("ClusterName", "Version", "Status")


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
    """Versions end up in stack names: letters, digits and hyphens, at most 40. A version that
    needs changing gets a short hash of what was given, so two versions never share a stack
    ('bad version!' and 'bad_version?' differ); versions already safe (git SHAs, v1) are kept."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}", version) and not version.endswith("-"):
        return version
    cleaned = re.sub(r"[^A-Za-z0-9-]+", "-", version).strip("-")[:31].strip("-")
    if not cleaned:
        raise ValueError(f"version {version!r} has nothing usable in a stack name: use letters, digits and "
                         f"hyphens")
    return f"{cleaned}-{hashlib.sha256(version.encode()).hexdigest()[:8]}"


def _logical(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", name) if part)


def asg_logical_id(group: AutoScalingGroup) -> str:
    return f"Asg{_logical(group.name)}"


def spot_fleet_logical_id(fleet: SpotFleet) -> str:
    return f"SpotFleet{_logical(fleet.name)}"


def _export(infra: Infra, what: str) -> dict[str, Any]:
    return {"Fn::ImportValue": f"{cluster_stack_name(infra)}-{what}"}


def badge_export(infra: Infra, badge: str) -> str:
    """The original's export name of a badge group: `<name>-cluster:ALBBadgeSg`."""
    return f"{cluster_stack_name(infra)}:{badge}BadgeSg"


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
    if spec.vpc is None:
        parameters["VpcId"] = {"Type": "AWS::EC2::VPC::Id", "Description": "VPC of the nodes (the default VPC)"}
    vpc: Any = spec.vpc or {"Ref": "VpcId"}
    # The nodes' own group, always (the user's `security_groups` are added to it, as the original did).
    resources["NodeSecurityGroup"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": f"ECS nodes of {spec.name}", "VpcId": vpc,
        "Tags": [{"Key": CLUSTER_TAG, "Value": spec.name}],
    }}
    outputs["NodeSecurityGroup"] = {"Value": {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]},
                                    "Export": {"Name": f"{cluster_stack_name(infra)}-NodeSecurityGroup"}}
    sources: list[tuple[str, Any, str]] = [
        (f"NodeIngress{index}", source, "ingress from a security group named in security_group_ingress")
        for index, source in enumerate(spec.security_group_ingress)]
    if spec.badge_security_groups:
        for badge in BADGES:
            resources[f"{badge}BadgeSg"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupDescription": f"SG for {badge} to wear in order to talk to ecs instances", "VpcId": vpc,
                "Tags": [{"Key": CLUSTER_TAG, "Value": spec.name}],
            }}
            outputs[f"{badge}BadgeSg"] = {"Description": f"{badge} Security Group Badge",
                                          "Value": {"Fn::GetAtt": [f"{badge}BadgeSg", "GroupId"]},
                                          "Export": {"Name": badge_export(infra, badge)}}
        # The original's IncomingSg: load balancers wearing the ALB badge reach the tasks' host ports.
        sources.append(("NodeIngressAlbBadge", {"Fn::GetAtt": ["ALBBadgeSg", "GroupId"]},
                        "ingress from load balancers wearing the ALB badge"))
    for logical_id, source, description in sources:
        resources[logical_id] = {"Type": "AWS::EC2::SecurityGroupIngress", "Properties": {
            "GroupId": {"Fn::GetAtt": ["NodeSecurityGroup", "GroupId"]}, "IpProtocol": "tcp",
            "FromPort": 0, "ToPort": 65535, "SourceSecurityGroupId": source, "Description": description}}
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


def deployer_version(infra: Infra) -> str:
    return infra.ecs_deployer_version or DEFAULT_DEPLOYER_VERSION


def user_data(infra: Infra, version: str, stop_timeout: int, extra: str = "") -> str:
    """ecsfleet's boot script (when infra.yml gives no `user_data` template): join the cluster
    with the ECS agent settings and instance attributes ecs-cluster-deployer's nodes had (the
    smoke test and the scaler use `asg_version`), then mount EFS (the seed's EFS user data
    referenced a key that did not exist, and mounts broke boot: a failed mount here is logged and
    never stops the agent joining), then run `user_data_append`."""
    attributes = (f'{{"asg_version":"{version}","ecs_deploy_version":"{deployer_version(infra)}",'
                  f'"cluster_name":"{infra.cluster.name}","instance_id":"$INSTANCE_ID"}}')
    lines = [
        "#!/bin/bash",
        "set -u",
        # IMDSv2 (the launch template requires tokens); the id is an attribute, as the original set it.
        'TOKEN=$(curl -s -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" '
        "http://169.254.169.254/latest/api/token || true)",
        'INSTANCE_ID=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" '
        "http://169.254.169.254/latest/meta-data/instance-id || true)",
        "cat >> /etc/ecs/ecs.config <<CONFIG",
        f"ECS_CLUSTER={infra.cluster.name}",
        f"ECS_INSTANCE_ATTRIBUTES={attributes}",
        f"ECS_CONTAINER_STOP_TIMEOUT={stop_timeout}s",
        "ECS_ENABLE_CONTAINER_METADATA=true",
        "ECS_ENABLE_TASK_IAM_ROLE=true",
        "ECS_ENABLE_TASK_ENI=true",
        "ECS_IMAGE_PULL_BEHAVIOR=once",
        "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true",
        # The original wrote `true`, which the agent does not know; `ec2_instance` is what it meant.
        "ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=ec2_instance",
        "ECS_AWSVPC_BLOCK_IMDS=true",
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
        # ec2_instances.user_data_append: the user's own script, run after the node has joined.
        lines += ["cat > /var/lib/ecsfleet-user-data <<'ECSFLEET_USER_DATA'", extra.rstrip("\n"),
                  "ECSFLEET_USER_DATA", "bash /var/lib/ecsfleet-user-data"]
    return "\n".join(lines) + "\n"


class UserDataError(ValueError):
    """A user_data template that does not render: says where and why."""


def template_variables(infra: Infra, version: str) -> dict[str, Any]:
    """The variables ecs-cluster-deployer rendered its user_data templates with (its EFS mounts
    carried `path` and `id`; `local_path`, `efs_id` and `name` are added, which its own default
    template referenced)."""
    nodes = infra.ec2_instances
    return {
        "cluster": infra.cluster.name,
        "efs_mounts": [{"path": m.local_path, "id": m.efs_id, "local_path": m.local_path, "efs_id": m.efs_id,
                        "name": m.name} for m in nodes.efs_mounts],
        "ecs_timeout": nodes.spot_fleets[0].timeout if nodes.spot_fleets else "2m",
        "ecs_deployer_version": deployer_version(infra),
        "version": version,
    }


def render_user_data(infra: Infra, version: str, template: str) -> str | dict[str, Any]:
    """A user_data Jinja2 template rendered as the original did, then wrapped in Fn::Sub so that
    `${AWS::Region}` and the original's parameters `${ClusterName}`, `${Version}` and `${Status}`
    resolve (write `${!NAME}` for a literal `${NAME}`, as with the original). A sandboxed
    environment: a template may not reach Python objects; an unknown variable is an error, not
    an empty string."""
    environment = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    try:
        text = environment.from_string(template).render(**template_variables(infra, version))
    except jinja2.TemplateSyntaxError as error:
        raise UserDataError(f"line {error.lineno}: {error.message}") from error
    except jinja2.TemplateError as error:
        raise UserDataError(f"{error} (variables: {', '.join(template_variables(infra, version))})") from error
    values: dict[str, Any] = {"ClusterName": infra.cluster.name, "Version": version, "Status": {"Ref": "Status"}}
    used = {k: v for k, v in values.items() if re.search(r"\$\{" + k + r"\}", text)}
    if "${" not in text:  # nothing to substitute: Fn::Sub would only draw a cfn-lint warning
        return text
    return {"Fn::Sub": [text, used] if used else text}


def boot_script(infra: Infra, version: str, stop_timeout: int, extra: str = "") -> Any:
    """The nodes' user data: infra.yml's `user_data` template when given, else ecsfleet's script."""
    if infra.boot.template is not None:
        return render_user_data(infra, version, infra.boot.template)
    return user_data(infra, version, stop_timeout, extra or infra.boot.append)


def compute_template(infra: Infra, version: str, extra_user_data: str = "") -> dict[str, Any]:
    spec, nodes = infra.cluster, infra.ec2_instances
    stop_timeout = max([f.timeout_seconds for f in nodes.spot_fleets] or [120])
    tags = [{"Key": CLUSTER_TAG, "Value": spec.name}, {"Key": VERSION_TAG, "Value": version}]
    # The original's instance tags (its users' cost reports and consoles rely on them).
    instance_tags = [*tags, {"Key": "cluster", "Value": spec.name}, {"Key": "Name", "Value": spec.name}]
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
    badges = [{"Fn::ImportValue": badge_export(infra, "DB")}] if spec.badge_security_groups else []
    security_groups: Any = [_export(infra, "NodeSecurityGroup"), *badges, *spec.security_groups]
    # The seed's example writes the ARN with ${AWS::AccountId}: let CloudFormation fill it in.
    profile: Any = nodes.instance_profile_arn or _export(infra, "NodeInstanceProfileArn")
    if isinstance(profile, str) and "${" in profile:
        profile = {"Fn::Sub": profile}
    launch_data: dict[str, Any] = {
        "ImageId": {"Ref": "ImageId"},
        "IamInstanceProfile": {"Arn": profile},
        "SecurityGroupIds": security_groups,
        "UserData": {"Fn::Base64": boot_script(infra, version, stop_timeout, extra_user_data)},
        "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
        "TagSpecifications": [{"ResourceType": "instance", "Tags": instance_tags}],
    }
    if spec.keypair:
        launch_data["KeyName"] = spec.keypair
    if nodes.ebs_mounts:
        launch_data["BlockDeviceMappings"] = [
            {"DeviceName": m.device_name, "Ebs": {"VolumeSize": m.size, "VolumeType": "gp3", "Encrypted": True,
                                                 "DeleteOnTermination": True}}
            for m in nodes.ebs_mounts
        ]
    resources: dict[str, Any] = {}
    if nodes.spot_fleets:  # the spot fleets' overrides name their instance types
        resources["LaunchTemplate"] = {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateName": f"{spec.name}-{version}", "LaunchTemplateData": launch_data}}
    for group in nodes.auto_scaling_groups:
        # A group launches what its launch template says: without an InstanceType there, AWS
        # launches nothing, so each group has its own template, with the group's type.
        template_id = f"{asg_logical_id(group)}LaunchTemplate"
        resources[template_id] = {"Type": "AWS::EC2::LaunchTemplate", "Properties": {
            "LaunchTemplateName": f"{spec.name}-{version}-{group.name}",
            "LaunchTemplateData": {**launch_data, "InstanceType": group.instance_type}}}
        resources[asg_logical_id(group)] = {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "AutoScalingGroupName": f"{spec.name}-{version}-{group.name}",
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": template_id},
                               "Version": {"Fn::GetAtt": [template_id, "LatestVersionNumber"]}},
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
                # diversified by default (the original's: spread over every bid's pool, so one price
                # spike takes few nodes); `allocation_strategy` chooses another of AWS's strategies.
                "AllocationStrategy": fleet.allocation_strategy,
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
