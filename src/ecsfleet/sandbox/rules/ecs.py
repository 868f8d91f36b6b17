"""The sandbox's rules for ECS: each a documented refusal of the API, checked before the emulator.

ECS is the sandbox's own emulation (sandbox/ecs.py), not moto; its pure refusals live here so the
fidelity table lists them, and the emulator only changes state. Parameter checks come before the
checks that read the emulated world, as AWS validates a request before it looks anything up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from ..ecs_model import AGENT_UPDATE_IN_FLIGHT
from .base import Call, Refusal, Rule, not_enforced, param, rule

_API = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_{}.html"
_QUOTAS = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-quotas.html"


def _api(name: str) -> str:
    return _API.format(name)


def _invalid(message: str) -> Refusal:
    return Refusal("InvalidParameterException", message)


def _client(message: str) -> Refusal:
    return Refusal("ClientException", message)


# ---- the emulated world, read only ---------------------------------------------------------

def _cluster_name(ref: str | None) -> str:
    text = ref or "default"
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def _cluster(call: Call) -> Any:
    """The call's ACTIVE cluster (`cluster` absent: the default cluster), or None."""
    found = call.world.ecs().clusters.get(_cluster_name(param(call, "cluster")))
    return found if found is not None and found.status == "ACTIVE" else None


def _instance(call: Call, ref: str) -> Any:
    """A container instance of the call's cluster by ARN or ID, registered or deregistered."""
    region, cluster = call.world.ecs(), _cluster_name(param(call, "cluster"))
    ident = ref.rsplit("/", 1)[-1]
    for store in (region.instances, region.inactive_instances):
        for ci in store.values():
            if ci.cluster == cluster and (ci.arn == ref or ci.id == ident):
                return ci
    return None


# ---- clusters ------------------------------------------------------------------------------

_IN_A_CLUSTER = (
    "DeleteCluster", "ListContainerInstances", "DescribeContainerInstances", "ListTasks", "DescribeTasks",
    "ListServices", "DescribeServices", "UpdateContainerAgent", "UpdateContainerInstancesState", "PutAttributes",
    "DeleteAttributes", "ListAttributes", "RunTask", "StartTask", "StopTask", "CreateService", "UpdateService",
    "DeleteService", "RegisterContainerInstance", "DeregisterContainerInstance",
)
_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


@rule("cluster_name_format", "ecs", "CreateCluster",
      "A cluster name is up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens.",
      _api("CreateCluster"))
def _cluster_name_format(call: Call) -> Refusal | None:
    name = param(call, "clusterName")
    if name is not None and not _NAME.fullmatch(name):
        return _invalid("Cluster name can only contain letters, numbers, underscores and hyphens, up to 255 "
                        "characters.")
    return None


@rule("cluster_must_exist", "ecs", _IN_A_CLUSTER,
      "A call naming a cluster that does not exist (or is INACTIVE) is refused with ClusterNotFoundException; "
      "without `cluster`, the default cluster is meant.", _api("ListTasks"))
def _cluster_must_exist(call: Call) -> Refusal | None:
    return None if _cluster(call) is not None else Refusal("ClusterNotFoundException", "Cluster not found.")


@rule("delete_cluster_without_instances", "ecs", "DeleteCluster",
      "A cluster cannot be deleted while container instances are registered to it (ACTIVE or DRAINING).",
      _api("DeleteCluster"))
def _delete_cluster_without_instances(call: Call) -> Refusal | None:
    cluster = _cluster(call)
    if cluster is not None and call.world.ecs().cluster_instances(cluster.name):
        return Refusal("ClusterContainsContainerInstancesException",
                       "The Cluster cannot be deleted while Container Instances are active or draining.")
    return None


@rule("delete_cluster_without_services", "ecs", "DeleteCluster",
      "A cluster cannot be deleted while it has ACTIVE or DRAINING services.", _api("DeleteCluster"))
def _delete_cluster_without_services(call: Call) -> Refusal | None:
    cluster = _cluster(call)
    if cluster is not None and any(s.cluster == cluster.name and s.status != "INACTIVE"
                                   for s in call.world.ecs().services.values()):
        return Refusal("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")
    return None


# ---- batches and pages ---------------------------------------------------------------------

