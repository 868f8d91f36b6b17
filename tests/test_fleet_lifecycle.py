"""fleet rollout and reconcile against the sandbox: blue/green with a smoke test, draining before
every removal, ECS-aware scaling, spot interruptions, lifecycle hooks, and clean-up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.deploy import DeployError
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.plan import DRAIN_SINCE, DRAIN_WHY, Options
from ecsfleet.fleet.rollout import RolloutSettings, rollout, set_status
from ecsfleet.fleet.schema import Infra, load_infra, parse_infra
from ecsfleet.runner import PassReport
from ecsfleet.sandbox import Sandbox
from support import rule_to_queue

INFRA = str(Path(__file__).parent / "fixtures" / "infra-sandbox.yml")
NO_FOLLOW = RolloutSettings(follow=False, poll=5)


def quiet(_: str) -> None:
    pass


@pytest.fixture
def infra() -> Infra:
    return load_infra(INFRA)[1]


def deploy_active(sb: Sandbox, clients: Clients, infra: Infra, version: str,
                  settings: RolloutSettings = NO_FOLLOW, sleep: Callable[[float], None] | None = None) -> None:
    rollout(clients, infra, version, resolve_network(clients, infra), quiet, settings, sleep=sleep or sb.advance)


def web_service(sb: Sandbox, desired: int, memory: int = 512, cpu: int = 256) -> None:
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": memory, "cpu": cpu,
        "portMappings": [{"containerPort": 80, "hostPort": 0}]}])
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="web", desiredCount=desired,
                       deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
    sb.advance(5)


def service(sb: Sandbox) -> dict[str, int]:
    doc = sb.client("ecs").describe_services(cluster="shop", services=["web"])["services"][0]
    return {"desired": doc["desiredCount"], "running": doc["runningCount"]}


def versions_of_tasks(clients: Clients, infra: Infra) -> dict[str, int]:
    world = read_world(clients, infra)
    return {f.version: sum(1 for t in world.tasks_on(f) if t.last_status == "RUNNING" and t.service)
            for f in world.fleets}


def pass_(controller: FleetController, sb: Sandbox, seconds: float = 0) -> PassReport:
    report = controller.reconcile(dry_run=False)
    assert report.ok, report.summary()
    sb.advance(seconds)
    return report


def kinds(report: PassReport) -> list[str]:
    return [o.kind for o in report.outcomes]


def stack_names(sb: Sandbox) -> list[str]:
    return sorted(s["StackName"] for s in sb.client("cloudformation").describe_stacks()["Stacks"])


def test_rollout_moves_every_task_to_the_new_fleet_within_min_healthy_then_deletes_the_old_stack(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=4)
    assert service(sb)["running"] == 4 and versions_of_tasks(clients, infra) == {"v1": 4}
    seen: list[int] = []

    def sleep(seconds: float) -> None:
        sb.advance(seconds)
        seen.append(service(sb)["running"])

    lines: list[str] = []
    rollout(clients, infra, "v2", resolve_network(clients, infra), lines.append,
            RolloutSettings(poll=5, follow_timeout=1800), sleep=sleep)
    # minimumHealthyPercent 50 of 4 allows 2 down; ECS replaced before stopping, so none was.
    assert seen and min(seen) >= 2
    assert min(seen) == 4
    assert versions_of_tasks(clients, infra) == {"v2": 4}
    assert stack_names(sb) == ["shop-asg-v2", "shop-cluster"]
    assert any("smoke test passed" in line for line in lines)
    assert any("rollout of v2 complete" in line for line in lines)
    assert any("v1 (inactive)" in line and "v2 (active)" in line for line in lines)


def test_a_failed_smoke_test_leaves_the_old_fleet_serving_and_the_new_one_at_zero(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=2)
    sb.fail_tasks_on("asg_version", "v2", "CannotPullContainerError: registry unreachable from the new AMI")
    with pytest.raises(DeployError) as failed:
        deploy_active(sb, clients, infra, "v2", RolloutSettings(poll=5, smoke_timeout=60))
    message = str(failed.value)
    assert "smoke test of v2 failed" in message and "CannotPullContainerError" in message
    assert "still active: v1" in message
    world = read_world(clients, infra)
    v1, v2 = world.fleet("v1"), world.fleet("v2")
    assert v1 is not None and v2 is not None
    assert v1.active and not v2.active
    assert [g.desired for g in v2.asgs] == [0] and [f.target for f in v2.spot_fleets] == [0]
    assert versions_of_tasks(clients, infra) == {"v1": 2, "v2": 0}
    # The controller does not deflate or delete the failed fleet (newer than the active one: a later
    # rollout cleans it up); it only drains the instance its group is terminating, and leaves v1 be.
    report = FleetController(clients, infra).reconcile(dry_run=False)
    assert "delete-stack" not in kinds(report)
    assert all(o.target in v2.instance_ids and "[lifecycle]" in o.detail for o in report.outcomes), report.summary()


def test_rollout_command_fails_with_the_reason(sb: Sandbox, infra: Infra, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from types import SimpleNamespace

    # The command waits with time.sleep; here the sandbox clock moves instead.
    monkeypatch.setattr("ecsfleet.fleet.rollout.time", SimpleNamespace(sleep=sb.advance, time=time.time))
    sb.fail_tasks_on("asg_version", "v1", "CannotPullContainerError: denied")
    code = main(["fleet", "rollout", INFRA, "--version", "v1", "--smoke-timeout", "20", "--poll", "5"])
    err = capsys.readouterr().err
    assert code == 1 and "smoke test of v1 failed" in err and "CannotPullContainerError: denied" in err


def test_scale_out_when_a_service_outgrows_free_capacity(sb: Sandbox, clients: Clients, infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=2, memory=1024)
    controller = FleetController(clients, infra)
    sb.client("ecs").update_service(cluster="shop", service="web", desiredCount=14)
    sb.advance(5)
    assert service(sb)["running"] < 14  # three t3.medium hosts hold 3 x 3 tasks of 1 GiB
    report = pass_(controller, sb, 5)
    scale = [o for o in report.outcomes if o.kind == "scale"]
    assert scale and all("cannot be placed" in o.detail for o in scale)
    for _ in range(6):
        pass_(controller, sb, 10)
    assert service(sb)["running"] == 14


def test_scale_in_drains_an_instance_before_removing_it(sb: Sandbox, clients: Clients, infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=1, memory=256, cpu=128)
    controller = FleetController(clients, infra)
    first = pass_(controller, sb)
    drains = [o for o in first.outcomes if o.kind == "drain"]
    assert len(drains) == 1 and "scale in" in drains[0].detail and "remove" not in kinds(first)
    victim = drains[0].target
    ec2 = sb.client("ec2")
    state = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"  # drained, not yet removed
    ci = next(c for c in read_world(clients, infra).snapshot.instances  # type: ignore[union-attr]
              if c.ec2_instance_id == victim)
    assert ci.status == "DRAINING" and DRAIN_SINCE in ci.attributes
    sb.advance(40)  # ECS moves the service tasks and stops them after their stopTimeout
    second = pass_(controller, sb)
    assert [o.target for o in second.outcomes if o.kind == "remove"] == [victim]
    state = ec2.describe_instances(InstanceIds=[victim])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("shutting-down", "terminated")
    assert service(sb)["running"] == 1


def test_a_spot_interruption_warning_drains_the_instance_at_once(sb: Sandbox, clients: Clients,
                                                                 infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=3)
    queue = rule_to_queue(sb, "fleet-events", {"source": ["aws.ec2"],
                                               "detail-type": ["EC2 Spot Instance Interruption Warning"]})
    world = read_world(clients, infra)
    fleet = world.fleet("v1")
    assert fleet is not None
    spot_instance = fleet.spot_fleets[0].instance_ids[0]
    sb.interrupt_spot(spot_instance)
    from ecsfleet.runner import read_queue

    controller = FleetController(clients, infra)
    controller.inbox.add_bodies(read_queue(clients, queue))
    report = pass_(controller, sb)
    drained = [o for o in report.outcomes if o.kind == "drain"]
    assert [o.target for o in drained] == [spot_instance] and "spot interruption" in drained[0].detail
    # The bare reason, no time: what an earlier ecsfleet running beside this one recognises.
    snapshot = read_world(clients, infra).snapshot
    assert snapshot is not None
    marked = snapshot.instance_by_ec2_id(spot_instance)
    assert marked is not None and marked.attributes[DRAIN_WHY] == "spot"
    # Within the two-minute notice ECS moved the service tasks; ecsfleet does not remove the
    # instance itself (AWS terminates it and the fleet replaces the capacity).
    sb.advance(60)
    assert "remove" not in kinds(pass_(controller, sb))
    assert service(sb)["running"] == 3


def test_a_manually_reactivated_old_fleet_is_not_deflated(sb: Sandbox, clients: Clients, infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=2)
    deploy_active(sb, clients, infra, "v2")  # switched, not followed: v1 is inactive and would deflate
    set_status(clients, infra, "v1", "active", quiet)
    controller = FleetController(clients, infra, Options(max_draining=5))
    for _ in range(3):
        report = pass_(controller, sb, 40)
        v1 = read_world(clients, infra).fleet("v1")
        assert v1 is not None
        # Both fleets are active: the scaler may still scale either in, one drained instance at a
        # time within its minimum, but nothing of v1 is deflated or deleted.
        assert not any("[deflate]" in o.detail or o.kind == "delete-stack" for o in report.outcomes)
        assert len(v1.instance_ids) >= 1
    assert "shop-asg-v1" in stack_names(sb)


def test_scale_in_by_hand_waits_in_the_lifecycle_hook_until_drained(sb: Sandbox, clients: Clients,
                                                                    infra: Infra) -> None:
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=4)
    world = read_world(clients, infra)
    fleet = world.fleet("v1")
    assert fleet is not None
    group = fleet.asgs[0]
    held = group.instances[0].instance_id
    autoscaling = sb.client("autoscaling")
    autoscaling.update_auto_scaling_group(AutoScalingGroupName=group.name, MinSize=0, DesiredCapacity=0)
    state = autoscaling.describe_auto_scaling_instances(InstanceIds=[held])["AutoScalingInstances"][0]
    assert state["LifecycleState"] == "Terminating:Wait"
    controller = FleetController(clients, infra, Options(autoscaling=False))
    first = pass_(controller, sb, 40)
    assert [(o.kind, o.target) for o in first.outcomes] == [("drain", held)]
    second = pass_(controller, sb)
    assert [(o.kind, o.target) for o in second.outcomes] == [("complete-lifecycle", held)]
    sb.advance(1)
    assert held not in {ci.ec2_instance_id for ci in read_world(clients, infra).snapshot.instances}  # type: ignore[union-attr]
    assert service(sb)["running"] == 4


def test_dry_run_changes_nothing_and_never_touches_foreign_instances(
        sb: Sandbox, clients: Clients, infra: Infra, capsys: pytest.CaptureFixture[str]) -> None:
    from ecsfleet.sandbox.seed import any_image, user_data

    deploy_active(sb, clients, infra, "v1")
    ec2 = sb.client("ec2")
    foreign = ec2.run_instances(ImageId=any_image(ec2), MinCount=1, MaxCount=1, InstanceType="t3.small",
                                UserData=user_data("shop"))["Instances"][0]["InstanceId"]
    sb.advance(1)
    sb.reset_calls()
    code = main(["fleet", "reconcile", INFRA, "--once", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and "dry run" in out and "drain" in out  # an idle cluster would scale in
    writes = [op for (svc, op), n in sb.calls().items()
              if not op.startswith(("Describe", "List", "Get"))]
    assert writes == []
    controller = FleetController(clients, infra, Options(max_draining=10))
    for _ in range(4):
        report = pass_(controller, sb, 40)
        assert foreign not in {o.target for o in report.outcomes}
    state = ec2.describe_instances(InstanceIds=[foreign])["Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state == "running"


# ---- what AWS refuses: one modify per spot fleet at a time, the deployed group's bounds ------------


def shaped(*, desired_weight: int = 2, max_size: int = 3) -> Infra:
    """The sandbox fixture's infra.yml with another spot weight or on-demand MaxSize."""
    text = Path(INFRA).read_text().replace("desired_weight: 2", f"desired_weight: {desired_weight}").replace(
        "max_size: 3", f"max_size: {max_size}")
    return parse_infra(INFRA, text)


