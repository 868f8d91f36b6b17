"""The IAM permissions of each capability, as data: which actions, on what, and why.

One table feeds `ecsfleet iam-policy` (the policy document), the README's IAM tables
(`--output markdown`) and the Lambda roles of `ecsfleet bootstrap render`, so they cannot drift
apart. A test runs each capability's scenario in the sandbox and checks that the actions it
really calls are exactly the ones granted here.

ARNs are written with CloudFormation's pseudo parameters (`${AWS::Partition}`,
`${AWS::Region}`, `${AWS::AccountId}`): a plain document substitutes them (region and account
default to `*`), a CloudFormation template wraps them in `Fn::Sub`.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

POLICY_VERSION = "2012-10-17"
# IAM's quota for a customer managed policy, counted without whitespace.
MANAGED_POLICY_MAX_CHARS = 6144
ECS_AMI_PARAMETERS = "/aws/service/ecs/*"

Arn = Any  # an ARN string (may hold ${AWS::...} placeholders) or a CloudFormation intrinsic


class On(enum.Enum):
    """What a statement's resources are narrowed to when the scope names them."""

    ANY = "any"                  # the API has no resource-level permissions
    CLUSTER = "cluster"          # the cluster's ARN
    IN_CLUSTER = "in-cluster"    # any resource, with the `ecs:cluster` condition
    LOAD_BALANCERS = "load-balancers"
    ZONES = "zones"
    QUEUES = "queues"
    LEASE_TABLES = "lease-tables"
    S3_OBJECTS = "s3-objects"
    ECS_AMI_PARAMETERS = "ecs-ami-parameters"
    ACCOUNT_PARAMETERS = "account-parameters"
    STACKS = "stacks"
    NODE_ROLES = "node-roles"
    SCALING_MEMORY = "scaling-memory"


ON_TEXT = {
    On.ANY: "`*`",
    On.CLUSTER: "the cluster",
    On.IN_CLUSTER: "in the cluster (`ecs:cluster` condition)",
    On.LOAD_BALANCERS: "the configured load balancers",
    On.ZONES: "the managed hosted zones",
    On.QUEUES: "the events queue",
    On.LEASE_TABLES: "the lease table",
    On.S3_OBJECTS: "the config and services objects",
    On.ECS_AMI_PARAMETERS: "the ECS-optimized AMI public parameters",
    On.ACCOUNT_PARAMETERS: "the account's SSM parameters",
    On.STACKS: "the cluster's stacks",
    On.NODE_ROLES: "the roles of the cluster's stacks",
    On.SCALING_MEMORY: "the cluster's `/ecsfleet/<cluster>/scaling-memory` parameter",
}


@dataclass(frozen=True)
class Grant:
    """One policy statement: actions that share what they act on and why they are needed.
    `feature` names the option that needs them (None: always needed)."""

    sid: str
    actions: tuple[str, ...]
    why: str
    on: On = On.ANY
    feature: str | None = None


@dataclass(frozen=True)
class Feature:
    name: str
    when: str  # when the capability needs it, for humans: "only with `--events-queue`"


@dataclass(frozen=True)
class Capability:
    name: str
    grants: tuple[Grant, ...]
    features: tuple[Feature, ...] = ()
    # Features on unless the caller says otherwise (dns-sync's ECS source is its default).
    default_features: frozenset[str] = frozenset()
    draft: str | None = None  # why this policy is not yet checked against the capability's calls

    def feature_names(self) -> set[str]:
        return {f.name for f in self.features}


@dataclass(frozen=True)
class Scope:
    """What a policy is narrowed to. Empty fields mean any resource of that kind. The resource
    fields hold ARNs (see `queue_arn`, `lease_table_arn`, `s3_object_arn`) or, in a template,
    CloudFormation intrinsics."""

    cluster: str | None = None
    load_balancers: tuple[str, ...] = ()
    zone_ids: tuple[str, ...] = ()
    queues: tuple[Arn, ...] = ()
    lease_tables: tuple[Arn, ...] = ()
    s3_objects: tuple[Arn, ...] = ()


# ---- the data ---------------------------------------------------------------------------------

