"""Deploy: the stacks an infra.yml and a version want, the pure diff against what is deployed,
and applying it (cluster stack first: the compute stacks import its outputs).

A stack whose template, parameters and tags already match is left alone, so deploying the same
version twice makes no write call. A new compute stack starts `inactive`; an existing one keeps
its `Status` (activation belongs to `fleet rollout` / `fleet activate`).

A stack of ours whose creation failed (ROLLBACK_COMPLETE) holds no resources and can never be
updated: the next deploy says what failed then, deletes it and creates it again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..amis import latest_ami
from ..aws import Clients, error_code
from ..errors import UserError
from .ami_refresh import infra_ami_source
from .schema import Infra
from .stacks import FleetStacks, Stack, adopted_cluster_template, read_stacks
from .templates import (
    CLUSTER_TAG,
    cluster_stack_name,
    cluster_template,
    compute_stack_name,
    compute_template,
    stack_tags,
)

Echo = Callable[[str], None]
KEEP = "*keep*"  # a parameter that keeps its deployed value on update (UsePreviousValue)
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
FAILED_CREATE = "ROLLBACK_COMPLETE"  # a create that failed and was rolled back: the stack holds nothing
# States no update can start from and that ecsfleet does not resolve on its own.
STUCK = {"CREATE_FAILED": "delete-stack", "ROLLBACK_FAILED": "delete-stack", "DELETE_FAILED": "delete-stack",
         "UPDATE_ROLLBACK_FAILED": "continue-update-rollback"}
NO_UPDATES = "No updates are to be performed"


class DeployError(Exception):
    """A stack operation that CloudFormation refused or rolled back; the message says why."""

    exit_code = 1


@dataclass(frozen=True)
class DesiredStack:
    name: str
    template: Mapping[str, Any]
    parameters: Mapping[str, str]
    tags: Mapping[str, str]
    create_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StackChange:
    stack: DesiredStack
    action: Literal["create", "recreate", "update", "unchanged"]
    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    tags_changed: bool = False
    failed_earlier: str = ""  # recreate: what made the earlier create fail

    @property
    def creates(self) -> bool:
        return self.action in ("create", "recreate")

    def describe(self) -> str:
        name = self.stack.name
        if self.action == "unchanged":
            return f"{name}: unchanged"
        if self.action == "create":
            return f"{name}: create ({len(self.added)} resources: {', '.join(self.added)})"
        if self.action == "recreate":
            return (f"{name}: recreate (its create failed earlier, {FAILED_CREATE}: {self.failed_earlier}; "
                    f"delete it, then create {len(self.added)} resources: {', '.join(self.added)})")
        parts = [f"{label} {', '.join(items)}" for label, items in
                 (("add", self.added), ("modify", self.modified), ("remove", self.removed),
                  ("parameters", self.parameters)) if items]
        if self.tags_changed:
            parts.append("tags")
        return f"{name}: update ({'; '.join(parts)})"


def desired_stacks(infra: Infra, version: str, network: Mapping[str, str], extra_user_data: str = "",
                   image_id: str = "") -> list[DesiredStack]:
    """The cluster stack and this version's compute stack, with the parameters the network gave.
    `image_id` is used when the compute stack is created; an existing version keeps its AMI."""
    cluster_template_doc = cluster_template(infra)
    compute_template_doc = compute_template(infra, version, extra_user_data)

    def wanted(template: Mapping[str, Any]) -> dict[str, str]:
        return {k: v for k, v in network.items() if k in (template.get("Parameters") or {})}

    return [
        DesiredStack(cluster_stack_name(infra), cluster_template_doc, wanted(cluster_template_doc), stack_tags(infra)),
        DesiredStack(compute_stack_name(infra, version), compute_template_doc,
                     {**wanted(compute_template_doc), "Status": KEEP, "ImageId": KEEP}, stack_tags(infra, version),
                     create_parameters={"Status": "inactive", "ImageId": image_id}),
    ]


def _canonical(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def plan_stack(desired: DesiredStack, deployed: Stack | None, failed_earlier: str = "") -> StackChange:
    """Pure: what CloudFormation would be asked to change for one stack. A stack whose create
    failed (ROLLBACK_COMPLETE) is created again; `failed_earlier` says why it failed."""
    resources = dict(desired.template.get("Resources") or {})
    if deployed is None:
        return StackChange(desired, "create", added=tuple(resources))
    if deployed.status == FAILED_CREATE:
        return StackChange(desired, "recreate", added=tuple(resources),
                           failed_earlier=failed_earlier or "no failed resource reported")
    old = dict((deployed.template or {}).get("Resources") or {})
    new, before = _canonical(resources), _canonical(old)
    added = tuple(k for k in new if k not in before)
    removed = tuple(k for k in before if k not in new)
    modified = tuple(k for k in new if k in before and new[k] != before[k])
    template_other = {k: v for k, v in desired.template.items() if k != "Resources"}
    deployed_other = {k: v for k, v in (deployed.template or {}).items() if k != "Resources"}
    params = tuple(sorted(k for k, v in desired.parameters.items()
                          if v != KEEP and deployed.parameters.get(k) != v))
    tags_changed = any(deployed.tags.get(k) != v for k, v in desired.tags.items())
    other_changed = _canonical(template_other) != _canonical(deployed_other)
    if not (added or removed or modified or params or tags_changed or other_changed):
        return StackChange(desired, "unchanged")
    return StackChange(desired, "update", added, modified, removed, params, tags_changed)


def plan_deploy(observed: FleetStacks, desired: Sequence[DesiredStack],
                failures: Mapping[str, str] | None = None) -> list[StackChange]:
    """Pure: one change per desired stack. A stack with our name that we do not own stops the plan:
    ecsfleet never changes what it did not create. `failures`: stack name -> what made its
    create fail, for our stacks in ROLLBACK_COMPLETE."""
    foreign = {s.name: s for s in observed.foreign}
    ours = {s.name: s for s in (observed.cluster, *observed.compute) if s is not None}
    changes = []
    for stack in desired:
        if stack.name in foreign:
            raise UserError(f"stack {stack.name} exists but is not managed by ecsfleet (it lacks the tag "
                            f"ecsfleet:cluster); ecsfleet will not change it. If ecs-cluster-deployer made it, "
                            f"`ecsfleet fleet adopt` takes it over; else delete or rename it, or choose another "
                            f"cluster name")
        deployed = ours.get(stack.name)
        if deployed is not None and deployed.adopted and deployed.version is not None:
            raise UserError(f"version {deployed.version} is a fleet ecs-cluster-deployer made ({stack.name}, "
                            f"adopted): ecsfleet does not rewrite it in place; roll out a new version (--version "
                            f"or $VERSION), and the next rollout drains and deletes this one")
        if deployed is not None and deployed.in_progress:
            raise UserError(f"stack {stack.name} is busy ({deployed.status}); try again when it settles")
        if deployed is not None and deployed.status in STUCK:
            raise UserError(f"stack {stack.name} is in {deployed.status} and cannot be updated: resolve it "
                            f"(aws cloudformation {STUCK[deployed.status]} --stack-name {stack.name}) and "
                            f"deploy again")
        changes.append(plan_stack(stack, deployed, (failures or {}).get(stack.name, "")))
    return changes


def _parameters(change: StackChange) -> list[dict[str, Any]]:
    values = {**change.stack.parameters, **(change.stack.create_parameters if change.creates else {})}
    return [{"ParameterKey": k, "UsePreviousValue": True} if v == KEEP else {"ParameterKey": k, "ParameterValue": v}
            for k, v in values.items()]


def apply_change(clients: Clients, change: StackChange, echo: Echo, wait: bool = True, poll: float = 5.0) -> str:
    """Create or update one stack, then (with `wait`) follow its events to the end. Returns the
    final stack status; raises DeployError with the failed resources' reasons."""
    if change.action == "unchanged":
        return "unchanged"
    cfn = clients("cloudformation")
    args: dict[str, Any] = {
        "StackName": change.stack.name,
        "TemplateBody": json.dumps(change.stack.template),
        "Parameters": _parameters(change),
        "Tags": [{"Key": k, "Value": v} for k, v in change.stack.tags.items()],
        "Capabilities": CAPABILITIES,
    }
    if change.action == "recreate":
        echo(f"{change.stack.name}: its create failed earlier ({FAILED_CREATE}: {change.failed_earlier}); a stack "
             f"in {FAILED_CREATE} holds no resources and cannot be updated: deleting it and creating it again")
        delete_failed_stack(clients, change.stack, echo, poll)
    try:
        if change.creates:
            cfn.create_stack(**args, OnFailure="ROLLBACK")
        else:
            cfn.update_stack(**args)
    except Exception as error:
        if no_updates(error):
            return "unchanged"
        raise DeployError(f"{change.stack.name}: CloudFormation refused the {change.action}: {error}") from error
    echo(f"{change.stack.name}: {change.action} started")
    if not wait:
        return "IN_PROGRESS"
    return wait_for_stack(clients, change.stack.name, echo, poll)


