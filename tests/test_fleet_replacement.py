"""`scaling: placement`, replacement: a dear instance whose tasks a cheaper offer holds is replaced
by launching the cheaper capacity first; once it has joined, consolidation drains the dear one
(dearest first), never the new one. When not to: a small saving, within the anti-flap window of a
scale-in, tasks that already fit elsewhere, a spot fleet that may launch another of its bids.

Sizes: an m5.large holds 4 copies of the default task (512 CPU, 2048 MiB).
"""

from __future__ import annotations

from ecsfleet.aws import Clients
from ecsfleet.fleet.actions import SetCapacity
from ecsfleet.fleet.capacity import TaskSize
from ecsfleet.fleet.consolidation import Host
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.packing import Room
from ecsfleet.fleet.placement import Offer
from ecsfleet.fleet.plan import Options, Plan
from ecsfleet.fleet.replacement import plan_replacement
from ecsfleet.fleet.schema import Infra, parse_infra
from ecsfleet.sandbox import Sandbox
from fleet_worlds import NOW, World, service, spot_id
from support import rolled_out, stop_codes
from test_fleet_consolidation import WINDOW, consolidate, drained

INFRA = """\
cluster:
  name: prod
ec2_instances:
  scaling:
    mode: placement
    headroom: 0
  auto_scaling_groups:
    - name: ondemand
      instance_type: m5.large
      min_size: 0
      desired_instances: 1
      max_size: 3
  spot_fleets:
    - name: spot
      min_weight: 0
      max_weight: 8
      bids:
{bids}"""
TASK = TaskSize(2048, 512)
M5_LARGE = TaskSize(7372, 2048)


def infra(*bids: tuple[str, float]) -> Infra:
    return parse_infra("infra.yml", INFRA.format(bids="".join(
        f"        - instance_type: {t}\n          price: {p}\n" for t, p in bids or [("m5.large", 0.04)])))


def on_demand_beside_full_spot(config: Infra) -> World:
    """On-demand i-od1 ($0.096/h, 3 tasks) beside spot i-s1, full with 4: i-od1's tasks fit nowhere."""
    w = World(config)
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1", "i-s1").run("i-od1", 3).run("i-s1", 4)
    return w


def launches(result: Plan) -> dict[str, int]:
    return {a.group_id: a.capacity for a in result.actions if isinstance(a, SetCapacity)}


def test_a_dear_instance_gets_its_cheaper_replacement_launched_first() -> None:
    result = consolidate(on_demand_beside_full_spot(infra()), [service(desired=7, running=7)])
    assert launches(result) == {spot_id("v1"): 2}  # one more m5.large on spot
    assert drained(result) == []  # nothing moves before its new place runs
    assert not result.scaled_out  # the load did not grow: the anti-flap window does not start
    reason = next(a.reason for a in result.actions if isinstance(a, SetCapacity))
    assert reason.startswith("replace i-od1 (m5.large, $0.0960/h, 3 service task(s)) by 1 m5.large (spot $0.0400/h, ")
    assert "saves $0.0560/h once it is drained" in reason


def test_once_the_cheaper_instance_has_joined_the_dear_one_is_drained_not_the_new_one() -> None:
    w = World(infra())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1", "i-s2")
    w.host("i-od1", "i-s1", "i-s2").run("i-od1", 3).run("i-s1", 4)  # i-s2 joined empty
    result = consolidate(w, [service(desired=7, running=7)])
    assert drained(result) == ["i-od1"]
    assert "saves $0.0960/h (m5.large)" in result.actions[0].reason  # type: ignore[union-attr]
    assert launches(result) == {}


def test_no_replacement_for_a_small_saving() -> None:
    # $0.08 against $0.096: a sixth saved, under the quarter a replacement must save.
    result = consolidate(on_demand_beside_full_spot(infra(("m5.large", 0.08))), [service(desired=7, running=7)])
    assert result.actions == []


def test_no_replacement_within_the_window_of_a_scale_in() -> None:
    w = on_demand_beside_full_spot(infra())
    assert consolidate(w, [service(desired=7, running=7)], last_scale_in=NOW - WINDOW).actions == []
    assert launches(consolidate(w, [service(desired=7, running=7)], last_scale_in=NOW - WINDOW - 60))


def test_no_replacement_from_a_spot_fleet_that_may_launch_another_of_its_bids() -> None:
    # With two bids, AWS's allocation strategy picks the type: the m5.large asked for could come as
    # an m5.2xlarge at $0.30, dearer than what it replaces.
    config = infra(("m5.large", 0.04), ("m5.2xlarge", 0.30))
    assert consolidate(on_demand_beside_full_spot(config), [service(desired=7, running=7)]).actions == []


