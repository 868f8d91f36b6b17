"""`fleet adopt`: take over a cluster ecs-cluster-deployer deployed, without replacing anything.

Observe the stacks of the infra.yml's cluster name, recognise the original's by name and shape
(`<name>-cluster` holding the ECS cluster as its resource `Cluster`; `<name>-asg-<version>`
holding spot fleets or Auto Scaling groups and a `Status` parameter active|inactive), plan, then
apply: one UpdateStack per stack that keeps its template's resources and its parameters' values
and adds ecsfleet's ownership tags (`ecsfleet:cluster`, `ecsfleet:version` on compute stacks,
`ecsfleet:adopted=ecs-cluster-deployer`). The only template change is that the original's
scheduled rules (its scaler and metrics Lambda functions' crons) are disabled: the original's
scaler lowered an inactive fleet's target without draining, and would fight ecsfleet's deflation.

The plan is pure and refuses, listing every problem at once, what it cannot adopt: a stack of
another shape, a stack in a state no update can start from, a stack another cluster owns.
Adoption is idempotent: a stack already ours is left alone, so an interrupted adopt is finished by
running it again; compute stacks are adopted before the cluster stack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..aws import Clients, paginate
from ..errors import UserError
from .deploy import CAPABILITIES, FAILED_CREATE, STUCK, DeployError, Echo, no_updates, wait_for_stack
from .schema import Infra
from .stacks import ADOPTED_TAG, Stack, parse_stack, stack_resources, template_body
from .templates import CLUSTER_TAG, VERSION_TAG, cluster_stack_name, compute_stack_prefix, safe_version

ORIGINAL = "ecs-cluster-deployer"
ECS_CLUSTER = "AWS::ECS::Cluster"
FLEET_TYPES = ("AWS::EC2::SpotFleet", "AWS::AutoScaling::AutoScalingGroup")
RULE = "AWS::Events::Rule"


@dataclass(frozen=True)
class Found:
    """One stack of the cluster's names, with what adoption reads of it."""

    stack: Stack
    resources: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # logical id -> (type, physical id)


@dataclass(frozen=True)
class Adoption:
    """One stack to take over: the tags it gets and the scheduled rules that are disabled."""

    stack: str
    kind: Literal["cluster", "compute"]
    tags: Mapping[str, str]
    parameters: tuple[str, ...]
    version: str | None = None
    status: str = ""
    fleets: tuple[str, ...] = ()
    disable_rules: tuple[str, ...] = ()

    def describe(self) -> str:
        what = (f"fleet {self.version} ({self.status}: {', '.join(self.fleets)})" if self.kind == "compute"
                else "cluster stack (ECS cluster kept)")
        parts = [f"tag {', '.join(f'{k}={v}' for k, v in self.tags.items() if k.startswith('ecsfleet:'))}",
                 f"keep the template and {len(self.parameters)} parameter value(s)"]
        if self.disable_rules:
            parts.append(f"disable the original's scheduled rule(s) {', '.join(self.disable_rules)}")
        return f"{self.stack}: adopt {what}: {'; '.join(parts)}"


@dataclass(frozen=True)
class AdoptionPlan:
    cluster: str
    adoptions: tuple[Adoption, ...]
    already: tuple[str, ...] = ()  # stacks that are ecsfleet's already
    left: tuple[str, ...] = ()  # stacks adoption reads but leaves as they are

    def lines(self) -> list[str]:
        lines = [a.describe() for a in self.adoptions]
        lines += [f"{name}: already managed by ecsfleet" for name in self.already]
        lines += [f"{name}: left as it is" for name in self.left]
        return lines


def health_stack_name(infra: Infra) -> str:
    return f"{infra.cluster.name}-cluster-health-task"