def _batch(name: str, operation: str, key: str, limit: int, label: str) -> Rule:
    @rule(name, "ecs", operation, f"`{key}` holds 1 to {limit} references.", _api(operation))
    def check(call: Call) -> Refusal | None:
        refs = param(call, key, default=[])
        if not refs:
            return _invalid(f"{label} cannot be empty.")
        if len(refs) > limit:
            return _invalid(f"{label} cannot have more than {limit} elements.")
        return None

    return check


_BATCHES = (
    _batch("describe_container_instances_at_most_100", "DescribeContainerInstances", "containerInstances", 100,
           "containerInstances"),
    _batch("describe_tasks_at_most_100", "DescribeTasks", "tasks", 100, "Tasks"),
    _batch("describe_services_at_most_10", "DescribeServices", "services", 10, "services"),
    _batch("update_container_instances_state_at_most_10", "UpdateContainerInstancesState", "containerInstances",
           10, "containerInstances"),
    _batch("start_task_at_most_10_instances", "StartTask", "containerInstances", 10, "containerInstances"),
)


@rule("describe_clusters_at_most_100", "ecs", "DescribeClusters", "`clusters` names at most 100 clusters.",
      _api("DescribeClusters"))
def _describe_clusters_at_most_100(call: Call) -> Refusal | None:
    if len(param(call, "clusters", default=[])) > 100:
        return _invalid("Clusters cannot have more than 100 elements.")
    return None


_PAGED = ("ListClusters", "ListContainerInstances", "ListTasks", "ListServices", "ListTaskDefinitions",
          "ListTaskDefinitionFamilies")


@rule("list_max_results_1_to_100", "ecs", _PAGED, "`maxResults` of a list call is between 1 and 100.",
      _api("ListTasks"))
def _list_max_results(call: Call) -> Refusal | None:
    limit = param(call, "maxResults")
    if limit is not None and not 1 <= int(limit) <= 100:
        return _invalid("maxResults must be between 1 and 100.")
    return None


# ---- tasks ---------------------------------------------------------------------------------

@rule("list_tasks_family_format", "ecs", "ListTasks",
      "The `family` filter of ListTasks is a family name (letters, numbers, hyphens, underscores), not "
      "family:revision.", _api("ListTasks"))
def _list_tasks_family_format(call: Call) -> Refusal | None:
    family = param(call, "family")
    if family is not None and not re.fullmatch(r"[a-zA-Z0-9\-_]+", family):
        return _invalid(r"family must match ^[a-zA-Z0-9\-_]+$")
    return None


@rule("list_tasks_started_by_alone", "ecs", "ListTasks",
      "When `startedBy` filters ListTasks, it must be the only filter (no family, serviceName, "
      "containerInstance or launchType).", _api("ListTasks"))
def _list_tasks_started_by_alone(call: Call) -> Refusal | None:
    others = [k for k in ("family", "serviceName", "containerInstance", "launchType") if param(call, k)]
    if param(call, "startedBy") and others:
        return _invalid(f"startedBy cannot be specified with {', '.join(others)}.")
    return None


@rule("run_task_count_1_to_10", "ecs", "RunTask", "RunTask places 1 to 10 tasks per call.", _api("RunTask"))
def _run_task_count(call: Call) -> Refusal | None:
    count = param(call, "count")
    if count is not None and not 1 <= int(count) <= 10:
        return _invalid("count must be between 1 and 10.")
    return None


_STARTED_BY = re.compile(r"[A-Za-z0-9_/-]{1,128}")


@rule("run_task_started_by_format", "ecs", ("RunTask", "StartTask"),
      "`startedBy` is up to 128 letters, numbers, hyphens, forward slashes and underscores.", _api("RunTask"))
def _run_task_started_by(call: Call) -> Refusal | None:
    started_by = param(call, "startedBy")
    if started_by is not None and not _STARTED_BY.fullmatch(started_by):
        return _invalid("startedBy can contain up to 128 letters (uppercase and lowercase), numbers, hyphens, "
                        "forward slashes, and underscores.")
    return None


def _constraints(call: Call) -> list[dict[str, Any]]:
    return list(param(call, "placementConstraints", default=[]))


@rule("placement_constraints_at_most_10", "ecs", ("RunTask", "CreateService", "UpdateService"),
      "At most 10 placement constraints per task, counting the task definition's own and those given in the "
      "call.", _api("RunTask"))
def _placement_constraints_at_most_10(call: Call) -> Refusal | None:
    own = 0
    reference = param(call, "taskDefinition")
    if reference:
        td = _task_definition(call, reference)
        own = len(td.extra.get("placementConstraints") or []) if td is not None else 0
    if own + len(_constraints(call)) > 10:
        return _invalid("A task can have at most 10 placement constraints, including those of its task "
                        "definition.")
    return None


