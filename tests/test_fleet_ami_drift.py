"""AMIs stay current: `fleet reconcile` and `fleet status` see a newer AMI than the active
version's, report it, and (with `ami_refresh: auto`) roll a new version onto it pass by pass:
smoke test, switch, drain, delete; never below the services' minimum healthy, one at a time,
inside the maintenance window, and finished by the next pass when a pass is cut short."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ecsfleet.amis import RECOMMENDED_AMI_PARAMETER, AmiSource, latest_ami, newest_image
from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.fleet import ami_refresh_run
from ecsfleet.fleet.ami_refresh import (
    REFRESH_FAILED_TAG,
    REFRESH_TAG,
    SMOKE_STARTED_BY,
    in_window,
    refresh_version,
)
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.rollout import RolloutSettings, rollout
from ecsfleet.fleet.schema import Infra, InfraError, parse_infra
from ecsfleet.runner import PassReport
from ecsfleet.sandbox import Sandbox

FIXTURE = Path(__file__).parent / "fixtures" / "infra-sandbox.yml"
MIN_HEALTHY = 50
DESIRED = 4


def quiet(_: str) -> None:
    pass


def infra_with(**keys: str) -> Infra:
    """The sandbox fixture's infra.yml with these ec2_instances keys added."""
    extra = "".join(f"  {key}: {value}\n" for key, value in keys.items())
    text = FIXTURE.read_text().replace("ec2_instances:\n", "ec2_instances:\n" + extra, 1)
    return parse_infra(str(FIXTURE), text)


def start(sb: Sandbox, clients: Clients, infra: Infra) -> None:
    """v1 active on today's recommended AMI, with a service of four tasks (min healthy 50%)."""
    rollout(clients, infra, "v1", resolve_network(clients, infra), quiet, RolloutSettings(follow=False, poll=5),
            sleep=sb.advance)
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": 512, "cpu": 256, "portMappings": [{"containerPort": 80,
                                                                                     "hostPort": 0}]}])
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="web", desiredCount=DESIRED,
                       deploymentConfiguration={"minimumHealthyPercent": MIN_HEALTHY, "maximumPercent": 200})
    sb.advance(5)
    assert running(sb) == DESIRED


def running(sb: Sandbox) -> int:
    return int(sb.client("ecs").describe_services(cluster="shop", services=["web"])["services"][0]["runningCount"])


def compute_stacks(sb: Sandbox) -> dict[str, dict[str, str]]:
    """Compute stack name -> its parameters and tags."""
    found = {}
    for doc in sb.client("cloudformation").describe_stacks()["Stacks"]:
        if "-asg-" in doc["StackName"]:
            found[doc["StackName"]] = {**{p["ParameterKey"]: p["ParameterValue"] for p in doc["Parameters"]},
                                       **{t["Key"]: t["Value"] for t in doc.get("Tags", [])}}
    return found


def passes(sb: Sandbox, controller: FleetController, count: int, floor: list[int],
           step: float = 15.0) -> list[PassReport]:
    """`count` reconcile passes, the sandbox clock advancing between them; the service's running
    count is recorded after every pass and every clock step."""
    reports = []
    for _ in range(count):
        reports.append(controller.reconcile(dry_run=False))
        floor.append(running(sb))
        sb.advance(step)
        floor.append(running(sb))
    return reports


def refresh_steps(report: PassReport) -> list[str]:
    """What the AMI refresh did in a pass (the controller's other changes, such as scaling, aside)."""
    return [o.detail for o in report.outcomes if o.kind == "ami-refresh"]


def refreshed(sb: Sandbox, ami: str) -> bool:
    stacks = compute_stacks(sb)
    return list(stacks) == [f"shop-asg-{refresh_version('v1', ami)}"] and \
        next(iter(stacks.values()))["Status"] == "active"


# ---- the refresh, end to end ----------------------------------------------------------------

