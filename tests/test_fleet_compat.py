"""ecs-cluster-deployer's infra.yml files as its project ships them (cookiecutter, regression
tests, README examples; shaped like them in tests/fixtures/deployer/, not copied): each
validates, renders templates that pass cfn-lint, and deploys in the sandbox."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from ecsfleet.cfn import lint
from ecsfleet.cli import main
from ecsfleet.fleet.cli import SEED_DEFAULT_REGION as SEED_REGION
from ecsfleet.fleet.deploy import desired_stacks
from ecsfleet.fleet.schema import load_infra, parse_infra
from ecsfleet.fleet.templates import cluster_template, compute_template, safe_version
from ecsfleet.sandbox import Sandbox

DEPLOYER = Path(__file__).parent / "fixtures" / "deployer"
COOKIECUTTER, REGRESSION = DEPLOYER / "cookiecutter" / "infra.yml", DEPLOYER / "regression" / "infra.yml"
BASE, README = DEPLOYER / "regression" / "base.yml", DEPLOYER / "readme" / "infra.yml"
SHAPES = [COOKIECUTTER, REGRESSION, BASE, README]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def launch_data(template: dict[str, Any]) -> dict[str, Any]:
    """The nodes' launch data (every launch template of a version holds the same, but for its type)."""
    found: dict[str, Any] = next(r["Properties"]["LaunchTemplateData"] for r in template["Resources"].values()
                                 if r["Type"] == "AWS::EC2::LaunchTemplate")
    return found


@pytest.mark.parametrize("shape", SHAPES, ids=lambda p: p.parent.name + "/" + p.name)
def test_each_original_shape_validates_and_renders_lint_clean(shape: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "fleet", "validate", str(shape))
    assert code == 0, err
    assert "valid: cluster" in out
    _, infra = load_infra(str(shape))
    for stack in desired_stacks(infra, "0a1b2c3", {}):
        assert lint(dict(stack.template), [SEED_REGION]) == [], stack.name


