"""What a fleet controller meets on AWS, in the sandbox: termination lifecycle hooks of Auto Scaling
groups, spot interruptions, and hosts where tasks fail to start (all calls over HTTP)."""

from __future__ import annotations

import base64
import json
from typing import Any

import botocore.exceptions
import pytest

from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.cli import _control
from ecsfleet.sandbox.seed import any_image, network, user_data
from support import describe_tasks, rule_to_queue, task_definition

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
HOOK = {"LifecycleHookName": "drain", "LifecycleTransition": TERMINATING, "HeartbeatTimeout": 300,
        "DefaultResult": "CONTINUE"}


def _subnet_and_template(sb: Sandbox, cluster: str = "fleet", attributes: str | None = None) -> str:
    """A cluster and a launch template `nodes` whose instances join it; returns a subnet."""
    _, subnet, group = network(sb)
    sb.client("ecs").create_cluster(clusterName=cluster)
    ec2 = sb.client("ec2")
    ec2.create_launch_template(LaunchTemplateName="nodes", LaunchTemplateData={
        "ImageId": any_image(ec2), "InstanceType": "t3.medium", "SecurityGroupIds": [group],
        "UserData": base64.b64encode(user_data(cluster, attributes).encode()).decode()})
    return subnet


def _api_group(sb: Sandbox, desired: int, hook: dict[str, Any] | None = HOOK) -> str:
    subnet = _subnet_and_template(sb)
    autoscaling = sb.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="nodes", LaunchTemplate={"LaunchTemplateName": "nodes"}, MinSize=0, MaxSize=5,
        DesiredCapacity=desired, VPCZoneIdentifier=subnet)
    if hook:
        autoscaling.put_lifecycle_hook(AutoScalingGroupName="nodes", **hook)
    sb.advance(0)
    return "nodes"


def _stack_template(subnet: str, max_size: int) -> str:
    return json.dumps({"Resources": {"Nodes": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
        "AutoScalingGroupName": "cfn-nodes", "LaunchTemplate": {"LaunchTemplateName": "nodes", "Version": "1"},
        "MinSize": "0", "MaxSize": str(max_size), "DesiredCapacity": "3", "VPCZoneIdentifier": [subnet],
        "LifecycleHookSpecificationList": [{**HOOK, "HeartbeatTimeout": "600", "NotificationMetadata": "v1"}],
    }}}})


def _lifecycle(sb: Sandbox, group: str) -> dict[str, str]:
    found = sb.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return {i["InstanceId"]: i["LifecycleState"] for i in found["AutoScalingGroups"][0]["Instances"]}


def _desired(sb: Sandbox, group: str) -> int:
    found = sb.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return int(found["AutoScalingGroups"][0]["DesiredCapacity"])


def _ec2_state(sb: Sandbox, instance_id: str) -> str:
    reservations = sb.client("ec2").describe_instances(InstanceIds=[instance_id])["Reservations"]
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def _registered(sb: Sandbox, cluster: str = "fleet") -> set[str]:
    """EC2 ids of the cluster's registered container instances."""
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return set()
    found = ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]
    return {ci["ec2InstanceId"] for ci in found}


def _received(sb: Sandbox, queue: str) -> list[dict[str, Any]]:
    sqs = sb.client("sqs")
    found = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return found


# ---- termination lifecycle hooks ---------------------------------------------------------------


