"""The sandbox's rules for CloudFormation: each a documented refusal of the API, checked before moto.

moto validates almost nothing of a stack request: it ignores parameter constraints (and crashes on
a non-number for a `Number` parameter), takes IAM resources without capabilities, answers an
identical update with a new UPDATE_COMPLETE, and updates a stack in any state. These rules answer
what CloudFormation answers, synchronously, before the stack operation starts.

The template a call is checked against is its `TemplateBody`, or the stack's own template for an
update with `UsePreviousTemplate` (a `TemplateURL` is not read: ecsfleet never sends one).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from ..moto_fleets import walk_template
from .base import Call, Refusal, Rule, as_mapping, param, rule, validation

_API = "https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference"
_CREATE = f"{_API}/API_CreateStack.html"
_UPDATE = f"{_API}/API_UpdateStack.html"
_DESCRIBE = f"{_API}/API_DescribeStacks.html"
_GUIDE = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide"
_LIMITS = f"{_GUIDE}/cloudformation-limits.html"
_PARAMETERS = f"{_GUIDE}/parameters-section-structure.html"
_TEMPLATE_ERRORS = f"{_GUIDE}/troubleshooting.html"
_CAPABILITIES = f"{_GUIDE}/control-access-with-iam.html#using-iam-capabilities"

CREATE_UPDATE = ("CreateStack", "UpdateStack")
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]*")
MAX_STACK_NAME = 128
MAX_TEMPLATE_BODY = 51_200
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
# Stack states an update may start from (UpdateStack: "can not be updated" otherwise).
UPDATABLE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_FAILED",
                       "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"})
IAM_TYPES = frozenset({"AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::InstanceProfile",
                       "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::User",
                       "AWS::IAM::UserToGroupAddition", "AWS::IAM::RolePolicy", "AWS::IAM::UserPolicy",
                       "AWS::IAM::GroupPolicy"})
# The property that gives an IAM resource a custom name (which needs CAPABILITY_NAMED_IAM).
IAM_NAME_PROPERTY = {"AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::Group": "GroupName",
                     "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
                     "AWS::IAM::InstanceProfile": "InstanceProfileName"}
_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


# ---- reading the call: its stack, its template, its parameters ---------------------------------

def _stack(call: Call, name: str | None = None) -> Any:
    """moto's live stack of that name or id, or the deleted stack of that id (AWS still describes
    a deleted stack by its id, never by its name)."""
    wanted = name if name is not None else param(call, "StackName")
    if not isinstance(wanted, str) or not wanted:
        return None
    backend = call.world.moto("cloudformation")
    for stack in backend.stacks.values():
        if wanted in (stack.name, stack.stack_id):
            return stack
    return backend.deleted_stacks.get(wanted)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms: `!Ref X` -> {"Ref": X}, `!GetAtt A.B` ->
    {"Fn::GetAtt": [A, B]}, `!Sub ...` -> {"Fn::Sub": ...}, `!Condition C`."""


def _short_form(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _short_form)


class TemplateError(ValueError):
    """The template body is not a template: AWS's "Template format error: ..." message."""


