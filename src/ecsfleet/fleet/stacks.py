"""Observe: the CloudFormation stacks of one infra.yml's cluster, and which of them ecsfleet owns.

A stack is ecsfleet's when its name is `<cluster>-cluster` or `<cluster>-asg-<version>` and it
carries the tag `ecsfleet:cluster=<cluster>` that every deploy sets. A stack with such a name but
without the tag (made by hand, or by another tool) is reported and never changed or deleted.
ecs-cluster-deployer's stacks get the tags from `fleet adopt` (with `ecsfleet:adopted`), and an
adopted cluster stack keeps the original's resources and exports (`adopted_cluster_template`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from ..aws import Clients, error_code, paginate
from ..errors import UserError
from .schema import Infra
from .templates import CLUSTER_TAG, VERSION_TAG, cluster_stack_name, compute_stack_prefix

ADOPTED_TAG = "ecsfleet:adopted"  # value: the tool that created the stack (ecs-cluster-deployer)


@dataclass(frozen=True)
class Stack:
    name: str
    status: str
    parameters: Mapping[str, str]
    tags: Mapping[str, str]
    outputs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    template: Mapping[str, Any] | None = None
    created: str = ""

    @property
    def version(self) -> str | None:
        return self.tags.get(VERSION_TAG)

    @property
    def fleet_status(self) -> str:
        """active | inactive: the compute stack's `Status` parameter."""
        return self.parameters.get("Status", "inactive")

    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS")

    def owned_by(self, cluster: str) -> bool:
        return self.tags.get(CLUSTER_TAG) == cluster

    @property
    def adopted(self) -> bool:
        """Created by another tool (ecs-cluster-deployer), taken over by `fleet adopt`."""
        return bool(self.tags.get(ADOPTED_TAG))


@dataclass(frozen=True)
class FleetStacks:
    """The stacks of one cluster: its cluster stack and one compute stack per version."""

    cluster: Stack | None
    compute: tuple[Stack, ...]
    foreign: tuple[Stack, ...] = ()

    def version(self, version: str) -> Stack | None:
        return next((s for s in self.compute if s.version == version), None)


def parse_stack(doc: Mapping[str, Any], template: Mapping[str, Any] | None = None) -> Stack:
    return Stack(
        name=doc["StackName"],
        status=doc.get("StackStatus", ""),
        parameters=MappingProxyType({p["ParameterKey"]: p.get("ParameterValue", "")
                                     for p in doc.get("Parameters") or []}),
        tags=MappingProxyType({t["Key"]: t.get("Value", "") for t in doc.get("Tags") or []}),
        outputs=MappingProxyType({o["OutputKey"]: str(o.get("OutputValue", "")) for o in doc.get("Outputs") or []}),
        template=template,
        created=str(doc.get("CreationTime", "")),
    )


def template_body(raw: Any) -> dict[str, Any]:
    """GetTemplate answers a dict for JSON templates and a string for YAML ones."""
    if isinstance(raw, Mapping):
        return dict(json.loads(json.dumps(raw)))
    text = str(raw)
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = yaml.safe_load(text)
    return loaded if isinstance(loaded, dict) else {}


def read_stacks(clients: Clients, infra: Infra, with_templates: bool = False) -> FleetStacks:
    """One DescribeStacks walk (paginated), and GetTemplate for our stacks when asked."""
    cfn = clients("cloudformation")
    name = infra.cluster.name
    cluster_name, prefix = cluster_stack_name(infra), compute_stack_prefix(infra)
    found: list[Stack] = []
    for doc in paginate(cfn, "describe_stacks", "Stacks"):
        stack_name = doc["StackName"]
        if stack_name != cluster_name and not stack_name.startswith(prefix):
            continue
        template = None
        if with_templates and doc.get("Tags") and any(
                t["Key"] == CLUSTER_TAG and t.get("Value") == name for t in doc["Tags"]):
            template = template_body(cfn.get_template(StackName=stack_name)["TemplateBody"])
        found.append(parse_stack(doc, template))
    ours = [s for s in found if s.owned_by(name)]
    cluster = next((s for s in ours if s.name == cluster_name), None)
    compute = tuple(sorted((s for s in ours if s.name != cluster_name and s.version), key=lambda s: s.created))
    return FleetStacks(cluster=cluster, compute=compute, foreign=tuple(s for s in found if not s.owned_by(name)))


def stack_resources(clients: Clients, stack: str) -> dict[str, tuple[str, str]]:
    """Logical id -> (type, physical id) of a stack's resources."""
    cfn = clients("cloudformation")
    try:
        docs = paginate(cfn, "list_stack_resources", "StackResourceSummaries", StackName=stack)
    except Exception as error:
        if error_code(error) == "ValidationError":
            return {}
        raise
    return {d["LogicalResourceId"]: (d["ResourceType"], d.get("PhysicalResourceId", "")) for d in docs}


def export_name(output: Mapping[str, Any], stack_name: str) -> str:
    """An output's export name, with the `${AWS::StackName}` the original wrote resolved."""
    name = (output.get("Export") or {}).get("Name", "")
    if isinstance(name, Mapping) and isinstance(name.get("Fn::Sub"), str):
        name = name["Fn::Sub"].replace("${AWS::StackName}", stack_name)
    return name if isinstance(name, str) else json.dumps(name, sort_keys=True)


def adopted_cluster_template(wanted: Mapping[str, Any], deployed: Mapping[str, Any],
                             stack_name: str) -> dict[str, Any]:
    """The template of an adopted cluster stack: everything the original deployed, as it was
    (its ECS cluster, its badge security groups and their exports, which its compute stacks
    import and CloudFormation will not change while they do), plus ecsfleet's resources and
    outputs that it lacks. A logical id or export name both have keeps the original's, so an
    update never replaces the ECS cluster nor changes an export in use; ecsfleet's references to
    such an id then point at the original's resource of that id."""
    resources = dict(deployed.get("Resources") or {})
    for logical_id, resource in (wanted.get("Resources") or {}).items():
        kept = resources.get(logical_id)
        if kept is not None and kept.get("Type") != resource.get("Type"):
            raise UserError(f"stack {stack_name}: the original's resource {logical_id} is a {kept.get('Type')}, "
                            f"ecsfleet's is a {resource.get('Type')}: ecsfleet cannot merge them")
        resources.setdefault(logical_id, resource)
    outputs = dict(deployed.get("Outputs") or {})
    exported = {export_name(o, stack_name) for o in outputs.values() if o.get("Export")}
    for key, output in (wanted.get("Outputs") or {}).items():
        if key not in outputs and not (output.get("Export") and export_name(output, stack_name) in exported):
            outputs[key] = output
    merged: dict[str, Any] = {**deployed, **{k: v for k, v in wanted.items() if k == "Description"},
                              "Resources": resources, "Outputs": outputs}
    for section in ("Parameters", "Conditions", "Mappings"):
        both = {**(wanted.get(section) or {}), **(deployed.get(section) or {})}
        if both:
            merged[section] = both
    return merged
