"""Delivery: the CloudFormation stack of `ecsfleet fleet pipeline` (CodePipeline + CodeBuild,
ecs-cluster-deployer's `put-pipeline` done again), and the GitHub Actions workflow that does the
same with OIDC, with the IAM role it assumes.

Both deploy what the seed's pipeline deployed: on every push, `ecsfleet fleet rollout` of the
commit (VERSION = the commit id), once per environment of infra.yml's `environments`, in order,
each with its own values file and, where asked, a manual approval before it. The seed baked an
AMI with Packer first; ecsfleet pins each version's AMI from the recommended ECS-optimized one (or
`ec2_instances.ami`), so there is no bake stage.

Everything here is pure: options and infra.yml in, documents out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from .. import __version__
from ..iam import policies
from .schema import Infra
from .templates import CLUSTER_TAG, TEMPLATE_VERSION

Source = Literal["connection", "github-token", "codecommit", "s3"]
SOURCES: tuple[str, ...] = ("connection", "github-token", "codecommit", "s3")
PIPELINE_TAG = "ecsfleet:pipeline"
# The seed's names: its stack `<name>-cluster-codepipeline`, its Secrets Manager secret `GithubToken`.
STACK_SUFFIX = "-cluster-codepipeline"
SEED_TOKEN_SECRET = "GithubToken"
IMAGE_REPOSITORY = "ecsfleet"
BUILD_TIMEOUT_MINUTES = 120  # a rollout follows the old fleet's deflation for up to an hour
LOG_RETENTION_DAYS = 90
ARTIFACT_EXPIRY_DAYS = 30
CONNECTION_NAME_MAX = 32  # AWS::CodeStarConnections::Connection ConnectionName
OIDC_URL = "token.actions.githubusercontent.com"
ECR_IMAGE = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?/"
                       r"(?P<repository>[a-z0-9._/-]+)(:[\w.-]+|@sha256:[0-9a-f]{64})?$")
# Stage and action names: CodePipeline allows letters, digits and . _ -
SAFE_NAME = re.compile(r"[^A-Za-z0-9]+")


@dataclass(frozen=True)
class Stage:
    """One environment of infra.yml's `environments`: a pipeline stage rolling out its values file."""

    name: str
    values_file: str  # relative to the repository root, as the build sees it
    cluster: str      # that values file's cluster.name: the build role's scope
    approval: bool = False


@dataclass(frozen=True)
class PipelineOptions:
    source: Source = "connection"
    repository: str = ""          # owner/repo (GitHub), a CodeCommit repository, or s3 bucket/key
    branch: str = "main"
    connection_arn: str = ""      # an existing connection; without one the stack creates one (PENDING)
    token_secret: str = SEED_TOKEN_SECRET
    image: str = ""               # ecsfleet's container image; default: this account's ECR `ecsfleet:<version>`


def stack_name(infra: Infra) -> str:
    return f"{infra.cluster.name}{STACK_SUFFIX}"


def _logical(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in SAFE_NAME.split(name) if part)


def default_image() -> str:
    """This account's ECR repository `ecsfleet`, tagged with this release (a Fn::Sub string)."""
    return f"${{AWS::AccountId}}.dkr.ecr.${{AWS::Region}}.${{AWS::URLSuffix}}/{IMAGE_REPOSITORY}:{__version__}"


def _image(options: PipelineOptions) -> tuple[Any, Any]:
    """(the image for CodeBuild, its ECR repository ARN or None when it is not in ECR)."""
    if not options.image:
        repository = f"arn:${{AWS::Partition}}:ecr:${{AWS::Region}}:${{AWS::AccountId}}:repository/{IMAGE_REPOSITORY}"
        return {"Fn::Sub": default_image()}, {"Fn::Sub": repository}
    found = ECR_IMAGE.match(options.image)
    if not found:
        return options.image, None
    return options.image, (f"arn:aws:ecr:{found['region']}:{found['account']}:repository/"
                           f"{found['repository']}")