def no_updates(error: BaseException) -> bool:
    """UpdateStack's answer to an update that changes nothing: success, not a failure."""
    return error_code(error) == "ValidationError" and NO_UPDATES in str(error)


def delete_failed_stack(clients: Clients, desired: DesiredStack, echo: Echo, poll: float = 5.0,
                        sleep: Callable[[float], None] = time.sleep) -> None:
    """Delete our stack whose create failed, and wait until it is gone. Its state and ownership
    are read again first: a stack that moved on (or is not ours) is never deleted."""
    cfn = clients("cloudformation")
    doc = cfn.describe_stacks(StackName=desired.name)["Stacks"][0]
    tags = {t["Key"]: t.get("Value", "") for t in doc.get("Tags") or []}
    if doc["StackStatus"] != FAILED_CREATE or tags.get(CLUSTER_TAG) != desired.tags.get(CLUSTER_TAG):
        raise DeployError(f"{desired.name}: not deleted: it is now {doc['StackStatus']}"
                          f"{'' if tags.get(CLUSTER_TAG) == desired.tags.get(CLUSTER_TAG) else ', not ours'}; "
                          f"deploy again")
    stack_id = doc["StackId"]
    cfn.delete_stack(StackName=stack_id)  # by id: the name may already belong to a new stack
    while True:
        status = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status == "DELETE_COMPLETE":
            echo(f"{desired.name}: deleted")
            return
        if status == "DELETE_FAILED":
            raise DeployError(f"{desired.name}: CloudFormation could not delete the failed stack (DELETE_FAILED)")
        sleep(poll)


