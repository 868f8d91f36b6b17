"""The checks every AWS API makes on a request's input before the operation runs, read from the
service model itself: required members, lengths, numeric ranges, patterns and enumerations.

boto3 checks some of these on the client (required members, minimums, types) but never maximums,
patterns or enumerations, so a controller that sends a 300-character reason or a lower-case
status learns of it only from the service: "1 validation error detected: Value 'x' at 'status'
failed to satisfy constraint: Member must satisfy enum value set: [ACTIVE, DRAINING]".
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import Call, Refusal, Rule, rule

SERVICE = "*"
EVERY = ("*",)
_SOURCE = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html"


# The code each protocol's services answer a constraint failure with.
_CODES = {"json": "ValidationException", "rest-json": "ValidationException", "rest-xml": "InvalidInput",
          "query": "ValidationError", "ec2": "InvalidParameterValue"}
_ECS_CODE = "ClientException"


def _model(service: str) -> Any:
    return _session().get_service_model(service)


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def _input_shape(service: str, operation: str) -> Any:
    try:
        return _model(service).operation_model(operation).input_shape
    except Exception:  # an operation the model does not know is the server's concern, not a rule's
        return None


@functools.cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:  # a few models use Java-only syntax: such a pattern is not checked
        return None


def _path_name(name: str) -> str:
    return name[:1].lower() + name[1:]


def _walk(shape: Any, value: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    """(path, shape, value) of every member present in the input, depth first."""
    yield path, shape, value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                yield from _walk(member, value[name], f"{path}.{_path_name(name)}" if path else _path_name(name))
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value, 1):
            yield from _walk(shape.member, item, f"{path}.{index}.member")
    elif shape.type_name == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from _walk(shape.value, item, f"{path}.{key}")


def _members(call: Call) -> Iterator[tuple[str, Any, Any]]:
    shape = _input_shape(call.service, call.operation)
    if shape is not None:
        yield from _walk(shape, call.params, "")


def constraint_refusal(call: Call, problems: list[str]) -> Refusal | None:
    """AWS's refusal of a call whose input breaks constraints: the protocol's code and the count
    of problems before them, as every service words it."""
    if not problems:
        return None
    protocol = _model(call.service).protocol
    code = _ECS_CODE if call.service == "ecs" else _CODES.get(protocol, "ValidationError")
    count = f"{len(problems)} validation error{'s' if len(problems) > 1 else ''} detected: "
    return Refusal(code, count + "; ".join(problems))


def _value_text(value: Any) -> str:
    return "null" if value is None else str(value)


@rule("input_required_members", SERVICE, EVERY,
      "Every member the operation's model marks required is present (at any depth).", _SOURCE)
def _required(call: Call) -> Refusal | None:
    problems = []
    for path, shape, value in _members(call):
        if shape.type_name != "structure" or not isinstance(value, Mapping):
            continue
        for name in shape.required_members:
            if value.get(name) is None:
                where = f"{path}.{_path_name(name)}" if path else _path_name(name)
                problems.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
    return constraint_refusal(call, problems)


@rule("input_lengths", SERVICE, EVERY,
      "Strings, lists and maps are within the model's minimum and maximum lengths.", _SOURCE)
def _lengths(call: Call) -> Refusal | None:
    problems = []
    for path, shape, value in _members(call):
        if shape.type_name not in ("string", "list", "map") or not isinstance(value, str | list | Mapping):
            continue
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if high is not None and len(value) > high:
            problems.append(f"Value '{_value_text(value)}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length less than or equal to {high}")
        elif low is not None and len(value) < low:
            problems.append(f"Value '{_value_text(value)}' at '{path}' failed to satisfy constraint: "
                            f"Member must have length greater than or equal to {low}")
    return constraint_refusal(call, problems)


@rule("input_numeric_ranges", SERVICE, EVERY,
      "Integers and longs are within the model's minimum and maximum values.", _SOURCE)
def _ranges(call: Call) -> Refusal | None:
    problems = []
    for path, shape, value in _members(call):
        if shape.type_name not in ("integer", "long") or not isinstance(value, int):
            continue
        problem = out_of_range(value, path, shape.metadata.get("min"), shape.metadata.get("max"))
        if problem is not None:
            problems.append(problem)
    return constraint_refusal(call, problems)


def out_of_range(value: int, path: str, low: int | None, high: int | None) -> str | None:
    """The problem AWS states for a number outside [low, high] (either bound may be absent)."""
    if high is not None and value > high:
        return (f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {high}")
    if low is not None and value < low:
        return (f"Value '{value}' at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {low}")
    return None


@rule("input_patterns", SERVICE, EVERY,
      "Strings match the model's regular expression pattern (names, ARNs, identifiers).", _SOURCE)
def _patterns(call: Call) -> Refusal | None:
    problems = []
    for path, shape, value in _members(call):
        text = shape.metadata.get("pattern") if shape.type_name == "string" else None
        compiled = _pattern(text) if text else None
        if compiled is not None and isinstance(value, str) and not compiled.fullmatch(value):
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy regular expression pattern: {text}")
    return constraint_refusal(call, problems)


@rule("input_enumerations", SERVICE, EVERY,
      "Enumerated strings are one of the model's values (EC2, which answers its own errors, excepted).", _SOURCE)
def _enumerations(call: Call) -> Refusal | None:
    if _model(call.service).protocol == "ec2":
        return None
    problems = []
    for path, shape, value in _members(call):
        allowed = shape.enum if shape.type_name == "string" else None
        if allowed and isinstance(value, str) and value not in allowed:
            problems.append(f"Value '{value}' at '{path}' failed to satisfy constraint: "
                            f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return constraint_refusal(call, problems)


RULES: tuple[Rule, ...] = (_required, _lengths, _ranges, _patterns, _enumerations)

GAPS: tuple[str, ...] = (
    "Model patterns written in Java-only regular expression syntax are not checked (Python's `re` "
    "cannot compile them); types are checked only as far as the wire form can be read.",
)