def observe(clients: Clients, infra: Infra) -> list[Found]:
    """DescribeStacks (paginated); GetTemplate and ListStackResources of each stack of the
    cluster's names that is not ecsfleet's yet."""
    cfn = clients("cloudformation")
    names = {cluster_stack_name(infra), health_stack_name(infra)}
    prefix = compute_stack_prefix(infra)
    found = []
    for doc in paginate(cfn, "describe_stacks", "Stacks"):
        name = doc["StackName"]
        if name not in names and not name.startswith(prefix):
            continue
        stack = parse_stack(doc)
        if stack.owned_by(infra.cluster.name) or name == health_stack_name(infra):
            found.append(Found(stack))
            continue
        template = template_body(cfn.get_template(StackName=name)["TemplateBody"])
        found.append(Found(parse_stack(doc, template), stack_resources(clients, name)))
    return found


def _scheduled_rules(template: Mapping[str, Any]) -> tuple[str, ...]:
    """The original's crons (its metrics and scaler Lambda functions), still enabled."""
    return tuple(sorted(k for k, r in (template.get("Resources") or {}).items()
                        if r.get("Type") == RULE and (r.get("Properties") or {}).get("ScheduleExpression")
                        and (r.get("Properties") or {}).get("State", "ENABLED") != "DISABLED"))


def _state_problem(stack: Stack) -> str | None:
    if stack.in_progress:
        return f"{stack.name}: busy ({stack.status}); try again when it settles"
    if stack.status in STUCK or stack.status == FAILED_CREATE:
        return f"{stack.name}: in {stack.status}, which no update can start from; resolve it first"
    return None


def _cluster_adoption(name: str, found: Found) -> tuple[Adoption | None, list[str]]:
    stack = found.stack
    kind, physical = found.resources.get("Cluster", ("", ""))
    if kind != ECS_CLUSTER or physical.rsplit("/", 1)[-1] != name:
        seen = ", ".join(f"{k} ({t})" for k, (t, _) in found.resources.items() if t == ECS_CLUSTER) or "none"
        return None, [f"{stack.name}: not ecs-cluster-deployer's cluster stack: expected its ECS cluster "
                      f"'{name}' as the resource Cluster ({ECS_CLUSTER}); found ECS clusters: {seen}"]
    tags = {**stack.tags, CLUSTER_TAG: name, ADOPTED_TAG: ORIGINAL}
    return Adoption(stack.name, "cluster", tags, tuple(stack.parameters),
                    disable_rules=_scheduled_rules(stack.template or {})), []


def _compute_adoption(name: str, prefix: str, found: Found) -> tuple[Adoption | None, list[str]]:
    stack = found.stack
    version = stack.name[len(prefix):]
    problems = []
    status = stack.parameters.get("Status")
    if status not in ("active", "inactive"):
        problems.append(f"{stack.name}: not an ecs-cluster-deployer fleet: expected a Status parameter "
                        f"active|inactive (got {status!r})")
    fleets = tuple(sorted(k for k, (t, _) in found.resources.items() if t in FLEET_TYPES))
    if not fleets:
        problems.append(f"{stack.name}: not an ecs-cluster-deployer fleet: it holds no spot fleet or Auto "
                        f"Scaling group")
    try:
        usable = safe_version(version) == version
    except ValueError:
        usable = False
    if not usable:
        problems.append(f"{stack.name}: version {version!r} cannot be an ecsfleet version (letters, digits and "
                        f"hyphens, at most 40)")
    if problems:
        return None, problems
    tags = {**stack.tags, CLUSTER_TAG: name, VERSION_TAG: version, ADOPTED_TAG: ORIGINAL}
    return Adoption(stack.name, "compute", tags, tuple(stack.parameters), version, str(status), fleets,
                    _scheduled_rules(stack.template or {})), []


