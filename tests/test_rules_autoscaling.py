"""Auto Scaling rules of the sandbox: each refused call answers AWS's error code."""

from __future__ import annotations

from typing import Any

from ecsfleet.sandbox import Sandbox
from rules_support import refused

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


def _template(sb: Sandbox) -> None:
    sb.client("ec2").create_launch_template(
        LaunchTemplateName="node", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})


def _group(sb: Sandbox, name: str = "g", min_size: int = 0, max_size: int = 2, desired: int = 1) -> Any:
    _template(sb)
    asg = sb.client("autoscaling")
    asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=min_size, MaxSize=max_size,
                                  DesiredCapacity=desired, LaunchTemplate={"LaunchTemplateName": "node"},
                                  AvailabilityZones=["us-east-1a"])
    return asg


def _sizes(asg: Any, name: str = "g") -> tuple[int, int, int]:
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return group["MinSize"], group["DesiredCapacity"], group["MaxSize"]


def _instances(asg: Any, name: str = "g") -> list[str]:
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    return [i["InstanceId"] for i in group["Instances"]]


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


def test_group_must_exist(sb: Sandbox) -> None:
    asg = _group(sb)
    error = refused(asg.update_auto_scaling_group, "ValidationError", AutoScalingGroupName="nope", DesiredCapacity=1)
    assert error["Message"] == "AutoScalingGroup name not found - AutoScalingGroup: nope not found"
    refused(asg.set_desired_capacity, "ValidationError", AutoScalingGroupName="nope", DesiredCapacity=1)  # moto: 500
    refused(asg.put_lifecycle_hook, "ValidationError", AutoScalingGroupName="nope", LifecycleHookName="h",
            LifecycleTransition=TERMINATING)
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName="g")["LifecycleHooks"] == []
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=2)


def test_group_name_unique(sb: Sandbox) -> None:
    asg = _group(sb, max_size=2)
    error = refused(asg.create_auto_scaling_group, "AlreadyExists", AutoScalingGroupName="g", MinSize=0, MaxSize=5,
                    LaunchTemplate={"LaunchTemplateName": "node"}, AvailabilityZones=["us-east-1a"])
    assert "A group with the name g already exists" in error["Message"]
    assert _sizes(asg) == (0, 1, 2)  # the first group is untouched


def test_desired_capacity_within_min_and_max(sb: Sandbox) -> None:
    _template(sb)
    asg = sb.client("autoscaling")
    error = refused(asg.create_auto_scaling_group, "ValidationError", AutoScalingGroupName="g", MinSize=1, MaxSize=3,
                    DesiredCapacity=5, LaunchTemplate={"LaunchTemplateName": "node"}, AvailabilityZones=["us-east-1a"])
    assert error["Message"] == "Desired capacity:5 must be between the specified min size:1 and max size:3"
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"] == []
    asg.create_auto_scaling_group(AutoScalingGroupName="g", MinSize=1, MaxSize=3, DesiredCapacity=2,
                                  LaunchTemplate={"LaunchTemplateName": "node"}, AvailabilityZones=["us-east-1a"])
    refused(asg.update_auto_scaling_group, "ValidationError", AutoScalingGroupName="g", DesiredCapacity=4)
    refused(asg.update_auto_scaling_group, "ValidationError", AutoScalingGroupName="g", DesiredCapacity=0)
    refused(asg.update_auto_scaling_group, "ValidationError", AutoScalingGroupName="g", MaxSize=1, DesiredCapacity=2)
    assert _sizes(asg) == (1, 2, 3)
    # Without DesiredCapacity, AWS moves the desired capacity into the new bounds: accepted.
    asg.update_auto_scaling_group(AutoScalingGroupName="g", MaxSize=1)
    assert _sizes(asg) == (1, 1, 1)


def test_set_desired_capacity_within_min_and_max(sb: Sandbox) -> None:
    asg = _group(sb, min_size=1, max_size=3, desired=1)
    error = refused(asg.set_desired_capacity, "ValidationError", AutoScalingGroupName="g", DesiredCapacity=5)
    assert error["Message"] == "New SetDesiredCapacity value 5 is above max value 3 for the AutoScalingGroup."
    error = refused(asg.set_desired_capacity, "ValidationError", AutoScalingGroupName="g", DesiredCapacity=0)
    assert error["Message"] == "New SetDesiredCapacity value 0 is below min value 1 for the AutoScalingGroup."
    assert _sizes(asg) == (1, 1, 3)
    asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=3)
    assert _sizes(asg) == (1, 3, 3)


def test_describe_groups_max_records(sb: Sandbox) -> None:
    asg = _group(sb)
    refused(asg.describe_auto_scaling_groups, "ValidationError", MaxRecords=101)
    assert len(asg.describe_auto_scaling_groups(MaxRecords=100)["AutoScalingGroups"]) == 1


def test_terminate_instance_must_be_in_a_group(sb: Sandbox) -> None:
    asg = _group(sb, desired=1)
    ec2 = sb.client("ec2")
    loose = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    error = refused(asg.terminate_instance_in_auto_scaling_group, "ValidationError", InstanceId=loose,
                    ShouldDecrementDesiredCapacity=False)
    assert error["Message"] == f"Instance Id not found - No managed instance found for instance ID: {loose}"
    state = ec2.describe_instances(InstanceIds=[loose])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"


