"""infra.yml validation and the rendered CloudFormation (pure: no AWS)."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ecsfleet.cfn import lint, to_yaml
from ecsfleet.fleet.cli import SEED_DEFAULT_REGION as SEED_REGION
from ecsfleet.fleet.deploy import desired_stacks
from ecsfleet.fleet.schema import InfraError, load_infra, parse_infra
from ecsfleet.fleet.templates import compute_template, user_data

FIXTURES = Path(__file__).parent / "fixtures"
SEED = FIXTURES / "infra-seed.yml"
INFRA_FIXTURES = [*sorted(FIXTURES.glob("infra-*.yml")), FIXTURES.parents[1] / "examples" / "infra.yml"]


def problems(text: str) -> str:
    with pytest.raises(InfraError) as caught:
        parse_infra("infra.yml", text)
    return str(caught.value)


def test_seed_example_validates_with_the_seed_defaults() -> None:
    _, infra = load_infra(str(SEED))
    assert infra.cluster.name == "dev-cluster"
    assert infra.ec2_instances.autoscaling is True
    fleet = infra.ec2_instances.spot_fleets[0]
    assert (fleet.timeout, fleet.timeout_seconds, fleet.desired_weight) == ("3m", 180, 1)
    assert (fleet.task_threshold_out, fleet.task_threshold_in) == (3, 10)
    assert [b.weight for b in fleet.bids] == [1, 1, 1]
    group = infra.ec2_instances.auto_scaling_groups[0]
    assert (group.desired_instances, group.min_size, group.max_size) == (1, 1, 1)


def test_defaults_of_a_minimal_file_match_the_seed_tables() -> None:
    _, infra = load_infra(str(FIXTURES / "infra-minimal.yml"))
    fleet = infra.ec2_instances.spot_fleets[0]
    assert (fleet.timeout, fleet.desired_weight, fleet.task_threshold_out, fleet.task_threshold_in) == ("2m", 1, 3, 10)
    assert infra.cluster.vpc is None and infra.cluster.subnets == [] and infra.ec2_instances.ebs_mounts == []


def test_values_file_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALUES_FILE", str(SEED))
    path, infra = load_infra(None)
    assert path == str(SEED) and infra.cluster.name == "dev-cluster"


MISSING = """\
cluster:
  vpc: vpc-0abc
ec2_instances:
  spot_fleets:
    - name: main
      max_weight: 4
      bids:
        - instance_type: t3.small
          price: 0.01
"""


def test_every_error_is_listed_with_file_line_and_key() -> None:
    text = problems(MISSING)
    assert "infra.yml: 2 problem(s)" in text
    assert "infra.yml:1: cluster.name: Field required" in text
    assert "infra.yml:5: ec2_instances.spot_fleets.0.min_weight: Field required" in text


VALID = """\
cluster:
  name: shop
  vpc: vpc-0abc
ec2_instances:
  spot_fleets:
    - name: main
      min_weight: 0
      max_weight: 4
      bids:
        - instance_type: t3.small
          price: 0.01
