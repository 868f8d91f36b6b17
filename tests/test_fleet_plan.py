"""The fleet planner on synthetic worlds: scaling, draining before every removal, spot
interruptions, lifecycle hooks, deflation and clean-up of old fleets, and what it must never touch.

Sizes: an m5.large holds 4 copies of the default task (512 CPU, 2048 MiB), an m5.2xlarge 16.
The default infra has `ondemand` (min 1, max 3) and `spot` (weight 0..6, m5.large weight 1,
m5.2xlarge weight 2), task_threshold_out 2 and task_threshold_in 6.
"""

from __future__ import annotations

from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecsfleet.fleet.actions import (
    Action,
    ClearDrainMark,
    CompleteLifecycle,
    DeleteStack,
    Drain,
    RemoveInstance,
    SetCapacity,
    SetStatus,
)
from ecsfleet.fleet.apply import spot_targets
from ecsfleet.fleet.plan import (
    DRAIN_INTENT_GRACE,
    DRAIN_SINCE,
    DRAIN_WHY,
    REPLACES_TAG,
    STATUS_STAMP_TAG,
    LoadSample,
    Observation,
    Options,
    Plan,
    drain_started,
    intent_value,
    plan,
)
from ecsfleet.fleet.templates import DRAIN_HOOK
from fleet_worlds import NOW, World, asg_name, drain_intended, drained_by_ecsfleet, infra, service, spot_id
from test_fleet_scaling_plan import placement

A = TypeVar("A", bound=Action)


def of(result: Plan, kind: type[A]) -> list[A]:
    return [a for a in result.actions if isinstance(a, kind)]


def drained(result: Plan) -> list[str]:
    return [a.ec2_instance_id for a in of(result, Drain)]


def removed(result: Plan) -> list[str]:
    return [a.ec2_instance_id for a in of(result, RemoveInstance)]


def capacities(result: Plan) -> dict[str, int]:
    """Group id -> the capacity a SetCapacity asks for."""
    return {a.group_id: a.capacity for a in of(result, SetCapacity)}


def full(world: World, *ec2_ids: str) -> World:
    """Each instance runs 4 service tasks: an m5.large with no room left."""
    for ec2 in ec2_ids:
        world.host(ec2).run(ec2, 4)
    return world


# 1. Scale out for tasks that cannot be placed.

def test_unplaced_tasks_raise_the_on_demand_group_first() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    full(w, "i-od1")
    # 2 unplaced + 2 below task_threshold_out = 4 copies = 1 m5.large.
    result = w.plan(services=[service(desired=6, running=4)])
    assert capacities(result) == {asg_name("v1"): 2}
    assert "2 task(s) cannot be placed" in of(result, SetCapacity)[0].reason
    assert not result.warnings