def test_hook_from_cloudformation_holds_a_terminated_instance_until_completed(sb: Sandbox) -> None:
    subnet = _subnet_and_template(sb)
    sb.client("cloudformation").create_stack(StackName="nodes", TemplateBody=_stack_template(subnet, 5))
    autoscaling = sb.client("autoscaling")
    (hook,) = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName="cfn-nodes")["LifecycleHooks"]
    assert (hook["LifecycleHookName"], hook["LifecycleTransition"], hook["HeartbeatTimeout"],
            hook["DefaultResult"]) == ("drain", TERMINATING, 600, "CONTINUE")
    sb.advance(0)
    instances = sorted(_lifecycle(sb, "cfn-nodes"))
    assert len(instances) == 3 and _registered(sb) == set(instances)

    victim = instances[0]
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    states = _lifecycle(sb, "cfn-nodes")
    assert states == {victim: "Terminating:Wait", instances[1]: "InService", instances[2]: "InService"}
    (described,) = autoscaling.describe_auto_scaling_instances(InstanceIds=[victim])["AutoScalingInstances"]
    assert described["LifecycleState"] == "Terminating:Wait"
    assert _desired(sb, "cfn-nodes") == 2
    # While it waits it keeps running (and serving ECS), and nothing replaces it.
    sb.advance(500)
    assert _ec2_state(sb, victim) == "running" and victim in _registered(sb)
    assert len(_lifecycle(sb, "cfn-nodes")) == 3
    with pytest.raises(botocore.exceptions.ClientError):
        autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)

    autoscaling.complete_lifecycle_action(AutoScalingGroupName="cfn-nodes", LifecycleHookName="drain",
                                          LifecycleActionResult="CONTINUE", InstanceId=victim)
    assert _ec2_state(sb, victim) in ("shutting-down", "terminated")
    sb.advance(0)
    assert _registered(sb) == set(instances[1:])
    assert _lifecycle(sb, "cfn-nodes") == {i: "InService" for i in instances[1:]}


def test_scale_in_by_api_and_by_stack_update_waits_for_the_hook(sb: Sandbox) -> None:
    subnet = _subnet_and_template(sb)
    cfn, autoscaling = sb.client("cloudformation"), sb.client("autoscaling")
    cfn.create_stack(StackName="nodes", TemplateBody=_stack_template(subnet, 5))
    sb.advance(0)

    cfn.update_stack(StackName="nodes", TemplateBody=_stack_template(subnet, 2))  # MaxSize 5 -> 2
    states = _lifecycle(sb, "cfn-nodes")
    assert sorted(states.values()) == ["InService", "InService", "Terminating:Wait"]
    assert _desired(sb, "cfn-nodes") == 2

    autoscaling.update_auto_scaling_group(AutoScalingGroupName="cfn-nodes", MaxSize=1)
    states = _lifecycle(sb, "cfn-nodes")
    assert sorted(states.values()) == ["InService", "Terminating:Wait", "Terminating:Wait"]
    autoscaling.set_desired_capacity(AutoScalingGroupName="cfn-nodes", DesiredCapacity=0)
    waiting = [i for i, s in _lifecycle(sb, "cfn-nodes").items() if s == "Terminating:Wait"]
    assert len(waiting) == 3 and _desired(sb, "cfn-nodes") == 0
    sb.advance(1)
    assert _registered(sb) == set(waiting)
    for instance in waiting:
        autoscaling.complete_lifecycle_action(AutoScalingGroupName="cfn-nodes", LifecycleHookName="drain",
                                              LifecycleActionResult="ABANDON", InstanceId=instance)
    sb.advance(0)
    assert _lifecycle(sb, "cfn-nodes") == {} and _registered(sb) == set()


def test_hook_from_the_api_times_out_on_the_sandbox_clock_and_heartbeats_extend_it(sb: Sandbox) -> None:
    group = _api_group(sb, desired=3, hook={**HOOK, "DefaultResult": "ABANDON"})
    autoscaling = sb.client("autoscaling")
    (hook,) = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=group)["LifecycleHooks"]
    assert (hook["HeartbeatTimeout"], hook["DefaultResult"]) == (300, "ABANDON")
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    waiting = sorted(i for i, s in _lifecycle(sb, group).items() if s == "Terminating:Wait")
    assert len(waiting) == 2 and len(_lifecycle(sb, group)) == 3  # no replacement
    # Setting the same capacity again picks nobody else.
    autoscaling.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=1)
    assert sorted(i for i, s in _lifecycle(sb, group).items() if s == "Terminating:Wait") == waiting

    sb.advance(200)
    autoscaling.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="drain",
                                                  InstanceId=waiting[1])
    sb.advance(100)  # 300 s since the hook started: the first times out with its DefaultResult
    assert _ec2_state(sb, waiting[0]) == "terminated" and waiting[0] not in _registered(sb)
    assert _ec2_state(sb, waiting[1]) == "running" and waiting[1] in _registered(sb)
    assert _lifecycle(sb, group)[waiting[1]] == "Terminating:Wait"
    sb.advance(199)
    assert _ec2_state(sb, waiting[1]) == "running"
    sb.advance(1)  # 300 s since the heartbeat
    assert _ec2_state(sb, waiting[1]) == "terminated" and waiting[1] not in _registered(sb)
    assert len(_lifecycle(sb, group)) == 1