def _artifacts(bucket: str = "ArtifactsBucket") -> tuple[Any, Any]:
    return {"Fn::GetAtt": [bucket, "Arn"]}, {"Fn::Sub": f"${{{bucket}.Arn}}/*"}


def buildspec() -> str:
    """The build: validate the environment's values file, then roll out the commit."""
    return yaml.safe_dump({"version": 0.2, "phases": {"build": {"commands": [
        'ecsfleet fleet validate "$VALUES_FILE"',
        'VERSION="$CODEBUILD_RESOLVED_SOURCE_VERSION" ecsfleet fleet rollout "$VALUES_FILE"',
    ]}}}, sort_keys=False)


def _assume(service: str) -> dict[str, Any]:
    return {"Version": policies.POLICY_VERSION, "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def _source_action(options: PipelineOptions) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The source action, and the pipeline role's statements it needs."""
    action: dict[str, Any] = {"Name": "Source", "Namespace": "SourceVariables", "RunOrder": 1,
                              "OutputArtifacts": [{"Name": "Source"}]}
    if options.source == "connection":
        connection = options.connection_arn or {"Ref": "GitHubConnection"}
        action |= {"ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeStarSourceConnection",
                                    "Version": "1"},
                   "Configuration": {"ConnectionArn": connection, "FullRepositoryId": options.repository,
                                     "BranchName": options.branch, "OutputArtifactFormat": "CODE_ZIP"}}
        return action, [{"Sid": "UseConnection", "Effect": "Allow", "Action": [
            "codestar-connections:UseConnection", "codeconnections:UseConnection"], "Resource": connection}]
    if options.source == "github-token":
        owner, _, repo = options.repository.partition("/")
        action |= {"ActionTypeId": {"Category": "Source", "Owner": "ThirdParty", "Provider": "GitHub",
                                    "Version": "1"},
                   "Configuration": {"Owner": owner, "Repo": repo, "Branch": options.branch,
                                     "OAuthToken": _token(options), "PollForSourceChanges": False}}
        return action, []
    if options.source == "codecommit":
        action |= {"ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "CodeCommit", "Version": "1"},
                   "Configuration": {"RepositoryName": options.repository, "BranchName": options.branch,
                                     "PollForSourceChanges": True}}
        arn = f"arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{options.repository}"
        return action, [{"Sid": "ReadRepository", "Effect": "Allow", "Action": [
            "codecommit:GetBranch", "codecommit:GetCommit", "codecommit:UploadArchive",
            "codecommit:GetUploadArchiveStatus", "codecommit:CancelUploadArchive"], "Resource": {"Fn::Sub": arn}}]
    bucket, _, key = options.repository.partition("/")
    action |= {"ActionTypeId": {"Category": "Source", "Owner": "AWS", "Provider": "S3", "Version": "1"},
               "Configuration": {"S3Bucket": bucket, "S3ObjectKey": key, "PollForSourceChanges": True}}
    return action, [{"Sid": "ReadSourceObject", "Effect": "Allow", "Action": [
        "s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning"], "Resource": [
        {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}"},
        {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{bucket}/{key}"}]}]


def _token(options: PipelineOptions) -> str:
    return f"{{{{resolve:secretsmanager:{options.token_secret}:SecretString}}}}"


def pipeline_template(infra: Infra, stages: Sequence[Stage], options: PipelineOptions) -> dict[str, Any]:
    """The pipeline stack: artifacts bucket, (GitHub connection,) pipeline role, and per
    environment a CodeBuild project with its own role (the fleet policy of its cluster plus
    CodeBuild's own needs) and log group; the pipeline: Source, then per environment an optional
    manual approval and the rollout."""
    image, repository_arn = _image(options)
    bucket_arn, objects_arn = _artifacts()
    resources: dict[str, Any] = {
        "ArtifactsBucket": {
            "Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
                "LifecycleConfiguration": {"Rules": [{"Id": "expire-artifacts", "Status": "Enabled",
                                                      "ExpirationInDays": ARTIFACT_EXPIRY_DAYS}]}}},
    }
    if options.source == "connection" and not options.connection_arn:
        resources["GitHubConnection"] = {"Type": "AWS::CodeStarConnections::Connection", "Properties": {
            "ConnectionName": f"{infra.cluster.name}"[:CONNECTION_NAME_MAX - len("-github")] + "-github",
            "ProviderType": "GitHub"}}
    source, source_statements = _source_action(options)
    pipeline_stages: list[dict[str, Any]] = [{"Name": "Source", "Actions": [source]}]
    projects = []
    for stage in stages:
        key = _logical(stage.name)
        project, role, logs = f"Deploy{key}", f"Deploy{key}Role", f"Deploy{key}Logs"
        project_name = f"{infra.cluster.name}-deploy-{stage.name}"
        projects.append(project)
        log_group_arn = {"Fn::GetAtt": [logs, "Arn"]}
        resources[logs] = {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete",
                           "Properties": {"LogGroupName": f"/aws/codebuild/{project_name}",
                                          "RetentionInDays": LOG_RETENTION_DAYS}}
        resources[role] = {"Type": "AWS::IAM::Role", "Properties": {
            "AssumeRolePolicyDocument": _assume("codebuild.amazonaws.com"),
            "Policies": [{"PolicyName": "ecsfleet-fleet-rollout", "PolicyDocument": policies.for_cloudformation(
                policies.document(policies.codebuild_statements(stage.cluster, log_group_arn, objects_arn,
                                                                repository_arn)))}]}}
        resources[project] = {"Type": "AWS::CodeBuild::Project", "Properties": {
            "Name": project_name,
            "Description": f"ecsfleet fleet rollout of {stage.values_file} ({stage.name})",
            "ServiceRole": {"Fn::GetAtt": [role, "Arn"]},
            "Artifacts": {"Type": "CODEPIPELINE"},
            "Source": {"Type": "CODEPIPELINE", "BuildSpec": buildspec()},
            "TimeoutInMinutes": BUILD_TIMEOUT_MINUTES,
            "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": image,
                            "ImagePullCredentialsType": "SERVICE_ROLE" if repository_arn else "CODEBUILD",
                            "EnvironmentVariables": [
                                {"Name": "VALUES_FILE", "Type": "PLAINTEXT", "Value": stage.values_file},
                                {"Name": "ENVIRONMENT", "Type": "PLAINTEXT", "Value": stage.name}]},
            "LogsConfig": {"CloudWatchLogs": {"Status": "ENABLED", "GroupName": {"Ref": logs}}}}}
        if stage.approval:
            pipeline_stages.append({"Name": f"Approve-{stage.name}", "Actions": [{
                "Name": "Approve", "RunOrder": 1,
                "ActionTypeId": {"Category": "Approval", "Owner": "AWS", "Provider": "Manual", "Version": "1"},
                "Configuration": {"CustomData": f"Roll out {stage.values_file} ({stage.name})?"}}]})
        pipeline_stages.append({"Name": f"Deploy-{stage.name}", "Actions": [{
            "Name": "Rollout", "RunOrder": 1, "InputArtifacts": [{"Name": "Source"}],
            "ActionTypeId": {"Category": "Build", "Owner": "AWS", "Provider": "CodeBuild", "Version": "1"},
            "Configuration": {"ProjectName": {"Ref": project}}}]})
    resources["PipelineRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": _assume("codepipeline.amazonaws.com"),
        "Policies": [{"PolicyName": "ecsfleet-pipeline", "PolicyDocument": policies.for_cloudformation({
            "Version": policies.POLICY_VERSION, "Statement": [
                {"Sid": "Artifacts", "Effect": "Allow", "Action": [
                    "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject", "s3:GetBucketVersioning"],
                 "Resource": [bucket_arn, objects_arn]},
                {"Sid": "Builds", "Effect": "Allow", "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                 "Resource": [{"Fn::GetAtt": [p, "Arn"]} for p in projects]},
                *source_statements]})}]}}
    resources["Pipeline"] = {"Type": "AWS::CodePipeline::Pipeline", "Properties": {
        "Name": f"{infra.cluster.name}-fleet",
        "RoleArn": {"Fn::GetAtt": ["PipelineRole", "Arn"]},
        "ArtifactStore": {"Type": "S3", "Location": {"Ref": "ArtifactsBucket"}},
        "RestartExecutionOnUpdate": False,
        "Stages": pipeline_stages}}
    if options.source == "github-token":
        resources["GitHubWebhook"] = {"Type": "AWS::CodePipeline::Webhook", "Properties": {
            "Authentication": "GITHUB_HMAC",
            "AuthenticationConfiguration": {"SecretToken": _token(options)},
            "Filters": [{"JsonPath": "$.ref", "MatchEquals": "refs/heads/{Branch}"}],
            "TargetPipeline": {"Ref": "Pipeline"}, "TargetAction": "Source",
            "TargetPipelineVersion": {"Fn::GetAtt": ["Pipeline", "Version"]},
            "RegisterWithThirdParty": True}}
    outputs: dict[str, Any] = {
        "PipelineName": {"Description": "The pipeline: one run per push", "Value": {"Ref": "Pipeline"}},
        "ArtifactsBucket": {"Description": "Where CodePipeline keeps each commit", "Value": {"Ref": "ArtifactsBucket"}},
    }
    if "GitHubConnection" in resources:
        outputs["ConnectionArn"] = {
            "Description": "The GitHub connection: PENDING until approved once in the console",
            "Value": {"Ref": "GitHubConnection"}}
    return {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"ecsfleet delivery of cluster {infra.cluster.name}: every push to {options.branch} rolls "
                       f"out a new fleet version ({', '.join(s.name for s in stages)})",
        "Resources": resources,
        "Outputs": outputs,
    }


def stack_tags(infra: Infra) -> dict[str, str]:
    return {CLUSTER_TAG: infra.cluster.name, PIPELINE_TAG: "codepipeline"}


# ---- GitHub Actions ------------------------------------------------------------------------------

def _job_id(stage: Stage) -> str:
    return "deploy-" + SAFE_NAME.sub("-", stage.name).strip("-").lower()


def workflow(infra: Infra, stages: Sequence[Stage], regions: Sequence[str], branch: str = "main",
             image: str = "") -> str:
    """`.github/workflows/deploy.yml`: on every push to the branch, one job per environment (in
    order; an environment with `approval` names a GitHub environment, whose required reviewers are
    the manual approval), each rolling out its values file in every region with ecsfleet's image,
    assuming the OIDC role (`role_template`) whose ARN is the repository variable ECSFLEET_ROLE_ARN."""
    chosen = image or f"${{{{ steps.ecr.outputs.registry }}}}/{IMAGE_REPOSITORY}:{__version__}"
    jobs: dict[str, Any] = {}
    previous: str | None = None
    for stage in stages:
        steps: list[dict[str, Any]] = [
            {"uses": "actions/checkout@v5"},
            {"uses": "aws-actions/configure-aws-credentials@v6", "with": {
                "role-to-assume": "${{ vars.ECSFLEET_ROLE_ARN }}", "aws-region": "${{ matrix.region }}",
                "role-duration-seconds": BUILD_TIMEOUT_MINUTES * 60}},
        ]
        if not image:
            steps.append({"id": "ecr", "uses": "aws-actions/amazon-ecr-login@v2"})
        steps.append({"name": f"ecsfleet fleet rollout {stage.values_file}", "env": {
            "VERSION": "${{ github.sha }}", "IMAGE": chosen, "VALUES_FILE": stage.values_file},
            "run": 'docker run --rm -v "$PWD:/work:ro" -w /work -e VERSION -e VALUES_FILE -e AWS_REGION '
                   '-e AWS_DEFAULT_REGION -e AWS_ACCESS_KEY_ID -e AWS_SECRET_ACCESS_KEY -e AWS_SESSION_TOKEN '
                   '"$IMAGE" fleet rollout "$VALUES_FILE"'})
        job: dict[str, Any] = {
            "name": f"{stage.name} (${{{{ matrix.region }}}})",
            "runs-on": "ubuntu-latest",
            "strategy": {"max-parallel": 1, "fail-fast": True, "matrix": {"region": list(regions)}},
            "concurrency": {"group": f"ecsfleet-{stage.cluster}-${{{{ matrix.region }}}}",
                            "cancel-in-progress": False},
            "timeout-minutes": BUILD_TIMEOUT_MINUTES,
            "steps": steps,
        }
        if stage.approval:
            job["environment"] = stage.name
        if previous:
            job["needs"] = [previous]
        jobs[_job_id(stage)] = job
        previous = _job_id(stage)
    document = {"name": f"deploy {infra.cluster.name}",
                "on": {"push": {"branches": [branch]}, "workflow_dispatch": {}},
                "permissions": {"id-token": "write", "contents": "read"},
                "jobs": jobs}
    header = (f"# ecsfleet: every push to {branch} rolls out a new version of {infra.cluster.name}.\n"
              f"# Set the repository variable ECSFLEET_ROLE_ARN to the RoleArn output of the role stack\n"
              f"# (`ecsfleet fleet pipeline render --github-actions` prints that stack's template).\n")
    return header + yaml.safe_dump(document, sort_keys=False, width=120)


def role_template(infra: Infra, stages: Sequence[Stage], repository: str, branch: str = "main",
                  image: str = "") -> dict[str, Any]:
    """The IAM role the workflow assumes through GitHub's OIDC provider: trusted only from the
    repository's branch and its environments, holding the fleet policy of each environment's
    cluster (one managed policy each) and the ECR pull of ecsfleet's image."""
    subjects = [f"repo:{repository}:ref:refs/heads/{branch}",
                *(f"repo:{repository}:environment:{s.name}" for s in stages if s.approval)]
    _, repository_arn = _image(PipelineOptions(image=image))
    resources: dict[str, Any] = {
        "GitHubOidcProvider": {"Type": "AWS::IAM::OIDCProvider", "Condition": "CreateProvider", "Properties": {
            "Url": f"https://{OIDC_URL}", "ClientIdList": ["sts.amazonaws.com"]}},
        "DeployRole": {"Type": "AWS::IAM::Role", "Properties": {
            "Description": f"GitHub Actions of {repository} rolling out {infra.cluster.name}",
            "MaxSessionDuration": BUILD_TIMEOUT_MINUTES * 60,
            "AssumeRolePolicyDocument": {"Version": policies.POLICY_VERSION, "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                "Principal": {"Federated": {"Fn::If": ["CreateProvider", {"Ref": "GitHubOidcProvider"},
                                                       {"Ref": "OidcProviderArn"}]}},
                "Condition": {"StringEquals": {f"{OIDC_URL}:aud": "sts.amazonaws.com"},
                              "StringLike": {f"{OIDC_URL}:sub": subjects}}}]},
            "ManagedPolicyArns": [{"Ref": f"Fleet{_logical(s.name)}Policy"} for s in stages]}},
    }
    for stage in stages:
        statements = policies.statements("fleet", scope=policies.Scope(cluster=stage.cluster))
        if stage is stages[0] and repository_arn is not None:
            statements += [{"Sid": "EcrLogin", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken",
                            "Resource": "*"},
                           {"Sid": "PullImage", "Effect": "Allow", "Action": [
                               "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                            "Resource": repository_arn}]
        resources[f"Fleet{_logical(stage.name)}Policy"] = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "Description": f"ecsfleet iam-policy fleet --cluster {stage.cluster}",
            "PolicyDocument": policies.for_cloudformation(policies.document(statements))}}
    return {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"The role GitHub Actions of {repository} assume to roll out {infra.cluster.name}",
        "Parameters": {"OidcProviderArn": {
            "Type": "String", "Default": "",
            "Description": "The account's GitHub OIDC provider, if it has one already (one per account); "
                           "empty: this stack creates it"}},
        "Conditions": {"CreateProvider": {"Fn::Equals": [{"Ref": "OidcProviderArn"}, ""]}},
        "Resources": resources,
        "Outputs": {"RoleArn": {"Description": "Set it as the repository variable ECSFLEET_ROLE_ARN",
                                "Value": {"Fn::GetAtt": ["DeployRole", "Arn"]}}},
    }