# One snapshot serves every capability (snapshot.py): these are its calls.
SNAPSHOT_INSTANCES = (
    Grant("ListClusterInstances", ("ecs:ListContainerInstances",), "the cluster's container instances",
          On.CLUSTER),
    Grant("DescribeClusterInstances", ("ecs:DescribeContainerInstances",),
          "their status, agent and resources", On.IN_CLUSTER),
)
SNAPSHOT_HOSTS = (
    *SNAPSHOT_INSTANCES,
    Grant("DescribeHosts", ("ec2:DescribeInstances",), "the hosts' addresses, names, AMIs and tags"),
)
SNAPSHOT_TASKS = (
    Grant("ReadClusterTasks", ("ecs:ListTasks", "ecs:DescribeTasks"), "the tasks and their host ports",
          On.IN_CLUSTER),
    Grant("DescribeTaskDefinitions", ("ecs:DescribeTaskDefinition",),
          "health checks, environment and stop timeouts, once per task definition"),
)
EVENTS_QUEUE = Feature("events-queue", "only with `--events-queue`")
EVENTS_QUEUE_GRANT = Grant("ReadEventsQueue", ("sqs:ReceiveMessage", "sqs:DeleteMessage"),
                           "ECS events that wake the daemon early", On.QUEUES, feature=EVENTS_QUEUE.name)

LB_SYNC = Capability(
    "lb-sync",
    grants=(
        *SNAPSHOT_INSTANCES,  # a Classic ELB registers instance ids: no EC2 read
        *SNAPSHOT_TASKS,
        Grant("DescribeLoadBalancers", ("elasticloadbalancing:DescribeLoadBalancers",
                                        "elasticloadbalancing:DescribeTags"),
              "current listeners, health check, instances and interrupted moves (Classic ELB reads have no "
              "resource-level permissions)"),
        Grant("ChangeLoadBalancers", (
            "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
            "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
            "elasticloadbalancing:ConfigureHealthCheck",
            "elasticloadbalancing:CreateLoadBalancerListeners",
            "elasticloadbalancing:DeleteLoadBalancerListeners",
            "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
            "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
        ), "the changes: hosts, health check target, listeners and their policies, and the tag that records a "
           "listener move until it is done", On.LOAD_BALANCERS),
        Grant("ReadConfigFromS3", ("s3:GetObject",), "statika's configuration and services files",
              On.S3_OBJECTS, feature="s3-files"),
        EVENTS_QUEUE_GRANT,
    ),
    features=(Feature("s3-files", "only for `s3://` files"), EVENTS_QUEUE),
)

DNS_SYNC = Capability(
    "dns-sync",
    grants=(
        Grant("ListHostedZones", ("route53:ListHostedZones",), "the hosted zones that can hold the names"),
        Grant("ReadRecords", ("route53:ListResourceRecordSets",), "what the managed zones hold, and who owns it",
              On.ZONES),
        Grant("ChangeRecords", ("route53:ChangeResourceRecordSets",), "the changes, batched", On.ZONES),
        *(Grant(g.sid, g.actions, g.why, g.on, feature="ecs-source") for g in (*SNAPSHOT_HOSTS, *SNAPSHOT_TASKS)),
        EVENTS_QUEUE_GRANT,
    ),
    features=(Feature("ecs-source", "ECS source only"), EVENTS_QUEUE),
    default_features=frozenset({"ecs-source"}),
)

AGENTS = Capability(
    "agents",
    grants=(
        Grant("ListClusters", ("ecs:ListClusters",), "every cluster: `--all`, or `status` of all",
              feature="all-clusters"),
        *SNAPSHOT_HOSTS,
        Grant("UpdateAgents", ("ecs:UpdateContainerAgent",), "the updates", On.IN_CLUSTER),
        Grant("RecommendedAmi", ("ssm:GetParameter",), "the recommended ECS-optimized AMI",
              On.ECS_AMI_PARAMETERS, feature="status"),
        Grant("Leases", ("dynamodb:PutItem", "dynamodb:DeleteItem"),
              "per-cluster leases, so two runs never roll one cluster together", On.LEASE_TABLES,
              feature="lease-table"),
    ),
    features=(
        Feature("all-clusters", "only without `--cluster`"),
        Feature("status", "only for `agents status`"),
        Feature("lease-table", "only with `--lease-table`"),
    ),
)