def test_a_newer_recommended_ami_rolls_out_then_the_old_version_is_drained_and_deleted(
        sb: Sandbox, clients: Clients) -> None:
    infra = infra_with(ami_refresh="auto")
    start(sb, clients, infra)
    old_ami = compute_stacks(sb)["shop-asg-v1"]["ImageId"]
    controller = FleetController(clients, infra, now=sb.now)
    quiet_reports = passes(sb, controller, 2, [])
    assert all(r.gauges["ami_drift"] == 0 and not refresh_steps(r) for r in quiet_reports)  # no drift

    new_ami = sb.publish_ami()
    assert new_ami != old_ami
    creates = sb.count("cloudformation", "CreateStack")
    floor: list[int] = []
    reports: list[PassReport] = []
    for _ in range(60):
        reports += passes(sb, controller, 1, floor)
        if refreshed(sb, new_ami):
            break
    assert refreshed(sb, new_ami), [r.summary() for r in reports[-3:]]
    assert all(r.ok for r in reports), [r.summary() for r in reports if not r.ok]
    version = refresh_version("v1", new_ami)
    stack = compute_stacks(sb)[f"shop-asg-{version}"]
    assert stack["ImageId"] == new_ami and stack[REFRESH_TAG] == "v1"
    # One new version, one smoke test; every pass kept the service at or above minimum healthy.
    assert sb.count("cloudformation", "CreateStack") == creates + 1
    assert min(floor) >= DESIRED * MIN_HEALTHY // 100
    assert running(sb) == DESIRED
    world = read_world(clients, infra)
    fleet = world.fleet(version)
    assert fleet is not None and sum(1 for t in world.tasks_on(fleet) if t.service == "web") == DESIRED
    steps = [step for r in reports for step in refresh_steps(r)]
    assert steps[0].startswith(f"created on {new_ami}") and any("smoke task" in s for s in steps)
    assert any(s.startswith("active: smoke test passed") for s in steps)
    assert reports[0].gauges["ami_drift"] == 1 and reports[-1].gauges["ami_drift"] == 0
    # Settled: no drift, the smoke task stopped, nothing more to do.
    after = passes(sb, controller, 2, floor)
    assert all(not refresh_steps(r) and r.gauges["ami_refresh_in_progress"] == 0 for r in after)
    assert not [t for t in read_world(clients, infra).snapshot.tasks  # type: ignore[union-attr]
                if t.started_by == SMOKE_STARTED_BY and t.desired_status == "RUNNING"]