def test_scale_out_goes_to_spot_once_on_demand_is_at_its_maximum() -> None:
    w = World(infra(asg_max=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    full(w, "i-od1")
    result = w.plan(services=[service(desired=6, running=4)])
    assert capacities(result) == {spot_id("v1"): 1}


def test_scale_out_fills_on_demand_room_then_asks_spot_for_the_rest() -> None:
    w = World(infra(asg_max=3))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2").spot(w.config)
    full(w, "i-od1", "i-od2")
    # 8 unplaced + 2 = 10 copies = 3 m5.large: 1 on-demand (its last room), 2 spot.
    result = w.plan(services=[service(desired=16, running=8)])
    assert capacities(result) == {asg_name("v1"): 3, spot_id("v1"): 2}
    assert [a.group_kind for a in of(result, SetCapacity)] == ["asg", "spot"]


def test_spot_scale_out_stops_at_max_weight_and_warns() -> None:
    w = World(infra(asg_max=1, spot_max=2))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    full(w, "i-od1", "i-s1")
    result = w.plan(services=[service(desired=20, running=8)])
    assert capacities(result) == {spot_id("v1"): 2}
    assert any("every active group is at its maximum" in m for m in result.warnings)


def test_scale_out_stays_within_the_deployed_max_size_not_infra_ymls() -> None:
    # infra.yml says max_size 3; the group on AWS still has MaxSize 1 (not deployed yet): AWS
    # would refuse a desired capacity of 2, so the room left is spot's.
    w = World(infra(asg_max=3))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", max_size=1).spot(w.config)
    full(w, "i-od1")
    result = w.plan(services=[service(desired=6, running=4)])
    assert capacities(result) == {spot_id("v1"): 1}


def test_scale_in_keeps_the_deployed_min_size_not_infra_ymls() -> None:
    # infra.yml lowered min_size to 0, the group on AWS still has MinSize 2: AWS refuses a
    # termination with decrement below it, so neither on-demand instance is a scale-in candidate.
    w = World(infra(asg_min=0, spot_min=0))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2", min_size=2).spot(w.config)
    w.host("i-od1", "i-od2")
    result = w.plan()
    assert drained(result) == []


def test_every_group_at_its_maximum_is_a_warning_not_an_action() -> None:
    w = World(infra(asg_max=1, spot_max=2))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2")
    full(w, "i-od1", "i-s1", "i-s2")
    result = w.plan(services=[service(desired=14, running=12)])
    assert result.actions == []
    assert any("every active group is at its maximum" in m for m in result.warnings)


# 2. Scale out to keep task_threshold_out copies free.

@pytest.mark.parametrize(("tasks", "asked"), [
    ((3,), 2),      # 1 copy free, 6 wanted: 5 more = 2 instances of 4
    ((1,), 1),      # 3 free: 3 more = 1 instance
    ((4, 3), 2),    # 1 free on two hosts: 5 more = 2 instances
])
def test_scale_out_when_free_copies_fall_below_task_threshold_out(tasks: tuple[int, ...], asked: int) -> None:
    w = World(infra(asg_max=6, threshold_out=6, threshold_in=20))
    ids = [f"i-od{n}" for n in range(len(tasks))]
    w.fleet("v1", active=True, created=1).asg(w.config, *ids).spot(w.config)
    for ec2, count in zip(ids, tasks, strict=True):
        w.host(ec2).run(ec2, count)
    # No service has an unplaced task: only the free copies call for more.
    result = w.plan(services=[service(desired=sum(tasks), running=sum(tasks))])
    assert capacities(result) == {asg_name("v1"): len(ids) + asked}
    assert "below task_threshold_out 6" in of(result, SetCapacity)[0].reason


def test_no_scaling_with_exactly_task_threshold_out_copies_free() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    w.host("i-od1").run("i-od1", 2)
    assert w.plan(services=[service(desired=2, running=2)]).actions == []


# 3. No scaling while capacity asked for has not joined the cluster.

def test_scaling_waits_while_an_instance_boots() -> None:
    w = World(infra())
    # i-s1 is in the spot fleet but not yet a container instance.
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    full(w, "i-od1")
    result = w.plan(services=[service(desired=10, running=4)])
    assert result.actions == []
    assert any("scaling waits" in n and "1 instance(s) not yet in the cluster" in n for n in result.notes)


def test_scaling_waits_while_an_asg_is_below_its_desired_capacity() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", desired=2).spot(w.config)
    full(w, "i-od1")
    result = w.plan(services=[service(desired=10, running=4)])
    assert result.actions == []
    assert any("scaling waits" in n and asg_name("v1") in n for n in result.notes)


def test_scaling_waits_while_a_spot_fleet_is_below_its_target() -> None:
    # The last pass raised the spot target to 3; one instance has joined and AWS has not launched
    # the other two yet, so they have no EC2 id. Asking again now would count the same unplaced
    # tasks twice and overshoot (the same reason an ASG short of its desired capacity waits).
    w = World(infra(asg_max=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", target=3, fulfilled=1)
    full(w, "i-od1", "i-s1")
    result = w.plan(services=[service(desired=16, running=8)])
    assert of(result, SetCapacity) == []
    assert any("scaling waits" in n for n in result.notes)


# 4. Scale in: drain, never remove, the emptiest instance.

def scale_in_world(autoscaling: bool = True) -> World:
    """Active v1: on-demand i-od1 (1 task), spot i-s1 (2 tasks) and i-s2 (empty): 9 copies free."""
    w = World(infra(autoscaling=autoscaling))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2")
    w.host("i-od1", "i-s1", "i-s2").run("i-od1").run("i-s1", 2)
    return w


def test_scale_in_drains_the_emptiest_spot_instance() -> None:
    result = scale_in_world().plan(services=[service(desired=3, running=3)])
    assert drained(result) == ["i-s2"]
    assert "scale in" in of(result, Drain)[0].reason
    # Draining comes first; the removal and the lower capacity follow once it is empty.
    assert of(result, RemoveInstance) == [] and of(result, SetCapacity) == []


def test_scale_in_prefers_spot_over_an_emptier_on_demand_instance() -> None:
    w = World(infra(asg_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2").spot(w.config, "i-s1")
    w.host("i-od1", "i-od2", "i-s1").run("i-od1").run("i-s1", 1)
    result = w.plan(services=[service(desired=2, running=2)])
    assert drained(result) == ["i-s1"]


def test_scale_in_takes_on_demand_when_spot_is_at_its_minimum() -> None:
    w = World(infra(asg_min=1, spot_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2").spot(w.config, "i-s1")
    w.host("i-od1", "i-od2", "i-s1").run("i-od1").run("i-s1")
    result = w.plan(services=[service(desired=2, running=2)])
    assert drained(result) == ["i-od2"]


def test_scale_in_never_takes_a_group_below_its_minimum() -> None:
    # 16 copies free, far above task_threshold_in, but both groups are at their minimum; the
    # m5.2xlarge weighs 2, so draining it would leave the spot fleet at 0 < min_weight 1.
    w = World(infra(asg_min=1, spot_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", target=2)
    w.host("i-od1").host("i-s1", instance_type="m5.2xlarge").run("i-s1", 4)
    result = w.plan(services=[service(desired=4, running=4)])
    assert result.actions == []


def test_scale_in_keeps_task_threshold_out_copies() -> None:
    # 7 copies free > task_threshold_in 6, but either instance takes 4 with it: 3 < 5 left.
    w = World(infra(threshold_out=5, threshold_in=6))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1", "i-s1").run("i-s1")
    result = w.plan(services=[service(desired=1, running=1)])
    assert result.actions == []


def test_no_scale_in_at_exactly_task_threshold_in() -> None:
    # 6 copies free, not above task_threshold_in 6.
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1", "i-s1").run("i-od1").run("i-s1")
    assert w.plan(services=[service(desired=2, running=2)]).actions == []


def test_an_idle_cluster_scales_in_to_its_minimum_one_drain_at_a_time() -> None:
    w = World(infra(asg_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2").spot(w.config, "i-s1")
    w.host("i-od1", "i-od2", "i-s1")
    assert drained(w.plan()) == ["i-s1"]


@pytest.mark.parametrize("attributes", [
    pytest.param(drained_by_ecsfleet(NOW - 60, "scale-in"), id="drained-by-ecsfleet"),
    pytest.param(drained_by_ecsfleet(NOW - 60, "spot"), id="drained-for-spot-interruption"),
    pytest.param({}, id="drained-by-a-person"),
])
def test_no_scale_in_while_an_instance_is_draining(attributes: dict[str, str]) -> None:
    # 9 copies free on the ACTIVE instances, but i-s3's 4 service tasks are moving onto them:
    # 5 will be left, not above task_threshold_in, and draining i-s2 as well would leave 1.
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2", "i-s3")
    w.host("i-od1", "i-s1", "i-s2").run("i-od1").run("i-s1", 2)
    w.host("i-s3", status="DRAINING", attributes=attributes).run("i-s3", 4)
    result = w.plan(services=[service(desired=7, running=7)])
    assert drained(result) == []


# 5. Removal of instances ecsfleet drained.

def test_drained_instance_without_service_tasks_is_removed_and_its_group_lowered() -> None:
    w = World(infra(asg_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2").spot(w.config)
    w.host("i-od1").host("i-od2", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60))
    w.run("i-od1", 2)
    result = w.plan(services=[service(desired=2, running=2)])
    assert of(result, RemoveInstance) == [RemoveInstance(
        "i-od2", "asg", asg_name("v1"), 1, 1, "drained: its service tasks run elsewhere")]


def test_two_removals_from_one_spot_fleet_make_one_target_change() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2", "i-s3")
    w.host("i-od1", "i-s1")
    w.host("i-s2", "i-s3", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60))
    result = w.plan()
    assert removed(result) == ["i-s2", "i-s3"]
    # apply sets the target the pass ends with, once, before either termination.
    assert spot_targets(result.actions) == {spot_id("v1"): 1}


def test_a_spot_fleet_still_modifying_is_left_for_the_next_pass() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2", state="modifying")
    w.host("i-od1", "i-s1").host("i-s2", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60))
    full(w, "i-od1")
    result = w.plan(services=[service(desired=9, running=4)])
    assert removed(result) == [] and spot_id("v1") not in capacities(result)
    assert any("spot fleet sfr-v1-spot is still modifying" in n for n in result.notes)
    assert any("sfr-v1-spot still modifying" in n for n in result.notes)  # scaling waits too


def test_removing_a_spot_instance_lowers_the_target_by_its_bid_weight() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2", target=3)
    w.host("i-od1", "i-s1").host("i-s2", instance_type="m5.2xlarge", status="DRAINING",
                                 attributes=drained_by_ecsfleet(NOW - 60))
    [removal] = of(w.plan(), RemoveInstance)
    assert (removal.ec2_instance_id, removal.group_id, removal.weight, removal.new_capacity) == (
        "i-s2", spot_id("v1"), 2, 1)


def test_standalone_tasks_do_not_hold_a_drained_instance() -> None:
    # ECS does not move standalone tasks: waiting for them would wait forever.
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").host("i-s1", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60))
    w.run("i-s1", service=None)
    [removal] = of(w.plan(), RemoveInstance)
    assert removal.ec2_instance_id == "i-s1"
    assert "1 standalone task(s) stop with it" in removal.reason


def test_drained_instance_with_service_tasks_left_is_kept() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").host("i-s1", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60)).run("i-s1")
    result = w.plan(services=[service(desired=1, running=1)])
    assert result.actions == []
    assert "i-s1: draining, 1 service task(s) left" in result.notes


def test_drain_timeout_removes_the_instance_with_a_warning() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").host("i-s1", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 601)).run("i-s1")
    result = w.plan(Options(drain_timeout=600), services=[service(desired=1, running=1)])
    assert removed(result) == ["i-s1"]
    assert of(result, RemoveInstance)[0].reason == "drain timed out"
    assert any("i-s1" in m and "600s drain timeout" in m for m in result.warnings)


def test_drain_timeout_is_not_reached_one_second_early() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").host("i-s1", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 599)).run("i-s1")
    assert removed(w.plan(Options(drain_timeout=600), services=[service(desired=1, running=1)])) == []


def test_instance_drained_by_a_person_is_never_removed() -> None:
    # DRAINING without ecsfleet's mark: someone is working on it. Empty and drained for long.
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2").spot(w.config)
    w.host("i-od1").host("i-od2", status="DRAINING")
    result = w.plan(Options(drain_timeout=60), now=NOW + 86_400)
    assert "i-od2" not in removed(result) + drained(result)
    assert of(result, CompleteLifecycle) == []


# 6. Spot interruptions.

def test_spot_interruption_drains_the_instance_at_once() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1", "i-s1").run("i-s1")
    result = w.plan(services=[service(desired=1, running=1)], interrupted=["i-s1"])
    [drain] = of(result, Drain)
    assert drain.ec2_instance_id == "i-s1"
    assert "spot interruption" in drain.reason
    # The drain reason's tag is what the drain mark records: "spot", so it is never removed by us.
    assert drain.reason.endswith("[spot]")


def test_instance_drained_for_a_spot_interruption_is_left_to_aws() -> None:
    # AWS terminates it and the spot fleet replaces it: lowering the target would lose capacity.
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").host("i-s1", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 4000, "spot"))
    result = w.plan(Options(drain_timeout=600), interrupted=["i-s1"])
    assert "i-s1" not in removed(result) + drained(result)
    assert capacities(result).get(spot_id("v1")) is None


# 7. Instances an Auto Scaling group holds in Terminating:Wait.

def test_terminating_wait_active_instance_is_drained() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", ("i-od2", "Terminating:Wait"), desired=1)
    w.host("i-od1", "i-od2").run("i-od2")
    result = w.plan(services=[service(desired=1, running=1)])
    assert drained(result) == ["i-od2"]
    assert of(result, Drain)[0].reason.endswith("[lifecycle]")
    assert of(result, CompleteLifecycle) == []


@pytest.mark.parametrize("registered", [True, False], ids=["drained", "not-in-cluster"])
def test_terminating_wait_instance_completes_its_lifecycle_once_drained(registered: bool) -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", ("i-od2", "Terminating:Wait"), desired=1)
    w.host("i-od1")
    if registered:
        w.host("i-od2", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60, "lifecycle"))
        w.run("i-od2", service=None)  # standalone tasks do not hold it
    result = w.plan()
    assert of(result, CompleteLifecycle) == [CompleteLifecycle(asg_name("v1"), DRAIN_HOOK, "i-od2", (
        "drained: the group may terminate it"))]
    assert removed(result) == []  # the group already lowered its capacity


def test_terminating_wait_instance_with_service_tasks_left_is_held() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", ("i-od2", "Terminating:Wait"), desired=1)
    w.host("i-od1").host("i-od2", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60, "lifecycle"))
    w.run("i-od2")
    result = w.plan(services=[service(desired=1, running=1)])
    assert result.actions == []


# 8. Deflation of inactive fleets older than the newest active one.

def deflation_world(old_instances: int, *, active_room: bool = True) -> World:
    """Inactive v1 (older) with `old_instances` spot instances, 1 task each; active v2 with two
    m5.large, empty (8 copies of room) or full."""
    w = World(infra(spot_max=12))
    old = [f"i-old{n}" for n in range(old_instances)]
    w.fleet("v1", active=False, created=1).spot(w.config, *old)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config, "i-new2")
    for ec2 in old:
        w.host(ec2).run(ec2)
    if active_room:
        w.host("i-new1", "i-new2")
    else:
        full(w, "i-new1", "i-new2")
    return w


def test_old_inactive_fleet_is_drained_at_most_max_draining_at_once() -> None:
    w = deflation_world(4)
    result = w.plan(Options(max_draining=2), services=[service(desired=4, running=4)])
    assert sorted(drained(result)) == ["i-old0", "i-old1"]
    assert all(d.reason.endswith("[deflate]") for d in of(result, Drain))
    assert of(result, DeleteStack) == []


def test_deflation_counts_instances_already_draining() -> None:
    w = deflation_world(3)
    w.hosts[0].status, w.hosts[0].attributes = "DRAINING", drained_by_ecsfleet(NOW - 60, "deflate")
    result = w.plan(Options(max_draining=2), services=[service(desired=3, running=3)])
    assert len(drained(result)) == 1
    assert "i-old0" not in drained(result)


def test_deflation_waits_for_room_and_asks_the_active_fleet_to_scale_out() -> None:
    w = deflation_world(1, active_room=False)
    result = w.plan(services=[service(desired=9, running=9)])
    assert drained(result) == []
    assert any("i-old0: waiting for room in active fleets for 1 task(s)" in n for n in result.notes)
    # 1 task to move + 2 copies below task_threshold_out = 3 copies: one m5.large, on-demand first.
    assert capacities(result) == {asg_name("v2"): 2}
    assert "1 task(s) cannot be placed" in of(result, SetCapacity)[0].reason


def test_inactive_asg_loses_its_minimum_size() -> None:
    w = World(infra(asg_min=1))
    w.fleet("v1", active=False, created=1).asg(w.config, "i-old1").spot(w.config)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-old1", "i-new1").run("i-old1")
    result = w.plan(services=[service(desired=1, running=1)])
    assert SetCapacity("asg", asg_name("v1"), 1, "inactive fleet v1: no minimum size", min_size=0) in result.actions
    assert drained(result) == ["i-old1"]


def test_empty_inactive_fleet_first_goes_to_zero_capacity() -> None:
    w = World(infra())
    w.fleet("v1", active=False, created=1).asg(w.config, desired=1, min_size=0).spot(w.config, target=2)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-new1")
    result = w.plan()
    assert capacities(result) == {asg_name("v1"): 0, spot_id("v1"): 0}
    assert all(a.min_size == 0 for a in of(result, SetCapacity))
    assert of(result, DeleteStack) == []


def test_empty_inactive_fleet_at_zero_capacity_is_deleted() -> None:
    w = World(infra())
    w.fleet("v1", active=False, created=1).asg(w.config, min_size=0).spot(w.config)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-new1")
    assert of(w.plan(), DeleteStack) == [DeleteStack(
        "prod-asg-v1", "v1", "inactive fleet v1 has no instances and no tasks")]


def test_inactive_fleet_with_a_registered_instance_is_not_deleted() -> None:
    # The ASG says empty, but a container instance still carries the version's attribute.
    w = World(infra())
    w.fleet("v1", active=False, created=1).asg(w.config, min_size=0).spot(w.config)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-new1").host("i-stray", version="v1").run("i-stray")
    result = w.plan(services=[service(desired=1, running=1)])
    assert of(result, DeleteStack) == []
    assert drained(result) == ["i-stray"]


def test_inactive_fleets_unregistered_instance_is_removed() -> None:
    w = World(infra())
    w.fleet("v1", active=False, created=1).asg(w.config, min_size=0).spot(w.config, "i-old1", "i-old2")
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-new1", "i-old2")
    result = w.plan()
    assert of(result, RemoveInstance) == [RemoveInstance(
        "i-old1", "spot", spot_id("v1"), 1, 1, "inactive fleet v1: instance is not in the cluster")]


@pytest.mark.parametrize("held", [False, True], ids=["spot-instance-not-in-cluster", "asg-terminating-wait"])
def test_inactive_fleet_is_not_deleted_in_the_pass_that_ends_its_last_instance(held: bool) -> None:
    # i-old1 is not in the cluster: this pass terminates it (RemoveInstance, or CompleteLifecycle
    # for an instance the ASG holds). The stack may go once a later look finds the fleet empty,
    # not while an instance of it is still there.
    w = World(infra())
    old = w.fleet("v1", active=False, created=1)
    if held:
        old.asg(w.config, ("i-old1", "Terminating:Wait"), desired=0, min_size=0).spot(w.config)
    else:
        old.asg(w.config, min_size=0).spot(w.config, "i-old1")
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-new1")
    result = w.plan()
    assert [a.target for a in result.actions if not isinstance(a, (SetCapacity, DeleteStack))] == ["i-old1"]
    assert of(result, DeleteStack) == []


@pytest.mark.parametrize("status", ["UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"])
def test_empty_inactive_fleet_whose_stack_is_busy_is_not_deleted(status: str) -> None:
    w = World(infra())
    w.fleet("v1", active=False, created=1, status=status).asg(w.config, min_size=0).spot(w.config)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.host("i-new1")
    assert of(w.plan(), DeleteStack) == []


# 9. Safety.

def test_active_fleets_are_never_deflated_or_deleted() -> None:
    # Two active fleets: the older one is empty at zero capacity, which would get an inactive
    # fleet deleted; it must not be, nor drained for anything but scale-in.
    w = World(infra(asg_min=0))
    w.fleet("v1", active=True, created=1).asg(w.config, desired=0).spot(w.config)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config, "i-new2")
    w.fleet("v3", active=True, created=3).asg(w.config, "i-new3")
    w.host("i-new1", "i-new2", "i-new3").run("i-new1").run("i-new3")
    result = w.plan(services=[service(desired=2, running=2)])
    assert of(result, DeleteStack) == []
    assert not any(d.reason.endswith("[deflate]") for d in of(result, Drain))
    assert not any(a.min_size == 0 for a in of(result, SetCapacity))


def test_inactive_fleet_newer_than_the_newest_active_one_is_left_alone() -> None:
    # v3: a rollout in progress (instances joining); v4: an empty fleet whose smoke test failed.
    w = World(infra())
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    w.fleet("v3", active=False, created=3).asg(w.config, "i-roll1").spot(w.config, "i-roll2")
    w.fleet("v4", active=False, created=4).asg(w.config, desired=0, min_size=0).spot(w.config)
    w.host("i-new1", "i-roll1").run("i-new1")  # i-roll2 is still booting
    result = w.plan(services=[service(desired=1, running=1)])
    touched = {a.target for a in result.actions}
    assert touched.isdisjoint({"i-roll1", "i-roll2", asg_name("v3"), spot_id("v3"), asg_name("v4"),
                               spot_id("v4"), "prod-asg-v3", "prod-asg-v4"})


def test_no_active_fleet_warns_and_neither_deflates_nor_scales() -> None:
    w = World(infra())
    w.fleet("v1", active=False, created=1).asg(w.config, "i-old1").spot(w.config)
    w.fleet("v2", active=False, created=2).asg(w.config, desired=0, min_size=0).spot(w.config)
    full(w, "i-old1")
    result = w.plan(services=[service(desired=10, running=4)])
    assert result.actions == []
    assert any("no fleet is active" in m for m in result.warnings)


def test_no_cluster_plans_nothing() -> None:
    w = World(infra(), cluster_exists=False)
    w.fleet("v1", active=False, created=1).asg(w.config, desired=0, min_size=0).spot(w.config)
    w.fleet("v2", active=True, created=2).asg(w.config, "i-new1").spot(w.config)
    result = w.plan(services=[service(desired=10, running=0)], interrupted=["i-new1"])
    assert result.actions == []
    assert any("does not exist" in m for m in result.warnings)


def test_instances_outside_every_fleet_are_never_touched() -> None:
    # i-own: an instance someone added to the cluster (no fleet's group holds it, no version);
    # i-gone: carries the version of a fleet that no longer exists. Both drained by ecsfleet
    # long ago (say, before being moved out of a group) and idle, in an idle cluster.
    w = World(infra(asg_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    w.host("i-od1").host("i-own", "i-free", version="")
    w.host("i-gone", version="v0", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 9000))
    w.host("i-own2", version="", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 9000))
    result = w.plan(Options(drain_timeout=60))
    touched = {a.target for a in result.actions}
    assert touched.isdisjoint({"i-own", "i-free", "i-gone", "i-own2"})


def test_spot_interruption_of_an_instance_outside_every_fleet_is_ignored() -> None:
    # The interruption events come from every spot instance in the account and region (and a
    # rebalance recommendation does not even mean the instance goes away): only ours are drained.
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    w.host("i-od1").host("i-own", version="").run("i-own")
    result = w.plan(services=[service(desired=1, running=1)], interrupted=["i-own"])
    assert drained(result) == []


# 10. Autoscaling off: no scaling, but old fleets are still deflated and deleted.

def test_autoscaling_off_does_not_scale_out() -> None:
    w = World(infra(autoscaling=False))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    full(w, "i-od1")
    assert w.config.ec2_instances.autoscaling is False
    options = Options(autoscaling=w.config.ec2_instances.autoscaling)
    assert w.plan(options, services=[service(desired=10, running=4)]).actions == []


def test_autoscaling_off_does_not_scale_in() -> None:
    w = scale_in_world(autoscaling=False)
    assert w.plan(Options(autoscaling=False), services=[service(desired=3, running=3)]).actions == []


def test_autoscaling_off_still_deflates_and_deletes_old_fleets() -> None:
    w = World(infra(autoscaling=False))
    w.fleet("v0", active=False, created=1).asg(w.config, min_size=0).spot(w.config)
    w.fleet("v1", active=False, created=2).spot(w.config, "i-old1")
    w.fleet("v2", active=True, created=3).asg(w.config, "i-new1").spot(w.config)
    w.host("i-old1", "i-new1").run("i-old1")
    result = w.plan(Options(autoscaling=False), services=[service(desired=1, running=1)])
    assert drained(result) == ["i-old1"]
    assert [d.version for d in of(result, DeleteStack)] == ["v0"]
    assert of(result, SetCapacity) == []


# 11. Invariants on random small worlds.

@st.composite
def worlds(draw: st.DrawFn) -> tuple[World, Options, list[str]]:
    w = World(infra(asg_min=draw(st.integers(0, 1)), asg_max=6, spot_min=draw(st.integers(0, 2)), spot_max=12,
                    threshold_out=draw(st.integers(0, 3)), threshold_in=draw(st.integers(4, 8))))
    days = draw(st.permutations([1, 2, 3]))
    serial = iter(range(1000))
    for v in range(draw(st.integers(1, 3))):
        fleet = w.fleet(f"v{v}", active=draw(st.booleans()), created=days[v],
                        status=draw(st.sampled_from(["CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS"])))
        asg_members: list[tuple[str, str]] = []
        spot_members: list[str] = []
        spot_weight = 0
        for _ in range(draw(st.integers(0, 6))):
            ec2 = f"i-{next(serial)}"
            instance_type = "m5.large"
            if draw(st.booleans()):
                asg_members.append((ec2, draw(st.sampled_from(["InService", "InService", "Terminating:Wait"]))))
            else:
                instance_type = draw(st.sampled_from(["m5.large", "m5.2xlarge"]))
                spot_members.append(ec2)
                spot_weight += 1 if instance_type == "m5.large" else 2
            if draw(st.integers(0, 4)) == 0:
                continue  # booting, or gone from the cluster
            status = draw(st.sampled_from(["ACTIVE", "ACTIVE", "DRAINING"]))
            why = draw(st.sampled_from([None, "scale-in", "deflate", "spot", "lifecycle"]))
            # A drain mark may be confirmed, or only intended (a drain that failed or was cut short).
            attributes = ({} if not why else drained_by_ecsfleet(NOW - draw(st.sampled_from([10, 5000])), why)
                          if draw(st.booleans()) else drain_intended(why))
            w.host(ec2, status=status, instance_type=instance_type, attributes=attributes,
                   connected=draw(st.sampled_from([True, True, False])))
            w.run(ec2, draw(st.integers(0, 3)), cpu=draw(st.sampled_from([256, 512])))
            w.run(ec2, draw(st.integers(0, 1)), service=None)
        in_service = sum(1 for _, state in asg_members if state == "InService")
        fleet.asg(w.config, *asg_members, desired=draw(st.integers(0, in_service)) if in_service else 0,
                  min_size=draw(st.integers(0, 1)))
        fleet.spot(w.config, *spot_members, target=draw(st.integers(0, spot_weight)) if spot_weight else 0)
    # Instances of no fleet: someone's own hosts, maybe ecsfleet-drained long ago.
    for n in range(draw(st.integers(0, 2))):
        ec2 = f"i-foreign{n}"
        status = draw(st.sampled_from(["ACTIVE", "DRAINING"]))
        w.host(ec2, version="", status=status,
               attributes=drained_by_ecsfleet(NOW - 9000) if status == "DRAINING" else {}).run(ec2)
    options = Options(drain_timeout=600, max_draining=draw(st.integers(1, 3)), autoscaling=draw(st.booleans()))
    ids = [h.ec2 for h in w.hosts] + [i for f in w.fleets for a in f.asgs for i in (m.instance_id for m in a.instances)]
    interrupted = draw(st.lists(st.sampled_from(ids), max_size=2)) if ids else []
    return w, options, interrupted


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.integers(0, 12))
def test_random_worlds_never_break_the_safety_rules(case: tuple[World, Options, list[str]], desired: int) -> None:
    w, options, interrupted = case
    scale_in = check_safety_rules(w, options, interrupted, desired)
    assert len(scale_in) <= 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.integers(0, 12), st.sampled_from([0, 1, "20%"]))
def test_random_worlds_never_break_the_safety_rules_when_scaling_by_placement(
        case: tuple[World, Options, list[str]], desired: int, headroom: int | str) -> None:
    w, options, interrupted = case
    w.config = placement(headroom=headroom, asg_max=6, spot_max=12)  # the same groups, scaled by placement
    world = w.build()
    assert world.snapshot is not None
    scale_in = check_safety_rules(w, options, interrupted, desired, watched=True)
    assert len(scale_in) <= options.max_draining
    for action in scale_in:  # never an instance whose standalone task would stop with it
        ci = world.snapshot.instance_by_ec2_id(action.ec2_instance_id)
        assert ci is not None and all(t.service for t in world.snapshot.tasks_on(ci.arn)
                                      if t.last_status != "STOPPED"), action


def check_safety_rules(w: World, options: Options, interrupted: list[str], desired: int,
                       watched: bool = False) -> list[Drain]:
    """Asserts what no plan may do; returns its scale-in drains."""
    world = w.build()
    assert world.snapshot is not None
    services = (service(desired=desired, running=min(desired, len(world.snapshot.tasks))),)
    # A window of steady load seen before: consolidation of busy instances is allowed too.
    history = tuple(LoadSample(NOW - 60 * m, {"web": desired}) for m in range(11, -1, -1)) if watched else ()
    result = plan(Observation(world, w.config, services, frozenset(interrupted), NOW, history), options)
    by_ec2 = {ci.ec2_instance_id: ci for ci in world.snapshot.instances}
    fleets = {f.version: f for f in world.fleets}
    active = [f for f in world.fleets if f.active]
    newest = max((f.stack.created for f in active), default=None)
    fleet_of = {ec2: f for f in world.fleets for ec2 in f.instance_ids}
    waiting = {i.instance_id for f in world.fleets for a in f.asgs for i in a.instances
               if i.lifecycle_state == "Terminating:Wait"}
    maximum = {**{a.name: 6 for f in world.fleets for a in f.asgs},
               **{s.request_id: 12 for f in world.fleets for s in f.spot_fleets}}
    kept = {f.version for f in world.fleets if f.active or newest is None or f.stack.created >= newest}

    for action in result.actions:
        if isinstance(action, DeleteStack):
            fleet = fleets[action.version]
            assert not fleet.active, action
            assert fleet.version not in kept, action
            assert not fleet.instance_ids and not world.members(fleet), action
        elif isinstance(action, Drain):
            ec2 = action.ec2_instance_id
            assert ec2 in fleet_of, f"{action}: belongs to no fleet"
            owner = fleet_of[ec2]
            if owner.version in kept:
                assert not action.reason.endswith("[deflate]"), action
            if owner.active and action.reason.endswith("[scale-in]"):
                assert options.autoscaling, action
        elif isinstance(action, RemoveInstance):
            ec2 = action.ec2_instance_id
            assert ec2 in fleet_of, f"{action}: belongs to no fleet"
            ci = by_ec2.get(ec2)
            if ci is None:
                assert fleet_of[ec2].version not in kept, f"{action}: unregistered, but not an old inactive fleet"
            else:
                assert ci.status == "DRAINING" and drain_started(ci) is not None, action
                assert ci.attributes.get("ecsfleet.drain-reason") != "spot", action
            assert 0 <= action.new_capacity <= maximum[action.group_id], action
        elif isinstance(action, CompleteLifecycle):
            assert action.ec2_instance_id in waiting, action
            ci = by_ec2.get(action.ec2_instance_id)
            if ci is not None and action.reason == "drain timed out":
                assert drain_started(ci) is not None, f"{action}: timed out from a claim that is not true"
        elif isinstance(action, ClearDrainMark):
            assert by_ec2[action.ec2_instance_id].status == "ACTIVE", action
        elif isinstance(action, SetCapacity):
            assert 0 <= action.capacity <= maximum[action.group_id], action
            owner = next(f for f in world.fleets if action.group_id in
                         {a.name for a in f.asgs} | {s.request_id for s in f.spot_fleets})
            if owner.version in kept and not owner.active:
                pytest.fail(f"{action}: a fleet newer than every active one was changed")
            if owner.active:
                assert options.autoscaling, action
    return [d for d in of(result, Drain) if d.reason.endswith("[scale-in]")]


# Claims ecsfleet writes are trusted only while true.

@pytest.mark.parametrize("attributes", [
    pytest.param(drain_intended(), id="intent-of-a-drain-cut-short"),
    pytest.param(drain_intended(at=None), id="intent-without-a-time"),
    pytest.param({DRAIN_WHY: "scale-in@soon"}, id="intent-whose-time-is-not-a-number"),
    pytest.param(drain_intended(at=NOW + 10 * DRAIN_INTENT_GRACE), id="intent-from-far-ahead"),
    pytest.param(drained_by_ecsfleet(NOW - 9000), id="confirmed-mark-of-an-instance-set-active-again"),
    pytest.param(drained_by_ecsfleet(NOW - 9000, timed=False), id="older-ecsfleet-s-marks"),
])
def test_marks_on_an_active_instance_are_cleared(attributes: dict[str, str]) -> None:
    w = World(infra(asg_min=2))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2")
    w.host("i-od1", attributes=attributes).host("i-od2").run("i-od1", 2).run("i-od2", 2)
    result = w.plan(services=[service(desired=4, running=4)])
    (clear,) = of(result, ClearDrainMark)
    assert clear.ec2_instance_id == "i-od1" and set(clear.names) == set(attributes)
    assert not removed(result) and not drained(result)


@pytest.mark.parametrize("attributes", [
    pytest.param(drain_intended(at=NOW - 5), id="intent-another-pass-just-wrote"),
    pytest.param({**drained_by_ecsfleet(NOW - 9000), **drain_intended(at=NOW - 5)},
                 id="new-intent-beside-an-old-confirmation"),
    pytest.param(drain_intended(at=NOW - DRAIN_INTENT_GRACE), id="intent-at-the-end-of-its-grace"),
])
def test_a_fresh_intent_on_an_active_instance_is_kept(attributes: dict[str, str]) -> None:
    # Another pass may be between the intent and the state change (a Lambda's schedule and its
    # queue run passes at once): clearing the intent would leave its drain unclaimed.
    w = World(infra(asg_min=2))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", "i-od2")
    w.host("i-od1", attributes=attributes).host("i-od2").run("i-od1", 2).run("i-od2", 2)
    result = w.plan(services=[service(desired=4, running=4)])
    assert not of(result, ClearDrainMark) and not result.warnings
    assert any(n.startswith("i-od1") and "its mark is kept" in n for n in result.notes)


@pytest.mark.parametrize("tasks", [0, 3])
def test_a_drain_another_pass_has_not_confirmed_yet_is_noted_not_warned_and_never_removed(tasks: int) -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2")
    w.host("i-od1", "i-s1").host("i-s2", status="DRAINING", attributes=drain_intended(at=NOW - 30)).run("i-s2", tasks)
    result = w.plan(Options(drain_timeout=10), services=[service(desired=tasks, running=tasks)])
    assert "i-s2" not in removed(result) and not of(result, ClearDrainMark)
    assert not [m for m in result.warnings if m.startswith("i-s2")]
    assert any(n.startswith("i-s2") and "not confirmed yet" in n for n in result.notes)


@pytest.mark.parametrize("attributes", [
    pytest.param({}, id="drained-by-a-person"),
    pytest.param(drain_intended(), id="drained-after-ecsfleet-s-drain-failed"),
    pytest.param({DRAIN_SINCE: f"{NOW - 9000:.0f}"}, id="a-time-without-its-reason"),
])
@pytest.mark.parametrize("tasks", [0, 3])
def test_a_draining_instance_without_ecsfleet_s_confirmation_is_never_removed(attributes: dict[str, str],
                                                                             tasks: int) -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2")
    w.host("i-od1", "i-s1").host("i-s2", status="DRAINING", attributes=attributes).run("i-s2", tasks)
    result = w.plan(Options(drain_timeout=600), services=[service(desired=tasks, running=tasks)])
    assert "i-s2" not in removed(result) and not of(result, ClearDrainMark)
    warned = [m for m in result.warnings if m.startswith("i-s2")]
    assert len(warned) == (1 if DRAIN_WHY in attributes else 0)
    assert all("never confirmed" in m for m in warned)


def test_an_intent_carries_its_time_but_a_spot_warning_s_keeps_the_bare_reason() -> None:
    assert intent_value("scale-in", NOW + 0.4) == f"scale-in@{NOW:.0f}"
    assert intent_value("spot", NOW) == "spot"  # AWS terminates it: no pass needs the time


def test_the_drain_timeout_counts_only_from_a_confirmed_mark() -> None:
    assert drain_started(World(infra()).host("i-1", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 5))
                         .build().snapshot.instances[0]) == float(f"{NOW - 5:.0f}")  # type: ignore[union-attr]
    assert drain_started(World(infra()).host("i-1", status="DRAINING", attributes=drained_by_ecsfleet(
        NOW - 5, timed=False)).build().snapshot.instances[0]) == float(f"{NOW - 5:.0f}")  # type: ignore[union-attr]
    for status, attributes in [("ACTIVE", drained_by_ecsfleet(NOW - 5)), ("DRAINING", drain_intended()),
                               ("DRAINING", {DRAIN_SINCE: "nan", DRAIN_WHY: "scale-in"}),
                               # a confirmation older than its intent: left by an earlier drain
                               ("DRAINING", {**drained_by_ecsfleet(NOW - 9000), **drain_intended(at=NOW - 60)})]:
        host = World(infra()).host("i-1", status=status, attributes=attributes).build().snapshot.instances[0]  # type: ignore[union-attr]
        assert drain_started(host) is None, (status, attributes)


def test_a_held_instance_drained_by_someone_else_is_not_released_by_the_drain_timeout() -> None:
    w = World(infra(asg_min=1))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1", ("i-od2", "Terminating:Wait"))
    w.host("i-od1").host("i-od2", status="DRAINING", attributes=drain_intended("lifecycle")).run("i-od2", 2)
    result = w.plan(Options(drain_timeout=60))
    assert not of(result, CompleteLifecycle)


def test_a_spot_removal_whose_target_was_already_lowered_does_not_lower_it_again() -> None:
    # A pass lowered the target from 3 to 2 and was cut before terminating i-s3.
    w = World(infra(spot_min=0))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2", "i-s3", target=2,
                                                                      fulfilled=3)
    w.host("i-od1", "i-s1", "i-s2").host("i-s3", status="DRAINING", attributes=drained_by_ecsfleet(NOW - 60))
    w.run("i-od1").run("i-s1")
    (removal,) = of(w.plan(services=[service(desired=2, running=2)]), RemoveInstance)
    assert (removal.ec2_instance_id, removal.new_capacity) == ("i-s3", 2)


def test_an_overshooting_spot_fleet_loses_only_what_it_has_beyond_its_target() -> None:
    # Target 3 met by two weight-2 instances (4): removing one leaves 2, the target becomes 2.
    w = World(infra(spot_min=0))
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2", target=3, fulfilled=4)
    w.host("i-od1").host("i-s1", instance_type="m5.2xlarge").run("i-od1")
    w.host("i-s2", status="DRAINING", instance_type="m5.2xlarge", attributes=drained_by_ecsfleet(NOW - 60))
    (removal,) = of(w.plan(services=[service(desired=1, running=1)]), RemoveInstance)
    assert (removal.ec2_instance_id, removal.new_capacity) == ("i-s2", 2)


def switched(old_stamp: str, claimed: str) -> World:
    """v2 made active by a rollout claiming v1 as it was (stamp `claimed`); v1 now has `old_stamp`."""
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-a").tags[STATUS_STAMP_TAG] = old_stamp
    w.fleet("v2", active=True, created=2).asg(w.config, "i-b").tags.update(
        {REPLACES_TAG: f"v1={claimed}", STATUS_STAMP_TAG: "b2"})
    w.host("i-a", "i-b").run("i-a").run("i-b")
    return w


def test_a_rollout_cut_after_activating_the_new_fleet_is_finished() -> None:
    (flip,) = of(switched("a1", "a1").plan(services=[service(desired=2, running=2)]), SetStatus)
    assert (flip.stack_name, flip.version, flip.status, flip.stamp) == ("prod-asg-v1", "v1", "inactive", "a1")


def test_a_fleet_activated_again_after_the_rollout_is_not_claimed() -> None:
    assert not of(switched("c3", "a1").plan(services=[service(desired=2, running=2)]), SetStatus)


def test_a_claim_on_an_inactive_fleet_binds_nothing() -> None:
    w = switched("a1", "a1")
    w.fleets[1].active = False
    assert not of(w.plan(services=[service(desired=2, running=2)]), SetStatus)