FLEET = Capability(
    "fleet",
    grants=(
        Grant("Stacks", (
            "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack",
            "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents",
            "cloudformation:ListStackResources", "cloudformation:GetTemplate",
        ), "deploy, plan, switch and delete the cluster and compute stacks; follow their events", On.STACKS),
        Grant("AmiParameter", ("ssm:GetParameter",),
              "the recommended ECS-optimized AMI: fixed when a version is created; `fleet reconcile` and `fleet "
              "status` compare the active version's with it (AMI drift)", On.ECS_AMI_PARAMETERS),
        Grant("OwnAmiParameter", ("ssm:GetParameter",),
              "the AMI id in the account's own parameter `ec2_instances.ami_parameter` names (such as an EC2 "
              "Image Builder distribution's), read when a version is created and each pass for drift",
              On.ACCOUNT_PARAMETERS, feature="ami-parameter"),
        Grant("DefaultNetwork", ("ec2:DescribeVpcs", "ec2:DescribeSubnets"),
              "the default VPC and its subnets, where infra.yml names none"),
        *SNAPSHOT_HOSTS,
        *SNAPSHOT_TASKS,
        Grant("ReadServices", ("ecs:ListServices", "ecs:DescribeServices"),
              "desired, running and pending counts: tasks that fit nowhere force a scale-out", On.IN_CLUSTER),
        Grant("DrainAndSmokeTest", (
            "ecs:UpdateContainerInstancesState", "ecs:PutAttributes", "ecs:DeleteAttributes", "ecs:RunTask",
            "ecs:StopTask",
        ), "drain before removal (marked with the drain's start); the smoke test task on a new fleet",
            On.IN_CLUSTER),
        Grant("SmokeTaskDefinition", ("ecs:RegisterTaskDefinition",),
              "the smoke test's tiny task definition, registered once"),
        Grant("ScaleFleets", (
            "autoscaling:DescribeAutoScalingGroups", "autoscaling:UpdateAutoScalingGroup",
            "autoscaling:TerminateInstanceInAutoScalingGroup", "autoscaling:CompleteLifecycleAction",
            "ec2:DescribeSpotFleetRequests", "ec2:DescribeSpotFleetInstances", "ec2:ModifySpotFleetRequest",
            "ec2:TerminateInstances",
        ), "scaling, removing drained instances, completing lifecycle hooks after draining"),
        Grant("SpotPrices", ("ec2:DescribeSpotPriceHistory",),
              "the spot prices in effect, once a pass: the placement scaler's price of each bid (the bid itself "
              "without them)", feature="spot-prices"),
        Grant("InstanceSizes", ("ec2:DescribeInstanceTypes",),
              "the vCPUs and memory of infra.yml's instance types no instance of which has joined the cluster, "
              "once per controller: the placement scaler's choice of what to launch", feature="instance-sizes"),
        Grant("PassNodeRoles", ("iam:PassRole",),
              "CloudFormation hands the node role and the spot fleet role to EC2 and Spot Fleet for the caller",
              On.NODE_ROLES, feature="stack-resources"),
        Grant("StackResources", (
            "ecs:CreateCluster", "ecs:DeleteCluster", "ecs:TagResource",
            "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroups", "ec2:CreateTags",
            "ec2:CreateLaunchTemplate", "ec2:CreateLaunchTemplateVersion", "ec2:DeleteLaunchTemplate",
            "ec2:DescribeLaunchTemplates", "ec2:DescribeLaunchTemplateVersions", "ec2:RunInstances",
            "ec2:RequestSpotFleet", "ec2:CancelSpotFleetRequests", "ec2:DescribeImages", "ec2:DescribeKeyPairs",
            "autoscaling:CreateAutoScalingGroup", "autoscaling:DeleteAutoScalingGroup",
            "autoscaling:DescribeScalingActivities", "autoscaling:CreateOrUpdateTags",
            "autoscaling:PutLifecycleHook", "autoscaling:DeleteLifecycleHook",
            "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:AttachRolePolicy", "iam:DetachRolePolicy",
            "iam:CreateInstanceProfile", "iam:DeleteInstanceProfile", "iam:GetInstanceProfile",
            "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:CreateServiceLinkedRole",
        ), "what the stacks create and delete: CloudFormation acts with the caller's permissions",
            feature="stack-resources"),
        EVENTS_QUEUE_GRANT,
        Grant("ScalingMemory", ("ssm:GetParameter", "ssm:ListTagsForResource", "ssm:PutParameter",
                                "ssm:AddTagsToResource"),
              "the placement scaler's load history and scale times, kept across processes: read once per "
              "controller and its tag checked, and again just before each write; created with its tag (a "
              "PutParameter with tags needs ssm:AddTagsToResource too), overwritten only while it carries the tag",
              On.SCALING_MEMORY, feature="scaling-memory"),
    ),
    features=(
        Feature("stack-resources", "deploy, rollout and clean-up: what CloudFormation does for the caller"),
        Feature("events-queue", "only with `--events-queue` (spot interruption warnings)"),
        Feature("ami-parameter", "only with `ec2_instances.ami_parameter` naming a parameter of the account"),
        Feature("scaling-memory", "only with `scaling: placement`, the default for new files"),
        Feature("spot-prices", "only with `scaling: placement` and a spot fleet"),
        Feature("instance-sizes", "only with `scaling: placement`"),
    ),
    default_features=frozenset({"stack-resources", "scaling-memory", "spot-prices", "instance-sizes"}),
)