@rule("placement_constraint_expression", "ecs", ("RunTask", "CreateService", "UpdateService",
                                                 "RegisterTaskDefinition"),
      "A memberOf constraint needs an expression (at most 2000 characters); a distinctInstance constraint "
      "takes none.", _api("PlacementConstraint"))
def _placement_constraint_expression(call: Call) -> Refusal | None:
    for constraint in _constraints(call):
        kind, expression = constraint.get("type"), constraint.get("expression")
        if kind == "distinctInstance" and expression:
            return _invalid("Constraint of type distinctInstance cannot have an expression.")
        if kind == "memberOf" and not expression:
            return _invalid("Constraint of type memberOf must have an expression.")
        if expression and len(expression) > 2000:
            return _invalid("The expression of a placement constraint can be at most 2000 characters.")
    return None


@rule("placement_strategy_at_most_5", "ecs", ("RunTask", "CreateService", "UpdateService"),
      "At most 5 placement strategy rules per task or service.", _api("RunTask"))
def _placement_strategy_at_most_5(call: Call) -> Refusal | None:
    if len(param(call, "placementStrategy", default=[])) > 5:
        return _invalid("A task can have at most 5 placement strategies.")
    return None


def _task_definition(call: Call, reference: str) -> Any:
    """The task definition `family`, `family:revision` or its ARN names (the latest ACTIVE
    revision for a bare family), or None."""
    text = reference.rsplit("/", 1)[-1] if reference.startswith("arn:") else reference
    family, _, revision = text.partition(":")
    revisions = call.world.ecs().task_definitions.get(family, [])
    if revision:
        return next((td for td in revisions if str(td.revision) == revision), None)
    active = [td for td in revisions if td.status == "ACTIVE"]
    return active[-1] if active else None


@rule("task_definition_must_exist", "ecs", ("RunTask", "StartTask", "CreateService"),
      "RunTask, StartTask and CreateService refuse a task definition that does not exist.", _api("RunTask"))
def _task_definition_must_exist(call: Call) -> Refusal | None:
    reference = param(call, "taskDefinition")
    if reference and _cluster(call) is not None and _task_definition(call, reference) is None:
        return _invalid("TaskDefinition not found.")
    return None


@rule("describe_task_definition_must_exist", "ecs", "DescribeTaskDefinition",
      "DescribeTaskDefinition of a family with no ACTIVE revision, or of a revision that does not exist, is "
      "refused.", _api("DescribeTaskDefinition"))
def _describe_task_definition_must_exist(call: Call) -> Refusal | None:
    if _task_definition(call, str(param(call, "taskDefinition", default=""))) is None:
        return _client("Unable to describe task definition.")
    return None


@rule("run_task_needs_container_instances", "ecs", "RunTask",
      "RunTask (EC2) in a cluster with no registered container instance is refused, not answered with "
      "placement failures.", _api("RunTask"))
def _run_task_needs_instances(call: Call) -> Refusal | None:
    cluster = _cluster(call)
    if cluster is not None and not call.world.ecs().cluster_instances(cluster.name):
        return _invalid("No Container Instances were found in your cluster.")
    return None


@rule("stop_task_reason_at_most_255", "ecs", "StopTask", "The `reason` of StopTask is up to 255 characters.",
      _api("StopTask"))
def _stop_task_reason(call: Call) -> Refusal | None:
    if len(param(call, "reason", default="")) > 255:
        return _invalid("reason can be at most 255 characters.")
    return None


# ---- task definitions ----------------------------------------------------------------------

@rule("task_definition_family_format", "ecs", "RegisterTaskDefinition",
      "A family is up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens.",
      _api("RegisterTaskDefinition"))
def _family_format(call: Call) -> Refusal | None:
    family = param(call, "family", default="")
    if not family:
        return _client("Family can not be blank.")
    if not _NAME.fullmatch(family):
        return _client("Family contains invalid characters.")
    return None


def _containers(call: Call) -> list[dict[str, Any]]:
    return list(param(call, "containerDefinitions", default=[]))


@rule("task_definition_containers_1_to_10", "ecs", "RegisterTaskDefinition",
      "A task definition has at least one and at most 10 container definitions (a service quota that cannot "
      "be raised).", _QUOTAS)
