"""The sandbox's rules for Auto Scaling: each a documented refusal of the API, checked before moto."""

from __future__ import annotations

from typing import Any

from .base import Call, Refusal, Rule, param, rule, validation

_UPDATE = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html"
_CREATE = "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html"


@rule("min_size_not_above_max_size", "autoscaling", ("CreateAutoScalingGroup", "UpdateAutoScalingGroup"),
      "MinSize must not be greater than MaxSize.", _UPDATE)
def _min_not_above_max(call: Call) -> Refusal | None:
    low, high = param(call, "MinSize"), param(call, "MaxSize")
    if call.operation == "UpdateAutoScalingGroup" and (low is None or high is None):
        group = _group(call)
        if group is None:
            return None
        low = int(group.min_size) if low is None else low
        high = int(group.max_size) if high is None else high
    if low is not None and high is not None and low > high:
        return validation(f"The parameter MaxSize must be greater than or equal to MinSize (MinSize {low} "
                          f"> MaxSize {high}).")
    return None


def _group(call: Call) -> Any:
    groups = call.world.moto("autoscaling").autoscaling_groups
    return groups.get(param(call, "AutoScalingGroupName"))


RULES: tuple[Rule, ...] = (_min_not_above_max,)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = ()