CAPABILITIES: dict[str, Capability] = {c.name: c for c in (LB_SYNC, DNS_SYNC, AGENTS, FLEET)}


# ---- from what callers know to ARNs ----------------------------------------------------------

def queue_arn(queue: str) -> str:
    """An SQS queue's ARN from its URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME) or ARN."""
    if queue.startswith("arn:"):
        return queue
    parsed = urllib.parse.urlparse(queue)
    parts = parsed.path.strip("/").split("/")
    if len(parts) != 2:
        raise ValueError(f"{queue!r} is neither an SQS queue URL nor an ARN")
    account, name = parts
    host = re.match(r"^(?:sqs\.)?([a-z0-9-]+)\.(?:queue\.)?amazonaws\.com", parsed.netloc)
    region = host.group(1) if host else "${AWS::Region}"
    return f"arn:${{AWS::Partition}}:sqs:{region}:{account}:{name}"


def lease_table_arn(table: str) -> str:
    return table if table.startswith("arn:") else \
        f"arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}"


def s3_object_arn(url: str) -> str:
    """`s3://bucket/key` -> the object's ARN."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"{url!r} is not an s3://bucket/key URL")
    return f"arn:${{AWS::Partition}}:s3:::{parsed.netloc}/{parsed.path.lstrip('/')}"


def cluster_arn(cluster: str) -> str:
    return f"arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:cluster/{cluster}"


def _resources(on: On, scope: Scope) -> tuple[list[Arn], dict[str, Any] | None]:
    """The Resource list and Condition of a statement."""
    match on:
        case On.CLUSTER if scope.cluster:
            return [cluster_arn(scope.cluster)], None
        case On.IN_CLUSTER if scope.cluster:
            # ArnLike: the region and account may be left as wildcards.
            return ["*"], {"ArnLike": {"ecs:cluster": cluster_arn(scope.cluster)}}
        case On.LOAD_BALANCERS if scope.load_balancers:
            return [f"arn:${{AWS::Partition}}:elasticloadbalancing:${{AWS::Region}}:${{AWS::AccountId}}:"
                    f"loadbalancer/{name}" for name in scope.load_balancers], None
        case On.ZONES if scope.zone_ids:
            return [f"arn:${{AWS::Partition}}:route53:::hostedzone/{z.rsplit('/', 1)[-1]}"
                    for z in scope.zone_ids], None
        case On.QUEUES if scope.queues:
            return list(scope.queues), None
        case On.LEASE_TABLES if scope.lease_tables:
            return list(scope.lease_tables), None
        case On.S3_OBJECTS if scope.s3_objects:
            return list(scope.s3_objects), None
        case On.ECS_AMI_PARAMETERS:
            # Public parameters belong to AWS: their ARNs carry no account.
            return [f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}::parameter{ECS_AMI_PARAMETERS}"], None
        case On.ACCOUNT_PARAMETERS:
            return ["arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/*"], None
        case On.SCALING_MEMORY:
            return [f"arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/ecsfleet/"
                    f"{scope.cluster or '*'}/scaling-memory"], None
        case On.STACKS if scope.cluster:
            return [f"arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:"
                    f"stack/{scope.cluster}-*/*"], None
        case On.NODE_ROLES:
            roles = [f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{scope.cluster}-cluster-*"] \
                if scope.cluster else ["*"]
            return roles, {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com",
                                                                     "spotfleet.amazonaws.com"]}}
    return ["*"], None


# ---- documents ----------------------------------------------------------------------------------

def capability(name: str) -> Capability:
    try:
        return CAPABILITIES[name]
    except KeyError:
        raise ValueError(f"unknown capability {name!r}: choose one of {', '.join(CAPABILITIES)}") from None


def effective_features(cap: Capability, features: Iterable[str] = (), scope: Scope | None = None,
                       defaults: bool = True) -> set[str]:
    """The features asked for, checked against the capability's, plus its defaults; without a
    cluster in the scope, `all-clusters` (the capability then lists the clusters itself)."""
    chosen = set(features)
    unknown = chosen - cap.feature_names()
    if unknown:
        known = ", ".join(sorted(cap.feature_names())) or "none"
        raise ValueError(f"{cap.name} has no feature {', '.join(sorted(unknown))} (features: {known})")
    if defaults:
        chosen |= cap.default_features
    if "all-clusters" in cap.feature_names() and not (scope and scope.cluster):
        chosen.add("all-clusters")
    return chosen


def grants(name: str, features: Iterable[str] = (), scope: Scope | None = None,
           defaults: bool = True) -> list[Grant]:
    cap = capability(name)
    chosen = effective_features(cap, features, scope, defaults)
    return [g for g in cap.grants if g.feature is None or g.feature in chosen]


def statements(name: str, features: Iterable[str] = (), scope: Scope | None = None,
               defaults: bool = True) -> list[dict[str, Any]]:
    """Policy statements with ${AWS::...} placeholders left in (see `render`)."""
    scope = scope or Scope()
    found = []
    for grant in grants(name, features, scope, defaults):
        resources, condition = _resources(grant.on, scope)
        statement: dict[str, Any] = {"Sid": grant.sid, "Effect": "Allow", "Action": list(grant.actions),
                                     "Resource": resources if len(resources) > 1 else resources[0]}
        if condition:
            statement["Condition"] = condition
        found.append(statement)
    return found


def document(statement_list: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statement_list)}


def substitute(value: Any, partition: str = "aws", region: str = "*", account: str = "*") -> Any:
    """Replace the pseudo parameters everywhere in a document, for use outside CloudFormation."""
    if isinstance(value, str):
        return (value.replace("${AWS::Partition}", partition).replace("${AWS::Region}", region)
                .replace("${AWS::AccountId}", account))
    if isinstance(value, list):
        return [substitute(v, partition, region, account) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, partition, region, account) for k, v in value.items()}
    return value


def for_cloudformation(value: Any) -> Any:
    """Wrap every string holding a pseudo parameter in Fn::Sub, for a template."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if "${AWS::" in value else value
    if isinstance(value, list):
        return [for_cloudformation(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref")):
            return value  # already an intrinsic
        return {k: for_cloudformation(v) for k, v in value.items()}
    return value


def policy(name: str, features: Iterable[str] = (), scope: Scope | None = None, *, partition: str = "aws",
           region: str = "*", account: str = "*", defaults: bool = True) -> dict[str, Any]:
    """The IAM policy document a capability needs, with the features asked for."""
    doc: dict[str, Any] = substitute(document(statements(name, features, scope, defaults)), partition, region,
                                     account)
    return doc


def markdown(name: str | Capability) -> str:
    """The capability's IAM table for the README: every statement, with the option needing it."""
    cap = name if isinstance(name, Capability) else capability(name)
    when = {f.name: f.when for f in cap.features}
    lines = ["| Action | Resource | Why |", "| --- | --- | --- |"]
    for grant in cap.grants:
        why = f"{grant.why} ({when[grant.feature]})" if grant.feature else grant.why
        lines.append(f"| {', '.join(f'`{a}`' for a in grant.actions)} | {ON_TEXT[grant.on]} | {why} |")
    return "\n".join(lines) + "\n"


def policy_size(doc: Mapping[str, Any]) -> int:
    """Characters IAM counts against its quotas: the JSON without whitespace."""
    return len(re.sub(r"\s", "", json.dumps(doc)))


# ---- reading policies back: what is allowed, and which action a served call needs ---------------

# botocore service names whose IAM prefix differs.
IAM_PREFIX = {"elb": "elasticloadbalancing", "elbv2": "elasticloadbalancing", "stepfunctions": "states"}
# Operations authorised by another action than their own name.
IAM_ACTION = {
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("lambda", "Invoke"): "lambda:InvokeFunction",
}


def iam_action(service: str, operation: str) -> str:
    """The IAM action a call needs, from botocore's service name and operation name."""
    return IAM_ACTION.get((service, operation)) or f"{IAM_PREFIX.get(service, service)}:{operation}"


def allowed_actions(doc: Mapping[str, Any]) -> list[str]:
    """Every Action pattern an Allow statement of the document names."""
    found: list[str] = []
    for statement in doc.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        found += [actions] if isinstance(actions, str) else list(actions)
    return found


def allows(doc: Mapping[str, Any], action: str) -> bool:
    """True when an Allow statement names the action (IAM matches actions case-insensitively,
    with * and ? wildcards). Resources and conditions are not evaluated."""
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in allowed_actions(doc))


@dataclass(frozen=True)
class Audit:
    """What a policy allows against what a run really called."""

    missing: tuple[str, ...] = ()  # called, but not allowed
    unused: tuple[str, ...] = ()   # allowed, but never called
    used: tuple[str, ...] = field(default=())

    @property
    def exact(self) -> bool:
        return not self.missing and not self.unused


def audit(doc: Mapping[str, Any], calls: Iterable[tuple[str, str]]) -> Audit:
    """Compare a policy with the (service, operation) pairs a run called."""
    used = sorted({iam_action(service, operation) for service, operation in calls})
    missing = tuple(a for a in used if not allows(doc, a))
    unused = tuple(sorted({p for p in allowed_actions(doc)
                           if not any(fnmatch.fnmatchcase(a.lower(), p.lower()) for a in used)}))
    return Audit(missing, unused, tuple(used))


# ---- delivery: `fleet pipeline`'s build roles and whoever deploys its stack --------------------

# What a CodeBuild project needs besides the fleet policy: its log streams, the commit CodePipeline
# hands it (an object in the artifacts bucket), and, for an image in ECR, the pull.
CODEBUILD_OWN = (
    Grant("BuildLogs", ("logs:CreateLogStream", "logs:PutLogEvents"), "the build's log streams (its log group "
                                                                      "is the stack's)"),
    Grant("SourceArtifact", ("s3:GetObject", "s3:GetObjectVersion"),
          "the commit CodePipeline hands to the build, in the artifacts bucket"),
    Grant("EcrLogin", ("ecr:GetAuthorizationToken",), "log in to ECR to pull ecsfleet's image (no "
                                                      "resource-level permissions)", feature="ecr-image"),
    Grant("PullImage", ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"),
          "pull ecsfleet's image", feature="ecr-image"),
)


def codebuild_statements(cluster: str, log_group_arn: Arn, artifacts_arn: Arn,
                         image_repository_arn: Arn | None) -> list[dict[str, Any]]:
    """The CodeBuild role of one environment: `ecsfleet iam-policy fleet` for its cluster, then
    CodeBuild's own needs (CODEBUILD_OWN), each narrowed to the stack's resources."""
    resources: dict[str, Arn] = {"BuildLogs": log_group_arn, "SourceArtifact": artifacts_arn,
                                 "EcrLogin": "*", "PullImage": image_repository_arn}
    own = [{"Sid": g.sid, "Effect": "Allow", "Action": list(g.actions), "Resource": resources[g.sid]}
           for g in CODEBUILD_OWN if g.feature is None or image_repository_arn is not None]
    return [*statements("fleet", scope=Scope(cluster=cluster)), *own]


# What CloudFormation does with the caller's permissions while it creates, updates and deletes the
# pipeline stack (`ecsfleet fleet pipeline deploy`), plus the calls ecsfleet makes itself.
PIPELINE_DEPLOYER = Capability(
    "fleet-pipeline",
    grants=(
        Grant("PipelineStack", (
            "cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DescribeStacks",
            "cloudformation:DescribeStackEvents", "cloudformation:GetTemplate",
        ), "create or update the pipeline stack, follow its events", On.STACKS),
        Grant("Pipeline", (
            "codepipeline:CreatePipeline", "codepipeline:UpdatePipeline", "codepipeline:DeletePipeline",
            "codepipeline:GetPipeline", "codepipeline:GetPipelineState", "codepipeline:TagResource",
            "codebuild:CreateProject", "codebuild:UpdateProject", "codebuild:DeleteProject",
            "codebuild:BatchGetProjects",
        ), "the pipeline and one build project per environment"),
        Grant("ArtifactsBucket", (
            "s3:CreateBucket", "s3:PutBucketTagging", "s3:PutEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration",
        ), "the artifacts bucket (kept when the stack is deleted)"),
        Grant("BuildLogGroups", ("logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy",
                                 "logs:DescribeLogGroups", "logs:TagResource"), "the builds' log groups"),
        Grant("Roles", (
            "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
            "iam:GetRolePolicy", "iam:TagRole",
        ), "the pipeline's role and each build's role"),
        Grant("PassRoles", ("iam:PassRole",), "hand the stack's roles (`<cluster>-cluster-*`) to CodePipeline and "
                                              "CodeBuild, and to them only"),
        Grant("Connection", ("codestar-connections:CreateConnection", "codestar-connections:DeleteConnection",
                             "codestar-connections:GetConnection", "codestar-connections:TagResource",
                             "codestar-connections:PassConnection"),
              "the GitHub connection (approved once in the console)", feature="connection"),
        Grant("GitHubToken", ("secretsmanager:GetSecretValue", "codepipeline:PutWebhook",
                              "codepipeline:DeleteWebhook", "codepipeline:RegisterWebhookWithThirdParty",
                              "codepipeline:DeregisterWebhookWithThirdParty"),
              "the token kept in Secrets Manager and the webhook it registers", feature="github-token"),
    ),
    features=(Feature("connection", "`--source connection` (the default)"),
              Feature("github-token", "`--source github-token`")),
    default_features=frozenset({"connection"}),
    draft="deployed through CloudFormation: checked against the pipeline stack's resources, not a scenario",
)


def pipeline_deployer_policy(cluster: str, features: Iterable[str] = ()) -> dict[str, Any]:
    """The policy of whoever runs `ecsfleet fleet pipeline deploy` for one cluster."""
    chosen = effective_features(PIPELINE_DEPLOYER, features)
    found = []
    for grant in PIPELINE_DEPLOYER.grants:
        if grant.feature is not None and grant.feature not in chosen:
            continue
        resources, condition = _resources(grant.on, Scope(cluster=cluster))
        statement: dict[str, Any] = {"Sid": grant.sid, "Effect": "Allow", "Action": list(grant.actions),
                                     "Resource": resources[0] if len(resources) == 1 else resources}
        if grant.sid == "PassRoles":
            statement["Resource"] = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{cluster}-cluster-*"
            statement["Condition"] = {"StringEquals": {"iam:PassedToService": [
                "codepipeline.amazonaws.com", "codebuild.amazonaws.com"]}}
        elif condition:
            statement["Condition"] = condition
        found.append(statement)
    doc: dict[str, Any] = substitute(document(found))
    return doc
