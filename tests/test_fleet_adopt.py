"""`fleet adopt`: a live ecs-cluster-deployer cluster, built in the sandbox from stacks shaped
exactly like the original's (tests/original_deployer.py), taken over without replacing the ECS
cluster or an instance, then rolled forward until the old fleet is drained and deleted, with a
service at minimumHealthyPercent 100 never below its desired count."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.errors import UserError
from ecsfleet.fleet.adopt import Found, plan_adoption
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.rollout import RolloutSettings, rollout
from ecsfleet.fleet.schema import Infra, load_infra, parse_infra
from ecsfleet.fleet.stacks import Stack, adopted_cluster_template
from ecsfleet.sandbox import Sandbox
from original_deployer import deploy_original
from support import container_instances

CLUSTER, OLD = "legacy", "3f1c2ab"
SPOT_FLEET = {"name": "main", "desired_weight": 2, "min_weight": 1, "max_weight": 6,
              "bids": [{"instance_type": "t3.medium", "price": 0.02}]}
# The user's infra.yml as ecs-cluster-deployer read it (its cookiecutter's shape), unchanged.
INFRA_YML = f"""\
---
kind: aws-ecs-cluster-deployer
ecs_deployer_version: 0.0.1
cluster:
  name: {CLUSTER}
ec2_instances:
  autoscaling: true
  spot_fleets:
    - name: main
      desired_weight: 2
      min_weight: 1
      max_weight: 6
      bids:
        - instance_type: t3.medium
          price: 0.02
"""
DESIRED = 3


def write_infra(tmp_path: Path) -> str:
    path = tmp_path / "infra.yml"
    path.write_text(INFRA_YML)
    return str(path)


def web_service(sb: Sandbox) -> None:
    """A service the old fleet runs, which may never lose a task: minimumHealthyPercent 100."""
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": 256, "cpu": 128,
        "portMappings": [{"containerPort": 80, "hostPort": 0}]}])
    ecs.create_service(cluster=CLUSTER, serviceName="web", taskDefinition="web", desiredCount=DESIRED,
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    sb.advance(10)


def running(sb: Sandbox) -> int:
    return int(sb.client("ecs").describe_services(cluster=CLUSTER, services=["web"])["services"][0]["runningCount"])


def stacks(sb: Sandbox) -> dict[str, dict[str, Any]]:
    return {s["StackName"]: s for s in sb.client("cloudformation").describe_stacks()["Stacks"]}


def tags(stack: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack.get("Tags") or []}


def cluster_arn(sb: Sandbox) -> str:
    return str(sb.client("ecs").describe_clusters(clusters=[CLUSTER])["clusters"][0]["clusterArn"])


@pytest.fixture
def live(sb: Sandbox) -> Sandbox:
    """The original's cluster, running: its stacks, two spot instances joined, a service on them."""
    deploy_original(sb, CLUSTER, OLD, SPOT_FLEET)
    sb.advance(30)
    assert len(container_instances(sb, CLUSTER)) == 2
    web_service(sb)
    assert running(sb) == DESIRED
    return sb