def test_terminate_without_decrement_launches_a_replacement_while_the_old_one_waits(sb: Sandbox) -> None:
    group = _api_group(sb, desired=2)
    autoscaling = sb.client("autoscaling")
    victim = sorted(_lifecycle(sb, group))[0]
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=False)
    states = _lifecycle(sb, group)
    assert states[victim] == "Terminating:Wait"
    assert sorted(states.values()) == ["InService", "InService", "Terminating:Wait"]
    assert _desired(sb, group) == 2
    sb.advance(0)
    assert _registered(sb) == set(states)


def test_lifecycle_event_reaches_sqs_and_its_token_completes_the_action(sb: Sandbox) -> None:
    queue = rule_to_queue(sb, "lifecycle", {"source": ["aws.autoscaling"],
                                     "detail-type": ["EC2 Instance-terminate Lifecycle Action"]})
    group = _api_group(sb, desired=2)
    victim = sorted(_lifecycle(sb, group))[0]
    autoscaling = sb.client("autoscaling")
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=victim, ShouldDecrementDesiredCapacity=True)

    (event,) = _received(sb, queue)
    assert event["source"] == "aws.autoscaling"
    assert event["detail-type"] == "EC2 Instance-terminate Lifecycle Action"
    detail = event["detail"]
    assert {k: detail[k] for k in ("AutoScalingGroupName", "LifecycleHookName", "EC2InstanceId",
                                   "LifecycleTransition")} == {
        "AutoScalingGroupName": group, "LifecycleHookName": "drain", "EC2InstanceId": victim,
        "LifecycleTransition": TERMINATING}
    autoscaling.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="drain",
                                          LifecycleActionResult="ABANDON",
                                          LifecycleActionToken=detail["LifecycleActionToken"])
    assert _ec2_state(sb, victim) in ("shutting-down", "terminated")


def test_unknown_lifecycle_actions_are_validation_errors(sb: Sandbox) -> None:
    group = _api_group(sb, desired=1)
    instance = next(iter(_lifecycle(sb, group)))
    autoscaling = sb.client("autoscaling")
    with pytest.raises(botocore.exceptions.ClientError) as not_waiting:
        autoscaling.complete_lifecycle_action(AutoScalingGroupName=group, LifecycleHookName="drain",
                                              LifecycleActionResult="CONTINUE", InstanceId=instance)
    error = not_waiting.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert error["Message"] == f"No active Lifecycle Action found with instance ID {instance}"
    autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=instance, ShouldDecrementDesiredCapacity=False)
    with pytest.raises(botocore.exceptions.ClientError) as wrong_hook:
        autoscaling.record_lifecycle_action_heartbeat(AutoScalingGroupName=group, LifecycleHookName="other",
                                                      InstanceId=instance)
    assert wrong_hook.value.response["Error"]["Code"] == "ValidationError"
    assert _lifecycle(sb, group)[instance] == "Terminating:Wait"


def test_group_without_a_hook_terminates_at_once(sb: Sandbox) -> None:
    group = _api_group(sb, desired=2, hook=None)
    victim = sorted(_lifecycle(sb, group))[0]
    sb.client("autoscaling").terminate_instance_in_auto_scaling_group(
        InstanceId=victim, ShouldDecrementDesiredCapacity=True)
    assert victim not in _lifecycle(sb, group)
    assert _ec2_state(sb, victim) in ("shutting-down", "terminated")


# ---- spot interruptions ------------------------------------------------------------------------


