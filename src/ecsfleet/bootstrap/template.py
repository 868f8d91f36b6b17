"""A CloudFormation template that runs the cluster-wide controllers as AWS Lambda functions.

Per controller: a function running its handler, a role holding that capability's policy from
`ecsfleet.iam` (and nothing else but what Lambda itself needs: its log group, its queue), a log
group, and an EventBridge Scheduler schedule (every pass resyncs, so a missed event is repaired
on the next tick). lb-sync, dns-sync and fleet also get an EventBridge rule that puts the
cluster's ECS task and container instance state changes on an SQS queue that triggers the
function, so a change is acted on within seconds instead of at the next tick; fleet's rule also
carries spot interruption warnings, rebalance recommendations and the termination lifecycle
actions of the cluster's Auto Scaling groups. agents gets a DynamoDB lease table: a schedule and
a retry can overlap, and the lease keeps them from rolling two instances of one cluster at once.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import UserError
from ..fleet.events import WARNINGS as SPOT_WARNINGS
from ..fleet.templates import DRAIN_HOOK
from ..iam import policies
from ..iam.policies import Scope

TEMPLATE_VERSION = "2010-09-09"
RUNTIME = "python3.11"
TIMEOUT = 60  # seconds; a pass reads one snapshot and applies a handful of changes
# A fleet pass may also drain, scale, complete lifecycle hooks and delete a stack, one call after
# another, on a cluster of many instances.
FLEET_TIMEOUT = 300
MEMORY = 256
# Lambda wants the queue's visibility timeout at least the function's timeout; AWS advises 6x
# so a message is not handed out again while a throttled batch waits.
QUEUE_VISIBILITY_FACTOR = 6
# An event only means "look again": an old one is worth nothing once a scheduled pass has run.
# (A spot warning too: the instance is gone two minutes after it.)
QUEUE_RETENTION = 300
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
ECS_EVENTS = ["ECS Task State Change", "ECS Container Instance State Change"]
LIFECYCLE_EVENT = "EC2 Instance-terminate Lifecycle Action"


@dataclass(frozen=True)
class Controller:
    name: str
    key: str  # logical id prefix
    handler: str
    events: bool  # fed EventBridge events through a queue
    needs_cluster: bool
    timeout: int = TIMEOUT


CONTROLLERS = {
    c.name: c for c in (
        Controller("lb-sync", "LbSync", "ecsfleet.lbsync.handler", events=True, needs_cluster=True),
        Controller("dns-sync", "DnsSync", "ecsfleet.dns.handler", events=True, needs_cluster=True),
        Controller("agents", "Agents", "ecsfleet.agents.handler", events=False, needs_cluster=False),
        Controller("fleet", "Fleet", "ecsfleet.fleet.handler", events=True, needs_cluster=True,
                   timeout=FLEET_TIMEOUT),
    )
}


@dataclass(frozen=True)
class Options:
    """What `ecsfleet bootstrap render` is told. Code location defaults become template
    parameters, so a new version deploys with `--parameter-overrides CodeKey=...`."""

    controllers: tuple[str, ...] = ("lb-sync", "dns-sync", "agents")
    cluster: str | None = None
    schedule: str = "rate(1 minute)"
    code_bucket: str | None = None
    code_key: str | None = None
    services: str | None = None          # lb-sync: SERVICES_URL (s3:// or https://)
    load_balancers: tuple[str, ...] = ()  # lb-sync: narrow its role to these
    zone_ids: tuple[str, ...] = ()        # dns-sync: manage (and be allowed) only these
    window: str | None = None             # agents: ECSFLEET_WINDOW
    max_in_flight: int = 1                # agents
    infra_url: str | None = None          # fleet: ECSFLEET_INFRA (s3:// or https://)

    def validate(self) -> None:
        unknown = [c for c in self.controllers if c not in CONTROLLERS]
        if unknown or not self.controllers:
            raise UserError(f"--controllers: choose among {', '.join(CONTROLLERS)} "
                            f"(got {', '.join(unknown) or 'none'})")
        for name in self.controllers:
            if CONTROLLERS[name].needs_cluster and not self.cluster:
                raise UserError(f"{name} runs for one cluster: pass --cluster")
        if self.cluster and not re.fullmatch(r"[A-Za-z0-9_-]{1,255}", self.cluster):
            raise UserError(f"--cluster {self.cluster!r}: a cluster name is letters, digits, - and _")
        if not SCHEDULE.match(self.schedule):
            raise UserError(f"--schedule {self.schedule!r}: expected rate(N minutes) or cron(...)")
        if "lb-sync" in self.controllers:
            _check_remote_file("lb-sync", "its services file", "--services", self.services)
        if "fleet" in self.controllers:
            _check_remote_file("fleet", "infra.yml", "--infra-url", self.infra_url)
        if self.window:
            from ..agents.window import Window, WindowError

            try:
                Window.parse(self.window)
            except WindowError as error:
                raise UserError(f"--window: {error}") from error
        if self.max_in_flight < 1:
            raise UserError("--max-in-flight must be at least 1")


def _check_remote_file(controller: str, what: str, option: str, url: str | None) -> None:
    """A file a function reads must be where Lambda can reach it: S3 (then its role may read
    only that object) or HTTPS."""
    scheme = urllib.parse.urlparse(url or "").scheme
    if scheme not in ("s3", "https"):
        raise UserError(f"{controller} needs {what} where Lambda can read it: {option} s3://bucket/key "
                        "(or https://)")
    if scheme == "s3":
        try:
            policies.s3_object_arn(url or "")
        except ValueError as error:
            raise UserError(f"{option}: {error}") from error


def _s3_objects(url: str | None) -> tuple[str, ...]:
    return (policies.s3_object_arn(url),) if url and url.startswith("s3:") else ()


def _assume(service: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": policies.POLICY_VERSION, "Statement": [statement]}


def _capability_policy(controller: Controller, options: Options) -> dict[str, Any]:
    """The capability's own policy, scoped to what the template knows."""
    features: set[str] = set()
    scope = Scope(cluster=options.cluster)
    extra: list[dict[str, Any]] = []
    if controller.name == "lb-sync":
        s3 = _s3_objects(options.services)
        features |= {"s3-files"} if s3 else set()
        scope = Scope(cluster=options.cluster, load_balancers=options.load_balancers, s3_objects=s3)
    elif controller.name == "dns-sync":
        scope = Scope(cluster=options.cluster, zone_ids=options.zone_ids)
    elif controller.name == "agents":
        features.add("lease-table")
        scope = Scope(cluster=options.cluster, lease_tables=({"Fn::GetAtt": ["AgentsLeaseTable", "Arn"]},))
    elif controller.name == "fleet":
        # The whole policy, `stack-resources` included: reconcile never creates a stack, but it
        # deletes an inactive fleet's stack once empty, and CloudFormation deletes that stack's
        # groups, spot fleets and launch template with the caller's permissions. Not
        # `events-queue`: the function never calls SQS; Lambda reads the queue for it with the
        # lambda-runtime statement, as for lb-sync and dns-sync.
        extra = [{"Sid": "ReadInfraFromS3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": arn}
                 for arn in _s3_objects(options.infra_url)]
    doc: dict[str, Any] = policies.for_cloudformation(
        policies.document([*policies.statements(controller.name, features, scope), *extra]))
    return doc


