"""`scaling: placement`, the scale-out half: exactly the instances the waiting tasks and the
headroom need (first fit decreasing onto the free room, then onto new instances), from the offer
that holds them for the fewest dollars, and which mode a file gets.

Sizes: an m5.large holds 4 copies of the default task (512 CPU, 2048 MiB), an m5.2xlarge 16.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsfleet.fleet.actions import SetCapacity
from ecsfleet.fleet.capacity import TaskSize
from ecsfleet.fleet.observe import FleetWorld
from ecsfleet.fleet.packing import Room, best_fit, first_fit, new_instances
from ecsfleet.fleet.placement import Offer, plan_scale_out
from ecsfleet.fleet.plan import LoadSample, Observation, Options, Plan, plan
from ecsfleet.fleet.schema import Infra, parse_infra
from fleet_worlds import NOW, TASK_CPU, TASK_MEMORY, World, asg_name, service, spot_id

PLACEMENT = """\
cluster:
  name: prod
ec2_instances:
  scaling:
    mode: placement
    headroom: {headroom}
{prices}  auto_scaling_groups:
    - name: ondemand
      instance_type: m5.large
      min_size: 1
      desired_instances: 1
      max_size: {asg_max}
  spot_fleets:
    - name: spot
      min_weight: 0
      max_weight: {spot_max}
      bids:
        - instance_type: m5.large
          price: {large}
        - instance_type: m5.2xlarge
          price: {xlarge}
          weight: 2
