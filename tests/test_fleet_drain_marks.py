"""Claims ecsfleet writes are trusted only while they are true (issue 20), and fleet's multi-call
changes, cut by a real SIGKILL after each call, end whole after one more pass (issue 15).

A drain is three calls: the reason (PutAttributes), UpdateContainerInstancesState, the time
(PutAttributes). A removal is two: a spot fleet's lowered target and the termination, or an
Auto Scaling group's termination (with its decrement) and the lifecycle completion. A rollout's
switch is two stack updates: the new fleet active (with its claim on the old one), the old one
inactive. Each cut runs the pass in a child process that kills itself with SIGKILL just before
the chosen write, so nothing after it runs: no `finally`, no clean-up. Two passes at once (a
Lambda's schedule beside its queue) are a second pass run from inside the first one's calls.

Against the sandbox, boto3 over HTTP; the controller's clock is the sandbox's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ecsfleet.aws import Clients
from ecsfleet.fleet.actions import Action
from ecsfleet.fleet.apply import apply
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.deploy import deploy
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.plan import DRAIN_INTENT_GRACE, DRAIN_SINCE, DRAIN_WHY, REPLACES_TAG, Options, drain_started
from ecsfleet.fleet.schema import Infra, load_infra
from ecsfleet.runner import PassReport
from ecsfleet.sandbox import Sandbox
from ecsfleet.snapshot import ContainerInstance
from faults import RetryWaits, before_first, exhaust, fault_suite
from test_fleet_lifecycle import INFRA, deploy_active, drain_by_hand_as_ecsfleet, quiet

DRAIN_TIMEOUT = 60.0
READS = ("Describe", "List", "Get", "Receive")

# The child: one reconcile pass (or a rollout's switch) that SIGKILLs itself just before its
# write number `cut` (0-based; reads are not counted), printing each write it starts.
CHILD = r"""
import json, os, signal, sys
import botocore.client
from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.fleet.schema import load_infra

args = json.loads(sys.argv[1])
original = botocore.client.BaseClient._make_api_call
writes = 0