def _runtime_policy(controller: Controller) -> dict[str, Any]:
    """What Lambda itself does with the function's role: write its logs, and read its queue."""
    key = controller.key
    statements: list[dict[str, Any]] = [{
        "Sid": "WriteLogs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": {"Fn::GetAtt": [f"{key}Logs", "Arn"]},
    }]
    if controller.events:
        statements.append({
            "Sid": "ReadEventsQueue", "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": {"Fn::GetAtt": [f"{key}Queue", "Arn"]},
        })
    return {"Version": policies.POLICY_VERSION, "Statement": statements}


def _environment(controller: Controller, options: Options) -> dict[str, Any]:
    env: dict[str, Any] = {}
    if controller.name == "lb-sync":
        env |= {"ECSFLEET_CLUSTER": options.cluster, "SERVICES_URL": options.services}
    elif controller.name == "dns-sync":
        env["ECSFLEET_CLUSTER"] = options.cluster
        if options.zone_ids:
            env["ECSFLEET_DNS_ZONE_IDS"] = ",".join(z.rsplit("/", 1)[-1] for z in options.zone_ids)
    elif controller.name == "agents":
        env |= {"ECSFLEET_LEASE_TABLE": {"Ref": "AgentsLeaseTable"},
                "ECSFLEET_MAX_IN_FLIGHT": str(options.max_in_flight),
                "ECSFLEET_WEBHOOK_URL": {"Ref": "WebhookUrl"}}
        if options.cluster:
            env["ECSFLEET_CLUSTERS"] = options.cluster
        if options.window:
            env["ECSFLEET_WINDOW"] = options.window
    elif controller.name == "fleet":
        env["ECSFLEET_INFRA"] = options.infra_url
    return env