def drain_by_hand_as_ecsfleet(sb: Sandbox, clients: Clients, infra: Infra, ec2_ids: list[str]) -> None:
    """Mark and drain these instances the way a scale-in pass of ecsfleet does."""
    snapshot = read_world(clients, infra).snapshot
    assert snapshot is not None
    arns = [ci.arn for ci in snapshot.instances if ci.ec2_instance_id in ec2_ids]
    ecs = sb.client("ecs")
    for arn in arns:
        ecs.put_attributes(cluster="shop", attributes=[
            {"name": DRAIN_SINCE, "value": f"{sb.now():.0f}", "targetType": "container-instance", "targetId": arn},
            {"name": DRAIN_WHY, "value": "scale-in", "targetType": "container-instance", "targetId": arn}])
    ecs.update_container_instances_state(cluster="shop", containerInstances=arns, status="DRAINING")
    sb.advance(40)


def spot_fleet(clients: Clients, infra: Infra) -> tuple[str, str, int, tuple[str, ...]]:
    fleet = read_world(clients, infra).fleet("v1")
    assert fleet is not None
    (spot,) = fleet.spot_fleets
    return spot.request_id, spot.state, spot.target, spot.instance_ids


def test_two_spot_instances_removed_in_one_pass_make_one_modify(sb: Sandbox, clients: Clients) -> None:
    infra = shaped(desired_weight=3)
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=1, memory=256, cpu=128)
    _, _, target, instances = spot_fleet(clients, infra)
    assert target == 3 and len(instances) == 3
    drain_by_hand_as_ecsfleet(sb, clients, infra, list(instances[:2]))
    sb.reset_calls()
    report = pass_(FleetController(clients, infra, Options(autoscaling=False)), sb)
    assert sorted(o.target for o in report.outcomes if o.kind == "remove") == sorted(instances[:2])
    assert sb.count("ec2", "ModifySpotFleetRequest") == 1  # a second one would be refused: `modifying`
    assert spot_fleet(clients, infra)[1:3] == ("modifying", 1)


