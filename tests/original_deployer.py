"""Stacks shaped exactly like ecs-cluster-deployer's, for adoption tests.

Rendered from the original code's structure (ktruckenmiller/ecs-cluster-deployer: `vars.py`
`add_default_parameters`, `cluster/__init__.py` `ECSCluster.scaffold`, `cluster/asg_cleanup.py`,
`compute/__init__.py` `EC2Instances`, `compute/lambda_scaler.py`, `iam/instance_profile.py`,
`compute/ecs_user_data.j2`, `healthcheck/__init__.py`, `runner.py` `push_cloudformation`), with
the same logical ids, parameters, outputs, exports and create calls (no stack tags, `Version` as
the only parameter passed, `OnFailure=DELETE`). Written here as plain dicts (the original used
troposphere); the Lambda code is a stub zip in the bucket the original uploaded to.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from ecsfleet.sandbox import Sandbox

DEPLOYER_VERSION = "0.0.1"
AMI = "ami-12c6146b"  # moto's Amazon Linux ECS-optimized image (the original read $AMI)

# compute/ecs_user_data.j2 rendered with Jinja2's variables (cluster, version, timeout, deployer
# version), then given to Fn::Sub: ${ClusterName} is the stack parameter.
USER_DATA = """#!/bin/bash -xe


cat > /etc/ecs/ecs.config << EOF
ECS_CLUSTER=${{ClusterName}}
ECS_CONTAINER_STOP_TIMEOUT={timeout}
ECS_INSTANCE_ATTRIBUTES={{"asg_version": "{version}", "ecs_deploy_version": "{deployer}", \
"cluster_name": "{cluster}", "instance_id": "$(curl http://169.254.169.254/latest/meta-data/instance-id)"}}
ECS_ENABLE_CONTAINER_METADATA=true
ECS_ENABLE_TASK_IAM_ROLE=true
ECS_ENABLE_TASK_ENI=true
ECS_IMAGE_PULL_BEHAVIOR=once
ECS_ENABLE_SPOT_INSTANCE_DRAINING=true
ECS_CONTAINER_INSTANCE_PROPAGATE_TAGS_FROM=true
ECS_AWSVPC_BLOCK_IMDS=true
EOF