def failure_reasons(events: Sequence[Mapping[str, Any]]) -> list[str]:
    """'LogicalId (Type): reason' of each resource that failed, oldest first (events are newest first)."""
    return [f"{e['LogicalResourceId']} ({e['ResourceType']}): {e.get('ResourceStatusReason', 'no reason given')}"
            for e in reversed(events) if str(e.get("ResourceStatus", "")).endswith("_FAILED")]


def failed_earlier(clients: Clients, name: str) -> str:
    """What made the latest operation of a stack fail, from its events."""
    return "; ".join(failure_reasons(_operation_events(clients("cloudformation"), name))) \
        or "no failed resource reported"


def wait_for_stack(clients: Clients, name: str, echo: Echo, poll: float = 5.0,
                   sleep: Callable[[float], None] = time.sleep) -> str:
    """Follow a stack to a settled status, echoing each new event; a failure raises with the
    reasons of the resources that failed in this operation."""
    cfn = clients("cloudformation")
    seen: set[str] = set()
    while True:
        status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
        events = _operation_events(cfn, name)
        for event in reversed(events):
            if event["EventId"] not in seen:
                seen.add(event["EventId"])
                reason = f" ({event['ResourceStatusReason']})" if event.get("ResourceStatusReason") else ""
                echo(f"  {event['LogicalResourceId']} {event['ResourceType']}: {event['ResourceStatus']}{reason}")
        if not status.endswith("_IN_PROGRESS"):
            break
        sleep(poll)
    if status.endswith("_FAILED") or "ROLLBACK" in status:
        failures = failure_reasons(events)
        raise DeployError(f"stack {name} failed ({status}): " + ("; ".join(failures) or "no failed resource reported"))
    return str(status)