def test_a_spot_fleet_still_modifying_is_not_modified_again(sb: Sandbox, clients: Clients) -> None:
    infra = shaped(desired_weight=3)
    deploy_active(sb, clients, infra, "v1")
    web_service(sb, desired=1, memory=256, cpu=128)
    fleet_id, _, _, instances = spot_fleet(clients, infra)
    controller = FleetController(clients, infra, Options(autoscaling=False))
    drain_by_hand_as_ecsfleet(sb, clients, infra, [instances[0]])
    sb.client("ec2").modify_spot_fleet_request(SpotFleetRequestId=fleet_id, TargetCapacity=3)  # someone else's
    sb.reset_calls()
    waiting = pass_(controller, sb)
    assert "remove" not in kinds(waiting) and sb.count("ec2", "ModifySpotFleetRequest") == 0
    assert any("still modifying" in note for note in waiting.notes)
    sb.advance(sb.spot_modifying_seconds)
    done = pass_(controller, sb)
    assert [o.target for o in done.outcomes if o.kind == "remove"] == [instances[0]]
    assert spot_fleet(clients, infra)[2] == 2


def test_scale_out_is_clamped_to_the_deployed_groups_max_size(sb: Sandbox, clients: Clients) -> None:
    deploy_active(sb, clients, shaped(max_size=3), "v1")
    web_service(sb, desired=2, memory=1024)
    # infra.yml now allows 10 on-demand instances, but that is not deployed: the group's MaxSize is 3.
    wider = shaped(max_size=10)
    sb.client("ecs").update_service(cluster="shop", service="web", desiredCount=30)
    sb.advance(5)
    report = pass_(FleetController(clients, wider), sb, 5)
    fleet = read_world(clients, wider).fleet("v1")
    assert fleet is not None
    (group,) = fleet.asgs
    assert (group.max_size, group.desired) == (3, 3)
    assert all(o.ok for o in report.outcomes) and any(o.kind == "scale" for o in report.outcomes)
