"""fleet deploy / plan / status against the sandbox: real CloudFormation calls over HTTP."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ecsfleet.amis import RECOMMENDED_AMI_PARAMETER
from ecsfleet.aws import AwsTarget, Clients
from ecsfleet.cli import main
from ecsfleet.fleet.deploy import DeployError, apply_change, plan
from ecsfleet.fleet.network import resolve_network
from ecsfleet.fleet.schema import load_infra
from ecsfleet.sandbox import Sandbox

INFRA = str(Path(__file__).parent / "fixtures" / "infra-sandbox.yml")
WRITES = {"CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet", "ExecuteChangeSet"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def stack(sb: Sandbox, name: str) -> dict[str, object]:
    found: dict[str, object] = sb.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    return found


def cfn_writes(sb: Sandbox) -> int:
    return sum(n for (service, op), n in sb.calls().items() if service == "cloudformation" and op in WRITES)


def container_instances(sb: Sandbox, cluster: str = "shop") -> list[dict[str, object]]:
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    found: list[dict[str, object]] = ecs.describe_container_instances(
        cluster=cluster, containerInstances=arns)["containerInstances"]
    return found


def versions_of(instances: list[dict[str, object]]) -> list[str]:
    return sorted(next(a["value"] for a in ci["attributes"] if a["name"] == "asg_version")  # type: ignore[attr-defined]
                  for ci in instances)


def test_deploy_creates_cluster_and_inactive_compute_stack_whose_instances_join(
        sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "fleet", "deploy", INFRA, "--version", "v1")
    assert code == 0, err
    assert "shop-cluster: create" in out and "shop-asg-v1: create" in out
    cluster = stack(sb, "shop-cluster")
    compute = stack(sb, "shop-asg-v1")
    assert cluster["StackStatus"] == compute["StackStatus"] == "CREATE_COMPLETE"
    params = {p["ParameterKey"]: p["ParameterValue"] for p in compute["Parameters"]}  # type: ignore[attr-defined]
    assert params["Status"] == "inactive"
    recommended = sb.client("ssm").get_parameter(Name=RECOMMENDED_AMI_PARAMETER)["Parameter"]["Value"]
    assert params["ImageId"] == recommended
    tags = {t["Key"]: t["Value"] for t in compute["Tags"]}  # type: ignore[attr-defined]
    assert tags == {"ecsfleet:cluster": "shop", "ecsfleet:version": "v1"}
    sb.advance(1)
    # One on-demand instance from the group, two spot instances (weight 2 at weight 1 each).
    assert versions_of(container_instances(sb)) == ["v1", "v1", "v1"]


def test_same_version_twice_changes_nothing(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 0
    sb.reset_calls()
    code, out, _ = run(capsys, "fleet", "deploy", INFRA, "--version", "v1")
    assert code == 0
    assert "shop-cluster: unchanged" in out and "shop-asg-v1: unchanged" in out
    assert cfn_writes(sb) == 0
    code, out, _ = run(capsys, "fleet", "plan", INFRA, "--version", "v1")
    assert code == 0 and "nothing to deploy" in out


def test_second_version_deploys_beside_the_first(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 0
    sb.advance(1)
    code, out, _ = run(capsys, "fleet", "plan", INFRA, "--version", "v2")
    assert code == 0 and "shop-cluster: unchanged" in out and "shop-asg-v2: create" in out
    sb.reset_calls()
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v2")[0] == 0
    assert sb.calls()[("cloudformation", "CreateStack")] == 1 and cfn_writes(sb) == 1
    assert stack(sb, "shop-asg-v1")["StackStatus"] == "CREATE_COMPLETE"
    sb.advance(1)
    assert versions_of(container_instances(sb)) == ["v1"] * 3 + ["v2"] * 3
    code, out, _ = run(capsys, "fleet", "status", INFRA, "--output", "json")
    doc = json.loads(out)
    assert doc["schema"] == "ecsfleet.fleet-status/v1"
    assert [(v["version"], v["status"], len(v["instances"]), v["containerInstances"]["active"])
            for v in doc["versions"]] == [("v1", "inactive", 3, 3), ("v2", "inactive", 3, 3)]
    code, out, _ = run(capsys, "fleet", "status", INFRA)
    assert code == 0 and "shop: cluster stack shop-cluster CREATE_COMPLETE" in out and "v2" in out


def test_a_changed_infra_updates_the_stack_and_plan_names_the_change(
        sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 0
    changed = tmp_path / "infra.yml"
    changed.write_text(Path(INFRA).read_text().replace("max_size: 3", "max_size: 5"))
    code, out, _ = run(capsys, "fleet", "plan", str(changed), "--version", "v1")
    assert code == 0 and "shop-asg-v1: update (modify AsgBase)" in out
    sb.reset_calls()
    assert run(capsys, "fleet", "deploy", str(changed), "--version", "v1")[0] == 0
    assert sb.calls()[("cloudformation", "UpdateStack")] == 1
    group = sb.client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"][0]
    assert group["MaxSize"] == 5
    # The update kept the fleet's Status.
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack(sb, "shop-asg-v1")["Parameters"]}  # type: ignore[attr-defined]
    assert params["Status"] == "inactive"


def test_a_failed_stack_names_the_resource_and_its_reason(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sb.fail_stack("shop-asg-v1", "SpotFleetSpot", "Spot fleet request failed: MaxSpotInstanceCountExceeded")
    code, _, err = run(capsys, "fleet", "deploy", INFRA, "--version", "v1")
    assert code == 1
    assert "shop-asg-v1 failed (ROLLBACK_COMPLETE)" in err
    assert "SpotFleetSpot (AWS::EC2::SpotFleet): Spot fleet request failed: MaxSpotInstanceCountExceeded" in err


def test_the_next_deploy_recreates_a_stack_whose_create_failed(
        sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sb.fail_stack("shop-asg-v1", "SpotFleetSpot", "Spot fleet request failed: MaxSpotInstanceCountExceeded")
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 1
    failed = stack(sb, "shop-asg-v1")
    assert failed["StackStatus"] == "ROLLBACK_COMPLETE"  # AWS refuses any update of it
    code, out, _ = run(capsys, "fleet", "plan", INFRA, "--version", "v1")
    assert code == 0 and "shop-cluster: unchanged" in out
    assert ("shop-asg-v1: recreate (its create failed earlier, ROLLBACK_COMPLETE: SpotFleetSpot (AWS::EC2::SpotFleet): "
            "Spot fleet request failed: MaxSpotInstanceCountExceeded; delete it, then create") in out
    sb.reset_calls()
    code, out, err = run(capsys, "fleet", "deploy", INFRA, "--version", "v1")
    assert code == 0, err
    assert ("shop-asg-v1: its create failed earlier (ROLLBACK_COMPLETE: SpotFleetSpot (AWS::EC2::SpotFleet): Spot "
            "fleet request failed: MaxSpotInstanceCountExceeded); a stack in ROLLBACK_COMPLETE holds no resources and "
            "cannot be updated: deleting it and creating it again") in out
    calls = sb.calls()
    assert (calls[("cloudformation", "DeleteStack")], calls[("cloudformation", "CreateStack")], cfn_writes(sb)) == (
        1, 1, 2)
    recreated = stack(sb, "shop-asg-v1")
    assert recreated["StackStatus"] == "CREATE_COMPLETE" and recreated["StackId"] != failed["StackId"]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in recreated["Parameters"]}  # type: ignore[attr-defined]
    assert params["Status"] == "inactive" and params["ImageId"].startswith("ami-")
    sb.advance(1)
    assert versions_of(container_instances(sb)) == ["v1", "v1", "v1"]
    sb.reset_calls()
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 0
    assert cfn_writes(sb) == 0


def test_a_failed_stack_is_deleted_only_while_it_is_still_failed_and_ours(
        sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    sb.fail_stack("shop-asg-v1", "SpotFleetSpot", "Spot fleet request failed")
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 1
    clients = Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))
    _, infra = load_infra(INFRA)
    _, changes = plan(clients, infra, "v1", resolve_network(clients, infra))
    recreate = next(c for c in changes if c.action == "recreate")
    # Another deploy recovered it between this plan and its apply: the stack it finds is left alone.
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 0
    sb.reset_calls()
    with pytest.raises(DeployError, match="not deleted: it is now CREATE_COMPLETE"):
        apply_change(clients, recreate, print)
    assert cfn_writes(sb) == 0


def test_an_update_that_changes_nothing_is_success(sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "fleet", "deploy", INFRA, "--version", "v1")[0] == 0
    clients = Clients(AwsTarget(region=sb.region, endpoint_url=sb.endpoint_url))
    _, infra = load_infra(INFRA)
    _, changes = plan(clients, infra, "v1", resolve_network(clients, infra))
    # As if another deploy had applied this very change since the plan read the stack.
    stale = replace(changes[1], action="update")
    assert apply_change(clients, stale, print) == "unchanged"
    assert sb.calls()[("cloudformation", "UpdateStack")] == 1
    assert stack(sb, "shop-asg-v1")["StackStatus"] == "CREATE_COMPLETE"


def test_a_stack_with_our_name_that_we_do_not_own_is_left_alone(
        sb: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    cfn = sb.client("cloudformation")
    foreign = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    cfn.create_stack(StackName="shop-cluster", TemplateBody=json.dumps(foreign))
    sb.reset_calls()
    code, _, err = run(capsys, "fleet", "deploy", INFRA, "--version", "v1")
    assert code == 2 and "shop-cluster exists but is not managed by ecsfleet" in err
    assert cfn_writes(sb) == 0
    assert json.loads(json.dumps(cfn.get_template(StackName="shop-cluster")["TemplateBody"])) == foreign