def _containers_1_to_10(call: Call) -> Refusal | None:
    containers = _containers(call)
    if not containers:
        return _client("Container.definitions should not be empty.")
    if len(containers) > 10:
        return _client("Too many containers: a task definition can have at most 10 container definitions.")
    return None


@rule("container_name_and_image", "ecs", "RegisterTaskDefinition",
      "Each container has a name (up to 255 letters, numbers, underscores and hyphens, unique in the task "
      "definition) and an image.", _api("ContainerDefinition"))
def _container_name_and_image(call: Call) -> Refusal | None:
    seen: set[str] = set()
    for container in _containers(call):
        name = container.get("name") or ""
        if not name:
            return _client("Container.name should not be null or empty.")
        if not _NAME.fullmatch(name):
            return _client("Container.name contains invalid characters.")
        if name in seen:
            return _client(f"Container names must be unique: '{name}' is used twice.")
        seen.add(name)
        if not container.get("image"):
            return _client("Container.image should not be null or empty.")
    return None


@rule("container_memory_required_on_ec2", "ecs", "RegisterTaskDefinition",
      "Without a task-level memory, every container sets memory or memoryReservation (EC2 launch type).",
      _api("ContainerDefinition"))
def _container_memory_required(call: Call) -> Refusal | None:
    if param(call, "memory"):
        return None
    for container in _containers(call):
        if not (container.get("memory") or container.get("memoryReservation")):
            return _client(f"Invalid setting for container '{container.get('name')}'. At least one of 'memory' "
                           "or 'memoryReservation' must be specified.")
    return None


@rule("container_memory_reservation_below_memory", "ecs", "RegisterTaskDefinition",
      "Where a container sets both, memory must be greater than memoryReservation.",
      _api("ContainerDefinition"))
def _memory_reservation_below_memory(call: Call) -> Refusal | None:
    for container in _containers(call):
        hard, soft = container.get("memory"), container.get("memoryReservation")
        if hard and soft and int(soft) > int(hard):
            return _client(f"Invalid setting for container '{container.get('name')}'. 'memory' must be greater "
                           "than or equal to 'memoryReservation'.")
    return None


# ---- container instances: state and attributes ---------------------------------------------

@rule("instance_state_active_or_draining", "ecs", "UpdateContainerInstancesState",
      "UpdateContainerInstancesState only sets ACTIVE or DRAINING (REGISTERING, DEREGISTERING and "
      "REGISTRATION_FAILED are ECS's own).", _api("UpdateContainerInstancesState"))
def _state_active_or_draining(call: Call) -> Refusal | None:
    if param(call, "status") not in ("ACTIVE", "DRAINING"):
        return _invalid("Container instances status should be one of [ACTIVE, DRAINING]")
    return None


def _attributes(call: Call) -> list[dict[str, Any]]:
    return list(param(call, "attributes", default=[]))


@rule("put_attributes_at_most_10", "ecs", "PutAttributes", "PutAttributes sets 1 to 10 attributes per call.",
      _api("PutAttributes"))
def _put_attributes_at_most_10(call: Call) -> Refusal | None:
    count = len(_attributes(call))
    if count == 0:
        return _invalid("attributes cannot be empty.")
    if count > 10:
        return _invalid("attributes cannot have more than 10 elements.")
    return None


_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_./\\-]{1,128}")
_ATTRIBUTE_VALUE = re.compile(r"[A-Za-z0-9_.@/\\: -]{1,128}")


@rule("attribute_name_format", "ecs", ("PutAttributes", "DeleteAttributes"),
      "An attribute name is 1-128 letters, numbers, hyphens, underscores, forward or back slashes and periods.",
      _api("Attribute"))
def _attribute_name_format(call: Call) -> Refusal | None:
    for attribute in _attributes(call):
        if not _ATTRIBUTE_NAME.fullmatch(attribute.get("name") or ""):
            return _invalid(f"Attribute name '{attribute.get('name')}' is invalid: 1 to 128 letters, numbers, "
                            "hyphens, underscores, forward slashes, back slashes or periods.")
    return None


@rule("attribute_value_format", "ecs", "PutAttributes",
      "An attribute value is 1-128 letters, numbers, hyphens, underscores, periods, at signs, slashes, colons "
      "or spaces, not starting or ending with a space.", _api("Attribute"))
