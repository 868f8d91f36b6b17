"""The placement scaler sizes any instance type AWS offers from EC2's own description of it
(DescribeInstanceTypes), not from a table of its own: a real user's spot fleet bids on m3.medium
and t3.small beside a t2.medium fleet, types a table of current ones leaves out. One read per
controller, only of the types no instance of which has joined the cluster; a failed read is a
warning, and the pass goes on."""

from __future__ import annotations

import pytest

from ecsfleet.aws import Clients
from ecsfleet.fleet.capacity import TaskSize
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.observe import read_world, sizes_described
from ecsfleet.fleet.schema import Infra, parse_infra
from ecsfleet.iam import policies
from ecsfleet.sandbox import Sandbox
from faults import ATTEMPTS, RetryWaits, skip_retry_waits
from support import rolled_out

# The shape of a seed user's cluster file: a fixed one-instance fleet, and a scaled one whose two
# bids are of types with different shapes (1 vCPU / 3.75 GiB and 2 vCPU / 2 GiB).
USER_YML = """\
cluster:
  name: shop
ec2_instances:
  autoscaling: true
  scaling: {mode}
  spot_fleets:
    - name: drone
      desired_weight: 1
      min_weight: 1
      max_weight: 1
      bids:
        - instance_type: t2.medium
          price: 0.05
    - name: main
      desired_weight: 1
      min_weight: 1
      max_weight: 16
      bids:
        - instance_type: m3.medium
          price: 0.05
        - instance_type: t3.small
          price: 0.05
"""
CONFIGURED = {"t2.medium", "m3.medium", "t3.small"}


def deployed(sb: Sandbox, clients: Clients, mode: str = "placement") -> Infra:
    infra = parse_infra("infra.yml", USER_YML.format(mode=mode))
    rolled_out(sb, clients, infra)
    sb.reset_calls()
    return infra


def size_reads(sb: Sandbox) -> int:
    return sb.count("ec2", "DescribeInstanceTypes")


def joined_types(sb: Sandbox) -> set[str]:
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster="shop")["containerInstanceArns"]
    described = ecs.describe_container_instances(cluster="shop", containerInstances=arns)["containerInstances"]
    return {a["value"] for ci in described for a in ci["attributes"] if a["name"] == "ecs.instance-type"}


