"""Auto Scaling rules of the sandbox: each refused call answers AWS's error code."""

from __future__ import annotations

from ecsfleet.sandbox import Sandbox
from rules_support import refused


def _template(sb: Sandbox) -> None:
    sb.client("ec2").create_launch_template(
        LaunchTemplateName="node", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})


def test_min_size_not_above_max_size(sb: Sandbox) -> None:
    _template(sb)
    asg = sb.client("autoscaling")
    refused(asg.create_auto_scaling_group, "ValidationError", AutoScalingGroupName="g", MinSize=3, MaxSize=2,
            LaunchTemplate={"LaunchTemplateName": "node"}, AvailabilityZones=["us-east-1a"])
    asg.create_auto_scaling_group(AutoScalingGroupName="g", MinSize=0, MaxSize=2,
                                  LaunchTemplate={"LaunchTemplateName": "node"}, AvailabilityZones=["us-east-1a"])
    refused(asg.update_auto_scaling_group, "ValidationError", AutoScalingGroupName="g", MinSize=3)
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"][0]
    assert (group["MinSize"], group["MaxSize"]) == (0, 2)  # the refused update changed nothing