def _controller_resources(controller: Controller, options: Options) -> dict[str, Any]:
    key = controller.key
    resources: dict[str, Any] = {
        f"{key}Role": {"Type": "AWS::IAM::Role", "Properties": {
            "Description": f"ecsfleet {controller.name}: the calls it makes, nothing else",
            "AssumeRolePolicyDocument": _assume("lambda.amazonaws.com"),
            "Policies": [
                {"PolicyName": controller.name, "PolicyDocument": _capability_policy(controller, options)},
                {"PolicyName": "lambda-runtime", "PolicyDocument": _runtime_policy(controller)},
            ],
        }},
        f"{key}Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"RetentionInDays": 30}},
        f"{key}Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "Description": f"ecsfleet {controller.name}: one reconcile pass per invocation",
            "Runtime": RUNTIME,
            "Handler": controller.handler,
            "Role": {"Fn::GetAtt": [f"{key}Role", "Arn"]},
            "Code": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
            "Timeout": controller.timeout,
            "MemorySize": MEMORY,
            "Environment": {"Variables": _environment(controller, options)},
            # JSON logs at INFO: one line per applied action, as the daemons log them.
            "LoggingConfig": {"LogGroup": {"Ref": f"{key}Logs"}, "LogFormat": "JSON",
                              "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN"},
        }},
        f"{key}Schedule": {"Type": "AWS::Scheduler::Schedule", "Properties": {
            "Description": f"ecsfleet {controller.name}: a full resync pass",
            "ScheduleExpression": options.schedule,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            # A missed tick is repaired by the next one: retrying an old tick only adds load.
            "Target": {"Arn": {"Fn::GetAtt": [f"{key}Function", "Arn"]},
                       "RoleArn": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
                       "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60}},
        }},
    }
    if controller.events:
        resources |= _event_resources(controller, options)
    return resources


def _event_patterns(controller: Controller, options: Options) -> tuple[str, list[dict[str, Any]]]:
    """What wakes the controller (for the rule's description), and the patterns of those events."""
    patterns: list[dict[str, Any]] = [{
        "source": ["aws.ecs"],
        "detail-type": ECS_EVENTS,
        "detail": {"clusterArn": [{"Fn::Sub": policies.cluster_arn(options.cluster or "")}]},
    }]
    if controller.name != "fleet":
        return f"ECS changes of cluster {options.cluster}", patterns
    patterns += [
        # A warning names an instance, not its cluster: every one of the region comes, and the
        # controller ignores instances outside its fleets.
        {"source": ["aws.ec2"], "detail-type": list(SPOT_WARNINGS)},
        # The compute stacks name their groups <cluster>-<version>-<group>, each with the drain hook.
        {"source": ["aws.autoscaling"], "detail-type": [LIFECYCLE_EVENT],
         "detail": {"AutoScalingGroupName": [{"prefix": f"{options.cluster}-"}],
                    "LifecycleHookName": [DRAIN_HOOK]}},
    ]
    return (f"ECS changes of cluster {options.cluster}, spot interruption warnings and its groups' "
            f"termination lifecycle actions"), patterns


