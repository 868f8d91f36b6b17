"""Observe: the CloudFormation stacks of one infra.yml's cluster, and which of them ecsfleet owns.

A stack is ecsfleet's when its name is `<cluster>-cluster` or `<cluster>-asg-<version>` and it
carries the tag `ecsfleet:cluster=<cluster>` that every deploy sets. A stack with such a name but
without the tag (made by hand, or by another tool) is reported and never changed or deleted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from ..aws import Clients, error_code, paginate
from .schema import Infra
from .templates import CLUSTER_TAG, VERSION_TAG, cluster_stack_name, compute_stack_prefix


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