"""


def placement(*, headroom: int | str = 0, asg_max: int = 3, spot_max: int = 8, large: float = 0.05,
              xlarge: float = 0.3, on_demand: dict[str, float] | None = None) -> Infra:
    prices = ("    on_demand_prices:\n" + "".join(f"      {k}: {v}\n" for k, v in on_demand.items())
              if on_demand else "")
    return parse_infra("infra.yml", PLACEMENT.format(headroom=f"'{headroom}'" if isinstance(headroom, str)
                                                     else headroom, asg_max=asg_max, spot_max=spot_max,
                                                     large=large, xlarge=xlarge, prices=prices))


def capacities(result: Plan) -> dict[str, int]:
    return {a.group_id: a.capacity for a in result.actions if isinstance(a, SetCapacity)}


def full_on_demand(config: Infra) -> World:
    w = World(config)
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    w.host("i-od1").run("i-od1", 4)
    return w


# Packing.

T = TaskSize(2048, 512)


def test_first_fit_fills_the_first_room_that_holds_each_task_largest_first() -> None:
    big = TaskSize(4096, 1024)
    rooms, left = first_fit([T, big, T], [Room("a", 1024, 4096), Room("b", 2048, 8192)])
    assert left == []
    assert rooms == [Room("a", 0, 0), Room("b", 1024, 4096)]


def test_best_fit_puts_a_task_where_the_least_memory_is_left_as_ecs_binpack_does() -> None:
    rooms, left = best_fit([T], [Room("roomy", 2048, 8192), Room("tight", 2048, 2048)])
    assert left == [] and rooms[1] == Room("tight", 1536, 0)


def test_new_instances_counts_first_fit_bins_and_returns_what_no_instance_holds() -> None:
    assert new_instances([T] * 9, TaskSize(8192, 2048)) == (3, [])
    assert new_instances([T] * 9, TaskSize(8192, 2048), limit=2) == (2, [T])
    assert new_instances([TaskSize(9000, 10)], TaskSize(8192, 2048)) == (0, [TaskSize(9000, 10)])


# Scale out for what waits.

def test_waiting_tasks_launch_exactly_what_first_fit_needs_from_the_cheapest_offer() -> None:
    # 6 tasks wait; free room none. m5.large spot $0.05 holds 4: 2 of them ($0.10/h for 6 tasks)
    # beat the on-demand m5.large ($0.096 each) and the m5.2xlarge bid ($0.30 for all 6).
    w = full_on_demand(placement())
    result = w.plan(services=[service(desired=10, running=4)])
    assert capacities(result) == {spot_id("v1"): 2}
    reason = next(a.reason for a in result.actions if isinstance(a, SetCapacity))
    assert "6 task(s) cannot be placed (web 6)" in reason
    assert "6 of them need 2 new m5.large (spot $0.0500/h" in reason
    assert any("0 fit the free room of 1 instance(s) in service and 0 booting" in n for n in result.notes)
    assert result.scaled_out


def test_free_room_is_filled_before_anything_is_launched() -> None:
    w = World(placement())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1", "i-s1").run("i-od1", 1)
    result = w.plan(services=[service(desired=5, running=1)])  # 4 wait; 7 copies free
    assert capacities(result) == {}
    assert not result.scaled_out


def test_tasks_on_a_draining_instance_wait_for_a_place_until_replaced() -> None:
    # ECS still counts them running, but they must move: the spot interruption's case.
    w = World(placement())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").run("i-od1", 4)
    w.host("i-s1", status="DRAINING").run("i-s1", 3)
    result = w.plan(services=[service(desired=7, running=7)])
    assert capacities(result) == {spot_id("v1"): 2}  # target 1 (the drained one) + 1 new
    # Capacity replaced, not added for load: it starts no anti-flap window, so the spot fleet's own
    # replacement of the interrupted instance is consolidated as soon as it joins.
    assert not result.scaled_out


def test_capacity_still_booting_counts_as_free_room() -> None:
    # The spot fleet's target is 1 and its instance has not joined: its room (4 tasks) is on the way.
    w = World(placement())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config, "i-s1")
    w.host("i-od1").run("i-od1", 4)
    assert capacities(w.plan(services=[service(desired=8, running=4)])) == {}
    # One task more than the booting instance holds: one more instance, not two.
    assert capacities(w.plan(services=[service(desired=9, running=4)])) == {spot_id("v1"): 2}


@pytest.mark.parametrize(("headroom", "asked"), [(0, 1), (3, 1), (4, 2), ("50%", 1), ("100%", 2)])
def test_a_scale_out_makes_room_for_the_headroom_too(headroom: int | str, asked: int) -> None:
    # One task waits beside a full m5.large; a new m5.large holds 4 copies: the waiting task and up
    # to 3 of headroom need one, 4 need two. "50%" of the 4 copies the fleet holds is 2.
    w = full_on_demand(placement(headroom=headroom))
    assert capacities(w.plan(services=[service(desired=5, running=4)])) == {spot_id("v1"): asked}
    assert capacities(w.plan(services=[service(desired=4, running=4)])) == {}  # nothing waits: nothing launched


def test_a_dearer_bid_wins_when_it_holds_more_tasks_per_dollar() -> None:
    # 14 tasks: 4 m5.large at $0.05 = $0.20/h, or 1 m5.2xlarge (weight 2) at $0.15/h: none has
    # joined yet, so its registered memory is the estimate (32 GiB less 10%: 14 copies).
    w = full_on_demand(placement(xlarge=0.15))
    result = w.plan(services=[service(desired=18, running=4)])
    assert capacities(result) == {spot_id("v1"): 2}
    assert "need 1 new m5.2xlarge" in next(a.reason for a in result.actions if isinstance(a, SetCapacity))


def test_on_demand_priced_at_zero_in_infra_yml_is_taken_first() -> None:
    # A reserved instance already paid for: `on_demand_prices: {m5.large: 0}`.
    w = full_on_demand(placement(on_demand={"m5.large": 0}))
    result = w.plan(services=[service(desired=10, running=4)])
    assert capacities(result) == {asg_name("v1"): 3}


def test_a_group_short_of_room_takes_what_it_can_and_the_next_cheapest_the_rest() -> None:
    w = full_on_demand(placement(spot_max=1))
    result = w.plan(services=[service(desired=12, running=4)])  # 8 wait: 1 spot m5.large, then on-demand
    assert capacities(result) == {spot_id("v1"): 1, asg_name("v1"): 2}


def test_every_group_at_its_maximum_warns() -> None:
    w = full_on_demand(placement(spot_max=0, asg_max=1))
    result = w.plan(services=[service(desired=6, running=4)])
    assert capacities(result) == {}
    assert any("every active group is at its maximum: 2 task(s)" in m for m in result.warnings)


def test_the_cheapest_offer_by_the_binding_resource() -> None:
    # Memory-heavy tasks: two m5.large-sized offers, one on-demand priced lower than the spot bid.
    offers = [Offer("g-cpu", "asg", "c5.large", 1, 0.04, TaskSize(3686, 2048), 5),
              Offer("g-mem", "asg", "r5.large", 1, 0.06, TaskSize(14745, 2048), 5)]
    heavy = [TaskSize(3000, 256)] * 8  # 1 per c5.large ($0.32/h for 8), 4 per r5.large ($0.12/h)
    decision = plan_scale_out(heavy, [], [], offers)
    assert [(launch.offer.group_id, launch.instances) for launch in decision.launches] == [("g-mem", 2)]
    light = [TaskSize(512, 1024)] * 8  # CPU binds: 2 per instance of either; the c5 is cheaper
    decision = plan_scale_out(light, [], [], offers)
    assert [(launch.offer.group_id, launch.instances) for launch in decision.launches] == [("g-cpu", 4)]


_TASKS = st.sampled_from([TaskSize(512, 256), TaskSize(1024, 512), TaskSize(2048, 1024), TaskSize(3000, 256),
                          TaskSize(9000, 4096)])  # the last: larger than some types


@st.composite
def scale_outs(draw: st.DrawFn) -> tuple[list[TaskSize], list[TaskSize], list[Room], list[Offer]]:
    shapes = {"c5.large": TaskSize(3686, 2048), "m5.large": TaskSize(7680, 2048), "r5.large": TaskSize(14745, 2048),
              "m5.xlarge": TaskSize(15360, 4096)}
    offers = [Offer(f"g{n}", draw(st.sampled_from(["asg", "spot"])), kind, draw(st.integers(1, 4)),
                    draw(st.sampled_from([0.0, 0.03, 0.05, 0.1, 0.2])), shapes[kind], draw(st.integers(0, 6)))
              for n, kind in enumerate(draw(st.lists(st.sampled_from(sorted(shapes)), max_size=3)))]
    free = [Room(f"i-{n}", cpu, memory) for n, (cpu, memory) in
            enumerate(draw(st.lists(st.tuples(st.integers(0, 2048), st.integers(0, 8192)), max_size=4)))]
    return draw(st.lists(_TASKS, max_size=12)), draw(st.lists(_TASKS, max_size=2)), free, offers


@settings(max_examples=300, deadline=None)
@given(scale_outs())
def test_a_scale_out_accounts_for_every_task_and_leaves_none_a_group_could_hold(
        case: tuple[list[TaskSize], list[TaskSize], list[Room], list[Offer]]) -> None:
    waiting, headroom, free, offers = case
    decision = plan_scale_out(waiting, headroom, free, offers)
    tasks = [*waiting, *headroom]
    _, left = first_fit(tasks, free)
    assert decision.on_free_room == len(tasks) - len(left)
    assert decision.on_free_room + sum(launch.tasks for launch in decision.launches) + decision.unfit == len(tasks)
    grown: dict[str, int] = {}
    for launch in decision.launches:
        assert launch.instances > 0 and launch.tasks > 0
        grown[launch.offer.group_id] = grown.get(launch.offer.group_id, 0) + launch.instances * launch.offer.weight
    room = {o.group_id: o.room - grown.get(o.group_id, 0) for o in offers}
    assert all(r >= 0 for r in room.values())  # no group past its maximum
    # What is left unfit fits no offer that could still grow: each such task is larger than
    # every type a group with room left launches.
    growable = [o.shape for o in offers if room[o.group_id] >= o.weight]
    too_large = [t for t in left if not any(shape.cpu >= t.cpu and shape.memory >= t.memory for shape in growable)]
    assert decision.unfit <= len(too_large)
    if not left:
        assert not decision.launches


# Which mode a file gets.

BASE = """\
{kind}cluster:
  name: prod
