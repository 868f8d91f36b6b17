"""fleet under faults: throttling and 5xx on every operation a reconcile pass calls, an instance
terminated and a task stopped between observe and apply, a stack update that fails; and what is
not ecsfleet's (a stack with its naming but no tag, an instance outside the fleets, an Auto
Scaling group of someone else) is never changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ecsfleet.aws import Clients
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.deploy import DeployError
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.plan import Options
from ecsfleet.fleet.rollout import set_status
from ecsfleet.fleet.schema import Infra, load_infra
from ecsfleet.iam import policies
from ecsfleet.runner import PassReport
from ecsfleet.sandbox import Sandbox
from faults import ATTEMPTS, Op, RetryWaits, before_first, skip_retry_waits
from test_fleet_lifecycle import INFRA, NO_FOLLOW, deploy_active, quiet, service, stack_names, web_service

# Every operation the fleet policy lets ecsfleet call itself (not what CloudFormation does for it).
# A set: an action two grants hold (ssm:GetParameter, for public and for the account's own
# parameters) is one operation, armed once.
FLEET_OPS: list[Op] = sorted({
    ({"elasticloadbalancing": "elb"}.get(action.split(":")[0], action.split(":")[0]), action.split(":")[1])
    for grant in policies.capability("fleet").grants if grant.feature != "stack-resources"
    for action in grant.actions})
WRITES = [op for op in FLEET_OPS if not op[1].startswith(("Describe", "List", "Get", "Receive"))]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return skip_retry_waits(monkeypatch)


@pytest.fixture
def infra() -> Infra:
    return load_infra(INFRA)[1]


@dataclass
class Foreign:
    """Things that are not ecsfleet's, in the cluster's account, region and even cluster."""

    sb: Sandbox
    stack: str
    instance: str
    group: str

    def state(self) -> dict[str, Any]:
        cfn, ec2 = self.sb.client("cloudformation"), self.sb.client("ec2")
        group = self.sb.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.group])["AutoScalingGroups"][0]
        instance = ec2.describe_instances(InstanceIds=[self.instance])["Reservations"][0]["Instances"][0]
        ecs_status = [ci["status"] for ci in self.sb.client("ecs").describe_container_instances(
            cluster="shop", containerInstances=self.sb.client("ecs").list_container_instances(
                cluster="shop", filter=f"ec2InstanceId == {self.instance}")["containerInstanceArns"])[
            "containerInstances"]]
        return {
            "stack": cfn.describe_stacks(StackName=self.stack)["Stacks"][0]["StackStatus"],
            "instance": instance["State"]["Name"], "container instance": ecs_status,
            "group": (group["MinSize"], group["MaxSize"], group["DesiredCapacity"], len(group["Instances"])),
        }


def plant_foreign(sb: Sandbox) -> Foreign:
    from ecsfleet.sandbox.seed import any_image, user_data

    cfn, ec2 = sb.client("cloudformation"), sb.client("ec2")
    # Named like a compute stack of the cluster, but not made by ecsfleet (no ecsfleet:cluster tag).
    cfn.create_stack(StackName="shop-asg-handmade",
                     TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    image = any_image(ec2)
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.small",
                                 UserData=user_data("shop"))["Instances"][0]["InstanceId"]
    ec2.create_launch_template(LaunchTemplateName="theirs", LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.small"})
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    sb.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="theirs", LaunchTemplate={"LaunchTemplateName": "theirs"}, MinSize=1, MaxSize=3,
        DesiredCapacity=2, VPCZoneIdentifier=subnet)
    sb.advance(1)
    return Foreign(sb, "shop-asg-handmade", instance, "theirs")


@pytest.fixture
def rolled(sb: Sandbox, clients: Clients, infra: Infra) -> Iterator[Foreign]:
    """v1 served a service; v2 is now the active fleet and v1 waits to be deflated. Someone else's
    stack, instance and group stand beside them."""
    deploy_active(sb, clients, infra, "v1")
    foreign = plant_foreign(sb)
    before = foreign.state()
    assert before["container instance"] == ["ACTIVE"]
    web_service(sb, desired=4)
    deploy_active(sb, clients, infra, "v2", NO_FOLLOW)
    yield foreign
    assert foreign.state() == before, "something that is not ecsfleet's changed"


def converge(controller: FleetController, sb: Sandbox, passes: int = 12) -> list[PassReport]:
    reports = []
    for _ in range(passes):
        reports.append(controller.reconcile(dry_run=False))
        sb.advance(40)
        if "shop-asg-v1" not in stack_names(sb):
            break
    return reports


def test_the_list_of_operations_covers_a_real_deflation(sb: Sandbox, clients: Clients, infra: Infra,
                                                        rolled: Foreign) -> None:
    sb.reset_calls()
    converge(FleetController(clients, infra), sb)
    called = {op for op in sb.calls() if op[0] != "sqs"}
    assert called <= set(FLEET_OPS) | {("ec2", "DescribeInstances")}, called - set(FLEET_OPS)
    assert ("ecs", "UpdateContainerInstancesState") in called and ("cloudformation", "DeleteStack") in called


def test_throttling_on_every_operation_is_retried_and_loses_nothing(
        sb: Sandbox, clients: Clients, infra: Infra, rolled: Foreign, waits: RetryWaits) -> None:
    controller = FleetController(clients, infra)
    planned = controller.reconcile(dry_run=True).planned
    assert planned
    for service_name, operation in FLEET_OPS:
        sb.throttle(service_name, operation, times=ATTEMPTS - 1)
    report = controller.reconcile(dry_run=False)
    assert report.ok, report.summary()
    assert sorted(f"{o.kind} {o.target}: {o.detail}" for o in report.outcomes) == sorted(planned)
    assert waits.backoffs  # throttles were met, and retried
    converge(controller, sb)
    assert stack_names(sb) == ["shop-asg-handmade", "shop-asg-v2", "shop-cluster"]
    assert service(sb)["running"] == 4


@pytest.mark.parametrize("op", WRITES, ids=lambda op: f"{op[0]}.{op[1]}")
def test_a_write_that_keeps_failing_is_reported_and_the_next_passes_converge(
        op: Op, sb: Sandbox, clients: Clients, infra: Infra, rolled: Foreign, waits: RetryWaits) -> None:
    controller = FleetController(clients, infra)
    sb.fail(op[0], op[1], times=ATTEMPTS)
    first = controller.reconcile(dry_run=False)  # must not raise, whichever call fails
    failed = [o for o in first.outcomes if not o.ok]
    if sb.count(*op) >= ATTEMPTS:
        assert failed and all(o.error for o in failed), first.summary()
    converge(controller, sb)
    assert stack_names(sb) == ["shop-asg-handmade", "shop-asg-v2", "shop-cluster"]
    assert service(sb)["running"] == 4


def test_reads_failing_make_a_reported_pass_not_a_crash(sb: Sandbox, clients: Clients, infra: Infra,
                                                       rolled: Foreign, waits: RetryWaits) -> None:
    from ecsfleet.runner import safe_pass

    controller = FleetController(clients, infra)
    sb.fail("ecs", "DescribeContainerInstances", times=ATTEMPTS)
    report = safe_pass(controller, dry_run=False)
    assert not report.ok and report.outcomes == () and report.errors
    converge(controller, sb)
    assert stack_names(sb) == ["shop-asg-handmade", "shop-asg-v2", "shop-cluster"]


def test_an_instance_terminated_between_observe_and_apply(sb: Sandbox, clients: Clients, infra: Infra,
                                                          rolled: Foreign) -> None:
    controller = FleetController(clients, infra, Options(max_draining=3))
    planned = controller.reconcile(dry_run=True).planned
    target = next(line.split()[1].rstrip(":") for line in planned if line.startswith("drain "))
    before_first(clients, ("ecs", "UpdateContainerInstancesState"), lambda: sb.terminate_instance(target))
    report = controller.reconcile(dry_run=False)  # the drain may fail for that host; nothing crashes
    assert {o.target for o in report.outcomes} >= {target}
    converge(controller, sb)
    assert stack_names(sb) == ["shop-asg-handmade", "shop-asg-v2", "shop-cluster"]
    assert service(sb)["running"] == 4


def test_a_task_stopped_between_observe_and_apply(sb: Sandbox, clients: Clients, infra: Infra,
                                                  rolled: Foreign) -> None:
    controller = FleetController(clients, infra)
    ecs = sb.client("ecs")

    def stop_one() -> None:
        task = ecs.list_tasks(cluster="shop", serviceName="web")["taskArns"][0]
        ecs.stop_task(cluster="shop", task=task, reason="stopped by hand")

    before_first(clients, ("ecs", "UpdateContainerInstancesState"), stop_one)
    assert controller.reconcile(dry_run=False).ok
    converge(controller, sb)
    assert stack_names(sb) == ["shop-asg-handmade", "shop-asg-v2", "shop-cluster"]
    assert service(sb)["running"] == 4


def test_a_stack_update_that_fails_is_reported_and_changes_nothing(
        sb: Sandbox, clients: Clients, infra: Infra, rolled: Foreign) -> None:
    sb.fail_stack("shop-asg-v1", "AsgBase", "You have requested more instances than your current limit")
    with pytest.raises(DeployError) as failed:
        set_status(clients, infra, "v1", "active", quiet)
    assert "AsgBase (AWS::AutoScaling::AutoScalingGroup): You have requested more instances" in str(failed.value)
    world = read_world(clients, infra)
    v1 = world.fleet("v1")
    assert v1 is not None and not v1.active
    assert set_status(clients, infra, "v1", "active", quiet)  # the next try goes through
    assert read_world(clients, infra).fleet("v1").active  # type: ignore[union-attr]