def _attribute_value_format(call: Call) -> Refusal | None:
    for attribute in _attributes(call):
        value = attribute.get("value")
        if value is None:
            continue  # a name alone is an attribute too (like the agent's capabilities)
        if not _ATTRIBUTE_VALUE.fullmatch(value) or value != value.strip(" "):
            return _invalid(f"Attribute value '{value}' of '{attribute.get('name')}' is invalid: 1 to 128 letters, "
                            "numbers, hyphens, underscores, periods, at signs, slashes, colons or spaces, not "
                            "starting or ending with a space.")
    return None


@rule("attribute_target_type_for_short_ids", "ecs", ("PutAttributes", "DeleteAttributes"),
      "An attribute whose targetId is a short ID (not an ARN) names its targetType (container-instance, the "
      "model's only value, is checked by the input layer).", _api("Attribute"))
def _attribute_target_type(call: Call) -> Refusal | None:
    for attribute in _attributes(call):
        if attribute.get("targetType") is None and not str(attribute.get("targetId") or "").startswith("arn:"):
            return _invalid("targetType is required when targetId is not a full ARN.")
    return None


@rule("attribute_target_must_exist", "ecs", ("PutAttributes", "DeleteAttributes"),
      "The target of an attribute is a container instance of the call's cluster.", _api("PutAttributes"))
def _attribute_target_must_exist(call: Call) -> Refusal | None:
    if _cluster(call) is None:
        return None
    for attribute in _attributes(call):
        target = str(attribute.get("targetId") or "")
        if _instance(call, target) is None:
            return Refusal("TargetNotFoundException", f"Could not find {target}.")
    return None


def _custom(names: Iterable[str]) -> set[str]:
    """Attributes ECS and its agent set (ecs.*, com.amazonaws.ecs.*) do not count against the limit."""
    return {n for n in names if not n.startswith(("ecs.", "com.amazonaws.ecs."))}


@rule("custom_attributes_at_most_10", "ecs", "PutAttributes",
      "A resource carries at most 10 custom attributes.", _api("PutAttributes"))
def _custom_attributes_at_most_10(call: Call) -> Refusal | None:
    if _cluster(call) is None:
        return None
    added: dict[str, set[str]] = {}
    for attribute in _attributes(call):
        added.setdefault(str(attribute.get("targetId") or ""), set()).add(str(attribute.get("name")))
    for target, names in added.items():
        ci = _instance(call, target)
        if ci is not None and len(_custom(ci.attributes) | _custom(names)) > 10:
            return Refusal("AttributeLimitExceededException",
                           "You can apply up to 10 custom attributes for each resource.")
    return None


# ---- agent updates -------------------------------------------------------------------------

def _agent_check(name: str, summary: str, refusal: Callable[[Any, Call], Refusal | None]) -> Rule:
    """A rule on the container instance UpdateContainerAgent names (an unknown one is the
    emulator's to refuse)."""

    @rule(name, "ecs", "UpdateContainerAgent", summary, _api("UpdateContainerAgent"))
    def check(call: Call) -> Refusal | None:
        if _cluster(call) is None:
            return None
        ci = _instance(call, str(param(call, "containerInstance", default="")))
        return None if ci is None else refusal(ci, call)

    return check


_AGENT_RULES = (
    _agent_check(
        "agent_update_needs_version_info",
        "An instance whose agent reports no version information (a custom or very old agent) cannot be updated.",
        lambda ci, _: None if ci.agent_hash else Refusal(
            "MissingVersionException",
            "Amazon ECS can't determine the current version of the Amazon ECS container agent on the container "
            "instance and doesn't have enough information to proceed with an update.")),
    _agent_check(
        "agent_update_not_on_windows",
        "Agent updates through the API do not apply to Windows container instances (launch new instances).",
        lambda ci, _: _invalid("Update not supported on Windows platform.")
        if ci.attributes.get("ecs.os-type") == "windows" else None),
    _agent_check(
        "agent_update_not_on_arm64",
        "UpdateContainerAgent is not supported on the arm64 ECS-optimized AMIs (update the ecs-init package "
        "instead).",
        lambda ci, _: _invalid("Update not supported on Arm architecture.")
        if ci.attributes.get("ecs.cpu-architecture") == "arm64" else None),
    _agent_check(
        "agent_update_needs_connected_agent",
        "The agent must be connected to be updated.",
        lambda ci, _: None if ci.agent_connected else _client("The container instance's agent is not connected.")),
    _agent_check(
        "agent_update_not_while_in_progress",
        "An update already PENDING, STAGING, STAGED or UPDATING refuses another one.",
        lambda ci, _: Refusal(
            "UpdateInProgressException",
            "There's already a current Amazon ECS container agent update in progress on the container instance "
            "that's specified.") if ci.agent_update_status in AGENT_UPDATE_IN_FLIGHT else None),
    _agent_check(
        "agent_update_needs_an_update",
        "An agent already on the latest version has no update available.",
        lambda ci, call: None if call.world.ecs().update_available(ci) else Refusal(
            "NoUpdateAvailableException",
            "There is no update available for your container instance's agent.")),
)


