"""The sandbox's fidelity layer: AWS's documented refusals as data, checked before the emulator.

Each service module holds `RULES` (one `Rule` per documented refusal, with its AWS source) and
`GAPS` (what is deliberately not emulated). `refuse` runs the rules of one call in the order
the modules list them; the first refusal is AWS's answer.
"""

from __future__ import annotations

import functools

from . import autoscaling, cloudformation, dynamodb, ec2, ecs, elb, events, inputs, route53, s3, sqs, ssm
from .base import Call, Refusal, Rule, World

# `inputs` holds the model checks every operation of every service makes first.
MODULES = (inputs, route53, elb, ecs, cloudformation, autoscaling, ec2, sqs, s3, events, ssm, dynamodb)
ALL_RULES: tuple[Rule, ...] = tuple(r for module in MODULES for r in module.RULES)
GAPS: dict[str, tuple[str, ...]] = {module.__name__.rsplit(".", 1)[-1]: module.GAPS for module in MODULES}

__all__ = ["ALL_RULES", "GAPS", "Call", "Refusal", "Rule", "World", "refuse", "rules_for"]


@functools.cache
def _index() -> dict[tuple[str, str], tuple[Rule, ...]]:
    index: dict[tuple[str, str], list[Rule]] = {}
    for r in ALL_RULES:
        if r.check is None:
            continue
        for operation in r.operations:
            index.setdefault((r.service, operation), []).append(r)
    return {key: tuple(rules) for key, rules in index.items()}


@functools.cache
def rules_for(service: str, operation: str) -> tuple[Rule, ...]:
    """The enforced rules guarding one operation, in the order they are checked: the model's
    input checks every service makes, then the operation's own."""
    index = _index()
    return index.get(("*", "*"), ()) + index.get((service, "*"), ()) + index.get((service, operation), ())


def refuse(call: Call) -> Refusal | None:
    """AWS's refusal of this call, or None when no rule refuses it."""
    for r in rules_for(call.service, call.operation):
        assert r.check is not None
        refusal = r.check(call)
        if refusal is not None:
            return refusal
    return None