def _spot_fleet(sb: Sandbox, fleet_type: str | None = None, stack: bool = False) -> str:
    """A spot fleet of two instances that join cluster `fleet`, by RequestSpotFleet or CloudFormation."""
    _, subnet, _ = network(sb)
    sb.client("ecs").create_cluster(clusterName="fleet")
    ec2 = sb.client("ec2")
    config = {
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 2, "SpotPrice": "0.05",
        "AllocationStrategy": "lowestPrice", **({"Type": fleet_type} if fleet_type else {}),
        "LaunchSpecifications": [{"ImageId": any_image(ec2), "InstanceType": "t3.medium", "SubnetId": subnet,
                                  "UserData": base64.b64encode(user_data("fleet").encode()).decode()}]}
    if stack:
        cfn = sb.client("cloudformation")
        cfn.create_stack(StackName="spot", TemplateBody=json.dumps({"Resources": {"Fleet": {
            "Type": "AWS::EC2::SpotFleet", "Properties": {"SpotFleetRequestConfigData": config}}}}))
        fleet = cfn.describe_stack_resource(StackName="spot", LogicalResourceId="Fleet")[
            "StackResourceDetail"]["PhysicalResourceId"]
    else:
        fleet = ec2.request_spot_fleet(SpotFleetRequestConfig=config)["SpotFleetRequestId"]
    sb.advance(0)
    return str(fleet)


def _fleet(sb: Sandbox, fleet: str) -> tuple[set[str], dict[str, Any]]:
    ec2 = sb.client("ec2")
    active = ec2.describe_spot_fleet_instances(SpotFleetRequestId=fleet)["ActiveInstances"]
    (config,) = ec2.describe_spot_fleet_requests(SpotFleetRequestIds=[fleet])["SpotFleetRequestConfigs"]
    return {i["InstanceId"] for i in active}, config["SpotFleetRequestConfig"]


def test_spot_interruption_warns_then_terminates_and_the_fleet_replaces_it(sb: Sandbox) -> None:
    queue = rule_to_queue(sb, "spot", {"source": ["aws.ec2"],
                                       "detail-type": ["EC2 Spot Instance Interruption Warning"]})
    fleet = _spot_fleet(sb)
    before, config = _fleet(sb, fleet)
    assert config["Type"] == "maintain" and len(before) == 2 and _registered(sb) == before
    victim = sorted(before)[0]

    _control(sb.endpoint_url, "spot/interrupt", {"instance": victim, "notice": 120})
    (event,) = _received(sb, queue)
    assert event["source"] == "aws.ec2"
    assert event["resources"] == [f"arn:aws:ec2:{sb.region}:123456789012:instance/{victim}"]
    assert event["detail"] == {"instance-id": victim, "instance-action": "terminate"}
    sb.advance(119)
    assert _ec2_state(sb, victim) == "running" and victim in _registered(sb)

    sb.advance(1)
    assert _ec2_state(sb, victim) in ("shutting-down", "terminated")
    after, config = _fleet(sb, fleet)
    assert victim not in after and len(after) == 2 and after > (before - {victim})
    assert config["FulfilledCapacity"] == 2.0
    assert _registered(sb) == after


def test_request_type_spot_fleet_from_cloudformation_is_not_replenished(sb: Sandbox) -> None:
    fleet = _spot_fleet(sb, "request", stack=True)
    before, config = _fleet(sb, fleet)
    assert config["Type"] == "request"
    victim = sorted(before)[0]
    sb.interrupt_spot(victim, notice_seconds=30)
    sb.advance(30)
    after, config = _fleet(sb, fleet)
    assert after == before - {victim} and config["FulfilledCapacity"] == 1.0
    assert _registered(sb) == after


# ---- hosts where tasks fail to start -----------------------------------------------------------