# ---- tags ----------------------------------------------------------------------------------

_TAGGED = ("TagResource", "CreateCluster", "RegisterTaskDefinition", "RunTask", "StartTask", "CreateService")


def _tag_problem(tags: list[dict[str, Any]]) -> str | None:
    # Lengths and the 50 tags of one call are the model's, checked by the input layer; what is
    # left is the total on the resource and the reserved prefix.
    if len(tags) > 50:
        return "A resource can have at most 50 tags."
    reserved = [str(t.get("key")) for t in tags if str(t.get("key") or "").lower().startswith("aws:")]
    if reserved:
        return f"Tag key '{reserved[0]}' uses the reserved prefix aws:, which is for AWS use."
    return None


@rule("tags_limits", "ecs", _TAGGED,
      "A resource has at most 50 tags (those it has plus those TagResource adds); the aws: prefix is reserved.",
      _api("Tag"))
def _tags_limits(call: Call) -> Refusal | None:
    tags = list(param(call, "tags", default=[]))
    if call.operation == "TagResource":
        existing = call.world.ecs().resource_tags.get(param(call, "resourceArn", default=""), [])
        keys = {t.get("key") for t in tags}
        tags = [t for t in existing if t.get("key") not in keys] + tags
    problem = _tag_problem(tags)
    return None if problem is None else _invalid(problem)


RULES: tuple[Rule, ...] = (
    _cluster_name_format,
    *_BATCHES,
    _describe_clusters_at_most_100,
    _list_max_results,
    _list_tasks_family_format,
    _list_tasks_started_by_alone,
    _run_task_count,
    _run_task_started_by,
    _placement_constraint_expression,
    _placement_strategy_at_most_5,
    _stop_task_reason,
    _family_format,
    _containers_1_to_10,
    _container_name_and_image,
    _container_memory_required,
    _memory_reservation_below_memory,
    _state_active_or_draining,
    _put_attributes_at_most_10,
    _attribute_name_format,
    _attribute_value_format,
    _attribute_target_type,
    _tags_limits,
    # Checks that read the emulated world come after the parameter checks.
    _cluster_must_exist,
    _delete_cluster_without_instances,
    _delete_cluster_without_services,
    _task_definition_must_exist,
    _describe_task_definition_must_exist,
    _placement_constraints_at_most_10,
    _run_task_needs_instances,
    _attribute_target_must_exist,
    _custom_attributes_at_most_10,
    *_AGENT_RULES,
    not_enforced(
        "delete_cluster_without_tasks", "ecs", "DeleteCluster",
        "A cluster cannot be deleted while it has active tasks (ClusterContainsTasksException).",
        _api("DeleteCluster"),
        why="On EC2 every task runs on a registered container instance, so ClusterContainsContainerInstances"
            "Exception always answers first; only Fargate tasks could reach this refusal."),
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "UpdateContainerAgent on Windows and arm64 instances: AWS documents that it is not supported but not the "
    "error code; the sandbox answers InvalidParameterException with the message the ECS console shows for arm64 "
    "('Update not supported on Arm architecture.'). A client should treat any refusal naming the host as "
    "'skip this host'.",
    "Messages of InvalidParameterException for batch sizes, maxResults, tags and placement limits follow the "
    "documentation's wording; AWS's exact text is not published for each.",
    "UpdateContainerInstancesState on a deregistered (INACTIVE) container instance answers a failure with reason "
    "INACTIVE (an unknown one: MISSING) and changes nothing; AWS's exact reason for INACTIVE is not documented.",
    "Cluster query language expressions are not parsed for syntax: an expression the emulator's matcher does not "
    "understand matches no instance instead of being refused.",
    "Fargate, awsvpc ENI limits, capacity providers and task-level cpu/memory combinations are not emulated.",
)