def _operation_events(cfn: Any, name: str) -> list[dict[str, Any]]:
    """Events of the latest operation, newest first: up to the stack's own *_IN_PROGRESS
    'User Initiated' event that started it."""
    events: list[dict[str, Any]] = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
        for event in page.get("StackEvents", []):
            events.append(event)
            if (event.get("ResourceType") == "AWS::CloudFormation::Stack"
                    and event.get("ResourceStatus", "").endswith("_IN_PROGRESS")
                    and event.get("ResourceStatusReason") == "User Initiated"):
                return events
    return events


@dataclass(frozen=True)
class DeployResult:
    changes: tuple[StackChange, ...]
    statuses: tuple[str, ...]


def resolve_image_id(clients: Clients, infra: Infra) -> str:
    """The AMI infra.yml's source names now: ec2_instances.ami, ami_parameter or ami_name_filter,
    else the recommended ECS-optimized AMI of the region."""
    source = infra_ami_source(infra)
    found = latest_ami(clients, source)
    if not found:
        raise UserError(f"cannot read an AMI from {source.describe()} in {clients.target.region}: set "
                        f"ec2_instances.ami, ami_parameter or ami_name_filter in infra.yml")
    return found


def plan(clients: Clients, infra: Infra, version: str, network: Mapping[str, str],
         extra_user_data: str = "", image_id: str | None = None) -> tuple[FleetStacks, list[StackChange]]:
    """`image_id`: the AMI a new version is created with (an AMI refresh names it); by default
    the one infra.yml's source names now."""
    observed = read_stacks(clients, infra, with_templates=True)
    existing = observed.version(version)
    if existing is not None and existing.status == FAILED_CREATE:
        existing = None  # created again: it takes the AMI of today, like any new version
    if existing is not None:
        image_id = ""
    elif image_id is None:
        image_id = resolve_image_id(clients, infra)
    failures = {s.name: failed_earlier(clients, s.name)
                for s in (observed.cluster, *observed.compute) if s is not None and s.status == FAILED_CREATE}
    desired = desired_stacks(infra, version, network, extra_user_data, image_id)
    if observed.cluster is not None and observed.cluster.adopted:
        desired[0] = adopted_cluster_stack(desired[0], observed.cluster)
    return observed, plan_deploy(observed, desired, failures)


def adopted_cluster_stack(wanted: DesiredStack, deployed: Stack) -> DesiredStack:
    """The cluster stack ecs-cluster-deployer made, as ecsfleet updates it once adopted: the
    original's resources and exports kept as they are, ecsfleet's added; the original's own
    parameters keep their deployed values."""
    template = adopted_cluster_template(wanted.template, deployed.template or {}, deployed.name)
    kept = {k: KEEP for k in (deployed.template or {}).get("Parameters") or {} if k in deployed.parameters}
    return DesiredStack(wanted.name, template, {**kept, **wanted.parameters}, {**deployed.tags, **wanted.tags})


def deploy(clients: Clients, infra: Infra, version: str, network: Mapping[str, str], echo: Echo,
           wait: bool = True, extra_user_data: str = "", poll: float = 5.0) -> DeployResult:
    """Cluster stack, then the compute stack of `version`. The cluster stack is always waited for
    (the compute stack imports its outputs); the compute stack only with `wait`."""
    _, changes = plan(clients, infra, version, network, extra_user_data)
    statuses = []
    for index, change in enumerate(changes):
        last = index == len(changes) - 1
        statuses.append(apply_change(clients, change, echo, wait=wait or not last, poll=poll))
    return DeployResult(tuple(changes), tuple(statuses))