def _two_versions(sb: Sandbox) -> dict[str, str]:
    """One container instance with asg_version v1 and one with v2: version -> container instance ARN."""
    _, subnet, group = network(sb)
    sb.client("ecs").create_cluster(clusterName="fleet")
    ec2 = sb.client("ec2")
    for version in ("v1", "v2"):
        ec2.run_instances(ImageId=any_image(ec2), MinCount=1, MaxCount=1, InstanceType="t3.medium",
                          SubnetId=subnet, SecurityGroupIds=[group],
                          UserData=user_data("fleet", json.dumps({"asg_version": version})))
    sb.advance(0)
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster="fleet")["containerInstanceArns"]
    found = ecs.describe_container_instances(cluster="fleet", containerInstances=arns)["containerInstances"]
    return {next(a["value"] for a in ci["attributes"] if a["name"] == "asg_version"): ci["containerInstanceArn"]
            for ci in found}


def _on(version: str) -> list[dict[str, str]]:
    return [{"type": "memberOf", "expression": f"attribute:asg_version == {version}"}]


def test_tasks_fail_to_start_on_hosts_with_the_attribute_and_run_elsewhere(sb: Sandbox) -> None:
    hosts = _two_versions(sb)
    queue = rule_to_queue(sb, "tasks", {"detail-type": ["ECS Task State Change"]})
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("app"))
    already_placed = ecs.run_task(cluster="fleet", taskDefinition="app", placementConstraints=_on("v2"))["tasks"][0]
    _control(sb.endpoint_url, "tasks/fail-on", {"attribute": "asg_version", "value": "v2"})
    failing = ecs.run_task(cluster="fleet", taskDefinition="app", placementConstraints=_on("v2"))["tasks"][0]
    working = ecs.run_task(cluster="fleet", taskDefinition="app", placementConstraints=_on("v1"))["tasks"][0]
    sb.advance(2)

    arns = [already_placed["taskArn"], failing["taskArn"], working["taskArn"]]
    first, second, ok = describe_tasks(sb, "fleet", arns)
    assert ok["lastStatus"] == "RUNNING" and ok["containerInstanceArn"] == hosts["v1"]
    for task in (first, second):
        assert task["containerInstanceArn"] == hosts["v2"]
        assert (task["desiredStatus"], task["lastStatus"]) == ("STOPPED", "STOPPED")
        assert task["stopCode"] == "TaskFailedToStart"
        assert task["stoppedReason"].startswith("CannotPullContainerError")
        (container,) = task["containers"]
        assert container["reason"] == task["stoppedReason"] and "exitCode" not in container
        assert container["lastStatus"] == "STOPPED"
    v2 = ecs.describe_container_instances(cluster="fleet", containerInstances=[hosts["v2"]])["containerInstances"][0]
    remaining = {r["name"]: r for r in v2["remainingResources"]}
    registered = {r["name"]: r for r in v2["registeredResources"]}
    assert remaining["MEMORY"]["integerValue"] == registered["MEMORY"]["integerValue"]
    assert remaining["PORTS"]["stringSetValue"] == registered["PORTS"]["stringSetValue"]
    assert v2["runningTasksCount"] == 0 and v2["pendingTasksCount"] == 0

    steps = [(e["detail"]["taskArn"], e["detail"]["lastStatus"]) for e in _received(sb, queue)]
    assert [s for arn, s in steps if arn == failing["taskArn"]] == ["PENDING", "STOPPED"]


def test_failing_hosts_take_a_reason_and_reset_clears_them(sb: Sandbox) -> None:
    _two_versions(sb)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("app"))
    sb.fail_tasks_on("asg_version", "v2", reason="CannotPullContainerError: access denied")
    task = ecs.run_task(cluster="fleet", taskDefinition="app", placementConstraints=_on("v2"))["tasks"][0]
    sb.advance(2)
    assert describe_tasks(sb, "fleet", [task["taskArn"]])[0]["stoppedReason"] == \
        "CannotPullContainerError: access denied"

    sb.reset()
    _two_versions(sb)
    ecs.register_task_definition(**task_definition("app"))
    task = ecs.run_task(cluster="fleet", taskDefinition="app", placementConstraints=_on("v2"))["tasks"][0]
    sb.advance(2)
    assert describe_tasks(sb, "fleet", [task["taskArn"]])[0]["lastStatus"] == "RUNNING"