start amazon-ssm-agent || true
start ecs
"""

LAMBDA_ROLE_TRUST = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                    "Principal": {"Service": "lambda.amazonaws.com"}}]}


def sanitize(name: str) -> str:
    """utils.sanitize_cfn_resource_name."""
    return "".join(part.title() for part in name.split("-"))


def bucket(region: str, account: str) -> str:
    return f"kloudcover-public-{region}-{account}"


def default_parameters(region: str, account: str, cluster: str, version: str) -> dict[str, Any]:
    """vars.ECSVars.add_default_parameters: on every stack the original deployed."""
    return {
        "S3Bucket": {"Type": "String", "Default": bucket(region, account)},
        "S3Prefix": {"Type": "String", "Default": f"ecs_cluster_deployer/{DEPLOYER_VERSION}"},
        "Version": {"Type": "String", "Default": version},
        "ClusterName": {"Type": "String", "Default": cluster},
    }


def _function(handler: str, role: str, timeout: int, **extra: Any) -> dict[str, Any]:
    return {"Type": "AWS::Lambda::Function", "Properties": {
        "Code": {"S3Bucket": {"Fn::Sub": "${S3Bucket}"}, "S3Key": {"Fn::Sub": "${S3Prefix}/deployment.zip"}},
        "Handler": handler, "Role": {"Fn::GetAtt": [role, "Arn"]}, "Runtime": "python3.7", "MemorySize": 128,
        "Timeout": timeout, **extra}}


def cluster_template(region: str, account: str, cluster: str, version: str, vpc: str) -> dict[str, Any]:
    """cluster.ECSCluster.scaffold: the ECS cluster, four badge security groups exported as
    `${AWS::StackName}:<Kind>BadgeSg`, the clean-up and metrics Lambda functions."""
    resources: dict[str, Any] = {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": cluster}}}
    outputs: dict[str, Any] = {}
    for kind in ("ALB", "DB", "Cache", "Aux"):
        resources[f"{kind}BadgeSg"] = {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": f"SG for {kind} to wear in order to talk to ecs instances", "VpcId": vpc}}
        outputs[f"{kind}BadgeSg"] = {
            "Description": f"{kind} Security Group Badge",
            "Export": {"Name": {"Fn::Sub": f"${{AWS::StackName}}:{kind}BadgeSg"}},
            "Value": {"Fn::GetAtt": [f"{kind}BadgeSg", "GroupId"]}}
    cleanup = f"{sanitize(cluster)}ASGCleanupLambda"
    resources[cleanup] = _function("cleanup.cleanup.lambda_handler", "ASGCleanupLambdaRole", 40,
                                   FunctionName=cleanup)
    resources["ASGCleanupLambdaRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": LAMBDA_ROLE_TRUST,
        "Policies": [{"PolicyName": "RemoveResoruces", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:*", "autoscaling:*", "events:*", "lambda:*", "ec2:*",
                                           "logs:*"], "Resource": "*"},
            {"Effect": "Allow", "Action": ["cloudformation:DeleteStack"], "Resource": [{"Fn::Sub": (
                "arn:aws:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${ClusterName}-asg-*")}]}]}}]}}
    resources["ECSMetricLambda"] = _function(
        "metrics.cluster_metrics.lambda_handler", "CronLambdaRole", 300,
        Environment={"Variables": {"CLUSTER": {"Fn::Sub": "${ClusterName}"},
                                   "ASGPREFIX": {"Fn::Sub": "${ClusterName}-asg-"},
                                   "REGION": {"Ref": "AWS::Region"}}})
    resources["CronLambdaRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": LAMBDA_ROLE_TRUST,
        "Policies": [{"PolicyName": "logs-and-stuff", "PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Action": ["logs:*"], "Resource": "arn:aws:logs:*:*:*"},
            {"Effect": "Allow", "Action": ["ecs:*", "cloudwatch:PutMetricData"], "Resource": "*"}]}}]}}
    resources["CronStats"] = {"Type": "AWS::Events::Rule", "Properties": {
        "ScheduleExpression": "rate(1 minute)", "Description": "Cron for cluster stats",
        "Targets": [{"Id": "1", "Arn": {"Fn::GetAtt": ["ECSMetricLambda", "Arn"]}}]}}
    resources["StatPerm"] = {"Type": "AWS::Lambda::Permission", "Properties": {
        "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": ["ECSMetricLambda", "Arn"]},
        "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["CronStats", "Arn"]}}}
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": default_parameters(region, account, cluster, version),
            "Resources": resources, "Outputs": outputs}


def compute_template(region: str, account: str, cluster: str, version: str, vpc: str, subnets: list[str],
                     spot_fleet: dict[str, Any], keypair: str) -> dict[str, Any]:
    """compute.EC2Instances with one spot fleet (the shape of the original's cookiecutter):
    the Status parameter (default active), the node role, IncomingSg wearing the ALB badge,
    the spot fleet (LaunchSpecifications, one per bid, the DB badge worn) and its scaler."""
    name = sanitize(spot_fleet["name"])
    desired = spot_fleet.get("desired_weight", 1)
    parameters = {
        **default_parameters(region, account, cluster, version),
        "Status": {"Type": "String", "Default": "active"},
        "ScaleOutAdustment": {"Type": "String", "Default": "2"},
        "ScaleInAdjustment": {"Type": "String", "Default": "1"},
        "SpotWeight": {"Type": "String", "Default": str(desired)},
        "SpotMaxWeight": {"Type": "String", "Default": str(spot_fleet.get("max_weight", desired))},
        "SpotMinWeight": {"Type": "String", "Default": str(spot_fleet.get("min_weight", desired))},
        "SpotTaskThresholdOut": {"Type": "String", "Default": "3", "Description": (
            "If the schedulable tasks is below this number scale the ec2 spot cluster out")},
        "SpotTaskThresholdIn": {"Type": "String", "Default": "10", "Description": (
            "If the schedulable tasks is above this number scale the ec2 spot cluster in")},
    }
    badges = [{"Ref": "IncomingSg"}, {"Fn::ImportValue": f"{cluster}-cluster:DBBadgeSg"}]
    user_data = USER_DATA.format(timeout=spot_fleet.get("timeout", "2m"), version=version,
                                 deployer=DEPLOYER_VERSION, cluster=cluster)
    specs = [{
        "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
            "VolumeSize": 20, "DeleteOnTermination": True, "VolumeType": "gp2"}}],
        "IamInstanceProfile": {"Arn": {"Fn::GetAtt": ["ECSInstanceProfile", "Arn"]}},
        "ImageId": AMI, "InstanceType": bid["instance_type"], "KeyName": keypair,
        "SecurityGroups": [{"GroupId": group} for group in badges],
        "SubnetId": {"Fn::Join": [",", subnets]}, "SpotPrice": str(bid["price"]),
        "UserData": {"Fn::Base64": {"Fn::Sub": user_data}}, "Monitoring": {"Enabled": True},
        "WeightedCapacity": bid.get("weight", 1),
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [
            {"Key": "cluster", "Value": cluster}, {"Key": "Name", "Value": cluster}]}],
    } for bid in spot_fleet["bids"]]
    resources: dict[str, Any] = {
        "ECSInstanceRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "ec2.amazonaws.com"}}]},
            "Policies": [{"PolicyName": "ecs-policy", "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["ecs:RegisterContainerInstance", "ecs:Poll", "ecs:Submit*"],
                "Resource": "*"}]}}]}},
        "ECSInstanceProfile": {"Type": "AWS::IAM::InstanceProfile",
                               "Properties": {"Roles": [{"Ref": "ECSInstanceRole"}]}},
        "IncomingSg": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "SG for ecs instances for incoming alb", "VpcId": vpc,
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 64500,
                                      "SourceSecurityGroupId": {"Fn::ImportValue": f"{cluster}-cluster:ALBBadgeSg"}}]}},
        "SpotFleetRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                        "Principal": {"Service": "spotfleet.amazonaws.com"}}]},
            "Policies": [{"PolicyName": "ec2-spot-fleet", "PolicyDocument": {"Statement": [{
                "Effect": "Allow", "Action": ["ec2:Describe*", "ec2:RequestSpotFleet", "ec2:TerminateInstances",
                                              "iam:PassRole"], "Resource": "*"}]}}]}},
        f"SpotFleet{name}": {"Type": "AWS::EC2::SpotFleet", "Properties": {"SpotFleetRequestConfigData": {
            "AllocationStrategy": "diversified", "IamFleetRole": {"Fn::GetAtt": ["SpotFleetRole", "Arn"]},
            "LaunchSpecifications": specs, "TargetCapacity": desired}}},
        # compute/lambda_scaler.add_scaling (autoscaling: true)
        f"Scale{name}": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Type": "String", "Value": "0", "Name": {"Fn::Sub": "/ecs-maestro/${ClusterName}/${Version}/scaletime"}}},
        "AutoscalingRole": {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": LAMBDA_ROLE_TRUST,
            "Policies": [{"PolicyName": "ec2-spot-fleet-scaler", "PolicyDocument": {"Statement": [{
                "Effect": "Allow", "Action": ["ec2:DescribeSpotFleetRequests", "ec2:ModifySpotFleetRequest"],
                "Resource": "*"}]}}]}},
        f"ScalingLambda{name}": _function("scaling.scale_spot.lambda_handler", "AutoscalingRole", 900, Environment={
            "Variables": {"CLUSTER_NAME": {"Fn::Sub": "${ClusterName}"}, "SPOT_FLEET": {"Ref": f"SpotFleet{name}"},
                          "STATUS": {"Fn::Sub": "${Status}"}, "VERSION": {"Fn::Sub": "${Version}"},
                          "SCALE_IN_THRESHOLD": {"Fn::Sub": "${SpotTaskThresholdIn}"},
                          "SCALE_OUT_THRESHOLD": {"Fn::Sub": "${SpotTaskThresholdOut}"},
                          "MAX_WEIGHT": {"Fn::Sub": "${SpotMaxWeight}"},
                          "MIN_WEIGHT": {"Fn::Sub": "${SpotMinWeight}"}}}),
        f"CronScaling{name}": {"Type": "AWS::Events::Rule", "Properties": {
            "ScheduleExpression": "rate(1 minute)", "Description": "Cron for cluster stats",
            "Targets": [{"Id": "1", "Arn": {"Fn::GetAtt": [f"ScalingLambda{name}", "Arn"]}}]}},
        f"ScalePerm{name}": {"Type": "AWS::Lambda::Permission", "Properties": {
            "Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": [f"ScalingLambda{name}", "Arn"]},
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [f"CronScaling{name}", "Arn"]}}},
    }
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": parameters, "Resources": resources}


def health_task_template(cluster: str) -> dict[str, Any]:
    """healthcheck.HealthCheck.create_task: the smoke test's task definition, in its own stack."""
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": {"Version": {"Type": "String"}},
            "Resources": {"ClusterHealthChecker": {"Type": "AWS::ECS::TaskDefinition", "Properties": {
                "Family": f"{cluster}-cluster-health-task",
                "ContainerDefinitions": [{"Name": "ClusterHealthContainerDef", "Cpu": 1, "Memory": 64,
                                          "Image": "ktruckenmiller/my-ip"}]}}}}


