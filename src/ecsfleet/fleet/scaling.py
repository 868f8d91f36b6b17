"""`scaling: placement`: scale the active fleets for what ECS cannot place, and consolidate.

Each pass, in this order:
1. Waiting tasks: per service, desired minus its tasks on ACTIVE instances that are not draining
   (tasks ECS has not placed, tasks in PROVISIONING, and tasks on draining instances still to be
   replaced), plus the tasks of deflating fleets that cannot move yet.
2. Scale out (placement.py) when waiting tasks do not all fit, by first fit, into the free room
   of the instances in service (within W of a scale-in, with the room of tasks stopped since the
   last pass: `stopping_budget`) and of those asked for and still booting; the scale-out makes
   room for the headroom too. The headroom alone launches nothing.
3. Otherwise consolidate (consolidation.py): drain the instances whose tasks fit on the others,
   with room kept for the reserve. The anti-flap rule, so that no decision is undone within the
   window W (`scaling.consolidate_after`, 10 minutes by default):
   - no consolidation within W of a scale-out; a controller whose passes (its own, and those
     before it in the scaling memory, scaling_memory.py) have not watched the load for W drains
     only instances with no service task;
   - none while capacity asked for has not joined, or a spot fleet is modifying;
   - the reserve a consolidation keeps: the headroom, plus the tasks the services may need back
     within W (`expected_rise`): the largest, in its share of the cluster's CPU or memory, of
     the samples of the last W whose load exceeds today's, the rises of the whole load over any
     W-long span of the last hour (older ones fading to RISE_FLOOR of themselves, never above a
     service's peak of the hour), and the services' own worst rises combined as independent
     loads' spreads combine (not added up). A scale-out that undoes a consolidation within W
     needs waiting tasks beyond what the last hour has shown.
4. When consolidation looked and found nothing to drain: replace (replacement.py) a dear
   instance whose tasks fit on no other by cheaper capacity, launched first; not within W of a
   consolidation.
Removal follows the drain, as for every drain (plan.py, step 3): never a task killed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ..snapshot import ClusterSnapshot, ContainerInstance, Task
from .actions import SCALE_IN, SetCapacity
from .capacity import TaskSize, full_copies, largest, schedulable
from .consolidation import Budget, Host, consolidate
from .observe import Fleet, FleetWorld
from .packing import Room
from .placement import Offer, ScaleOut, plan_scale_out
from .prices import on_demand_price, shape, spot_price
from .replacement import plan_replacement
from .schema import AutoScalingGroup, SpotFleet

if TYPE_CHECKING:
    from .plan import Group, Observation, Options, Plan

Drainer = Callable[[ContainerInstance, str, str], None]
# How far back the anti-flap rule looks for the load's rises, and how it weighs them. An hour holds
# several windows, so work that comes in waves (batch jobs every 20 minutes, an hourly job) is
# still seen between two waves, when the last window alone looks calm. A rise of the last window
# counts in full; an older one fades in equal steps to RISE_FLOOR of it at RISE_LOOKBACK, so a
# one-off burst gives back a quarter of its room within the hour. Measured on the benchmark's four
# days (bench/scaling_cost.py) with no fading, fading to 0.75, 0.5 and to nothing: 0.75 is the
# lowest that kept every day's pending tasks below the capacity provider's; lower ones saved
# more on bursty days and left batch waves waiting.
RISE_LOOKBACK = 3600.0
RISE_FLOOR = 0.75


def _live(task: Task) -> bool:
    return task.desired_status == "RUNNING" and task.last_status != "STOPPED"


def stopping_budget(obs: Observation) -> TaskSize:
    """CPU and memory of the tasks the services stopped since the previous pass (per service, how
    many fewer it wants now, at its task size), when that pass is within the anti-flap window of
    a scale-in; else nothing.

    ECS reserves a new task's room at once but frees a stopped task's only once it has stopped,
    its stop timeout later (30 s by default). When some services scale in as others scale out,
    the new tasks wait that long for room an instance would bring two minutes later. Within the
    window of a scale-in such a launch is a quick reversal: on the benchmark's `many-services` day
    (bench/scaling_cost.py), 24 services jittering apart, 8 of them; counting that room as free
    there, 1. Counting it at every pass launched less at other times too, and the room those
    launches left was what the next rises used: `office`'s pending tasks 2,830 task-seconds
    instead of 2,290 (the capacity provider's: 2,360), `many-services`' 4,470 instead of 2,810."""
    window = obs.infra.ec2_instances.scaling.window_seconds
    previous = next((s for s in reversed(obs.history) if s.time < obs.now), None)
    if previous is None or obs.last_scale_in is None or obs.now - obs.last_scale_in > window:
        return TaskSize(0, 0)
    fell = _vector({s.name: s.desired for s in obs.services}, previous.desired)
    return _demand(fell, {s.name: s.size for s in obs.services})


def free_rooms(snap: ClusterSnapshot, members: Sequence[ContainerInstance], stopping: TaskSize) -> list[Room]:
    """Each instance's remaining CPU and memory, and the room it holds for tasks that are stopping
    (`stopping_budget`), up to `stopping` in all. ListTasks no longer lists a task ECS is
    stopping, so that room is what an instance holds beyond its listed tasks. Only the services'
    falls since the previous pass count: a task slow to stop delays a scale-out by one pass."""
    cpu_left, memory_left = stopping.cpu, stopping.memory
    rooms = []
    for ci in members:
        cpu = memory = 0
        if cpu_left or memory_left:
            listed = [t for t in snap.tasks_on(ci.arn) if t.last_status != "STOPPED"]
            cpu = min(cpu_left, max(0, ci.registered_cpu - ci.remaining_cpu - sum(t.cpu for t in listed)))
            memory = min(memory_left, max(0, ci.registered_memory - ci.remaining_memory
                                          - sum(t.memory for t in listed)))
            cpu_left, memory_left = cpu_left - cpu, memory_left - memory
        rooms.append(Room(ci.ec2_instance_id, ci.remaining_cpu + cpu, ci.remaining_memory + memory))
    return rooms


def waiting_tasks(obs: Observation, draining: set[str], must_move: Sequence[Task]) -> list[tuple[str, TaskSize]]:
    """(service, size) of each task that needs a place: step 1 above."""
    snap = obs.world.snapshot
    assert snap is not None
    serving = {ci.arn for ci in snap.instances if ci.status == "ACTIVE" and ci.ec2_instance_id not in draining}
    placed: dict[str, int] = {}
    for task in snap.tasks:
        if task.service and _live(task) and task.container_instance_arn in serving:
            placed[task.service] = placed.get(task.service, 0) + 1
    waiting = [(s.name, s.size) for s in obs.services for _ in range(max(0, s.desired - placed.get(s.name, 0)))]
    return waiting + [(t.service or t.family, TaskSize(t.memory, t.cpu)) for t in must_move]


def headroom_tasks(obs: Observation, members: Sequence[ContainerInstance]) -> list[TaskSize]:
    """Copies of the largest service task kept free: `scaling.headroom` tasks, or its share of the
    active fleets' capacity counted in those copies."""
    size = largest(s.size for s in obs.services if s.desired > 0)
    if size is None:
        return []
    setting = obs.infra.ec2_instances.scaling.headroom
    if isinstance(setting, int):
        return [size] * setting
    share = float(setting.removesuffix("%")) / 100
    return [size] * math.ceil(share * sum(full_copies(ci, size) for ci in members))


def _demand(vector: Mapping[str, int], sizes: Mapping[str, TaskSize]) -> TaskSize:
    """The memory and CPU of `vector`'s tasks (per service, a count), services of unknown size
    left out."""
    return TaskSize(sum(sizes[name].memory * count for name, count in vector.items() if name in sizes),
                    sum(sizes[name].cpu * count for name, count in vector.items() if name in sizes))


def _vector(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Per service, how many tasks more `b` has than `a` (services with fewer left out)."""
    return {name: count - a.get(name, 0) for name, count in b.items() if count > a.get(name, 0)}


def _faded(rise: Mapping[str, int], age: float, window: float) -> dict[str, int]:
    """A rise of the load seen `age` seconds ago, as the room still kept for it (RISE_FLOOR)."""
    if age <= window or window >= RISE_LOOKBACK:
        return dict(rise)
    share = max(RISE_FLOOR, 1 - (age - window) / (RISE_LOOKBACK - window))
    return {name: math.ceil(count * share) for name, count in rise.items()}


def expected_rise(obs: Observation, window: float) -> dict[str, int]:
    """Per service, the tasks the services may need back within the window: the largest, in the
    share of the cluster's CPU or memory it takes (whichever it takes more of), of
    (a) the samples of the last window whose load exceeds today's;
    (b) the rises of the whole load over any window-long span of the last max(window,
        RISE_LOOKBACK), faded with their age (RISE_FLOOR). A rise of the last window may go on;
        an older one brings a service back to its peak of that time, no higher: a rise seen
        from its low is not kept again in full while it is already up;
    (c) each service's own worst of those, combined as independent variations are (`_independent`).
    (a) and (b) are moments the load went through, services rising together where they did;
    (c) is for services that rise apart and may one day rise at once, as two services' noise
    does, without keeping room for all their worst moments added up."""
    size = {s.name: s.size for s in obs.services}
    now = {s.name: s.desired for s in obs.services}
    snap = obs.world.snapshot
    active = [ci for ci in snap.instances if ci.status == "ACTIVE"] if snap is not None else []
    cpu_total = sum(ci.registered_cpu for ci in active) or 1
    memory_total = sum(ci.registered_memory for ci in active) or 1

    def share(vector: Mapping[str, int]) -> float:
        demand = _demand(vector, size)
        return max(demand.cpu / cpu_total, demand.memory / memory_total)

    lookback = [s for s in obs.history if s.time >= obs.now - max(window, RISE_LOOKBACK)]
    peak = dict(now)
    for sample in lookback:
        for name, count in sample.desired.items():
            peak[name] = max(peak.get(name, 0), count)

    def capped(vector: Mapping[str, int]) -> dict[str, int]:
        return {name: min(count, peak.get(name, 0) - now.get(name, 0)) for name, count in vector.items()
                if peak.get(name, 0) > now.get(name, 0)}

    candidates = [_vector(now, s.desired) for s in lookback if s.time >= obs.now - window]
    for i, start in enumerate(lookback):
        for later in lookback[i + 1:]:
            if later.time - start.time > window:
                break
            rise, age = _vector(start.desired, later.desired), obs.now - later.time
            candidates.append(rise if age <= window else capped(_faded(rise, age, window)))
    return max([*candidates, _independent(candidates, share)], key=share)


def _independent(moments: Sequence[Mapping[str, int]], share: Callable[[Mapping[str, int]], float]) -> dict[str, int]:
    """Each service's worst rise among `moments`, scaled by one factor so that their shares add
    up to the spread of independent loads, the root of the sum of their squares, then made whole
    tasks: rounded down, and a task at a time back, largest remainders first (never more than the
    rise rounded up), until the kept shares reach the spread and one task more. One service keeps
    its worst rise; two of equal shares of 10 keep 8 and 8, of 3 keep 3 and 3; sixteen of one task
    each keep 5 (rounding each up would keep all sixteen: the sum, in a cluster of many services
    each jittering by a task). Measured on the benchmark's days (bench/scaling_cost.py) against
    the moments alone: no quick reversal on `today` (one before: web +4 and api +2 at once, more
    than any moment of the hour), and on the held-out `office` 2 instead of 8, with pending tasks
    below the capacity provider's (1.8 times them before); against the worst rises added up,
    batch waves that never come together no longer keep room for all of them (0.92 of the
    capacity provider's dollars, 0.99 added up); against the spread alone without the task more,
    `today` flapped again and `office` had 1.25 times the capacity provider's pending. What it
    costs: `large-task` 0.99 of the capacity provider's dollars (0.98 before), `spiky` 1.05 (1.03)."""
    worst: dict[str, int] = {}
    for moment in moments:
        for name, count in moment.items():
            worst[name] = max(worst.get(name, 0), count)
    per_task = {name: share({name: 1}) for name in worst}
    spread = math.sqrt(sum((per_task[n] * worst[n]) ** 2 for n in worst))
    total = sum(per_task[n] * worst[n] for n in worst)
    if total <= 0:
        return worst
    exact = {name: count * spread / total for name, count in worst.items()}
    # The epsilon: for one service the factor is 1 up to rounding, which must not cost a task.
    kept = {name: math.floor(value + 1e-9) for name, value in exact.items()}
    goal = spread + max(per_task.values())
    held = sum(per_task[n] * kept[n] for n in kept)
    for name in sorted(worst, key=lambda n: (kept[n] - exact[n], n)):
        if held >= goal - 1e-9:
            break
        if kept[name] < exact[name] - 1e-9:
            kept[name] += 1
            held += per_task[name]
    return {name: count for name, count in kept.items() if count}


def _price(obs: Observation, group: Group, instance_type: str) -> float | None:
    """$/hour of an instance of the group: a spot bid's market price (capped by the bid), an
    on-demand type's price."""
    if isinstance(group.config, SpotFleet):
        bid = next((b.price for b in group.config.bids if b.instance_type == instance_type), None)
        return None if bid is None else spot_price(instance_type, bid, obs.world.spot_prices)
    return on_demand_price(instance_type, obs.infra.ec2_instances.scaling.on_demand_prices)


def offers(obs: Observation, groups: Sequence[Group],
           observed: Mapping[str, TaskSize]) -> tuple[list[Offer], list[str]]:
    """What each active group can add, priced; and the types left out (no price or no size known)."""
    found: list[Offer] = []
    unknown: list[str] = []
    for group in groups:
        if group.modifying:
            continue
        if isinstance(group.config, AutoScalingGroup):
            choices = [(group.config.instance_type, 1)]
        elif isinstance(group.config, SpotFleet):
            choices = [(b.instance_type, b.weight) for b in group.config.bids]
        else:
            continue
        for instance_type, weight in choices:
            price, size = _price(obs, group, instance_type), shape(instance_type, observed, obs.world.instance_sizes)
            if size is None:
                unknown.append(f"{instance_type} ({group.group_id}): its size is not known (EC2 did not describe "
                               "the type, and no instance of it has joined the cluster): left out")
                continue
            if price is None:
                unknown.append(f"{instance_type} ({group.group_id}): no on-demand price known: counted as the "
                               "dearest (set ec2_instances.scaling.on_demand_prices)")
                price = math.inf
            found.append(Offer(group.group_id, group.kind, instance_type, weight, price, size,
                               max(0, group.max_capacity - group.capacity)))
    return found, unknown


def booting_rooms(groups: Sequence[Group], by_ec2: Mapping[str, ContainerInstance],
                  priced: Sequence[Offer]) -> list[Room]:
    """Free room of capacity asked for that has not joined the cluster yet: per group, its
    capacity minus the weight of its instances in the cluster, as instances of its cheapest offer."""
    rooms: list[Room] = []
    for group in groups:
        joined = sum(group.weight(by_ec2[ec2]) for ec2 in group.instance_ids if ec2 in by_ec2)
        mine = [o for o in priced if o.group_id == group.group_id]
        if not mine or group.capacity <= joined:
            continue
        offer = min(mine, key=lambda o: (o.price / o.weight, o.instance_type))
        count = (group.capacity - joined) // offer.weight
        rooms += [Room(f"{group.group_id}/booting-{n}", offer.shape.cpu, offer.shape.memory) for n in range(count)]
    return rooms


def _counts(sizes: Sequence[tuple[str, TaskSize]]) -> str:
    by: dict[str, int] = {}
    for name, _ in sizes:
        by[name] = by.get(name, 0) + 1
    return ", ".join(f"{name} {count}" for name, count in sorted(by.items()))


def _scale_out(result: Plan, groups: Sequence[Group], decision: ScaleOut, waiting: Sequence[tuple[str, TaskSize]],
               free: int, booting: int, replacing: bool) -> None:
    """`replacing`: every waiting task runs on an instance being drained (a spot interruption, a
    drain by hand) and nothing else waits: capacity replaced, not added for load, so it does not
    start the anti-flap window (the spot fleet's own replacement, once AWS has terminated the
    instance, is consolidated as soon as it has joined)."""
    by_id = {g.group_id: g for g in groups}
    what = (f"{decision.waiting} task(s) cannot be placed ({_counts(waiting)})" if decision.waiting
            else "no task waiting") + f" and {decision.headroom} headroom cop(ies)"
    result.notes.append(f"placement: {what}; {decision.on_free_room} fit the free room of {free} instance(s) "
                        f"in service and {booting} booting")
    for launch in decision.launches:
        group = by_id[launch.offer.group_id]
        group.capacity += launch.instances * launch.offer.weight
        result.actions.append(SetCapacity(
            group.kind, group.group_id, group.capacity,
            f"scale out: {what}: {launch.tasks} of them need {launch.instances} new {launch.offer.describe()}, "
            f"the cheapest per task of the offers with room"))
    result.scaled_out = bool(decision.launches) and not replacing
    if decision.unfit:
        result.warnings.append(f"every active group is at its maximum: {decision.unfit} task(s) fit no instance "
                               "that can be added")


def _hosts(obs: Observation, groups: Sequence[Group], members: Sequence[ContainerInstance],
           draining: set[str]) -> tuple[list[Host], dict[str, int]]:
    """The consolidation's view of the active instances, and per group the capacity it may
    still lose (once the instances draining now are removed) and stay at its minimum."""
    snap = obs.world.snapshot
    assert snap is not None
    group_of = {ec2: g for g in groups for ec2 in g.instance_ids}
    after: dict[str, int] = {}  # capacity once the instances draining now are removed
    for group in groups:
        after[group.group_id] = group.capacity - sum(
            group.weight(ci) for ci in snap.instances if ci.ec2_instance_id in draining
            and ci.ec2_instance_id in group.instance_ids)
    hosts = []
    for ci in members:
        tasks = [t for t in snap.tasks_on(ci.arn) if _live(t)]
        owner = group_of.get(ci.ec2_instance_id)
        price = _price(obs, owner, ci.instance_type or "") if owner else None
        removable = (owner is not None and owner.config is not None
                     and after[owner.group_id] - owner.weight(ci) >= owner.min_capacity
                     and all(t.service for t in tasks))  # a standalone task would stop with it
        hosts.append(Host(ci.ec2_instance_id, ci.instance_type or "", price or 0.0,
                          Room(ci.ec2_instance_id, ci.remaining_cpu, ci.remaining_memory),
                          tuple((t.service or "", TaskSize(t.memory, t.cpu)) for t in tasks if t.service),
                          removable, owner.group_id if owner else "", owner.weight(ci) if owner else 1))
    return hosts, {g.group_id: after[g.group_id] - g.min_capacity for g in groups}


def _consolidate(obs: Observation, options: Options, result: Plan, groups: Sequence[Group],
                 members: Sequence[ContainerInstance], draining: set[str], reserve: list[TaskSize],
                 drain: Drainer) -> list[Host] | None:
    """Drain what consolidation allows. Returns the instances it judged when it looked (outside
    the anti-flap window, under --max-draining, with a window of load watched) and found nothing
    to drain; None otherwise."""
    snap = obs.world.snapshot
    assert snap is not None
    window = obs.infra.ec2_instances.scaling.window_seconds
    if obs.last_scale_out is not None and obs.now - obs.last_scale_out <= window:
        result.notes.append(f"consolidation waits: scaled out {(obs.now - obs.last_scale_out) / 60:.0f} min ago, "
                            f"within the {window / 60:.0f} min window")
        return None
    watched = obs.now - obs.history[0].time if obs.history else 0.0
    empty_only = watched < window
    if empty_only:
        # A fresh controller (a restart, a `--once` pass, a cold Lambda) has no trend to judge by:
        # only instances with no service task go, the headroom kept (what capacity providers do,
        # without their 15-minute wait).
        result.notes.append(f"consolidation: empty instances only until {window / 60:.0f} min of load history are "
                            f"seen ({watched / 60:.0f} so far)")
    already: dict[str, int] = {}
    out = {ci.arn for ci in snap.instances if ci.status == "DRAINING" or ci.ec2_instance_id in draining}
    for task in snap.tasks:
        if task.service and _live(task) and task.container_instance_arn in out:
            already[task.service] = already.get(task.service, 0) + 1
    ours = {ec2 for g in groups for ec2 in g.instance_ids}
    busy = draining | {ci.ec2_instance_id for ci in snap.instances if ci.status == "DRAINING"
                       and ci.ec2_instance_id in ours}
    limit = options.max_draining - len(busy)
    if limit <= 0:
        return None
    rise = expected_rise(obs, window)
    sizes = {s.name: s.size for s in obs.services}
    reserve = reserve + [sizes[name] for name, count in rise.items() for _ in range(count)]
    budgets = {s.name: Budget(s.desired, s.minimum_healthy_percent, s.maximum_percent) for s in obs.services}
    found, spare = _hosts(obs, groups, members, draining)
    hosts = [replace(h, removable=h.removable and not (empty_only and h.tasks)) for h in found]
    decision = consolidate(hosts, reserve, budgets, already, limit, spare)
    kept_room = f"room kept for {len(reserve)} task(s) (headroom, and what the load's last hour says it may need back" \
                + (f": {', '.join(f'{n} +{c}' for n, c in sorted(rise.items()))}" if rise else "") + ")"
    for choice in decision.chosen:
        ci = next(m for m in members if m.ec2_instance_id == choice.host.ec2_id)
        moved = (f"its {choice.moved} service task(s) fit on the other instances" if choice.moved
                 else "no service task on it")
        drain(ci, SCALE_IN, f"scale in: {moved}, {kept_room}; saves ${choice.saving:.4f}/h "
                              f"({choice.host.instance_type})")
    if decision.chosen:
        result.notes.append(f"consolidation: {len(decision.chosen)} instance(s) drained, ${decision.saving:.4f}/h "
                            "saved once removed")
    for host, why in decision.kept[:3]:
        result.notes.append(f"consolidation: {host.ec2_id} stays: {why}")
    return None if decision.chosen or empty_only else hosts


def _launches_as_offered(offer: Offer, groups: Sequence[Group]) -> bool:
    """Whether capacity asked of the offer's group comes as the offer's type: an Auto Scaling
    group's one type, or a spot fleet bidding on that type alone (with several bids, which one AWS
    launches is the fleet's allocation strategy's choice, and a replacement could come dearer)."""
    group = next(g for g in groups if g.group_id == offer.group_id)
    return not isinstance(group.config, SpotFleet) or {b.instance_type for b in group.config.bids} == {
        offer.instance_type}


def _replace(obs: Observation, result: Plan, groups: list[Group], hosts: Sequence[Host],
             priced: Sequence[Offer]) -> None:
    """Launch the cheaper capacity a dear instance's tasks fit on (replacement.py). Not within the
    anti-flap window of a scale-in: a launch then would be a scale-out that undoes it."""
    window = obs.infra.ec2_instances.scaling.window_seconds
    if obs.last_scale_in is not None and obs.now - obs.last_scale_in <= window:
        return
    choice = plan_replacement(hosts, [o for o in priced if _launches_as_offered(o, groups)])
    if choice is None:
        return
    group = next(g for g in groups if g.group_id == choice.offer.group_id)
    group.capacity += choice.instances * choice.offer.weight
    result.actions.append(SetCapacity(group.kind, group.group_id, group.capacity, choice.describe()))
    result.notes.append(f"replacement: {choice.describe()}")


def serving_members(world: FleetWorld, active_fleets: Sequence[Fleet], draining: set[str]) -> list[ContainerInstance]:
    """The active fleets' instances that can take tasks: ACTIVE, connected, not being drained."""
    return [ci for f in active_fleets for ci in world.members(f)
            if ci.status == "ACTIVE" and ci.agent_connected and ci.ec2_instance_id not in draining]


def scale_by_placement(obs: Observation, options: Options, result: Plan, groups: list[Group],
                       active_fleets: list[Fleet], by_ec2: Mapping[str, ContainerInstance], draining: set[str],
                       must_move: list[Task], drain: Drainer) -> None:
    world = obs.world
    snap = world.snapshot
    assert snap is not None
    active_groups = [g for g in groups if g.fleet in active_fleets and g.config is not None]
    members = serving_members(world, active_fleets, draining)
    waiting = waiting_tasks(obs, draining, must_move)
    size = largest([s.size for s in obs.services if s.desired > 0])
    result.gauges.update({"schedulable_tasks": schedulable(members, size) if size else 0,
                          "unplaced_tasks": len(waiting), "active_instances": len(members),
                          "draining_instances": len(draining)})
    if not options.autoscaling or not active_groups:
        return
    observed = {ci.instance_type: TaskSize(ci.registered_memory, ci.registered_cpu)
                for ci in snap.instances if ci.instance_type}
    priced, unknown = offers(obs, active_groups, observed)
    result.notes += [f"placement: {u}" for u in unknown]
    booting = booting_rooms(active_groups, by_ec2, priced)
    headroom = headroom_tasks(obs, members)
    stopping = stopping_budget(obs)
    free = free_rooms(snap, members, stopping)
    if stopping.cpu or stopping.memory:
        result.notes.append(f"placement: within the window of a scale-in, the tasks the services stopped since the "
                            f"last pass free up to {stopping.cpu} CPU units and {stopping.memory} MiB: counted as "
                            "free room")
    decision = plan_scale_out([s for _, s in waiting], headroom, free + booting, priced)
    if not waiting and (decision.needed or decision.unfit):
        # The headroom alone launches nothing: a load jittering around its edge would launch and
        # drain a whole instance for one task's room, again and again.
        result.notes.append(f"placement: no task waits; the room for {decision.headroom} headroom cop(ies) comes "
                            "with the next scale-out")
        return
    if decision.needed or decision.unfit:
        replacing = bool(waiting) and not must_move and not any(s.unplaced for s in obs.services)
        _scale_out(result, active_groups, decision, waiting, len(free), len(booting), replacing)
        return
    modifying = [g.group_id for g in active_groups if g.modifying]
    if booting or modifying:
        result.notes.append(f"consolidation waits: {len(booting)} instance(s) asked for have not joined"
                            + (f", {', '.join(modifying)} still modifying" if modifying else ""))
        return
    judged = _consolidate(obs, options, result, active_groups, members, draining,
                          [s for _, s in waiting] + headroom, drain)
    if judged is not None:
        _replace(obs, result, active_groups, judged, priced)