def test_a_described_type_is_sized_with_10_percent_less_memory_and_an_incomplete_one_stays_unknown() -> None:
    described = [
        {"InstanceType": "t3.micro", "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 1024}},
        {"InstanceType": "r5.large", "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {"SizeInMiB": 16384}},
        {"InstanceType": "x1.odd", "MemoryInfo": {"SizeInMiB": 4096}},  # no vCPUs: never a size of 0
        {"InstanceType": "x2.odd", "VCpuInfo": {"DefaultVCpus": 2}, "MemoryInfo": {}},
    ]
    # At least 128 MiB less: a small type's 10% would be under what the system keeps.
    assert sizes_described(described) == {"t3.micro": TaskSize(1024 - 128, 2048),
                                          "r5.large": TaskSize(16384 - 1639, 2048)}


def test_types_no_instance_has_are_sized_from_ec2s_description_once_per_controller(
        sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients)
    joined = joined_types(sb)
    assert joined and joined < CONFIGURED
    world = read_world(clients, infra)
    assert set(world.instance_sizes) == CONFIGURED - joined
    assert size_reads(sb) == 1
    # What an instance of the type registers at most: all its CPU, 10% (at least 128 MiB) less memory.
    described = {"t2.medium": TaskSize(4096 - 410, 2048), "m3.medium": TaskSize(3840 - 384, 1024),
                 "t3.small": TaskSize(2048 - 205, 2048)}
    assert dict(world.instance_sizes) == {t: described[t] for t in CONFIGURED - joined}

    sb.reset_calls()
    controller = FleetController(clients, infra, now=sb.now)
    for _ in range(3):
        report = controller.reconcile(dry_run=False)
        assert report.ok
        assert not any("size is not known" in note for note in report.notes), report.notes
        sb.advance(30)
    assert size_reads(sb) == 1  # a type's size never changes: the controller keeps it


def test_a_scale_out_can_choose_a_type_no_instance_of_which_has_joined(sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients)
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="worker", containerDefinitions=[
        {"name": "worker", "image": "busybox", "cpu": 512, "memory": 1024, "essential": True}])
    ecs.create_service(cluster="shop", serviceName="worker", taskDefinition="worker", desiredCount=12)
    sb.advance(5)
    report = FleetController(clients, infra, now=sb.now).reconcile(dry_run=False)
    assert report.ok
    (scale_out,) = [p for p in report.planned if "scale out" in p]
    # Both bids are sized and priced: the note names the offer chosen, whichever type it is.
    assert "m3.medium" in scale_out or "t3.small" in scale_out, scale_out
    assert not any("left out" in note for note in report.notes), report.notes


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return skip_retry_waits(monkeypatch)


def test_a_failed_read_is_a_warning_and_those_types_wait_for_an_instance(
        sb: Sandbox, clients: Clients, waits: RetryWaits) -> None:
    infra = deployed(sb, clients)
    unjoined = sorted(CONFIGURED - joined_types(sb))
    sb.throttle("ec2", "DescribeInstanceTypes", times=ATTEMPTS)  # throttled after every retry
    controller = FleetController(clients, infra, now=sb.now)
    report = controller.reconcile(dry_run=False)
    assert report.ok  # the pass goes on, and says what it went without
    (warning,) = [w for w in report.warnings if "DescribeInstanceTypes" in w]
    assert "DescribeInstanceTypes failed (RequestLimitExceeded)" in warning
    assert all(t in warning for t in unjoined) and "ec2:DescribeInstanceTypes" in warning
    sb.advance(30)
    assert controller.reconcile(dry_run=False).ok  # read again at the next pass, which succeeds
    assert size_reads(sb) == ATTEMPTS + 1
    assert set(controller.last_world.instance_sizes) == set(unjoined)  # type: ignore[union-attr]


def test_the_thresholds_mode_and_callers_that_do_not_scale_never_read_sizes(sb: Sandbox, clients: Clients) -> None:
    infra = deployed(sb, clients, mode="thresholds")
    assert read_world(clients, infra).instance_sizes == {}
    assert FleetController(clients, infra, now=sb.now).reconcile(dry_run=False).ok
    placement = parse_infra("infra.yml", USER_YML.format(mode="placement"))
    assert read_world(clients, placement, scaling=False).instance_sizes == {}
    assert size_reads(sb) == 0


def test_the_default_fleet_policy_grants_the_read() -> None:
    assert "ec2:DescribeInstanceTypes" in policies.allowed_actions(policies.policy("fleet"))
    without = policies.policy("fleet", ["events-queue"], defaults=False)
    assert "ec2:DescribeInstanceTypes" not in policies.allowed_actions(without)


def test_an_instance_of_an_older_type_registers_what_the_type_holds(sb: Sandbox, clients: Clients) -> None:
    """The sandbox registers a type outside its measured table from EC2's description of it, and
    never less than the scaler's estimate: a first launch errs by one instance too many."""
    deployed(sb, clients)
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster="shop")["containerInstanceArns"]
    for ci in ecs.describe_container_instances(cluster="shop", containerInstances=arns)["containerInstances"]:
        kind = next(a["value"] for a in ci["attributes"] if a["name"] == "ecs.instance-type")
        registered = {r["name"]: r["integerValue"] for r in ci["registeredResources"] if r["name"] in ("CPU", "MEMORY")}
        vcpus, memory = {"t2.medium": (2, 4096), "m3.medium": (1, 3840), "t3.small": (2, 2048)}[kind]
        assert registered["CPU"] == vcpus * 1024
        assert memory - max(128, -(-memory // 10)) <= registered["MEMORY"] < memory