@functools.lru_cache(maxsize=16)
def parse_template(body: str) -> Mapping[str, Any]:
    """A template body as CloudFormation reads it: JSON when it opens with `{`, else YAML."""
    if body.lstrip().startswith("{"):
        try:
            loaded = json.loads(body)
        except json.JSONDecodeError as error:
            raise TemplateError(f"Template format error: JSON not well-formed. (line {error.lineno}, "
                                f"column {error.colno})") from error
    else:
        try:
            loaded = yaml.load(body, Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise TemplateError(f"Template format error: YAML not well-formed.{where}") from error
    if not isinstance(loaded, dict):
        raise TemplateError("Template format error: unsupported structure.")
    return loaded


def _body(call: Call) -> str | None:
    """The template text the call deploys: its body, or the stack's for UsePreviousTemplate."""
    body = param(call, "TemplateBody")
    if isinstance(body, str):
        return body
    if call.operation == "UpdateStack" and param(call, "UsePreviousTemplate") is True:
        stack = _stack(call)
        if stack is not None:
            return stack.template if isinstance(stack.template, str) else json.dumps(stack.template)
    return None


def _template(call: Call) -> Mapping[str, Any] | None:
    """The call's template when it reads as one (the format rules refuse the others first)."""
    body = _body(call)
    if body is None:
        return None
    try:
        return parse_template(body)
    except TemplateError:
        return None


def _declared(template: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(template.get("Parameters"))


def _resources(template: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(template.get("Resources"))


def _given(call: Call) -> list[Mapping[str, Any]]:
    return [as_mapping(p) for p in param(call, "Parameters", default=[]) if as_mapping(p).get("ParameterKey")]


def _previous(call: Call) -> Mapping[str, str]:
    """The parameter values the stack was last deployed with, as strings: those it was given, and
    the Defaults it took for the others (moto keeps the latter only in its resolved values)."""
    stack = _stack(call)
    if stack is None:
        return {}
    values = {**stack.stack_parameters, **stack.parameters}
    return {str(k): ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in values.items()
            if v is not None}


def _values(call: Call) -> dict[str, str]:
    """The values the call passes for its template's parameters (UsePreviousValue resolved)."""
    previous = _previous(call) if call.operation == "UpdateStack" else {}
    values: dict[str, str] = {}
    for given in _given(call):
        key = str(given["ParameterKey"])
        if given.get("UsePreviousValue") is True:
            if key in previous:
                values[key] = previous[key]
        elif given.get("ParameterValue") is not None:
            values[key] = str(given["ParameterValue"])
    return values


def _effective(template: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, str]:
    """Every declared parameter's value: the one passed, else its Default (a missing one is
    left out)."""
    result = {}
    for name, spec in _declared(template).items():
        if name in values:
            result[name] = values[name]
        elif isinstance(spec, Mapping) and spec.get("Default") is not None:
            default = spec["Default"]
            result[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
    return result


def _passed(call: Call) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """(name, declaration, value) of each declared parameter the call gives a value."""
    template = _template(call)
    if template is None:
        return
    declared = _declared(template)
    for name, value in _values(call).items():
        spec = declared.get(name)
        if isinstance(spec, Mapping):
            yield name, spec, value


def _members(spec: Mapping[str, Any], value: str) -> list[str]:
    kind = str(spec.get("Type", "String"))
    return [v.strip() for v in value.split(",")] if kind.startswith("List<") or kind == "CommaDelimitedList" \
        else [value]


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _is_numeric(spec: Mapping[str, Any]) -> bool:
    return str(spec.get("Type", "")) in ("Number", "List<Number>")


def _names_used(node: Any) -> Iterator[str]:
    """Logical names a template block points at: Ref, Fn::GetAtt, Fn::Sub's ${...} (not its own
    variables, not ${!literal}), DependsOn."""
    for item in walk_template(node):
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("Ref"), str):
            yield item["Ref"]
        getatt = item.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and isinstance(getatt[0], str):
            yield getatt[0]
        sub = item.get("Fn::Sub")
        text, own = (sub, {}) if isinstance(sub, str) else (
            (sub[0], as_mapping(sub[1])) if isinstance(sub, list) and len(sub) == 2 and isinstance(sub[0], str)
            else ("", {}))
        for variable in _SUB_VARIABLE.findall(text):
            name = variable.split(".", 1)[0].strip()
            if name not in own:
                yield name


def _depends_on(resource: Any) -> list[str]:
    depends = as_mapping(resource).get("DependsOn")
    if isinstance(depends, str):
        return [depends]
    return [d for d in depends if isinstance(d, str)] if isinstance(depends, list) else []


def _stack_name_error(value: str, constraint: str) -> Refusal:
    return validation(f"1 validation error detected: Value '{value}' at 'stackName' failed to satisfy "
                      f"constraint: {constraint}")


# ---- the rules ----------------------------------------------------------------------------------

@rule("stack_name_pattern_and_length", "cloudformation", "CreateStack",
      "A stack name starts with a letter, holds only letters, digits and hyphens, and has at most "
      "128 characters.", _CREATE)
def _stack_name(call: Call) -> Refusal | None:
    name = str(param(call, "StackName", default=""))
    if len(name) > MAX_STACK_NAME:
        return _stack_name_error(name, f"Member must have length less than or equal to {MAX_STACK_NAME}")
    if not STACK_NAME.fullmatch(name):
        return _stack_name_error(name, "Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
    return None


@rule("template_given_once", "cloudformation", CREATE_UPDATE,
      "A create gives TemplateBody or TemplateURL; an update gives one of TemplateBody, TemplateURL "
      "and UsePreviousTemplate.", _UPDATE)
def _template_given(call: Call) -> Refusal | None:
    given = [k for k in ("TemplateBody", "TemplateURL") if param(call, k) is not None]
    previous = call.operation == "UpdateStack" and param(call, "UsePreviousTemplate") is True
    if previous and given:
        return validation("You cannot specify both usePreviousTemplate and Template Body/Template URL.")
    if len(given) > 1:
        return validation("You cannot specify both Template URL and Template Body.")
    if not given and not previous:
        return validation("Either Template URL or Template Body must be specified.")
    return None


@rule("template_body_size", "cloudformation", CREATE_UPDATE,
      "TemplateBody holds at most 51,200 bytes (a larger template goes through TemplateURL).", _LIMITS)
def _template_size(call: Call) -> Refusal | None:
    body = param(call, "TemplateBody")
    if isinstance(body, str) and len(body.encode()) > MAX_TEMPLATE_BODY:
        # AWS quotes the whole body in the message; its head is enough to recognise it.
        return validation(f"1 validation error detected: Value '{body[:64]}...' at 'templateBody' failed to "
                          f"satisfy constraint: Member must have length less than or equal to {MAX_TEMPLATE_BODY}")
    return None


@rule("template_well_formed", "cloudformation", CREATE_UPDATE,
      "The template is a JSON or YAML mapping.", _TEMPLATE_ERRORS)
def _template_format(call: Call) -> Refusal | None:
    body = param(call, "TemplateBody")
    if not isinstance(body, str):
        return None
    try:
        parse_template(body)
    except TemplateError as error:
        return validation(str(error))
    return None


@rule("template_declares_resources", "cloudformation", CREATE_UPDATE,
      "A template declares at least one resource, and every resource has a Type.", _TEMPLATE_ERRORS)
def _has_resources(call: Call) -> Refusal | None:
    template = _template(call)
    if template is None:
        return None
    resources = _resources(template)
    if not resources:
        return validation("Template format error: At least one Resources member must be defined.")
    if any(not isinstance(as_mapping(r).get("Type"), str) for r in resources.values()):
        return validation("Template format error: Every Resources object must contain a Type member.")
    return None


@rule("template_resource_limit", "cloudformation", CREATE_UPDATE,
      "A template declares at most 500 resources.", _LIMITS)
def _resource_limit(call: Call) -> Refusal | None:
    template = _template(call)
    count = len(_resources(template)) if template is not None else 0
    if count > MAX_RESOURCES:
        return validation(f"Template format error: Number of resources, {count}, is greater than maximum "
                          f"allowed, {MAX_RESOURCES}")
    return None


@rule("template_parameter_limit", "cloudformation", CREATE_UPDATE,
      "A template declares at most 200 parameters.", _LIMITS)
def _parameter_limit(call: Call) -> Refusal | None:
    template = _template(call)
    count = len(_declared(template)) if template is not None else 0
    if count > MAX_PARAMETERS:
        return validation(f"Template format error: Parameter count {count} is greater than max allowed "
                          f"{MAX_PARAMETERS}")
    return None


@rule("template_references_resolve", "cloudformation", CREATE_UPDATE,
      "Every Ref, Fn::GetAtt, Fn::Sub variable and DependsOn of the Resources and Outputs names a "
      "declared parameter, a declared resource or a pseudo parameter.", _TEMPLATE_ERRORS)
def _references(call: Call) -> Refusal | None:
    template = _template(call)
    if template is None:
        return None
    resources = _resources(template)
    known = set(resources) | set(_declared(template))
    for block, node in (("Resources", resources), ("Outputs", as_mapping(template.get("Outputs")))):
        used = list(_names_used(node))
        if block == "Resources":
            used += [d for r in resources.values() for d in _depends_on(r)]
        missing = sorted({n for n in used if n not in known and not n.startswith("AWS::")})
        if missing:
            return validation(f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
                              f"in the {block} block of the template")
    return None


@rule("stack_name_unique", "cloudformation", "CreateStack",
      "A stack name is unique in a region among the stacks that are not deleted.", _CREATE)
def _already_exists(call: Call) -> Refusal | None:
    name = param(call, "StackName")
    stacks = call.world.moto("cloudformation").stacks.values()
    if any(s.name == name for s in stacks):
        return Refusal("AlreadyExistsException", f"Stack [{name}] already exists")
    return None


@rule("stack_exists", "cloudformation",
      ("UpdateStack", "DescribeStacks", "DescribeStackEvents", "ListStackResources", "GetTemplate"),
      "The stack named must exist (a deleted stack is found by its id only).", _DESCRIBE)
def _stack_exists(call: Call) -> Refusal | None:
    name = param(call, "StackName")
    if name is None or _stack(call) is not None:
        return None
    return validation(f"Stack with id {name} does not exist")


@rule("stack_updatable_state", "cloudformation", "UpdateStack",
      "A stack is updated only from a settled, successful state: not while an operation is in "
      "progress, not after its creation failed (ROLLBACK_COMPLETE).", _UPDATE)
def _updatable(call: Call) -> Refusal | None:
    stack = _stack(call)
    if stack is None or stack.status in UPDATABLE:
        return None
    return validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.")


@rule("parameters_declared", "cloudformation", CREATE_UPDATE,
      "Every parameter passed is declared in the template.", _CREATE)
def _undeclared(call: Call) -> Refusal | None:
    template = _template(call)
    if template is None:
        return None
    declared = _declared(template)
    extra = [str(p["ParameterKey"]) for p in _given(call) if p["ParameterKey"] not in declared]
    if extra:
        return validation(f"Parameters: [{', '.join(extra)}] do not exist in the template")
    return None


@rule("use_previous_value_needs_a_previous_value", "cloudformation", "UpdateStack",
      "UsePreviousValue is only for a parameter the stack already has.",
      f"{_API}/API_Parameter.html")
def _previous_value(call: Call) -> Refusal | None:
    if _stack(call) is None:
        return None
    previous = _previous(call)
    for given in _given(call):
        if given.get("UsePreviousValue") is True and given["ParameterKey"] not in previous:
            return validation("Cannot specify usePreviousValue as true for a parameter key not in the "
                              "previous template")
    return None


@rule("use_previous_value_without_a_value", "cloudformation", CREATE_UPDATE,
      "A parameter given UsePreviousValue=true carries no ParameterValue.", f"{_API}/API_Parameter.html")
def _previous_and_value(call: Call) -> Refusal | None:
    for given in _given(call):
        if given.get("UsePreviousValue") is True and given.get("ParameterValue"):
            return validation(f"Invalid input for parameter key {given['ParameterKey']}. Cannot specify "
                              f"usePreviousValue as true and non empty value for a parameter")
    return None


@rule("parameters_have_values", "cloudformation", CREATE_UPDATE,
      "Every declared parameter without a Default is given a value (on update: a value or "
      "UsePreviousValue).", _PARAMETERS)
def _missing_values(call: Call) -> Refusal | None:
    template = _template(call)
    if template is None:
        return None
    effective = _effective(template, _values(call))
    missing = [name for name in _declared(template) if name not in effective]
    if missing:
        return validation(f"Parameters: [{', '.join(missing)}] must have values")
    return None


@rule("parameter_number_type", "cloudformation", CREATE_UPDATE,
      "A Number parameter's value (each member of a List<Number>) is a number.", _PARAMETERS)
def _number_type(call: Call) -> Refusal | None:
    for name, spec, value in _passed(call):
        if _is_numeric(spec) and any(_number(v) is None for v in _members(spec, value)):
            return validation(f"Parameter '{name}' must be a number.")
    return None


@rule("parameter_allowed_values", "cloudformation", CREATE_UPDATE,
      "A parameter with AllowedValues takes one of them.", _PARAMETERS)
def _allowed_values(call: Call) -> Refusal | None:
    for name, spec, value in _passed(call):
        allowed = spec.get("AllowedValues")
        if not isinstance(allowed, list):
            continue
        if _is_numeric(spec):
            numbers = {_number(str(a)) for a in allowed}
            ok = all(_number(v) in numbers for v in _members(spec, value))
        else:
            ok = all(v in {str(a) for a in allowed} for v in _members(spec, value))
        if not ok:
            return validation(f"Parameter '{name}' must be one of AllowedValues")
    return None


@rule("parameter_allowed_pattern", "cloudformation", CREATE_UPDATE,
      "A parameter with AllowedPattern matches it whole (each member of a list).", _PARAMETERS)
def _allowed_pattern(call: Call) -> Refusal | None:
    for name, spec, value in _passed(call):
        pattern = spec.get("AllowedPattern")
        if not isinstance(pattern, str) or _is_numeric(spec):
            continue
        try:
            compiled = re.compile(pattern)
        except re.error:
            continue  # a Java-only pattern Python cannot read: let it pass rather than refuse wrongly
        if not all(compiled.fullmatch(v) for v in _members(spec, value)):
            return validation(f"Parameter '{name}' must match pattern {pattern}")
    return None


@rule("parameter_length", "cloudformation", CREATE_UPDATE,
      "A String parameter's value has between MinLength and MaxLength characters.", _PARAMETERS)
def _length(call: Call) -> Refusal | None:
    for name, spec, value in _passed(call):
        if _is_numeric(spec):
            continue
        low, high = _number(str(spec.get("MinLength", ""))), _number(str(spec.get("MaxLength", "")))
        if low is not None and len(value) < low:
            return validation(f"Parameter '{name}' must contain at least {int(low)} characters")
        if high is not None and len(value) > high:
            return validation(f"Parameter '{name}' must contain at most {int(high)} characters")
    return None


@rule("parameter_value_range", "cloudformation", CREATE_UPDATE,
      "A Number parameter's value (each member of a List<Number>) lies between MinValue and MaxValue.",
      _PARAMETERS)
def _value_range(call: Call) -> Refusal | None:
    for name, spec, value in _passed(call):
        if not _is_numeric(spec):
            continue
        low, high = _number(str(spec.get("MinValue", ""))), _number(str(spec.get("MaxValue", "")))
        for member in _members(spec, value):
            number = _number(member)
            if number is None:
                continue
            if low is not None and number < low:
                return validation(f"Parameter '{name}' must be a number not less than {spec['MinValue']}")
            if high is not None and number > high:
                return validation(f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}")
    return None


def _capabilities(call: Call) -> set[str]:
    return {str(c) for c in param(call, "Capabilities", default=[])}


def _iam_resources(call: Call) -> list[tuple[str, Mapping[str, Any]]]:
    template = _template(call)
    if template is None:
        return []
    return [(str(as_mapping(r).get("Type")), as_mapping(as_mapping(r).get("Properties")))
            for r in _resources(template).values() if as_mapping(r).get("Type") in IAM_TYPES]


@rule("iam_resources_need_capability_iam", "cloudformation", CREATE_UPDATE,
      "A template with IAM resources needs CAPABILITY_IAM or CAPABILITY_NAMED_IAM.", _CAPABILITIES)
def _capability_iam(call: Call) -> Refusal | None:
    capabilities = _capabilities(call)
    if _iam_resources(call) and not capabilities & {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}:
        named = any(IAM_NAME_PROPERTY.get(kind) in props for kind, props in _iam_resources(call))
        wanted = "CAPABILITY_NAMED_IAM" if named else "CAPABILITY_IAM"
        return Refusal("InsufficientCapabilitiesException", f"Requires capabilities : [{wanted}]")
    return None


@rule("named_iam_resources_need_capability_named_iam", "cloudformation", CREATE_UPDATE,
      "A template with custom-named IAM resources (RoleName, UserName, ...) needs CAPABILITY_NAMED_IAM.",
      _CAPABILITIES)
def _capability_named_iam(call: Call) -> Refusal | None:
    named = any(IAM_NAME_PROPERTY.get(kind) in props for kind, props in _iam_resources(call))
    if named and "CAPABILITY_NAMED_IAM" not in _capabilities(call):
        return Refusal("InsufficientCapabilitiesException", "Requires capabilities : [CAPABILITY_NAMED_IAM]")
    return None


@rule("termination_protection_blocks_delete", "cloudformation", "DeleteStack",
      "A stack with termination protection enabled is not deleted.", f"{_API}/API_DeleteStack.html")
def _termination_protection(call: Call) -> Refusal | None:
    stack = _stack(call)
    if stack is None or stack.status == "DELETE_COMPLETE":
        return None  # deleting a stack that is gone succeeds
    if getattr(stack, "enable_termination_protection", False) in (True, "true"):
        return validation(f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled")
    return None


def _tags(call: Call) -> dict[str, str] | None:
    tags = param(call, "Tags")
    if tags is None:
        return None
    return {str(as_mapping(t).get("Key")): str(as_mapping(t).get("Value", "")) for t in tags}


@rule("update_changes_something", "cloudformation", "UpdateStack",
      "An update with the deployed template, parameter values and tags is refused: "
      "\"No updates are to be performed.\"", _UPDATE)
def _no_updates(call: Call) -> Refusal | None:
    stack, template = _stack(call), _template(call)
    if stack is None or template is None:
        return None
    deployed_body = stack.template if isinstance(stack.template, str) else json.dumps(stack.template)
    try:
        deployed = parse_template(deployed_body)
    except TemplateError:
        return None
    if deployed != template:
        return None
    if _effective(template, _values(call)) != _effective(deployed, _previous(call)):
        return None
    tags = _tags(call)
    if tags is not None and tags != {str(k): str(v) for k, v in stack.tags.items()}:
        return None
    return validation("No updates are to be performed.")


RULES: tuple[Rule, ...] = (
    _stack_name, _template_given, _template_size, _template_format, _has_resources, _resource_limit, _parameter_limit,
    _references, _already_exists, _stack_exists, _updatable, _undeclared, _previous_value, _previous_and_value,
    _missing_values,
    _number_type, _allowed_values, _allowed_pattern, _length, _value_range, _capability_iam,
    _capability_named_iam, _no_updates, _termination_protection,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "AWS-specific parameter types (AWS::EC2::Subnet::Id, AWS::EC2::VPC::Id, ...) are not checked against "
    "the account's resources: AWS fails such a stack after CreateStack answered, and ecsfleet passes only "
    "values it read from the account.",
    "A template given by TemplateURL is not read by the rules (ecsfleet always sends TemplateBody); its "
    "460,800-byte limit is not checked.",
    "A parameter's ConstraintDescription does not replace the constraint's own message in a refusal.",
    "Deleting a stack whose exports another stack imports is not refused (AWS ends it in DELETE_FAILED: "
    "\"Export ... cannot be deleted as it is in use by ...\"); moto deletes it.",
    "A failed update is reported the way AWS reports it (UPDATE_FAILED, UPDATE_ROLLBACK_COMPLETE), but moto "
    "does not undo the resources the update had already changed before the failing one.",
)