def _event_resources(controller: Controller, options: Options) -> dict[str, Any]:
    key = controller.key
    queue_arn = {"Fn::GetAtt": [f"{key}Queue", "Arn"]}
    wakes, patterns = _event_patterns(controller, options)
    return {
        f"{key}Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": QUEUE_VISIBILITY_FACTOR * controller.timeout,
            "MessageRetentionPeriod": QUEUE_RETENTION,
            "SqsManagedSseEnabled": True,
        }},
        f"{key}QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": f"{key}Queue"}],
            "PolicyDocument": {"Version": policies.POLICY_VERSION, "Statement": [{
                "Sid": "EventsFromTheRule", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [f"{key}Events", "Arn"]}}},
            }]},
        }},
        f"{key}Events": {"Type": "AWS::Events::Rule", "Properties": {
            "Description": f"ecsfleet {controller.name}: {wakes} wake it up",
            "State": "ENABLED",
            # One rule and one queue whatever the sources: EventBridge's $or joins their patterns.
            "EventPattern": patterns[0] if len(patterns) == 1 else {"$or": patterns},
            "Targets": [{"Id": "queue", "Arn": queue_arn}],
        }},
        f"{key}EventSource": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": queue_arn,
            "FunctionName": {"Ref": f"{key}Function"},
            # A burst of events (a deploy stops and starts many tasks) becomes one pass.
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 5,
            "ScalingConfig": {"MaximumConcurrency": 2},
            "Enabled": True,
        }},
    }


def render(options: Options) -> dict[str, Any]:
    options.validate()
    chosen = [CONTROLLERS[name] for name in dict.fromkeys(options.controllers)]
    parameters: dict[str, Any] = {
        "CodeBucket": {"Type": "String", "MinLength": 1,
                       "Description": "S3 bucket holding the Lambda zip of ecsfleet and its dependencies"},
        "CodeKey": {"Type": "String", "MinLength": 1, "Description": "S3 key of that zip"},
    }
    if options.code_bucket:
        parameters["CodeBucket"]["Default"] = options.code_bucket
    if options.code_key:
        parameters["CodeKey"]["Default"] = options.code_key
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for controller in chosen:
        resources |= _controller_resources(controller, options)
        outputs[f"{controller.key}Function"] = {"Description": f"the {controller.name} function",
                                                "Value": {"Ref": f"{controller.key}Function"}}
        if controller.events:
            outputs[f"{controller.key}Queue"] = {"Description": f"the queue of events feeding {controller.name}",
                                                 "Value": {"Ref": f"{controller.key}Queue"}}
    if any(c.name == "agents" for c in chosen):
        parameters["WebhookUrl"] = {"Type": "String", "Default": "", "NoEcho": True,
                                    "Description": "Slack-compatible webhook for agent notices (a secret; "
                                                   "empty: none)"}
        resources["AgentsLeaseTable"] = {"Type": "AWS::DynamoDB::Table", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "lease", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "lease", "KeyType": "HASH"}],
            # Leases carry their own expiry: DynamoDB removes the ones a dead run left behind.
            "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
        }}
    resources["SchedulerRole"] = {"Type": "AWS::IAM::Role", "Properties": {
        "Description": "EventBridge Scheduler invokes the ecsfleet controllers",
        "AssumeRolePolicyDocument": _assume("scheduler.amazonaws.com",
                                            StringEquals={"aws:SourceAccount": {"Ref": "AWS::AccountId"}}),
        "Policies": [{"PolicyName": "invoke-controllers", "PolicyDocument": {
            "Version": policies.POLICY_VERSION, "Statement": [{
                "Sid": "InvokeControllers", "Effect": "Allow", "Action": "lambda:InvokeFunction",
                "Resource": [{"Fn::GetAtt": [f"{c.key}Function", "Arn"]} for c in chosen],
            }]}}],
    }}
    names = ", ".join(c.name for c in chosen)
    where = f" for cluster {options.cluster}" if options.cluster else ""
    return {
        "AWSTemplateFormatVersion": TEMPLATE_VERSION,
        "Description": f"ecsfleet {__version__} controllers as scheduled Lambda functions{where}: {names}",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    }
