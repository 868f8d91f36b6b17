"""`ecsfleet fleet pipeline render|deploy`: the delivery stack (ecs-cluster-deployer's put-pipeline)
is cfn-lint clean, its build roles hold the fleet policy plus CodeBuild's own needs and nothing
else, `environments` make one stage each, the stack deploys in the sandbox (as far as its
emulation goes: no build runs) idempotently and in several regions, and the GitHub Actions
workflow passes actionlint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ecsfleet import __version__
from ecsfleet.cfn import lint
from ecsfleet.cli import main
from ecsfleet.fleet.delivery_cli import resolve_stages
from ecsfleet.fleet.pipeline import PipelineOptions, Stage, pipeline_template, role_template
from ecsfleet.fleet.schema import load_infra
from ecsfleet.iam import policies
from ecsfleet.iam.policies import Scope
from ecsfleet.sandbox import Sandbox
from test_fleet_init import lint_workflow

DOCS = Path(__file__).resolve().parents[1] / "docs"
FLEET = """\
kind: aws-ecs-cluster-deployer
cluster:
  name: {name}
ec2_instances:
  spot_fleets:
    - name: main
      min_weight: 1
      max_weight: 4
      bids:
        - {{instance_type: t3.medium, price: 0.05}}
"""
ENVIRONMENTS = """\
environments:
  - staging
  - {name: production, values_file: prod/infra.yml, approval: true}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cluster repository, the working directory (where the builds run)."""
    (tmp_path / "infra.yml").write_text(FLEET.format(name="shop"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def environments(repo: Path) -> Path:
    (repo / "infra.yml").write_text(FLEET.format(name="shop") + ENVIRONMENTS)
    (repo / "infra.staging.yml").write_text(FLEET.format(name="shop-staging"))
    (repo / "prod").mkdir()
    (repo / "prod" / "infra.yml").write_text(FLEET.format(name="shop-prod"))
    return repo


def stages_of(path: str = "infra.yml") -> tuple[Any, list[Stage]]:
    chosen, infra = load_infra(path)
    return infra, resolve_stages(chosen, infra)


SOURCES = {
    "connection": PipelineOptions(repository="acme/shop"),
    "existing-connection": PipelineOptions(
        repository="acme/shop", connection_arn="arn:aws:codeconnections:eu-west-1:123456789012:connection/abc"),
    "github-token": PipelineOptions(source="github-token", repository="acme/shop"),
    "codecommit": PipelineOptions(source="codecommit", repository="shop-infra"),
    "s3": PipelineOptions(source="s3", repository="shop-sources/infra.zip", image="ghcr.io/acme/ecsfleet:1"),
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_the_pipeline_template_is_cfn_lint_clean(source: str, environments: Path) -> None:
    infra, stages = stages_of()
    template = pipeline_template(infra, stages, SOURCES[source])
    assert lint(template, ["us-east-1", "eu-west-1", "ap-southeast-2"]) == []
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert ("AWS::CodeStarConnections::Connection" in kinds) == (source == "connection")
    assert ("AWS::CodePipeline::Webhook" in kinds) == (source == "github-token")


def test_each_build_role_is_the_fleet_policy_of_its_cluster_plus_codebuilds_own(environments: Path) -> None:
    infra, stages = stages_of()
    for image, ecr in (("", True), ("ghcr.io/acme/ecsfleet:1", False)):
        template = pipeline_template(infra, stages, PipelineOptions(repository="acme/shop", image=image))
        for stage, key in ((stages[0], "Staging"), (stages[1], "Production")):
            role = template["Resources"][f"Deploy{key}Role"]["Properties"]
            assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
                "Service": "codebuild.amazonaws.com"}
            [inline] = role["Policies"]
            statements = inline["PolicyDocument"]["Statement"]
            fleet = policies.for_cloudformation(policies.statements("fleet", scope=Scope(cluster=stage.cluster)))
            assert statements[:len(fleet)] == fleet
            own = statements[len(fleet):]
            expected = [g for g in policies.CODEBUILD_OWN if g.feature is None or ecr]
            assert [(s["Sid"], s["Action"]) for s in own] == [(g.sid, list(g.actions)) for g in expected]
            assert own[0]["Resource"] == {"Fn::GetAtt": [f"Deploy{key}Logs", "Arn"]}
            assert own[1]["Resource"] == {"Fn::Sub": "${ArtifactsBucket.Arn}/*"}
            if ecr:
                assert own[3]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:ecr:${AWS::Region}:"
                                                        "${AWS::AccountId}:repository/ecsfleet"}
            assert policies.policy_size(inline["PolicyDocument"]) <= 10_240  # IAM's inline policies of a role
    # Each environment's role is scoped to its own cluster: staging's cannot touch production.
    text = json.dumps(template["Resources"]["DeployStagingRole"])
    assert "cluster/shop-staging" in text and "cluster/shop-prod" not in text


def test_environments_make_one_stage_each_with_its_values_file_and_approval(environments: Path) -> None:
    infra, stages = stages_of()
    assert stages == [Stage("staging", "infra.staging.yml", "shop-staging"),
                      Stage("production", "prod/infra.yml", "shop-prod", approval=True)]
    template = pipeline_template(infra, stages, PipelineOptions(repository="acme/shop"))
    pipeline = template["Resources"]["Pipeline"]["Properties"]
    assert [s["Name"] for s in pipeline["Stages"]] == ["Source", "Deploy-staging", "Approve-production",
                                                       "Deploy-production"]
    assert pipeline["Stages"][2]["Actions"][0]["ActionTypeId"]["Provider"] == "Manual"
    for key, values in (("Staging", "infra.staging.yml"), ("Production", "prod/infra.yml")):
        project = template["Resources"][f"Deploy{key}"]["Properties"]
        assert {"Name": "VALUES_FILE", "Type": "PLAINTEXT", "Value": values} in project["Environment"][
            "EnvironmentVariables"]
        commands = yaml.safe_load(project["Source"]["BuildSpec"])["phases"]["build"]["commands"]
        assert commands[-1] == 'VERSION="$CODEBUILD_RESOLVED_SOURCE_VERSION" ecsfleet fleet rollout "$VALUES_FILE"'
    # Without environments: one stage rolling out infra.yml itself.
    (environments / "infra.yml").write_text(FLEET.format(name="shop"))
    assert stages_of()[1] == [Stage("default", "infra.yml", "shop")]


@pytest.mark.parametrize(("extra", "message"), [
    ("environments: [staging, staging]\n", "environments.1.name: 'staging' appears twice"),
    ("environments: [qa]\n", "environments.0: values file infra.qa.yml does not exist"),
    ("environments: [{name: qa, values_file: qa.txt}]\n",
     "environments.0.values_file: expected a .yml or .yaml file, relative to infra.yml's folder (got 'qa.txt')"),
])
def test_bad_environments_are_clear_errors(extra: str, message: str, environments: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (environments / "infra.yml").write_text(FLEET.format(name="shop") + extra)
    assert main(["fleet", "pipeline", "render", "--repository", "acme/shop"]) == 2
    assert message in capsys.readouterr().err


def test_deploy_in_the_sandbox_idempotent_and_in_each_region(sb: Sandbox, environments: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fleet", "pipeline", "deploy", "--repository", "acme/shop", "--poll", "0.1"]
    assert main([*args, "--dry-run"]) == 0
    assert "shop-cluster-codepipeline: create (" in capsys.readouterr().out
    assert sb.count("cloudformation", "CreateStack") == 0

    assert main(args) == 0
    out = capsys.readouterr().out
    assert "shop-cluster-codepipeline: CREATE_COMPLETE" in out
    assert "ConnectionArn = arn:aws:codestar-connections:" in out
    pipeline = sb.client("codepipeline").get_pipeline(name="shop-fleet")["pipeline"]
    assert [s["name"] for s in pipeline["stages"]] == ["Source", "Deploy-staging", "Approve-production",
                                                       "Deploy-production"]
    assert pipeline["stages"][0]["actions"][0]["configuration"]["FullRepositoryId"] == "acme/shop"
    projects = sb.client("codebuild").batch_get_projects(
        names=["shop-deploy-staging", "shop-deploy-production"])["projects"]
    assert [p["environment"]["image"] for p in projects] == [
        f"123456789012.dkr.ecr.{sb.region}.amazonaws.com/ecsfleet:{__version__}"] * 2

    # Again, unchanged: no write call at all.
    sb.reset_calls()
    assert main(args) == 0
    assert "shop-cluster-codepipeline: unchanged" in capsys.readouterr().out
    assert sb.count("cloudformation", "UpdateStack") == sb.count("cloudformation", "CreateStack") == 0

    # A new branch is one update of the pipeline.
    assert main([*args, "--branch", "release"]) == 0
    assert "update (modify Pipeline)" in capsys.readouterr().out
    assert sb.count("cloudformation", "UpdateStack") == 1
    action = sb.client("codepipeline").get_pipeline(name="shop-fleet")["pipeline"]["stages"][0]["actions"][0]
    assert action["configuration"]["BranchName"] == "release"

    # Several regions: the stack in each (the seed's put-pipeline run once per region).
    assert main([*args, "--region", sb.region, "--region", "eu-west-1"]) == 0
    out = capsys.readouterr().out
    assert "eu-west-1: shop-cluster-codepipeline: CREATE_COMPLETE" in out
    assert sb.client("codepipeline", region_name="eu-west-1").get_pipeline(name="shop-fleet")

    # Deleting the stack deletes what it made (the artifacts bucket is kept: DeletionPolicy Retain).
    sb.client("cloudformation", region_name="eu-west-1").delete_stack(StackName="shop-cluster-codepipeline")
    assert sb.client("codepipeline", region_name="eu-west-1").list_pipelines()["pipelines"] == []
    assert sb.client("codebuild", region_name="eu-west-1").list_projects()["projects"] == []


def test_deploy_leaves_a_stack_it_does_not_own(sb: Sandbox, repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ecs-cluster-deployer's put-pipeline made a stack of the same name: refused, never changed."""
    sb.client("cloudformation").create_stack(StackName="shop-cluster-codepipeline", TemplateBody=json.dumps(
        {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}))
    sb.reset_calls()
    assert main(["fleet", "pipeline", "deploy", "--repository", "acme/shop", "--poll", "0.1"]) == 2
    assert "stack shop-cluster-codepipeline exists but is not ecsfleet's" in capsys.readouterr().err
    assert sb.count("cloudformation", "UpdateStack") == sb.count("cloudformation", "DeleteStack") == 0