def push(sb: Sandbox, name: str, template: dict[str, Any], version: str) -> None:
    """runner.Runner.push_cloudformation's create: only `Version` passed, no tags, then waited for."""
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template),
                     Parameters=[{"ParameterKey": "Version", "ParameterValue": version, "UsePreviousValue": False}],
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"], OnFailure="DELETE")
    status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE", f"{name}: {status}"


def upload_artifacts(sb: Sandbox, region: str, account: str) -> None:
    """utils.PushArtifacts: the Lambda code the stacks' functions read."""
    s3 = sb.client("s3")
    kwargs: dict[str, Any] = {} if region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket(region, account), **kwargs)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("cleanup/cleanup.py", "def lambda_handler(event, context):\n    pass\n")
    s3.put_object(Bucket=bucket(region, account), Key=f"ecs_cluster_deployer/{DEPLOYER_VERSION}/deployment.zip",
                  Body=archive.getvalue())


def deploy_original(sb: Sandbox, cluster: str, version: str, spot_fleet: dict[str, Any]) -> None:
    """entry.deploy as the original ran it: the cluster stack, this version's compute stack
    (Status active, the default), the health-task stack; and, when a version was already
    deployed, the older compute stacks switched to inactive (HealthCheck.deactivate_old)."""
    region = sb.region
    account = sb.client("sts").get_caller_identity()["Account"]
    ec2 = sb.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    cfn = sb.client("cloudformation")
    existing = {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}
    if f"{cluster}-cluster" not in existing:
        upload_artifacts(sb, region, account)
        ec2.create_key_pair(KeyName=f"ecs-maestro-{cluster}")  # compute.EC2Instances.create_key
        push(sb, f"{cluster}-cluster", cluster_template(region, account, cluster, version, vpc), version)
    push(sb, f"{cluster}-asg-{version}", compute_template(region, account, cluster, version, vpc, subnets[:1],
                                                          spot_fleet, f"ecs-maestro-{cluster}"), version)
    if f"{cluster}-cluster-health-task" not in existing:
        push(sb, f"{cluster}-cluster-health-task", health_task_template(cluster), version)
    for old in sorted(n for n in existing if n.startswith(f"{cluster}-asg-") and n != f"{cluster}-asg-{version}"):
        cfn.update_stack(StackName=old, UsePreviousTemplate=True, Capabilities=["CAPABILITY_IAM"],
                         Parameters=[{"ParameterKey": "Status", "ParameterValue": "inactive"}])
