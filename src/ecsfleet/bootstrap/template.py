"""A CloudFormation template that runs the cluster-wide controllers as AWS Lambda functions.

Per controller: a function running its handler, a role holding that capability's policy from
`ecsfleet.iam` (and nothing else but what Lambda itself needs: its log group, its queue), a log
group, and an EventBridge Scheduler schedule (every pass resyncs, so a missed event is repaired
on the next tick). lb-sync and dns-sync also get an EventBridge rule that puts the cluster's ECS
task and container instance state changes on an SQS queue that triggers the function, so a
change is acted on within seconds instead of at the next tick. agents gets a DynamoDB lease
table: a schedule and a retry can overlap, and the lease keeps them from rolling two instances
of one cluster at once.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import UserError
from ..iam import policies
from ..iam.policies import Scope

TEMPLATE_VERSION = "2010-09-09"
RUNTIME = "python3.11"
TIMEOUT = 60  # seconds; a pass reads one snapshot and applies a handful of changes
MEMORY = 256
# Lambda wants the queue's visibility timeout at least the function's timeout; AWS advises 6x
# so a message is not handed out again while a throttled batch waits.
QUEUE_VISIBILITY = 6 * TIMEOUT
# An event only means "look again": an old one is worth nothing once a scheduled pass has run.
QUEUE_RETENTION = 300
SCHEDULE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
ECS_EVENTS = ["ECS Task State Change", "ECS Container Instance State Change"]


@dataclass(frozen=True)
class Controller:
    name: str
    key: str  # logical id prefix
    handler: str
    events: bool  # fed ECS events through a queue
    needs_cluster: bool


CONTROLLERS = {
    c.name: c for c in (
        Controller("lb-sync", "LbSync", "ecsfleet.lbsync.handler", events=True, needs_cluster=True),
        Controller("dns-sync", "DnsSync", "ecsfleet.dns.handler", events=True, needs_cluster=True),
        Controller("agents", "Agents", "ecsfleet.agents.handler", events=False, needs_cluster=False),
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
            scheme = urllib.parse.urlparse(self.services or "").scheme
            if scheme not in ("s3", "https"):
                raise UserError("lb-sync needs its services file where Lambda can read it: "
                                "--services s3://bucket/key (or https://)")
            if scheme == "s3":
                try:
                    policies.s3_object_arn(self.services or "")
                except ValueError as error:
                    raise UserError(f"--services: {error}") from error
        if self.window:
            from ..agents.window import Window, WindowError

            try:
                Window.parse(self.window)
            except WindowError as error:
                raise UserError(f"--window: {error}") from error
        if self.max_in_flight < 1:
            raise UserError("--max-in-flight must be at least 1")


def _assume(service: str, **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return {"Version": policies.POLICY_VERSION, "Statement": [statement]}


def _capability_policy(controller: Controller, options: Options) -> dict[str, Any]:
    """The capability's own policy, scoped to what the template knows."""
    features: set[str] = set()
    scope = Scope(cluster=options.cluster)
    if controller.name == "lb-sync":
        s3 = (policies.s3_object_arn(options.services),) if options.services and options.services.startswith("s3:") \
            else ()
        features |= {"s3-files"} if s3 else set()
        scope = Scope(cluster=options.cluster, load_balancers=options.load_balancers, s3_objects=s3)
    elif controller.name == "dns-sync":
        scope = Scope(cluster=options.cluster, zone_ids=options.zone_ids)
    elif controller.name == "agents":
        features.add("lease-table")
        scope = Scope(cluster=options.cluster, lease_tables=({"Fn::GetAtt": ["AgentsLeaseTable", "Arn"]},))
    doc: dict[str, Any] = policies.for_cloudformation(
        policies.document(policies.statements(controller.name, features, scope)))
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
            "Timeout": TIMEOUT,
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


def _event_resources(controller: Controller, options: Options) -> dict[str, Any]:
    key = controller.key
    queue_arn = {"Fn::GetAtt": [f"{key}Queue", "Arn"]}
    return {
        f"{key}Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": QUEUE_VISIBILITY,
            "MessageRetentionPeriod": QUEUE_RETENTION,
            "SqsManagedSseEnabled": True,
        }},
        f"{key}QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": f"{key}Queue"}],
            "PolicyDocument": {"Version": policies.POLICY_VERSION, "Statement": [{
                "Sid": "EcsEventsFromTheRule", "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [f"{key}EcsEvents", "Arn"]}}},
            }]},
        }},
        f"{key}EcsEvents": {"Type": "AWS::Events::Rule", "Properties": {
            "Description": f"ecsfleet {controller.name}: ECS changes of cluster {options.cluster} wake it up",
            "State": "ENABLED",
            "EventPattern": {
                "source": ["aws.ecs"],
                "detail-type": ECS_EVENTS,
                "detail": {"clusterArn": [{"Fn::Sub": policies.cluster_arn(options.cluster or "")}]},
            },
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
            outputs[f"{controller.key}Queue"] = {"Description": f"the queue of ECS events feeding {controller.name}",
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