def test_drift_is_reported_and_not_acted_on_without_the_opt_in(sb: Sandbox, clients: Clients,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    infra = infra_with()  # ami_refresh: report, the default
    start(sb, clients, infra)
    old_ami = compute_stacks(sb)["shop-asg-v1"]["ImageId"]
    new_ami = sb.publish_ami()
    creates = sb.count("cloudformation", "CreateStack")
    reports = passes(sb, FleetController(clients, infra, now=sb.now), 4, [])
    assert sb.count("cloudformation", "CreateStack") == creates
    assert sb.count("ecs", "RunTask") == 1  # v1's own smoke test, nothing since
    for report in reports:
        assert report.gauges["ami_drift"] == 1 and not refresh_steps(report)
        assert not [p for p in report.planned if p.startswith("ami-refresh")]
        assert any(f"version v1 runs {old_ami}" in w and new_ami in w and "ami_refresh: report" in w
                   for w in report.warnings), report.warnings
    assert list(compute_stacks(sb)) == ["shop-asg-v1"]

    # fleet status shows it too, as a table line and in the JSON document.
    path = FIXTURE
    assert main(["fleet", "status", str(path), "--output", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["amiDrift"] == {"version": "v1", "running": old_ami, "target": new_ami,
                               "source": f"SSM parameter {RECOMMENDED_AMI_PARAMETER}"}
    assert doc["versions"][0]["ami"] == old_ami
    assert main(["fleet", "status", str(path)]) == 0
    assert f"AMI drift: version v1 runs {old_ami}" in " ".join(capsys.readouterr().out.split())


def test_the_reconcile_flag_opts_in_for_one_run(sb: Sandbox, clients: Clients,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    infra = infra_with()
    start(sb, clients, infra)
    new_ami = sb.publish_ami()
    assert main(["fleet", "reconcile", str(FIXTURE), "--once", "--dry-run", "--ami-refresh", "auto"]) == 0
    assert f"ami-refresh: create version {refresh_version('v1', new_ami)} on {new_ami}" in capsys.readouterr().out
    assert list(compute_stacks(sb)) == ["shop-asg-v1"]
    report = FleetController(clients, infra, now=sb.now, ami_refresh="auto").reconcile(dry_run=False)
    assert refresh_steps(report) == [f"created on {new_ami}, replacing v1"]


def test_outside_the_maintenance_window_nothing_happens(sb: Sandbox, clients: Clients) -> None:
    now = dt.datetime.fromtimestamp(sb.now(), dt.UTC)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    later = days[(now.weekday() + 3) % 7]
    infra = infra_with(ami_refresh="auto", ami_refresh_window=f"{later}:02:00-{later}:04:00")
    start(sb, clients, infra)
    sb.publish_ami()
    creates = sb.count("cloudformation", "CreateStack")
    reports = passes(sb, FleetController(clients, infra, now=sb.now), 3, [])
    assert sb.count("cloudformation", "CreateStack") == creates
    assert all(not refresh_steps(r) and r.gauges["ami_drift"] == 1 for r in reports)
    assert any("waiting for the maintenance window" in n for n in reports[-1].notes)
    # Inside the window (a daily one around the sandbox clock's time), the refresh starts.
    opened = (now - dt.timedelta(minutes=5), now + dt.timedelta(hours=2))
    inside = infra_with(ami_refresh="auto", ami_refresh_window=f"{opened[0]:%H:%M}-{opened[1]:%H:%M}")
    report = FleetController(clients, inside, now=sb.now).reconcile(dry_run=False)
    assert len(refresh_steps(report)) == 1 and report.ok
    assert sb.count("cloudformation", "CreateStack") == creates + 1


def test_a_failed_smoke_test_leaves_the_old_version_serving_and_is_not_retried(sb: Sandbox,
                                                                               clients: Clients) -> None:
    infra = infra_with(ami_refresh="auto")
    start(sb, clients, infra)
    new_ami = sb.publish_ami()
    version = refresh_version("v1", new_ami)
    sb.fail_tasks_on("asg_version", version, "CannotPullContainerError: no route to the registry from the new AMI")
    creates = sb.count("cloudformation", "CreateStack")
    controller = FleetController(clients, infra, now=sb.now)
    floor: list[int] = []
    reports = passes(sb, controller, 12, floor)
    stacks = compute_stacks(sb)
    assert stacks["shop-asg-v1"]["Status"] == "active"
    failed = stacks[f"shop-asg-{version}"]
    assert failed["Status"] == "inactive" and "CannotPullContainerError" in failed[REFRESH_FAILED_TAG]
    fleet = read_world(clients, infra).fleet(version)
    assert fleet is not None and [g.desired for g in fleet.asgs] == [0] and [f.target for f in fleet.spot_fleets] == [0]
    assert min(floor) == DESIRED and running(sb) == DESIRED
    assert sb.count("cloudformation", "CreateStack") == creates + 1  # one refresh: not tried again
    assert any("failed earlier" in w for w in reports[-1].warnings)
    # A newer AMI is tried; once it is active, the failed version is deflated and deleted with v1.
    newer = sb.publish_ami()
    for _ in range(60):
        passes(sb, controller, 1, floor)
        if refreshed(sb, newer):
            break
    assert refreshed(sb, newer) and min(floor) >= DESIRED * MIN_HEALTHY // 100


@pytest.mark.parametrize(("service", "operation"), [
    ("cloudformation", "CreateStack"), ("ecs", "RunTask"), ("cloudformation", "UpdateStack"),
    ("ecs", "StopTask"), ("autoscaling", "UpdateAutoScalingGroup"), ("cloudformation", "DeleteStack")])
def test_a_pass_cut_at_any_step_is_finished_by_the_next_ones(sb: Sandbox, clients: Clients, service: str,
                                                             operation: str) -> None:
    """Each step's first write fails once (a pass that died there): the refresh still ends with
    one new version, the old one deleted, minimum healthy kept."""
    infra = infra_with(ami_refresh="auto")
    start(sb, clients, infra)
    new_ami = sb.publish_ami()
    sb.fail(service, operation)
    creates = sb.count("cloudformation", "CreateStack")
    controller = FleetController(clients, infra, now=sb.now)
    floor: list[int] = []
    for _ in range(60):
        passes(sb, controller, 1, floor)
        if refreshed(sb, new_ami):
            break
    assert refreshed(sb, new_ami)
    refused = 1 if operation == "CreateStack" else 0  # the call that failed created nothing
    assert sb.count("cloudformation", "CreateStack") == creates + refused + 1
    assert min(floor) >= DESIRED * MIN_HEALTHY // 100 and running(sb) == DESIRED


# A reconcile pass in a child process that SIGKILLs itself just before the first call of one
# operation: nothing after it runs (no `finally`, no clean-up), as when a daemon is killed.
CHILD = r"""
import json, os, signal, sys
import botocore.client
from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.fleet.controller import FleetController
from ecsfleet.fleet.schema import load_infra

args = json.loads(sys.argv[1])
original = botocore.client.BaseClient._make_api_call

def make_api_call(self, operation, params):
    if operation == args["kill_before"]:
        print("killed before", operation, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, operation, params)

botocore.client.BaseClient._make_api_call = make_api_call
clients = Clients(AwsTarget(region=args["region"], endpoint_url=args["endpoint"]))
clock = float(args["now"])
FleetController(clients, load_infra(args["infra"])[1], now=lambda: clock).reconcile(dry_run=False)
"""


def killed_pass(sb: Sandbox, infra_path: Path, operation: str) -> bool:
    """One pass in the child; whether it was killed before `operation`."""
    args = {"region": sb.region, "endpoint": sb.endpoint_url, "infra": str(infra_path), "now": sb.now(),
            "kill_before": operation}
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], capture_output=True, text=True,
                           timeout=120, check=False)
    killed = "killed before" in child.stdout
    assert child.returncode == (-signal.SIGKILL if killed else 0), child.stderr[-3000:]
    return killed


@pytest.mark.parametrize("operation", ["CreateStack", "RunTask", "UpdateStack", "StopTask"])
def test_a_pass_sigkilled_before_any_refresh_write_is_finished_by_the_next_ones(
        sb: Sandbox, clients: Clients, tmp_path: Path, operation: str) -> None:
    """Killed before the create, the smoke task, the switch, or (after the switch, in the same
    pass) the smoke task's stop: later passes finish the refresh, with one new version."""
    infra = infra_with(ami_refresh="auto")
    path = tmp_path / "infra.yml"
    path.write_text(FIXTURE.read_text().replace("ec2_instances:\n", "ec2_instances:\n  ami_refresh: auto\n", 1))
    start(sb, clients, infra)
    new_ami = sb.publish_ami()
    creates = sb.count("cloudformation", "CreateStack")
    floor: list[int] = []
    for _ in range(6):
        if killed_pass(sb, path, operation):
            break
        sb.advance(15)
    else:
        pytest.fail(f"no pass called {operation}")
    controller = FleetController(clients, infra, now=sb.now)
    for _ in range(60):
        passes(sb, controller, 1, floor)
        if refreshed(sb, new_ami):
            break
    assert refreshed(sb, new_ami)
    assert sb.count("cloudformation", "CreateStack") == creates + 1
    assert min(floor) >= DESIRED * MIN_HEALTHY // 100 and running(sb) == DESIRED
    assert not [t for t in read_world(clients, infra).snapshot.tasks  # type: ignore[union-attr]
                if t.started_by == SMOKE_STARTED_BY and t.desired_status == "RUNNING"]


def test_a_pass_killed_between_recording_a_failure_and_scaling_down_is_finished(
        sb: Sandbox, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    infra = infra_with(ami_refresh="auto")
    start(sb, clients, infra)
    version = refresh_version("v1", sb.publish_ami())
    sb.fail_tasks_on("asg_version", version, "CannotPullContainerError")
    controller = FleetController(clients, infra, now=sb.now)

    def killed(*_: object) -> None:
        raise KeyboardInterrupt  # the process dies right after the failure tag was written

    monkeypatch.setattr(ami_refresh_run, "scale_to_zero", killed)
    with pytest.raises(KeyboardInterrupt):
        for _ in range(12):
            passes(sb, controller, 1, [])
    assert REFRESH_FAILED_TAG in compute_stacks(sb)[f"shop-asg-{version}"]
    monkeypatch.undo()
    report = controller.reconcile(dry_run=False)
    assert refresh_steps(report) == ["scaled to zero"]
    fleet = read_world(clients, infra).fleet(version)
    assert fleet is not None and [g.desired for g in fleet.asgs] == [0]


def test_a_dry_run_plans_the_step_and_changes_nothing(sb: Sandbox, clients: Clients) -> None:
    infra = infra_with(ami_refresh="auto")
    start(sb, clients, infra)
    new_ami = sb.publish_ami()
    creates = sb.count("cloudformation", "CreateStack")
    report = FleetController(clients, infra, now=sb.now).reconcile(dry_run=True)
    assert f"ami-refresh: create version {refresh_version('v1', new_ami)} on {new_ami} (replaces v1)" in report.planned
    assert not report.outcomes and sb.count("cloudformation", "CreateStack") == creates


# ---- AMI sources ----------------------------------------------------------------------------

def test_an_image_name_filter_follows_the_newest_image(sb: Sandbox, clients: Clients) -> None:
    first = sb.publish_ami(name="shop-node 1.0.0 2027-01-01", parameter=None, owner="self")
    sb.advance(60)
    second = sb.publish_ami(name="shop-node 1.0.1 2027-01-08", parameter=None, owner="self")
    sb.publish_ami(name="other-node 9", parameter=None, owner="self")
    source = AmiSource("name", "shop-node *", ("self",))
    assert latest_ami(clients, source) == second != first
    assert latest_ami(clients, AmiSource("name", "nothing-*", ("self",))) is None
    infra = infra_with(ami_name_filter="{name: 'shop-node *'}")
    rollout(clients, infra, "v1", resolve_network(clients, infra), quiet, RolloutSettings(follow=False, poll=5),
            sleep=sb.advance)
    assert compute_stacks(sb)["shop-asg-v1"]["ImageId"] == second


def test_an_own_ssm_parameter_is_followed(sb: Sandbox, clients: Clients) -> None:
    image = sb.publish_ami(parameter="/shop/ami", owner="self")
    assert latest_ami(clients, AmiSource("parameter", "/shop/ami")) == image
    infra = infra_with(ami_parameter="/shop/ami", ami_refresh="auto")
    start(sb, clients, infra)
    assert compute_stacks(sb)["shop-asg-v1"]["ImageId"] == image
    newer = sb.publish_ami(parameter="/shop/ami", owner="self")
    report = FleetController(clients, infra, now=sb.now).reconcile(dry_run=False)
    assert refresh_steps(report) == [f"created on {newer}, replacing v1"]


def test_newest_image_prefers_the_latest_available_one() -> None:
    images = [{"ImageId": "ami-1", "CreationDate": "2027-01-02T00:00:00.000Z"},
              {"ImageId": "ami-2", "CreationDate": "2027-01-03T00:00:00.000Z", "State": "pending"},
              {"ImageId": "ami-3", "CreationDate": "2027-01-01T00:00:00.000Z"}]
    assert newest_image(images) == "ami-1"
    assert newest_image([]) is None


def test_one_ami_source_at_most() -> None:
    with pytest.raises(InfraError, match="give one AMI source, not ami and ami_parameter"):
        infra_with(ami="ami-0abc1234", ami_parameter="/shop/ami")
    with pytest.raises(InfraError, match="ami_refresh_window: expected a UTC window"):
        infra_with(ami_refresh_window="sunday 2am")
    with pytest.raises(InfraError, match="ami_refresh: "):
        infra_with(ami_refresh="always")


# ---- pure pieces ----------------------------------------------------------------------------

def test_refresh_versions_replace_their_suffix_and_fit_a_stack_name() -> None:
    assert refresh_version("v1", "ami-0123456789abcdef0") == "v1-ami-9abcdef0"
    assert refresh_version("v1-ami-9abcdef0", "ami-0fedcba987654321f") == "v1-ami-7654321f"
    long = "a" * 40
    assert refresh_version(long, "ami-12c6146b") == "a" * 27 + "-ami-12c6146b"
    assert len(refresh_version("b" * 26 + "-" + "c" * 13, "ami-12c6146b")) <= 40


@pytest.mark.parametrize(("window", "at", "inside"), [
    (None, "2027-01-04 03:00", True),
    ("sun:02:00-sun:05:00", "2027-01-03 02:00", True),   # a Sunday
    ("sun:02:00-sun:05:00", "2027-01-03 05:00", False),
    ("sun:02:00-sun:05:00", "2027-01-04 03:00", False),  # Monday
    ("sat:22:00-mon:01:00", "2027-01-03 12:00", True),
    ("sun:23:00-mon:01:00", "2027-01-04 00:30", True),   # wraps the week
    ("23:00-01:00", "2027-01-05 00:59", True),           # wraps midnight
    ("23:00-01:00", "2027-01-05 01:00", False),
    ("02:00-05:00", "2027-01-06 04:59", True),
])
def test_maintenance_windows(window: str | None, at: str, inside: bool) -> None:
    moment = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC).timestamp()
    assert in_window(window, moment) is inside


def test_the_sandbox_command_publishes_a_newer_recommended_ami(sb: Sandbox, clients: Clients,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    before = latest_ami(clients, AmiSource("parameter", RECOMMENDED_AMI_PARAMETER))
    assert main(["sandbox", "publish-ami", "--endpoint-url", sb.endpoint_url]) == 0
    image = capsys.readouterr().out.strip()
    assert image.startswith("ami-") and image != before
    assert latest_ami(clients, AmiSource("parameter", RECOMMENDED_AMI_PARAMETER)) == image
    found = sb.client("ec2").describe_images(Owners=["amazon"], ImageIds=[image])["Images"]
    assert [i["State"] for i in found] == ["available"]
    assert main(["sandbox", "publish-ami", "--endpoint-url", sb.endpoint_url, "--parameter", "",
                 "--owner", "self", "--name", "shop-node 2"]) == 0
    own = capsys.readouterr().out.strip()
    assert latest_ami(clients, AmiSource("name", "shop-node *", ("self",))) == own
    assert latest_ami(clients, AmiSource("parameter", RECOMMENDED_AMI_PARAMETER)) == image