def host(ec2: str, price: float, tasks: int, free: int, group: str = "g-od", instance_type: str = "m5.large") -> Host:
    return Host(ec2, instance_type, price, Room(ec2, free * TASK.cpu, free * TASK.memory),
                tuple(("web", TASK) for _ in range(tasks)), group=group)


def offer(price: float, room: int = 4, group: str = "g-spot", instance_type: str = "m5.large") -> Offer:
    return Offer(group, "spot", instance_type, 1, price, M5_LARGE, room)


def test_the_replacement_that_saves_most_is_chosen() -> None:
    hosts = [host("i-a", 0.096, 3, 1), host("i-b", 0.192, 4, 0, instance_type="m5.xlarge"), host("i-c", 0.04, 4, 0)]
    choice = plan_replacement(hosts, [offer(0.04)])
    # i-b's 4 tasks need 2 new m5.large (3 a host by memory): $0.112 saved; i-a's 3 need 1: $0.056.
    assert choice is not None and (choice.host.ec2_id, choice.instances) == ("i-b", 2)
    assert round(choice.saving, 4) == 0.112


def test_tasks_that_fit_on_the_others_are_consolidations_not_replacements() -> None:
    # i-a's 3 tasks fit in i-c's free room: consolidation drains i-a or keeps it for a reason of
    # its own (the reserve); launching would add room nobody asked for, again every pass.
    hosts = [host("i-a", 0.096, 3, 1), host("i-c", 0.04, 1, 3)]
    assert plan_replacement(hosts, [offer(0.04)]) is None


def test_an_offer_without_room_or_too_small_is_no_replacement() -> None:
    hosts = [host("i-a", 0.096, 3, 1), host("i-c", 0.04, 4, 0)]
    assert plan_replacement(hosts, [offer(0.04, room=0)]) is None
    small = Offer("g-spot", "spot", "t3.small", 1, 0.01, TaskSize(1800, 2048), 4)  # holds no 2 GiB task
    assert plan_replacement(hosts, [small]) is None
    # The same type in the same group is the instance itself, not a replacement.
    assert plan_replacement(hosts, [offer(0.04, group="g-od")]) is None


# End to end in the sandbox.

SANDBOX_INFRA = """\
cluster:
  name: shop
ec2_instances:
  scaling:
    mode: placement
    headroom: 0
    consolidate_after: 2m
  auto_scaling_groups:
    - name: ondemand
      instance_type: t3.medium
      min_size: 0
      desired_instances: 1
      max_size: 2
  spot_fleets:
    - name: spot
      desired_weight: 0
      min_weight: 0
      max_weight: 3
      bids:
        - instance_type: t3.medium
          price: 0.02
"""


def test_an_on_demand_instance_is_replaced_by_spot_capacity_killing_nothing(sb: Sandbox, clients: Clients) -> None:
    infra = parse_infra("infra.yml", SANDBOX_INFRA)
    rolled_out(sb, clients, infra)
    sb.set_spot_price("t3.medium", 0.0125)  # against $0.0416 on demand
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": 512, "cpu": 256}])
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="web", desiredCount=2,
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    sb.advance(5)
    (on_demand,) = read_world(clients, infra).fleet("v1").asgs[0].instances  # type: ignore[union-attr]
    controller = FleetController(clients, infra, Options(max_draining=1), now=sb.now)
    kinds: list[tuple[str, str, str]] = []
    seen_running: list[int] = []
    for _ in range(12):
        report = controller.reconcile(dry_run=False)
        assert report.ok, report.summary()
        kinds += [(o.kind, o.target, o.detail) for o in report.outcomes]
        sb.advance(60)
        seen_running.append(ecs.describe_services(cluster="shop", services=["web"])["services"][0]["runningCount"])
    # Launched first (a replacement, not a scale-out for load), then the dear one drained and removed.
    scales = [detail for kind, _, detail in kinds if kind == "scale"]
    assert len(scales) == 1, kinds  # one launch: the replacement is not asked for again while it boots
    assert any(f"replace {on_demand.instance_id} (t3.medium, $0.0416/h, 2 service task(s)) by 1 t3.medium (spot "
               "$0.0125/h" in detail for detail in scales), scales
    drains = [(target, detail) for kind, target, detail in kinds if kind == "drain"]
    assert [target for target, _ in drains] == [on_demand.instance_id], drains
    assert "its 2 service task(s) fit on the other instances" in drains[0][1]
    world = read_world(clients, infra)
    fleet = world.fleet("v1")
    assert fleet is not None and world.snapshot is not None
    assert fleet.asgs[0].desired == 0 and fleet.spot_fleets[0].target == 1
    assert [ci.ec2_instance_id for ci in world.snapshot.instances] == list(fleet.spot_fleets[0].instance_ids)
    assert min(seen_running) >= 2  # minimumHealthyPercent 100: never fewer than desired running
    assert "TerminationNotice" not in stop_codes(sb, "shop")  # no task was on the instance when it went away