def test_github_actions_workflow_passes_actionlint_and_its_role_is_scoped(
        environments: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = environments / "rendered"
    assert main(["fleet", "pipeline", "render", "--github-actions", "--repository", "acme/shop", "--region",
                 "eu-west-1", "--region", "us-east-1", "--out", str(out), "--output", "yaml"]) == 0
    lint_workflow(out / ".github/workflows/deploy.yml")
    flow = yaml.safe_load((out / ".github/workflows/deploy.yml").read_text())
    assert list(flow["jobs"]) == ["deploy-staging", "deploy-production"]
    production = flow["jobs"]["deploy-production"]
    assert production["needs"] == ["deploy-staging"] and production["environment"] == "production"
    assert production["strategy"]["matrix"]["region"] == ["eu-west-1", "us-east-1"]
    assert flow["permissions"] == {"id-token": "write", "contents": "read"}

    infra, stages = stages_of()
    role = role_template(infra, stages, "acme/shop")
    assert lint(role, ["eu-west-1", "us-east-1"]) == []
    trust = role["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] == [
        "repo:acme/shop:ref:refs/heads/main", "repo:acme/shop:environment:production"]
    policy = role["Resources"]["FleetProductionPolicy"]["Properties"]["PolicyDocument"]
    assert policy["Statement"] == policies.for_cloudformation(policies.statements(
        "fleet", scope=Scope(cluster="shop-prod")))
    assert policies.policy_size(policy) <= policies.MANAGED_POLICY_MAX_CHARS
    # On stdout the two files follow each other, each named.
    capsys.readouterr()
    assert main(["fleet", "pipeline", "render", "--github-actions", "--repository", "acme/shop"]) == 0
    printed = capsys.readouterr().out
    assert "# file: .github/workflows/deploy.yml" in printed and "# file: shop-github-role.json" in printed


def test_the_deployer_policy_is_printed_and_documented(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fleet", "pipeline", "render", "--deployer-policy"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["Sid"] for s in doc["Statement"]] == ["PipelineStack", "Pipeline", "ArtifactsBucket", "BuildLogGroups",
                                                   "Roles", "PassRoles", "Connection"]
    assert doc["Statement"][0]["Resource"] == "arn:aws:cloudformation:*:*:stack/shop-*/*"
    assert main(["fleet", "pipeline", "render", "--deployer-policy", "--source", "github-token"]) == 0
    assert "secretsmanager:GetSecretValue" in capsys.readouterr().out
    assert policies.markdown(policies.PIPELINE_DEPLOYER) in (DOCS / "delivery.md").read_text()