def make_api_call(self, operation, params):
    global writes
    if not operation.startswith(tuple(args["reads"])):
        if writes == args["cut"]:
            print("killed before", operation, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        writes += 1
        print("write", operation, flush=True)
    return original(self, operation, params)

botocore.client.BaseClient._make_api_call = make_api_call
clients = Clients(AwsTarget(region=args["region"], endpoint_url=args["endpoint"]))
infra = load_infra(args["infra"])[1]
if args["mode"] == "reconcile":
    from ecsfleet.fleet.controller import FleetController
    from ecsfleet.fleet.plan import Options
    clock = float(args["now"])
    controller = FleetController(clients, infra, Options(**args["options"]), now=lambda: clock)
    report = controller.reconcile(dry_run=False)
    print("report", json.dumps(report.summary()), flush=True)
else:
    from ecsfleet.fleet.rollout import switch
    switch(clients, infra, args["version"], lambda line: None, poll=0.1)
"""


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


@pytest.fixture
def infra() -> Infra:
    return load_infra(INFRA)[1]


def cut(sb: Sandbox, infra_path: str, at: int, *, mode: str = "reconcile", version: str = "",
        options: dict[str, Any] | None = None) -> list[str]:
    """Run the child, killed before its write number `at`; the writes it made."""
    args = {"mode": mode, "region": sb.region, "endpoint": sb.endpoint_url, "infra": infra_path, "now": sb.now(),
            "cut": at, "version": version, "reads": list(READS),
            "options": {"drain_timeout": DRAIN_TIMEOUT, **(options or {})}}
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True,
                           timeout=120, check=False)
    lines = child.stdout.splitlines()
    killed = any(line.startswith("killed before") for line in lines)
    assert child.returncode == (-signal.SIGKILL if killed else 0), child.stderr[-3000:]
    return [line.split()[1] for line in lines if line.startswith("write ")]


def controller(clients: Clients, infra: Infra, sb: Sandbox, **options: Any) -> FleetController:
    return FleetController(clients, infra, Options(drain_timeout=DRAIN_TIMEOUT, **options), now=sb.now)


def instance(clients: Clients, infra: Infra, ec2: str) -> ContainerInstance | None:
    snapshot = read_world(clients, infra).snapshot
    assert snapshot is not None
    return snapshot.instance_by_ec2_id(ec2)


def service_tasks_on(sb: Sandbox, ec2: str) -> int:
    ecs = sb.client("ecs")
    arns = ecs.list_tasks(cluster="shop", serviceName="web")["taskArns"]
    tasks = ecs.describe_tasks(cluster="shop", tasks=arns)["tasks"] if arns else []
    hosts = {ci["containerInstanceArn"]: ci["ec2InstanceId"] for ci in ecs.describe_container_instances(
        cluster="shop", containerInstances=ecs.list_container_instances(cluster="shop")["containerInstanceArns"])[
        "containerInstances"]}
    return sum(1 for t in tasks if hosts.get(t.get("containerInstanceArn", "")) == ec2
               and t["lastStatus"] != "STOPPED")


def ec2_state(sb: Sandbox, ec2: str) -> str:
    doc = sb.client("ec2").describe_instances(InstanceIds=[ec2])["Reservations"][0]["Instances"][0]
    return str(doc["State"]["Name"])


def running(sb: Sandbox) -> int:
    return int(sb.client("ecs").describe_services(cluster="shop", services=["web"])["services"][0]["runningCount"])


def spread_service(sb: Sandbox, desired: int = 3) -> None:
    """One small service task on every instance (spread by instance): the instance a scale-in
    drains has a service task on it."""
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": 256, "cpu": 128, "portMappings": [{"containerPort": 80}]}])
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="web", desiredCount=desired,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}],
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    sb.advance(5)


def drain_by_hand(sb: Sandbox, clients: Clients, infra: Infra, ec2: str) -> None:
    """What a person (or another tool) does: DRAINING, and no attribute of ecsfleet's."""
    ci = instance(clients, infra, ec2)
    assert ci is not None
    sb.client("ecs").update_container_instances_state(cluster="shop", containerInstances=[ci.arn],
                                                      status="DRAINING")


def removed(report: PassReport) -> set[str]:
    return {o.target for o in report.outcomes if o.kind in ("remove", "complete-lifecycle")}


def never_removed_while_tasks_move(sb: Sandbox, clients: Clients, infra: Infra, ec2: str,
                                   passes: int = 4) -> list[PassReport]:
    """Passes of a controller that does not scale in, across ECS moving the drained instance's
    tasks and past the drain timeout: the instance is never removed by ecsfleet."""
    reports = []
    control = controller(clients, infra, sb, autoscaling=False)
    for _ in range(passes):
        report = control.reconcile(dry_run=False)
        assert ec2 not in removed(report), report.summary()
        reports.append(report)
        sb.advance(DRAIN_TIMEOUT)
    assert ec2_state(sb, ec2) == "running" and service_tasks_on(sb, ec2) == 0 and running(sb) == 3
    return reports


@pytest.fixture
def scaled_in(sb: Sandbox, clients: Clients, infra: Infra) -> Iterator[None]:
    """v1 active (an on-demand instance and two spot instances), a service with a task on each:
    an idle cluster that the scaler drains one spot instance of."""
    deploy_active(sb, clients, infra, "v1")
    spread_service(sb)
    yield


# ---- issue 20: what it must show ---------------------------------------------------------------


@pytest.mark.usefixtures("scaled_in")
@pytest.mark.parametrize("clean_up_fails", [False, True], ids=["intent-taken-back", "intent-left-behind"])
@pytest.mark.parametrize("drained", ["before-the-next-pass", "after-the-next-pass"])
def test_a_failed_drain_never_authorises_removing_an_instance_someone_drains_later(
        sb: Sandbox, clients: Clients, infra: Infra, clean_up_fails: bool, drained: str) -> None:
    exhaust(sb, ("ecs", "UpdateContainerInstancesState"))
    if clean_up_fails:
        exhaust(sb, ("ecs", "DeleteAttributes"))
    first = controller(clients, infra, sb).reconcile(dry_run=False)
    (drain,) = [o for o in first.outcomes if o.kind == "drain"]
    victim = drain.target
    assert not drain.ok
    ci = instance(clients, infra, victim)
    assert ci is not None and ci.status == "ACTIVE" and DRAIN_SINCE not in ci.attributes
    assert (DRAIN_WHY in ci.attributes) == clean_up_fails
    # The old mark's time, had there been one, is past the drain timeout; the intent is past the
    # time another pass may still be acting on it.
    sb.advance(DRAIN_INTENT_GRACE + 2 * DRAIN_TIMEOUT)
    if drained == "after-the-next-pass":
        cleared = controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False)
        assert [(o.kind, o.target, o.ok) for o in cleared.outcomes] == (
            [("clear-drain-mark", victim, True)] if clean_up_fails else [])
    assert service_tasks_on(sb, victim) == 1
    drain_by_hand(sb, clients, infra, victim)
    reports = never_removed_while_tasks_move(sb, clients, infra, victim)
    warned = [w for w in reports[0].warnings if w.startswith(victim)]
    assert len(warned) == (1 if clean_up_fails and drained == "before-the-next-pass" else 0)