def test_the_original_keys_keep_their_meaning_or_warn(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        _, infra = load_infra(str(README))
    assert infra.kind == "aws-ecs-cluster-deployer" and infra.ecs_deployer_version == "1.2"
    assert infra.ec2_instances.ami == "ami-0a1b2c3d4e5f60718"  # cluster.ami
    group = infra.ec2_instances.auto_scaling_groups[0]
    assert (group.min_size, group.max_size) == (1, 2)  # min_instances / max_instances
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 4
    assert any(":11: cluster.ami: read as ec2_instances.ami" in w for w in warned)
    assert any(":5: environments: one stage of `ecsfleet fleet pipeline` each" in w for w in warned)
    assert any(":37: ec2_instances.auto_scaling_groups.0.min_instances: read as min_size" in w for w in warned)
    assert infra.scaling_mode == "thresholds"  # a seed file scales as it did, without a word
    # Files that use only the original's documented keys warn about nothing.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        load_infra(str(COOKIECUTTER))
    assert caplog.records == []


@pytest.mark.parametrize(("text", "expected"), [
    ("kind: something-else\n", "kind: expected 'aws-ecs-cluster-deployer', the only kind of infra.yml"),
    ("cluster: {name: a, ami: ami-0a1b2c3d}\n", "cluster.ami 'ami-0a1b2c3d' and ec2_instances.ami"),
])
def test_original_keys_with_wrong_values_are_clear_errors(text: str, expected: str) -> None:
    base = "cluster: {name: a}\n" if "cluster" not in text else ""
    nodes = ("ec2_instances:\n  ami: ami-0f0f0f0f\n  spot_fleets:\n    - {name: m, min_weight: 0, max_weight: 1, "
             "bids: [{instance_type: t3.small, price: 0.01}]}\n")
    with pytest.raises(Exception, match="problem") as caught:
        parse_infra("infra.yml", text + base + nodes)
    assert expected in str(caught.value)


def test_badge_security_groups_are_exported_with_the_original_names_and_worn_as_it_did() -> None:
    _, infra = load_infra(str(README))
    cluster = cluster_template(infra)
    exports = {o["Export"]["Name"] for o in cluster["Outputs"].values()}
    assert {f"docs-cluster-cluster:{b}BadgeSg" for b in ("ALB", "DB", "Cache", "Aux")} <= exports
    ingress = {r["Properties"]["SourceSecurityGroupId"].__repr__() for r in cluster["Resources"].values()
               if r["Type"] == "AWS::EC2::SecurityGroupIngress"}
    # security_group_ingress is kept beside security_groups, and the ALB badge reaches the nodes.
    assert ingress == {repr("sg-1a2b3c4d"), repr({"Fn::GetAtt": ["ALBBadgeSg", "GroupId"]})}
    groups = launch_data(compute_template(infra, "v1"))["SecurityGroupIds"]
    # The user's security_groups are added to the node group and the DB badge, not instead of them.
    assert groups == [{"Fn::ImportValue": "docs-cluster-cluster-NodeSecurityGroup"},
                      {"Fn::ImportValue": "docs-cluster-cluster:DBBadgeSg"}, "sg-0a1b2c3d"]


def test_badges_can_be_turned_off() -> None:
    text = COOKIECUTTER.read_text().replace("  name: cutter\n", "  name: cutter\n  badge_security_groups: false\n")
    infra = parse_infra("infra.yml", text)
    assert not [k for k in cluster_template(infra)["Resources"] if "Badge" in k]
    assert launch_data(compute_template(infra, "v1"))["SecurityGroupIds"] == [
        {"Fn::ImportValue": "cutter-cluster-NodeSecurityGroup"}]


def test_the_original_defaults_tags_agent_settings_and_attributes() -> None:
    _, infra = load_infra(str(COOKIECUTTER))
    template = compute_template(infra, "abc123")
    data = launch_data(template)
    tags = {t["Key"]: t["Value"] for t in data["TagSpecifications"][0]["Tags"]}
    assert tags["cluster"] == tags["Name"] == "cutter"
    spot = template["Resources"]["SpotFleetMain"]["Properties"]["SpotFleetRequestConfigData"]
    assert spot["AllocationStrategy"] == "diversified"
    script = data["UserData"]["Fn::Base64"]
    for setting in ("ECS_ENABLE_CONTAINER_METADATA=true", "ECS_ENABLE_TASK_IAM_ROLE=true",
                    "ECS_AWSVPC_BLOCK_IMDS=true", '"cluster_name":"cutter"', '"ecs_deploy_version":"ecsfleet"',
                    '"instance_id":"$INSTANCE_ID"', '"asg_version":"abc123"'):
        assert setting in script


def test_user_data_is_a_jinja2_template_of_the_whole_boot_script_wrapped_in_fn_sub() -> None:
    _, infra = load_infra(str(BASE))
    user_data = launch_data(compute_template(infra, "v9"))["UserData"]["Fn::Base64"]
    text, variables = user_data["Fn::Sub"]
    assert text.startswith("#!/bin/bash -xe")  # the user's script replaces ecsfleet's
    assert "ECS_CLUSTER=${ClusterName}" in text and "${AWS::Region}" in text
    assert variables == {"ClusterName": "scaling", "Version": "v9"}
    # Rendered with the original's variables: version, deployer version, cluster, timeout, EFS mounts.
    assert '"asg_version": "v9", "ecs_deploy_version": "0.0.1", "cluster_name": "scaling"' in text
    assert "ECS_CONTAINER_STOP_TIMEOUT=3m" in text
    assert "mount -t efs -o tls fs-0a1b2c3d:/ /mnt/shared" in text


def test_user_data_append_keeps_ecsfleet_boot_script(tmp_path: Path) -> None:
    (tmp_path / "after.sh").write_text("echo after the join\n")
    (tmp_path / "infra.yml").write_text(COOKIECUTTER.read_text().replace(
        "  autoscaling: true\n", "  autoscaling: true\n  user_data_append: after.sh\n"))
    _, infra = load_infra(str(tmp_path / "infra.yml"))
    script = launch_data(compute_template(infra, "v1"))["UserData"]["Fn::Base64"]
    assert script.index("ECS_CLUSTER=cutter") < script.index("echo after the join")


@pytest.mark.parametrize(("template", "expected"), [
    ("{% for x in %}", "line 1:"),
    ("{{ no_such_variable }}", "'no_such_variable' is undefined (variables: cluster, efs_mounts"),
    ("{{ cluster.__class__.__mro__ }}", "unsafe"),
])
def test_a_broken_user_data_template_fails_validate_with_the_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str, expected: str) -> None:
    (tmp_path / "boot.j2").write_text(template)
    (tmp_path / "infra.yml").write_text(COOKIECUTTER.read_text().replace(
        "  autoscaling: true\n", "  autoscaling: true\n  user_data: boot.j2\n"))
    code, _, err = run(capsys, "fleet", "validate", str(tmp_path / "infra.yml"))
    assert code == 2 and "ec2_instances.user_data boot.j2" in err and expected in err, err


