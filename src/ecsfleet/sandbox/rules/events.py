"""The sandbox's rules for EventBridge: each a documented refusal of the API, checked before moto.

The model's own constraints (rule and target Id patterns and lengths, at most 10 PutEvents
entries) are checked for every service by `inputs`; these are the rules the model does not state.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .base import Call, Refusal, Rule, param, rule

_API = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/"
_PUT_RULE = _API + "API_PutRule.html"
_PUT_TARGETS = _API + "API_PutTargets.html"
_PATTERNS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html"
_SCHEDULES = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html"
_QUOTAS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"

_MAX_TARGETS = 5
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]+)\)")


def _validation(message: str) -> Refusal:
    return Refusal("ValidationException", message)


def _bus_name(call: Call) -> str:
    """The event bus a call names: a name or an ARN, the default bus when absent."""
    return str(param(call, "EventBusName", default="default")).rsplit("/", 1)[-1]


def _bus(call: Call) -> Any:
    return call.world.moto("events").event_buses.get(_bus_name(call))


@rule("event_bus_must_exist", "events", ("PutRule", "PutTargets"),
      "The event bus a rule call names must exist.", _PUT_RULE)
def _bus_must_exist(call: Call) -> Refusal | None:
    if _bus(call) is None:
        return Refusal("ResourceNotFoundException", f"Event bus {_bus_name(call)} does not exist.")
    return None


@rule("rule_needs_a_pattern_or_a_schedule", "events", "PutRule",
      "A rule has an EventPattern, a ScheduleExpression, or both.", _PUT_RULE)
def _pattern_or_schedule(call: Call) -> Refusal | None:
    if param(call, "EventPattern") or param(call, "ScheduleExpression"):
        return None
    return _validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")


@rule("event_pattern_is_valid", "events", "PutRule",
      "An EventPattern is a JSON object whose fields are objects or arrays of values.", _PATTERNS)
def _pattern_valid(call: Call) -> Refusal | None:
    text = param(call, "EventPattern")
    if not text:
        return None
    try:
        pattern = json.loads(text)
    except ValueError as error:
        return _invalid_pattern(f"Unrecognized token or malformed JSON: {error}")
    reason = _pattern_problem(pattern)
    return _invalid_pattern(reason) if reason else None


def _invalid_pattern(reason: str) -> Refusal:
    return Refusal("InvalidEventPatternException", f"Event pattern is not valid. Reason: {reason}")


def _pattern_problem(pattern: Any) -> str | None:
    """Why a parsed pattern is not one EventBridge takes (its own words), or None."""
    if not isinstance(pattern, dict):
        return "Filter is not an object"
    for field, value in pattern.items():
        if isinstance(value, dict):
            problem = _pattern_problem(value)
            if problem:
                return problem
        elif not isinstance(value, list):
            return f'"{field}" must be an object or an array'
    return None


@rule("schedule_expression_is_valid", "events", "PutRule",
      "A ScheduleExpression is rate(N unit) with a positive N (singular unit for 1) or cron() of six "
      "fields, one of day-of-month and day-of-week being '?'.", _SCHEDULES)
def _schedule_valid(call: Call) -> Refusal | None:
    expression = param(call, "ScheduleExpression")
    if not expression or _schedule_ok(str(expression)):
        return None
    return _validation("Parameter ScheduleExpression is not valid.")


def _schedule_ok(expression: str) -> bool:
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        return value > 0 and unit.endswith("s") == (value > 1)
    cron = _CRON.fullmatch(expression)
    if cron:
        fields = cron.group(1).split()
        return len(fields) == 6 and "?" in (fields[2], fields[4])
    return False


@rule("schedule_only_on_the_default_bus", "events", "PutRule",
      "Scheduled rules exist only on the default event bus.", _PUT_RULE)
def _schedule_on_default(call: Call) -> Refusal | None:
    if param(call, "ScheduleExpression") and _bus_name(call) != "default":
        return _validation("ScheduleExpression is supported only on the default event bus.")
    return None


@rule("targets_need_an_existing_rule", "events", "PutTargets",
      "PutTargets names a rule that exists on the event bus.", _PUT_TARGETS)
def _rule_exists(call: Call) -> Refusal | None:
    bus = _bus(call)
    if bus is not None and param(call, "Rule") not in bus.rules:
        return Refusal("ResourceNotFoundException",
                       f"Rule {param(call, 'Rule')} does not exist on EventBus {_bus_name(call)}.")
    return None


@rule("at_most_5_targets_per_rule", "events", "PutTargets",
      "A rule has at most 5 targets (a target put again under its Id replaces itself).", _QUOTAS)
def _at_most_5_targets(call: Call) -> Refusal | None:
    bus = _bus(call)
    existing = bus.rules.get(param(call, "Rule")) if bus is not None else None
    if existing is None:
        return None
    ids = {str(t.get("Id")) for t in existing.targets}
    ids |= {str(t.get("Id")) for t in param(call, "Targets", default=[]) if isinstance(t, dict)}
    if len(ids) > _MAX_TARGETS:
        return Refusal("LimitExceededException", "The requested resource exceeds the maximum number allowed.")
    return None


RULES: tuple[Rule, ...] = (
    _bus_must_exist,
    _pattern_or_schedule,
    _pattern_valid,
    _schedule_valid,
    _schedule_on_default,
    _rule_exists,
    _at_most_5_targets,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Event patterns are checked for their shape (an object of objects and arrays); the "
    "content filters inside the arrays (prefix, numeric, anything-but...) are moto's to read. A "
    "malformed JSON pattern is refused with the parser's own reason, not EventBridge's Jackson wording.",
    "Targets' ARNs and permissions (a queue policy letting events.amazonaws.com send) are not checked: "
    "on AWS a target without permission is accepted and its deliveries fail silently, which the sandbox "
    "cannot show either.",
    "The quota of rules per event bus (a soft limit, raised on request) is not enforced.",
)