def test_adopt_then_rollout_drains_and_deletes_the_old_fleet_keeping_every_task(
        live: Sandbox, clients: Clients, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sb, path = live, write_infra(tmp_path)
    infra = load_infra(path)[1]
    arn, instances = cluster_arn(sb), container_instances(sb, CLUSTER)
    spot_request = stacks(sb)[f"{CLUSTER}-asg-{OLD}"]
    before = {name: tags(s) for name, s in stacks(sb).items()}

    # Before: ecsfleet leaves the original's stacks alone, and says how to take them over.
    assert main(["fleet", "status", path]) == 0
    assert f"{CLUSTER}-asg-{OLD}" in capsys.readouterr().out
    with pytest.raises(UserError, match="fleet adopt"):
        rollout(clients, infra, "v2", resolve_network(clients, infra), print, RolloutSettings(follow=False))

    # --dry-run: shows every change, makes none.
    sb.reset_calls()
    assert main(["fleet", "adopt", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"{CLUSTER}-asg-{OLD}: adopt fleet {OLD} (active: SpotFleetMain)" in out
    assert "disable the original's scheduled rule(s) CronScalingMain" in out
    assert f"{CLUSTER}-cluster: adopt cluster stack (ECS cluster kept)" in out
    assert f"{CLUSTER}-cluster-health-task: left as it is" in out
    assert "dry run: 2 stack(s) would be adopted, nothing changed" in out
    writes = {op for (_, op) in sb.calls("cloudformation") if not op.startswith(("Describe", "Get", "List"))}
    assert writes == set()
    assert {name: tags(s) for name, s in stacks(sb).items()} == before

    # adopt: two tag updates (fleets first), nothing replaced.
    sb.reset_calls()
    assert main(["fleet", "adopt", path, "--poll", "1"]) == 0
    assert sb.count("cloudformation", "UpdateStack") == 2
    after = stacks(sb)
    assert tags(after[f"{CLUSTER}-asg-{OLD}"]) == {"ecsfleet:cluster": CLUSTER, "ecsfleet:version": OLD,
                                                  "ecsfleet:adopted": "ecs-cluster-deployer"}
    assert tags(after[f"{CLUSTER}-cluster"]) == {"ecsfleet:cluster": CLUSTER,
                                                 "ecsfleet:adopted": "ecs-cluster-deployer"}
    assert tags(after[f"{CLUSTER}-cluster-health-task"]) == {}
    assert after[f"{CLUSTER}-asg-{OLD}"]["StackId"] == spot_request["StackId"]
    assert {p["ParameterKey"]: p["ParameterValue"] for p in after[f"{CLUSTER}-asg-{OLD}"]["Parameters"]} == {
        p["ParameterKey"]: p["ParameterValue"] for p in spot_request["Parameters"]}
    assert cluster_arn(sb) == arn and container_instances(sb, CLUSTER) == instances
    rule = sb.client("events").describe_rule(Name=_physical(sb, f"{CLUSTER}-asg-{OLD}", "CronScalingMain"))
    assert rule["State"] == "DISABLED"
    assert running(sb) == DESIRED

    # Adopting again changes nothing.
    sb.reset_calls()
    assert main(["fleet", "adopt", path]) == 0
    assert "nothing to adopt" in capsys.readouterr().out and sb.count("cloudformation", "UpdateStack") == 0

    # fleet status: the old fleet is a version of ours now.
    world = read_world(clients, infra)
    old = world.fleet(OLD)
    assert old is not None and old.active and old.instance_ids == frozenset(instances)
    assert [s.name for s in world.stacks.foreign] == []

    # rollout of a new version: the old fleet drained and deleted, never a task below desired.
    seen: list[int] = []

    def sleep(seconds: float) -> None:
        sb.advance(seconds)
        seen.append(running(sb))

    lines: list[str] = []
    rollout(clients, infra, "v2", resolve_network(clients, infra), lines.append,
            RolloutSettings(poll=5, follow_timeout=1800), sleep=sleep)
    assert seen and min(seen) >= DESIRED, seen
    assert any("rollout of v2 complete" in line for line in lines), lines
    final = stacks(sb)
    assert f"{CLUSTER}-asg-{OLD}" not in final and f"{CLUSTER}-asg-v2" in final
    assert cluster_arn(sb) == arn
    assert not set(container_instances(sb, CLUSTER)) & set(instances)
    assert running(sb) == DESIRED
    # The original's badge exports stay (users' load balancers and databases wear them).
    exports = {o.get("ExportName") for o in final[f"{CLUSTER}-cluster"].get("Outputs") or []}
    assert {f"{CLUSTER}-cluster:ALBBadgeSg", f"{CLUSTER}-cluster:DBBadgeSg"} <= exports


def _physical(sb: Sandbox, stack: str, logical: str) -> str:
    resources = sb.client("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return str(next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == logical))


def test_rolling_out_the_adopted_version_again_is_refused(live: Sandbox, clients: Clients, tmp_path: Path) -> None:
    infra = load_infra(write_infra(tmp_path))[1]
    assert main(["fleet", "adopt", write_infra(tmp_path)]) == 0
    with pytest.raises(UserError, match=f"version {OLD} is a fleet ecs-cluster-deployer made"):
        rollout(clients, infra, OLD, resolve_network(clients, infra), print, RolloutSettings(follow=False))


# ---- the pure plan: what it refuses ---------------------------------------------------------------


def _infra() -> Infra:
    return parse_infra("infra.yml", INFRA_YML)


def _stack(name: str, *, parameters: dict[str, str] | None = None, tags: dict[str, str] | None = None,
           status: str = "UPDATE_COMPLETE", created: str = "1") -> Stack:
    return Stack(name, status, MappingProxyType(parameters or {}), MappingProxyType(tags or {}),
                 template={"Resources": {}}, created=created)


def _cluster(**kwargs: Any) -> Found:
    return Found(_stack(f"{CLUSTER}-cluster", parameters={"ClusterName": CLUSTER}, **kwargs),
                 {"Cluster": ("AWS::ECS::Cluster", CLUSTER)})


def _fleet(version: str, status: str = "active", **kwargs: Any) -> Found:
    return Found(_stack(f"{CLUSTER}-asg-{version}", parameters={"Status": status, "Version": version}, **kwargs),
                 {"SpotFleetMain": ("AWS::EC2::SpotFleet", "sfr-1")})


def test_plan_adopts_fleets_first_then_the_cluster_stack() -> None:
    plan = plan_adoption(_infra(), [_cluster(), _fleet("b", "inactive", created="2"), _fleet("a", created="1")])
    assert [a.stack for a in plan.adoptions] == [f"{CLUSTER}-asg-a", f"{CLUSTER}-asg-b", f"{CLUSTER}-cluster"]
    assert [a.status for a in plan.adoptions] == ["active", "inactive", ""]


@pytest.mark.parametrize(("found", "message"), [
    ([_fleet("a")], f"no stack {CLUSTER}-cluster"),
    ([Found(_stack(f"{CLUSTER}-cluster"), {"Cluster": ("AWS::ECS::Cluster", "other")})],
     "not ecs-cluster-deployer's cluster stack: expected its ECS cluster 'legacy'"),
    ([_cluster(), Found(_stack(f"{CLUSTER}-asg-x", parameters={"Version": "x"}), {})],
     "expected a Status parameter active|inactive (got None)"),
    ([_cluster(), Found(_stack(f"{CLUSTER}-asg-x", parameters={"Status": "active"}), {})],
     "it holds no spot fleet or Auto Scaling group"),
    ([_cluster(tags={"ecsfleet:cluster": "shop"})], "name collision: ecsfleet manages it for cluster 'shop'"),
    ([_cluster(status="UPDATE_IN_PROGRESS")], "busy (UPDATE_IN_PROGRESS)"),
    ([_cluster(status="UPDATE_ROLLBACK_FAILED")], "in UPDATE_ROLLBACK_FAILED, which no update can start from"),
])
def test_plan_refuses_what_it_cannot_adopt(found: list[Found], message: str) -> None:
    with pytest.raises(UserError) as refused:
        plan_adoption(_infra(), found)
    assert message in str(refused.value)


def test_the_adopted_cluster_template_keeps_the_originals_resources_and_exports() -> None:
    deployed = {"Parameters": {"ClusterName": {"Type": "String"}},
                "Resources": {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": CLUSTER}},
                              "ALBBadgeSg": {"Type": "AWS::EC2::SecurityGroup",
                                             "Properties": {"GroupDescription": "a"}}},
                "Outputs": {"ALBBadgeSg": {"Value": {"Fn::GetAtt": ["ALBBadgeSg", "GroupId"]},
                                           "Export": {"Name": {"Fn::Sub": "${AWS::StackName}:ALBBadgeSg"}}}}}
    wanted = {"Description": "ecsfleet", "Parameters": {"VpcId": {"Type": "AWS::EC2::VPC::Id"}},
              "Resources": {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": CLUSTER,
                                                                                    "Tags": []}},
                            "Badge": {"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "b"}},
                            "Role": {"Type": "AWS::IAM::Role", "Properties": {}}},
              "Outputs": {"ClusterName": {"Value": {"Ref": "Cluster"},
                                          "Export": {"Name": "legacy-cluster-ClusterName"}},
                          "Badge": {"Value": {"Ref": "Badge"}, "Export": {"Name": "legacy-cluster:ALBBadgeSg"}}}}
    merged = adopted_cluster_template(wanted, deployed, f"{CLUSTER}-cluster")
    assert merged["Resources"]["Cluster"] == deployed["Resources"]["Cluster"]
    assert set(merged["Resources"]) == {"Cluster", "ALBBadgeSg", "Badge", "Role"}
    assert set(merged["Outputs"]) == {"ALBBadgeSg", "ClusterName"}
    assert set(merged["Parameters"]) == {"ClusterName", "VpcId"}
    with pytest.raises(UserError, match="cannot merge"):
        adopted_cluster_template({"Resources": {"Cluster": {"Type": "AWS::IAM::Role"}}}, deployed, "x")


def test_a_stack_the_sandbox_refuses_to_update_fails_the_adoption_with_the_reason(
        live: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live.fail_stack(f"{CLUSTER}-asg-{OLD}", "SpotFleetMain", "Resource handler returned message: throttled")
    assert main(["fleet", "adopt", write_infra(tmp_path), "--poll", "1"]) == 1
    assert "throttled" in capsys.readouterr().err
    # Fleets go first: the cluster stack is untouched, and adopting again finishes the job.
    assert tags(stacks(live)[f"{CLUSTER}-cluster"]) == {}
    assert main(["fleet", "adopt", write_infra(tmp_path), "--poll", "1"]) == 0
    assert all(tags(s).get("ecsfleet:cluster") == CLUSTER for n, s in stacks(live).items() if "health" not in n)


# ---- docs/migrate-from-ecs-cluster-deployer.md, followed step by step --------------------------------

GUIDE = Path(__file__).parent.parent / "docs" / "migrate-from-ecs-cluster-deployer.md"
GUIDE_OLD = "3f1c2ab"


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.S | re.M)]


def test_the_migration_guide_in_the_sandbox(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import time
    from types import SimpleNamespace

    found = blocks(GUIDE.read_text())
    infra_text = next(body for lang, body in found if lang == "yaml")
    name = parse_infra("infra.yml", infra_text).cluster.name
    spot = {"name": "main", "desired_weight": 2, "min_weight": 1, "max_weight": 6,
            "bids": [{"instance_type": "t3.medium", "price": 0.02}]}
    deploy_original(sb, name, GUIDE_OLD, spot)
    sb.advance(30)
    ecs = sb.client("ecs")
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": "nginx", "memory": 256,
                                                                      "cpu": 128}])
    ecs.create_service(cluster=name, serviceName="web", taskDefinition="web", desiredCount=DESIRED,
                       deploymentConfiguration={"minimumHealthyPercent": 100, "maximumPercent": 200})
    sb.advance(10)
    arn = ecs.describe_clusters(clusters=[name])["clusters"][0]["clusterArn"]
    seen: list[int] = []

    def advance(seconds: float) -> None:  # the commands wait on the sandbox clock
        sb.advance(seconds)
        seen.append(int(ecs.describe_services(cluster=name, services=["web"])["services"][0]["runningCount"]))

    monkeypatch.setattr("ecsfleet.fleet.rollout.time", SimpleNamespace(sleep=advance, time=time.time))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "infra.yml").write_text(infra_text)

    ran: list[tuple[str, str]] = []
    compared = False
    for index, (lang, body) in enumerate(found):
        if lang != "sh":
            continue
        for line in body.splitlines():
            if line.startswith("export "):
                key, value = line.removeprefix("export ").split("=", 1)
                monkeypatch.setenv(key, value)
            elif line.startswith("ecsfleet "):
                code = main(shlex.split(line)[1:])
                ran.append((line, capsys.readouterr().out))
                assert code == 0, ran[-1]
        following = found[index + 1] if index + 1 < len(found) else ("", "")
        if following[0] == "" and "ecsfleet fleet adopt --dry-run" in body:
            # The guide's example output is what the dry run printed.
            assert dict(ran)["ecsfleet fleet adopt --dry-run"] == following[1]
            compared = True
    assert compared
    statuses = [out for line, out in ran if line == "ecsfleet fleet status"]
    assert len(statuses) == 3
    assert "not managed by ecsfleet" in statuses[0] and "fleet adopt" in statuses[0]
    assert "adopted" in statuses[1] and GUIDE_OLD in statuses[1]
    assert GUIDE_OLD not in statuses[2] and "2b7e9d0" in statuses[2]
    outputs = dict(ran)
    stack_names = {s["StackName"] for s in sb.client("cloudformation").describe_stacks()["Stacks"]}
    assert stack_names == {f"{name}-cluster", f"{name}-cluster-health-task", f"{name}-asg-2b7e9d0"}
    assert ecs.describe_clusters(clusters=[name])["clusters"][0]["clusterArn"] == arn
    assert seen and min(seen) >= DESIRED
    assert "rollout of 2b7e9d0 complete" in outputs["ecsfleet fleet rollout"]