ec2_instances:
{scaling}  spot_fleets:
    - name: spot
      min_weight: 0
      max_weight: 4
{thresholds}      bids:
        - instance_type: m5.large
          price: 0.05
"""


@pytest.mark.parametrize(("kind", "scaling", "thresholds", "mode", "warns"), [
    pytest.param("", "", "", "placement", None, id="new-file-placement"),
    pytest.param("", "", "      task_threshold_out: 2\n", "thresholds", "scaling by thresholds",
                 id="thresholds-set-keep-them"),
    pytest.param("kind: aws-ecs-cluster-deployer\n", "", "", "thresholds", None,
                 id="seed-file-keeps-the-seed-scaler-silently"),
    pytest.param("kind: aws-ecs-cluster-deployer\n", "", "      task_threshold_out: 2\n", "thresholds", None,
                 id="seed-file-with-thresholds-silently"),
    pytest.param("kind: aws-ecs-cluster-deployer\n", "  scaling: thresholds\n", "", "thresholds", None,
                 id="shorthand-thresholds"),
    pytest.param("", "  scaling:\n    mode: placement\n", "      task_threshold_in: 9\n", "placement", None,
                 id="explicit-mode-wins"),
])
def test_the_scaling_mode_a_file_gets(kind: str, scaling: str, thresholds: str, mode: str, warns: str | None) -> None:
    infra = parse_infra("infra.yml", BASE.format(kind=kind, scaling=scaling, thresholds=thresholds))
    assert infra.scaling_mode == mode
    scaling_warnings = [w for w in infra.warnings if "scal" in w]
    if warns is None:
        assert scaling_warnings == []
    else:
        assert len(scaling_warnings) == 1 and warns in scaling_warnings[0]
        assert scaling_warnings[0].startswith("infra.yml:")


@pytest.mark.parametrize(("value", "expected"), [
    ("  scaling: fast\n", "ec2_instances.scaling.mode"),
    ("  scaling:\n    headroom: lots\n", "a number of tasks such as 1, or a share of the capacity such as 10%"),
    ("  scaling:\n    consolidate_after: 10\n", "ec2_instances.scaling.consolidate_after"),
])
def test_bad_scaling_keys_name_the_field_and_what_was_expected(value: str, expected: str) -> None:
    with pytest.raises(Exception) as error:
        parse_infra("infra.yml", BASE.format(kind="", scaling=value, thresholds=""))
    assert "infra.yml:" in str(error.value) and expected in str(error.value)


def _stopping(running: int, held: int) -> tuple[World, FleetWorld]:
    """On-demand i-od1 running `running` api tasks, with `held` more default tasks' room held by
    tasks that are stopping: ECS frees it only once they have stopped, and ListTasks (the
    snapshot) no longer lists them."""
    w = World(placement())
    w.fleet("v1", active=True, created=1).asg(w.config, "i-od1").spot(w.config)
    w.host("i-od1").run("i-od1", running, service="api")
    world = w.build()
    assert world.snapshot is not None
    instances = tuple(dataclasses.replace(ci, remaining_cpu=ci.remaining_cpu - held * TASK_CPU,
                                          remaining_memory=ci.remaining_memory - held * TASK_MEMORY)
                      for ci in world.snapshot.instances)
    return w, dataclasses.replace(world, snapshot=dataclasses.replace(world.snapshot, instances=instances))


def test_within_the_window_of_a_scale_in_room_of_tasks_stopping_since_the_last_pass_counts_as_free() -> None:
    # api went from 4 to 3 a minute ago and web from 0 to 1: ECS placed nothing for the new web
    # task yet because the stopped api task still holds its room on i-od1 (30 s, its stop
    # timeout). Five minutes after a scale-in, launching for it would be a quick reversal for a
    # task that never needs the instance.
    w, world = _stopping(running=3, held=1)
    services = (service("api", desired=3, running=3), service("web", desired=1, running=0))
    before, now = LoadSample(NOW - 60, {"api": 4, "web": 0}), LoadSample(NOW, {"api": 3, "web": 1})

    def planned(at: float, history: tuple[LoadSample, ...], last_scale_in: float | None) -> Plan:
        return plan(Observation(world, w.config, services, frozenset(), at, history, None, last_scale_in), Options())

    result = planned(NOW, (before, now), NOW - 300)
    assert capacities(result) == {} and not result.scaled_out
    assert ("placement: within the window of a scale-in, the tasks the services stopped since the last pass free "
            "up to 512 CPU units and 2048 MiB: counted as free room") in result.notes
    # A pass later the room is still held (a task slow to stop): no fall since the last pass, so
    # the room is taken and the waiting task launches an instance.
    later = LoadSample(NOW + 60, {"api": 3, "web": 1})
    assert capacities(planned(NOW + 60, (before, now, later), NOW - 300)) == {spot_id("v1"): 1}
    # Outside the window (or with no scale-in) the room is taken, as ECS reports it: a launch
    # then reverses nothing, and what it leaves free is room for the next rises.
    for last_in in (None, NOW - 660):
        assert capacities(planned(NOW, (before, now), last_in)) == {spot_id("v1"): 1}


def test_the_room_counted_back_is_only_what_the_services_stopped() -> None:
    # Two tasks' room is held on i-od1, but only one task was stopped since the last pass (the
    # other is older, slow to stop): one waiting task fits, the second launches an instance.
    w, world = _stopping(running=2, held=2)
    services = (service("api", desired=2, running=2), service("web", desired=2, running=0))
    history = (LoadSample(NOW - 60, {"api": 3, "web": 0}), LoadSample(NOW, {"api": 2, "web": 2}))
    result = plan(Observation(world, w.config, services, frozenset(), NOW, history, None, NOW - 300), Options())
    reason = next(a.reason for a in result.actions if isinstance(a, SetCapacity))
    assert "2 task(s) cannot be placed (web 2)" in reason and "1 of them need 1 new m5.large" in reason