def plan_adoption(infra: Infra, found: Sequence[Found]) -> AdoptionPlan:
    """Pure: what adopting these stacks changes. Raises UserError listing every stack it cannot adopt."""
    name, prefix = infra.cluster.name, compute_stack_prefix(infra)
    cluster_name = cluster_stack_name(infra)
    problems: list[str] = []
    adoptions: list[Adoption] = []
    already: list[str] = []
    left = [f.stack.name for f in found if f.stack.name == health_stack_name(infra)]
    candidates = [f for f in found if f.stack.name != health_stack_name(infra)]
    if not any(f.stack.name == cluster_name for f in candidates):
        problems.append(f"no stack {cluster_name}: `fleet adopt` takes over a cluster ecs-cluster-deployer "
                        f"deployed (its cluster stack and its {prefix}<version> fleets)")
    for item in sorted(candidates, key=lambda f: (f.stack.name == cluster_name, f.stack.created)):
        stack = item.stack
        owner = stack.tags.get(CLUSTER_TAG)
        if owner == name:
            already.append(stack.name)
            continue
        if owner is not None:
            problems.append(f"{stack.name}: name collision: ecsfleet manages it for cluster '{owner}', not '{name}'")
            continue
        state = _state_problem(stack)
        if state:
            problems.append(state)
            continue
        adoption, found_problems = (_cluster_adoption(name, item) if stack.name == cluster_name
                                    else _compute_adoption(name, prefix, item))
        problems += found_problems
        if adoption is not None:
            adoptions.append(adoption)
    if problems:
        raise UserError(f"cannot adopt cluster {name}: {len(problems)} problem(s)\n" + "\n".join(problems))
    return AdoptionPlan(name, tuple(adoptions), tuple(already), tuple(left))


def _disabled(template: Mapping[str, Any], rules: Sequence[str]) -> str:
    """The deployed template with those rules' State DISABLED, nothing else changed."""
    changed = json.loads(json.dumps(template))
    for rule in rules:
        changed["Resources"][rule].setdefault("Properties", {})["State"] = "DISABLED"
    return json.dumps(changed)


def _kept_parameters(keys: Sequence[str], deployed: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every parameter with the value DescribeStacks shows. The original passed only `Version`;
    the others took their defaults, which are the deployed values now (the same as UsePreviousValue
    on AWS, and what the sandbox can resolve). A NoEcho value is masked: it keeps its previous one."""
    return [{"ParameterKey": k, "UsePreviousValue": True} if deployed.get(k, "****") == "****"
            else {"ParameterKey": k, "ParameterValue": deployed[k]} for k in keys]


def apply_adoption(clients: Clients, plan: AdoptionPlan, found: Sequence[Found], echo: Echo,
                   poll: float = 5.0) -> None:
    """One UpdateStack per adoption, in the plan's order (fleets first, the cluster stack last),
    each followed to its end. Every parameter keeps its deployed value."""
    cfn = clients("cloudformation")
    templates = {f.stack.name: f.stack.template or {} for f in found}
    parameters = {f.stack.name: f.stack.parameters for f in found}
    for adoption in plan.adoptions:
        args: dict[str, Any] = {
            "StackName": adoption.stack,
            "Parameters": _kept_parameters(adoption.parameters, parameters[adoption.stack]),
            "Tags": [{"Key": k, "Value": v} for k, v in adoption.tags.items()],
            "Capabilities": CAPABILITIES,
        }
        if adoption.disable_rules:
            args["TemplateBody"] = _disabled(templates[adoption.stack], adoption.disable_rules)
        else:
            args["UsePreviousTemplate"] = True
        try:
            cfn.update_stack(**args)
        except Exception as error:
            if no_updates(error):
                continue
            raise DeployError(f"{adoption.stack}: CloudFormation refused the adoption: {error}") from error
        echo(f"{adoption.stack}: adopting")
        wait_for_stack(clients, adoption.stack, echo, poll)


def adopt(clients: Clients, infra: Infra, echo: Echo, dry_run: bool = False, poll: float = 5.0) -> AdoptionPlan:
    found = observe(clients, infra)
    plan = plan_adoption(infra, found)
    for line in plan.lines():
        echo(line)
    if not plan.adoptions:
        echo("nothing to adopt")
    elif dry_run:
        echo(f"dry run: {len(plan.adoptions)} stack(s) would be adopted, nothing changed")
    else:
        apply_adoption(clients, plan, found, echo, poll)
        echo(f"adopted {len(plan.adoptions)} stack(s): `ecsfleet fleet rollout` deploys a new version, then drains "
             f"and deletes the older fleets")
    return plan