@pytest.mark.usefixtures("scaled_in")
def test_a_pass_killed_between_the_mark_and_the_drain_never_authorises_a_removal(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    writes = cut(sb, INFRA, 1)
    assert writes == ["PutAttributes"]  # killed before UpdateContainerInstancesState
    marked = [ci for ci in read_world(clients, infra).snapshot.instances  # type: ignore[union-attr]
              if DRAIN_WHY in ci.attributes]
    assert len(marked) == 1 and marked[0].status == "ACTIVE" and DRAIN_SINCE not in marked[0].attributes
    victim = marked[0].ec2_instance_id
    sb.advance(DRAIN_INTENT_GRACE + 2 * DRAIN_TIMEOUT)
    assert service_tasks_on(sb, victim) == 1
    drain_by_hand(sb, clients, infra, victim)
    reports = never_removed_while_tasks_move(sb, clients, infra, victim)
    assert any(w.startswith(victim) and "never confirmed" in w for w in reports[0].warnings)


@pytest.mark.usefixtures("scaled_in")
def test_an_instance_drained_by_hand_and_never_marked_is_never_removed(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    fleet = read_world(clients, infra).fleet("v1")
    assert fleet is not None
    victim = fleet.spot_fleets[0].instance_ids[0]
    assert service_tasks_on(sb, victim) == 1
    drain_by_hand(sb, clients, infra, victim)
    reports = never_removed_while_tasks_move(sb, clients, infra, victim, passes=5)
    assert not any(victim in w for r in reports for w in r.warnings)
    ci = instance(clients, infra, victim)
    assert ci is not None and ci.status == "DRAINING" and DRAIN_WHY not in ci.attributes


@pytest.mark.usefixtures("scaled_in")
def test_a_drain_whose_confirmation_cannot_be_written_is_reported_and_never_removed(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    # The state change goes through; every attempt of the confirmation's PutAttributes fails.
    before_first(clients, ("ecs", "UpdateContainerInstancesState"), lambda: exhaust(sb, ("ecs", "PutAttributes")))
    first = controller(clients, infra, sb).reconcile(dry_run=False)
    (drain,) = [o for o in first.outcomes if o.kind == "drain"]
    assert not drain.ok and "will not remove it" in (drain.error or "")
    ci = instance(clients, infra, drain.target)
    assert ci is not None and ci.status == "DRAINING" and DRAIN_SINCE not in ci.attributes
    reports = never_removed_while_tasks_move(sb, clients, infra, drain.target)
    # Reported once the intent is older than a drain's own calls can take: until then another
    # pass may be writing the confirmation.
    assert not any(w.startswith(drain.target) for w in reports[0].warnings)
    assert any(n.startswith(drain.target) and "not confirmed yet" in n for n in reports[0].notes)
    sb.advance(DRAIN_INTENT_GRACE)
    reports = never_removed_while_tasks_move(sb, clients, infra, drain.target, passes=1)
    assert any(w.startswith(drain.target) and "never confirmed" in w for w in reports[0].warnings)


@pytest.mark.usefixtures("scaled_in")
def test_an_instance_whose_old_marks_cannot_be_cleared_is_not_drained_in_that_pass(
        sb: Sandbox, clients: Clients, infra: Infra) -> None:
    _, planned = controller(clients, infra, sb).plan()
    (victim,) = [a for a in planned.actions if a.kind == "drain"]
    old = {DRAIN_SINCE: f"{sb.now() - 10 * DRAIN_TIMEOUT:.0f}", DRAIN_WHY: "scale-in"}  # someone set it ACTIVE again
    ci = instance(clients, infra, victim.target)
    assert ci is not None
    sb.client("ecs").put_attributes(cluster="shop", attributes=[
        {"name": k, "value": v, "targetType": "container-instance", "targetId": ci.arn} for k, v in old.items()])
    exhaust(sb, ("ecs", "DeleteAttributes"))
    sb.reset_calls()
    report = controller(clients, infra, sb).reconcile(dry_run=False)
    assert [(o.kind, o.target, o.ok) for o in report.outcomes] == [("clear-drain-mark", victim.target, False),
                                                                   ("drain", victim.target, False)]
    assert sb.count("ecs", "UpdateContainerInstancesState") == 0
    ci = instance(clients, infra, victim.target)
    assert ci is not None and ci.status == "ACTIVE"
    again = controller(clients, infra, sb).reconcile(dry_run=False)
    assert [(o.kind, o.ok) for o in again.outcomes] == [("clear-drain-mark", True), ("drain", True)]
    ci = instance(clients, infra, victim.target)
    assert ci is not None and float(ci.attributes[DRAIN_SINCE]) == pytest.approx(sb.now(), abs=1)


# ---- two passes at once (a Lambda's schedule beside its queue, or a person's pass beside it) ----


@pytest.mark.usefixtures("scaled_in")
@pytest.mark.parametrize("applied", ["at-once", "after-the-drain"])
def test_a_pass_beside_a_drain_never_unclaims_it(sb: Sandbox, clients: Clients, infra: Infra, applied: str) -> None:
    # A second pass observes between the first one's intent and its state change: it sees the
    # intent on an ACTIVE instance, which is also what a drain cut short leaves. That pass does
    # not scale (it plans nothing else for the instance); its plan is applied at once, or only
    # once the first pass's drain is whole. Clearing the intent either way left the instance
    # DRAINING without ecsfleet's claim: never removed, paid for ever.
    beside = controller(Clients(clients.target), infra, sb, autoscaling=False)
    late: list[list[Action]] = []

    def second_pass() -> None:
        if applied == "at-once":
            beside.reconcile(dry_run=False)
        else:
            late.append(beside.plan()[1].actions)

    before_first(clients, ("ecs", "UpdateContainerInstancesState"), second_pass)
    first = controller(clients, infra, sb).reconcile(dry_run=False)
    (drain,) = [o for o in first.outcomes if o.kind == "drain"]
    assert drain.ok, first.summary()
    if late:
        apply(beside.clients, "shop", late[0], sb.now)
    ci = instance(clients, infra, drain.target)
    assert ci is not None and drain_started(ci) is not None
    gone: set[str] = set()
    for _ in range(4):  # ECS moves the service task, then the next pass removes the instance
        sb.advance(10)
        gone |= removed(controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False))
    assert drain.target in gone and running(sb) == 3


@pytest.mark.usefixtures("scaled_in")
def test_an_intent_past_its_grace_on_an_active_instance_is_cleared(sb: Sandbox, clients: Clients,
                                                                   infra: Infra) -> None:
    writes = cut(sb, INFRA, 1)  # killed between the intent and the state change
    assert writes == ["PutAttributes"]
    quiet_pass = controller(clients, infra, sb, autoscaling=False)
    kept = quiet_pass.reconcile(dry_run=False)
    assert not kept.outcomes and any("its mark is kept" in n for n in kept.notes)
    sb.advance(DRAIN_INTENT_GRACE + 1)
    cleared = quiet_pass.reconcile(dry_run=False)
    assert [(o.kind, o.ok) for o in cleared.outcomes] == [("clear-drain-mark", True)]
    snapshot = read_world(clients, infra).snapshot
    assert snapshot is not None and not any(DRAIN_WHY in ci.attributes for ci in snapshot.instances)


# ---- issue 15: each fleet change cut after each of its calls -------------------------------------


@pytest.mark.usefixtures("scaled_in")
@pytest.mark.parametrize("at", [0, 1, 2, 3])
def test_a_drain_cut_after_any_call_ends_whole_after_one_more_pass(sb: Sandbox, clients: Clients, infra: Infra,
                                                                  at: int) -> None:
    writes = cut(sb, INFRA, at)
    assert writes == ["PutAttributes", "UpdateContainerInstancesState", "PutAttributes"][:at]
    after = controller(clients, infra, sb).reconcile(dry_run=False)
    assert all(o.ok for o in after.outcomes), after.summary()
    snapshot = read_world(clients, infra).snapshot
    assert snapshot is not None
    draining = [ci for ci in snapshot.instances if ci.status == "DRAINING"]
    # Exactly one instance on its way out; nothing removed; every service task still running.
    assert len(draining) == 1 and not removed(after) and running(sb) == 3
    (ci,) = draining
    if at == 2:
        # ECS drained it, but the confirmation was never written: ecsfleet cannot tell its drain
        # from anyone else's, so it says so and leaves the instance alone (never removes it).
        assert DRAIN_SINCE not in ci.attributes
        assert any(n.startswith(ci.ec2_instance_id) and "not confirmed yet" in n for n in after.notes)
        sb.advance(DRAIN_INTENT_GRACE + 1)
        later = controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False)
        assert any(w.startswith(ci.ec2_instance_id) and "never confirmed" in w for w in later.warnings)
        assert not removed(later)
    else:
        # Never drained (0), or its mark taken back and drained again (1), or done (3): confirmed,
        # and the drain timeout counts from the drain, not from the first attempt.
        assert float(ci.attributes[DRAIN_SINCE]) == pytest.approx(sb.now(), abs=1)
        assert not any(ci.attributes.get(DRAIN_WHY) and DRAIN_SINCE not in ci.attributes
                       for ci in snapshot.instances)


def shaped_infra(tmp_path: Path, **replace: str) -> tuple[str, Infra]:
    text = Path(INFRA).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "infra.yml"
    path.write_text(text)
    return str(path), load_infra(str(path))[1]


@pytest.mark.parametrize("at", [0, 1, 2])
def test_a_spot_removal_cut_after_any_call_lowers_the_target_once(sb: Sandbox, clients: Clients, at: int) -> None:
    deploy_active(sb, clients, load_infra(INFRA)[1], "v1")
    infra = load_infra(INFRA)[1]
    fleet = read_world(clients, infra).fleet("v1")
    assert fleet is not None
    (spot,) = fleet.spot_fleets
    victim = spot.instance_ids[0]
    drain_by_hand_as_ecsfleet(sb, clients, infra, [victim])
    writes = cut(sb, INFRA, at, options={"autoscaling": False})
    assert writes == ["ModifySpotFleetRequest", "TerminateInstances"][:at]
    sb.advance(sb.spot_modifying_seconds)
    sb.reset_calls()
    after = controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False)
    assert all(o.ok for o in after.outcomes), after.summary()
    sb.advance(sb.spot_modifying_seconds)
    fleet = read_world(clients, infra).fleet("v1")
    assert fleet is not None
    (now,) = fleet.spot_fleets
    # The target lowered by the victim's weight exactly once; the victim terminated, not replaced.
    assert now.target == spot.target - 1
    assert victim not in now.instance_ids and ec2_state(sb, victim) in ("shutting-down", "terminated")
    assert sb.count("ec2", "ModifySpotFleetRequest") == (1 if at == 0 else 0)