def test_version_names_map_to_stack_names_one_to_one() -> None:
    assert safe_version("0a1b2c3d4e5f") == "0a1b2c3d4e5f" and safe_version("v-2") == "v-2"
    first, second = safe_version("bad version!"), safe_version("bad_version?")
    assert first != second and first.startswith("bad-version-") and second.startswith("bad-version-")
    assert len(safe_version("x" * 200)) <= 40 and safe_version("x" * 200) != safe_version("x" * 201)
    with pytest.raises(ValueError, match="nothing usable"):
        safe_version("!!!")


def _default_network(sb: Sandbox) -> tuple[str, list[str]]:
    ec2 = sb.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]]
    return vpc, subnets[:2]


def _registered(sb: Sandbox, cluster: str) -> list[dict[str, str]]:
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster=cluster)["containerInstanceArns"]
    if not arns:
        return []
    return [{a["name"]: a.get("value", "") for a in ci["attributes"]}
            for ci in ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"]]


def _prepare(sb: Sandbox, shape: Path, tmp_path: Path) -> Path:
    """The sandbox's own VPC, subnets, security groups and instance profile in place of the ones a
    real account would have (named in the README-shaped file), and the key pair base.yml names."""
    target = tmp_path / shape.parent.name
    target.mkdir()
    for source in shape.parent.iterdir():
        (target / source.name).write_bytes(source.read_bytes())
    text = shape.read_text()
    ec2, iam = sb.client("ec2"), sb.client("iam")
    vpc, subnets = _default_network(sb)
    if "keypair:" in text:
        ec2.create_key_pair(KeyName="deployer-key")
    if "instance-profile/ecsInstanceRole" in text:
        iam.create_role(RoleName="ecsInstanceRole", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}))
        iam.create_instance_profile(InstanceProfileName="ecsInstanceRole")
        iam.add_role_to_instance_profile(InstanceProfileName="ecsInstanceRole", RoleName="ecsInstanceRole")
    if shape == README:
        groups = [ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("a", "b")]
        text = (text.replace("vpc-0a1b2c3d", vpc).replace("subnet-0a1b2c3d", subnets[0])
                .replace("subnet-1a2b3c4d", subnets[1]).replace("sg-0a1b2c3d", groups[0])
                .replace("sg-1a2b3c4d", groups[1]).replace("us-east-1a", "us-east-1b"))
        ami = sb.client("ec2").describe_images()["Images"][0]["ImageId"]
        text = text.replace("ami-0a1b2c3d4e5f60718", ami)
    (target / shape.name).write_text(text)
    return target / shape.name


@pytest.mark.parametrize("shape", SHAPES, ids=lambda p: p.parent.name + "/" + p.name)
def test_each_original_shape_deploys_in_the_sandbox_and_its_nodes_join(
        sb: Sandbox, capsys: pytest.CaptureFixture[str], tmp_path: Path, shape: Path) -> None:
    infra_yml = _prepare(sb, shape, tmp_path)
    code, out, err = run(capsys, "fleet", "deploy", str(infra_yml), "--version", "0a1b2c3", "--poll", "0.1")
    assert code == 0, out + err
    _, infra = load_infra(str(infra_yml))
    name = infra.cluster.name
    cfn = sb.client("cloudformation")
    cluster = cfn.describe_stacks(StackName=f"{name}-cluster")["Stacks"][0]
    assert cluster["StackStatus"] == "CREATE_COMPLETE"
    exports = {e["Name"] for e in cfn.list_exports()["Exports"]}
    assert f"{name}-cluster:ALBBadgeSg" in exports and f"{name}-cluster:DBBadgeSg" in exports
    assert cfn.describe_stacks(StackName=f"{name}-asg-0a1b2c3")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    sb.advance(1)
    joined = _registered(sb, name)
    assert joined and all(a.get("asg_version") == "0a1b2c3" for a in joined), joined
    assert all(a.get("cluster_name") == name for a in joined)


def test_deployed_user_data_carries_the_substituted_template(sb: Sandbox, capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    infra_yml = _prepare(sb, BASE, tmp_path)
    assert run(capsys, "fleet", "deploy", str(infra_yml), "--version", "v5", "--poll", "0.1")[0] == 0
    ec2 = sb.client("ec2")
    versions = ec2.describe_launch_template_versions(LaunchTemplateName="scaling-v5")["LaunchTemplateVersions"]
    text = base64.b64decode(versions[-1]["LaunchTemplateData"]["UserData"]).decode()
    assert "ECS_CLUSTER=scaling" in text and "${ClusterName}" not in text
    assert '"ecs_deploy_version": "0.0.1"' in text