def test_terminate_with_decrement_keeps_min_size(sb: Sandbox) -> None:
    asg = _group(sb, min_size=1, max_size=3, desired=1)
    (member,) = _instances(asg)
    error = refused(asg.terminate_instance_in_auto_scaling_group, "ValidationError", InstanceId=member,
                    ShouldDecrementDesiredCapacity=True)
    assert error["Message"].startswith("Currently, desiredSize equals minSize (1).")
    assert _instances(asg) == [member] and _sizes(asg) == (1, 1, 3)
    # Without the decrement AWS replaces the instance: accepted.
    asg.terminate_instance_in_auto_scaling_group(InstanceId=member, ShouldDecrementDesiredCapacity=False)


def _held(sb: Sandbox) -> tuple[Any, str]:
    """A group with a termination hook, one instance of it waiting in Terminating:Wait."""
    asg = _group(sb, desired=2)
    asg.put_lifecycle_hook(AutoScalingGroupName="g", LifecycleHookName="drain", LifecycleTransition=TERMINATING,
                           HeartbeatTimeout=300, DefaultResult="CONTINUE")
    victim = _instances(asg)[0]
    asg.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    return asg, victim


def test_complete_lifecycle_action_must_be_pending(sb: Sandbox) -> None:
    asg, victim = _held(sb)
    other = next(i for i in _instances(asg) if i != victim)
    error = refused(asg.complete_lifecycle_action, "ValidationError", AutoScalingGroupName="g",
                    LifecycleHookName="drain", LifecycleActionResult="CONTINUE", InstanceId=other)
    assert error["Message"] == f"No active Lifecycle Action found with instance ID {other}"
    refused(asg.complete_lifecycle_action, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="drain",
            LifecycleActionResult="CONTINUE", LifecycleActionToken="00000000-0000-0000-0000-000000000000")
    asg.complete_lifecycle_action(AutoScalingGroupName="g", LifecycleHookName="drain",
                                  LifecycleActionResult="CONTINUE", InstanceId=victim)
    # Completed once, it is no longer pending.
    refused(asg.complete_lifecycle_action, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="drain",
            LifecycleActionResult="CONTINUE", InstanceId=victim)


def test_lifecycle_action_result_is_continue_or_abandon(sb: Sandbox) -> None:
    asg, victim = _held(sb)
    refused(asg.complete_lifecycle_action, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="drain",
            LifecycleActionResult="PROCEED", InstanceId=victim)
    states = {i["InstanceId"]: i["LifecycleState"] for i in asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["g"])["AutoScalingGroups"][0]["Instances"]}
    assert states[victim] == "Terminating:Wait"


def test_heartbeat_needs_a_pending_action(sb: Sandbox) -> None:
    asg, victim = _held(sb)
    other = next(i for i in _instances(asg) if i != victim)
    refused(asg.record_lifecycle_action_heartbeat, "ValidationError", AutoScalingGroupName="g",
            LifecycleHookName="drain", InstanceId=other)
    asg.record_lifecycle_action_heartbeat(AutoScalingGroupName="g", LifecycleHookName="drain", InstanceId=victim)


def test_lifecycle_hook_heartbeat_timeout_range(sb: Sandbox) -> None:
    asg = _group(sb)
    for timeout in (29, 7201):
        refused(asg.put_lifecycle_hook, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="h",
                LifecycleTransition=TERMINATING, HeartbeatTimeout=timeout)
    refused(asg.create_auto_scaling_group, "ValidationError", AutoScalingGroupName="g2", MinSize=0, MaxSize=1,
            LaunchTemplate={"LaunchTemplateName": "node"}, AvailabilityZones=["us-east-1a"],
            LifecycleHookSpecificationList=[{"LifecycleHookName": "h", "LifecycleTransition": TERMINATING,
                                             "HeartbeatTimeout": 10}])
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName="g")["LifecycleHooks"] == []
    for timeout in (30, 7200):
        asg.put_lifecycle_hook(AutoScalingGroupName="g", LifecycleHookName="h", LifecycleTransition=TERMINATING,
                               HeartbeatTimeout=timeout)


def test_lifecycle_hook_default_result(sb: Sandbox) -> None:
    asg = _group(sb)
    refused(asg.put_lifecycle_hook, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="h",
            LifecycleTransition=TERMINATING, DefaultResult="RETRY")
    asg.put_lifecycle_hook(AutoScalingGroupName="g", LifecycleHookName="h", LifecycleTransition=TERMINATING,
                           DefaultResult="ABANDON")


def test_lifecycle_hook_transition(sb: Sandbox) -> None:
    asg = _group(sb)
    refused(asg.put_lifecycle_hook, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="h",
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATED")
    refused(asg.put_lifecycle_hook, "ValidationError", AutoScalingGroupName="g", LifecycleHookName="h")
    assert asg.describe_lifecycle_hooks(AutoScalingGroupName="g")["LifecycleHooks"] == []
    asg.put_lifecycle_hook(AutoScalingGroupName="g", LifecycleHookName="h", LifecycleTransition=TERMINATING)
    # Updating an existing hook may leave its transition out: the hook keeps it.
    asg.put_lifecycle_hook(AutoScalingGroupName="g", LifecycleHookName="h", HeartbeatTimeout=600)
    (hook,) = asg.describe_lifecycle_hooks(AutoScalingGroupName="g")["LifecycleHooks"]
    assert (hook["LifecycleTransition"], hook["HeartbeatTimeout"]) == (TERMINATING, 600)