@pytest.mark.parametrize("at", [0, 1, 2])
def test_an_asg_removal_cut_after_any_call_decrements_once(sb: Sandbox, clients: Clients, tmp_path: Path,
                                                          at: int) -> None:
    path, infra = shaped_infra(tmp_path, **{"desired_instances: 1": "desired_instances: 2"})
    deploy_active(sb, clients, infra, "v1")
    fleet = read_world(clients, infra).fleet("v1")
    assert fleet is not None
    (group,) = fleet.asgs
    assert group.desired == 2
    victim = group.instances[0].instance_id
    drain_by_hand_as_ecsfleet(sb, clients, infra, [victim])
    writes = cut(sb, path, at, options={"autoscaling": False})
    assert writes == ["TerminateInstanceInAutoScalingGroup", "CompleteLifecycleAction"][:at]
    after = controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False)
    assert all(o.ok for o in after.outcomes), after.summary()
    sb.advance(1)
    fleet = read_world(clients, infra).fleet("v1")
    assert fleet is not None
    (group,) = fleet.asgs
    assert group.desired == 1  # lowered once, by the termination's own decrement
    assert victim not in {i.instance_id for i in group.instances}
    assert ec2_state(sb, victim) in ("shutting-down", "terminated")


@pytest.mark.parametrize("at", [0, 1, 2])
def test_a_rollout_switch_cut_after_any_stack_update_is_finished_by_the_next_pass(
        sb: Sandbox, clients: Clients, infra: Infra, at: int) -> None:
    deploy_active(sb, clients, infra, "v1")
    deploy(clients, infra, "v2", resolve_network(clients, infra), quiet, wait=True)
    writes = cut(sb, INFRA, at, mode="switch", version="v2")
    assert writes == ["UpdateStack", "UpdateStack"][:at]
    after = controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False)
    assert all(o.ok for o in after.outcomes), after.summary()
    flips = [o.target for o in after.outcomes if o.kind == "set-status"]
    assert flips == (["shop-asg-v1"] if at == 1 else [])
    world = read_world(clients, infra)
    active = sorted(f.version for f in world.fleets if f.active)
    assert active == (["v1"] if at == 0 else ["v2"])  # never two, never none


def test_a_fleet_activated_by_hand_after_a_rollout_stays_active(sb: Sandbox, clients: Clients,
                                                               infra: Infra) -> None:
    from ecsfleet.fleet.rollout import set_status, switch

    deploy_active(sb, clients, infra, "v1")
    deploy(clients, infra, "v2", resolve_network(clients, infra), quiet, wait=True)
    switch(clients, infra, "v2", quiet)
    v2 = read_world(clients, infra).fleet("v2")
    assert v2 is not None and REPLACES_TAG in v2.stack.tags  # the claim stays on v2, bound to v1's old stamp
    set_status(clients, infra, "v1", "active", quiet)
    for _ in range(2):
        report = controller(clients, infra, sb, autoscaling=False).reconcile(dry_run=False)
        assert not [o for o in report.outcomes if o.kind == "set-status"], report.summary()
    assert sorted(f.version for f in read_world(clients, infra).fleets if f.active) == ["v1", "v2"]