"""


@pytest.mark.parametrize(("change", "expected"), [
    (("price: 0.01", "price: cheap"), "infra.yml:11: ec2_instances.spot_fleets.0.bids.0.price: Input should be a "
                                      "valid number"),
    (("t3.small", "t3.tiny"), "infra.yml:10: ec2_instances.spot_fleets.0.bids.0.instance_type: expected an EC2 "
                              "instance type such as t3.medium or m5.2xlarge (got 't3.tiny')"),
    (("max_weight: 4", "max_weight: -4"), "infra.yml:8: ec2_instances.spot_fleets.0.max_weight: Input should be "
                                          "greater than or equal to 0 (got -4)"),
    (("min_weight: 0", "min_weight: 5"), "infra.yml:6: ec2_instances.spot_fleets.0: min_weight 5 is greater than "
                                         "max_weight 4"),
    (("vpc-0abc", "vpc-nope"), "infra.yml:3: cluster.vpc: expected a VPC id such as vpc-0abc1234 (got 'vpc-nope')"),
    (("  vpc: vpc-0abc", "  vpc: vpc-0abc\n  colour: blue"), "infra.yml:4: cluster.colour: unknown key"),
    (("  name: shop\n", ""), "infra.yml:1: cluster.name: Field required"),
])
def test_each_error_class_has_its_message(change: tuple[str, str], expected: str) -> None:
    parse_infra("infra.yml", VALID)
    assert expected in problems(VALID.replace(*change))


def test_a_group_with_min_above_max_is_refused() -> None:
    text = ("cluster: {name: shop}\nec2_instances:\n  auto_scaling_groups:\n"
            "    - {name: g, instance_type: t3.small, min_size: 3, max_size: 1}\n")
    assert "infra.yml:4: ec2_instances.auto_scaling_groups.0: min_size 3 is greater than max_size 1" in problems(text)


def test_not_yaml_and_not_a_mapping_are_clear_errors() -> None:
    assert "not valid YAML" in problems("cluster: [unclosed")
    assert "expected a mapping with `cluster` and `ec2_instances`" in problems("- a list\n")


@pytest.mark.parametrize("fixture", INFRA_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_renders_templates_that_pass_cfn_lint(fixture: Path) -> None:
    _, infra = load_infra(str(fixture))
    for stack in desired_stacks(infra, "v1", {}):
        assert lint(dict(stack.template), [SEED_REGION]) == [], stack.name


def test_compute_template_ties_every_resource_to_cluster_and_version() -> None:
    _, infra = load_infra(str(SEED))
    template = compute_template(infra, "v7")
    resources = template["Resources"]
    assert set(resources) == {"LaunchTemplate", "AsgReservedLaunchTemplate", "AsgReserved", "SpotFleetMain"}
    assert template["Parameters"]["Status"]["AllowedValues"] == ["active", "inactive"]
    # A plain AMI id that deploy resolves once per version, so a Status switch never changes the AMI.
    assert template["Parameters"]["ImageId"]["Type"] == "AWS::EC2::Image::Id"
    data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert {"Key": "ecsfleet:version", "Value": "v7"} in data["TagSpecifications"][0]["Tags"]
    assert data["BlockDeviceMappings"][0]["DeviceName"] == "/dev/xvda"
    assert data["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 20
    assert data["IamInstanceProfile"]["Arn"] == "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole"
    spot = resources["SpotFleetMain"]["Properties"]["SpotFleetRequestConfigData"]
    # Every bid in every named subnet: the seed's "only the first bid worked" is not repeated.
    overrides = spot["LaunchTemplateConfigs"][0]["Overrides"]
    assert len(overrides) == 3 * 3
    assert {o["InstanceType"] for o in overrides} == {"t3.medium", "t3.small"}
    assert spot["TargetCapacity"] == 1
    group = resources["AsgReserved"]["Properties"]
    assert group["MinSize"] == {"Fn::If": ["Active", "1", "0"]}
    # A group launches its own instance type: its launch template names it (AWS launches nothing
    # from a template without one); the rest of the node is the spot fleets' template.
    assert group["LaunchTemplate"]["LaunchTemplateId"] == {"Ref": "AsgReservedLaunchTemplate"}
    own = resources["AsgReservedLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert own == {**data, "InstanceType": infra.ec2_instances.auto_scaling_groups[0].instance_type}
    assert {"Key": "ecsfleet:cluster", "Value": "dev-cluster", "PropagateAtLaunch": True} in group["Tags"]


def test_user_data_joins_the_cluster_with_its_version_and_mounts_efs() -> None:
    _, infra = load_infra(str(SEED))
    script = user_data(infra, "v7", 180, extra="echo custom\n")
    assert "ECS_CLUSTER=dev-cluster" in script
    assert ('ECS_INSTANCE_ATTRIBUTES={"asg_version":"v7","ecs_deploy_version":"ecsfleet",'
            '"cluster_name":"dev-cluster","instance_id":"$INSTANCE_ID"}') in script
    assert "ECS_CONTAINER_STOP_TIMEOUT=180s" in script and "ECS_ENABLE_SPOT_INSTANCE_DRAINING=true" in script
    # The original's agent settings.
    for setting in ("ECS_ENABLE_CONTAINER_METADATA=true", "ECS_ENABLE_TASK_IAM_ROLE=true",
                    "ECS_AWSVPC_BLOCK_IMDS=true", "ECS_IMAGE_PULL_BEHAVIOR=once"):
        assert setting in script
    assert "fs-df827476:/ /efs efs _netdev,tls 0 0" in script
    # A mount that fails never stops the node joining: the join is written first, the mount may fail.
    assert script.index("ECS_CLUSTER=") < script.index("mount /efs")
    assert "|| echo 'ecsfleet: EFS kloudcover-mount" in script
    assert script.rstrip().endswith("bash /var/lib/ecsfleet-user-data") and "echo custom" in script
    encoded = compute_template(infra, "v7")["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert "ECS_CLUSTER=dev-cluster" in encoded["UserData"]["Fn::Base64"]
    assert base64.b64encode(script.encode())  # a str the Fn::Base64 intrinsic can carry


def test_an_instance_profile_written_with_the_account_pseudo_parameter_is_substituted() -> None:
    text = SEED.read_text().replace("123456789012", "${AWS::AccountId}")
    infra = parse_infra("infra.yml", text)
    data = compute_template(infra, "v1")["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["IamInstanceProfile"]["Arn"] == {
        "Fn::Sub": "arn:aws:iam::${AWS::AccountId}:instance-profile/ecsInstanceRole"}


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 50) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
keys = st.sampled_from(["name", "vpc", "subnets", "spot_fleets", "auto_scaling_groups", "bids", "min_weight",
                        "max_weight", "instance_type", "price", "efs_mounts", "size", "timeout"])


@settings(max_examples=150, deadline=None)
@given(cluster=st.dictionaries(keys, yaml_values, max_size=4),
       nodes=st.dictionaries(keys, yaml_values, max_size=5))
def test_fuzzed_infra_files_give_a_clear_error_or_a_valid_model(cluster: dict[str, Any],
                                                                nodes: dict[str, Any]) -> None:
    text = yaml.safe_dump({"cluster": cluster, "ec2_instances": nodes})
    try:
        infra = parse_infra("infra.yml", text)
    except InfraError as error:
        assert str(error).startswith("infra.yml")
        return
    json.dumps(compute_template(infra, "v1"))  # whatever validates also renders


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_fuzzed_text_is_never_a_crash(text: str) -> None:
    with contextlib.suppress(InfraError):
        parse_infra("infra.yml", text)


def test_yaml_output_has_no_aliases_and_reads_back_as_the_same_template() -> None:
    # CloudFormation refuses YAML aliases; the templates reuse tag objects, which PyYAML would alias.
    _, infra = load_infra(str(SEED))
    template = compute_template(infra, "v1")
    text = to_yaml(template)
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == json.loads(json.dumps(template))
