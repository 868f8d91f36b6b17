"""The sandbox's rules for SSM Parameter Store: each a documented refusal of the API, checked before moto.

ecsfleet reads one public parameter: the recommended ECS-optimized AMI.
"""

from __future__ import annotations

from typing import Any

from .base import Call, Refusal, Rule, param, rule

_API = "https://docs.aws.amazon.com/systems-manager/latest/APIReference/"
_GET = _API + "API_GetParameter.html"
_PUT = _API + "API_PutParameter.html"
_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/ssm.html"
_MAX_LEVELS = 15
_RESERVED_PREFIXES = ("aws", "ssm")


def _stored(call: Call, name: str) -> Any:
    """moto's parameter of that name (moto loads AWS's public /aws/service/ parameters on demand,
    a cache of data, not a change of the emulated account), or None."""
    try:
        return call.world.moto("ssm").get_parameter(name)
    except Exception:  # a version or label that is missing: moto answers ParameterVersionNotFound itself
        return True


@rule("parameter_must_exist", "ssm", "GetParameter",
      "GetParameter of a name the account (or AWS's public /aws/service/ namespace) does not hold is "
      "refused with ParameterNotFound.", _GET)
def _must_exist(call: Call) -> Refusal | None:
    name = str(param(call, "Name", default=""))
    if _stored(call, name) is not None:
        return None
    # AWS's answer carries an empty message (boto3: "... when calling the GetParameter operation: ").
    return Refusal("ParameterNotFound", "")


def _path(name: str) -> list[str]:
    return [part for part in name.split("/") if part]


@rule("parameter_name_not_reserved", "ssm", "PutParameter",
      "A parameter name does not begin with 'aws' or 'ssm' (case-insensitive), at its root or as its "
      "first path segment.", _PUT)
def _not_reserved(call: Call) -> Refusal | None:
    parts = _path(str(param(call, "Name", default="")))
    if parts and parts[0].lower().startswith(_RESERVED_PREFIXES):
        return Refusal("ValidationException", 'Parameter name: can\'t be prefixed with "aws" or "ssm" '
                       "(case-insensitive). If formed as a path, it can consist of sub-paths divided by slash "
                       "symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 "
                       "symbols .-_")
    return None


@rule("parameter_hierarchy_at_most_15_levels", "ssm", "PutParameter",
      "A parameter hierarchy has at most 15 levels.", _QUOTAS)
def _at_most_15_levels(call: Call) -> Refusal | None:
    name = str(param(call, "Name", default=""))
    if len(_path(name)) > _MAX_LEVELS:
        return Refusal("HierarchyLevelLimitExceededException",
                       "A hierarchy can have a maximum of 15 levels. For more information, see "
                       "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
                       "sysman-paramstore-su-create.html#sysman-parameter-name-constraints")
    return None


RULES: tuple[Rule, ...] = (_must_exist, _not_reserved, _at_most_15_levels)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "AWS's public parameters (/aws/service/...) are moto's snapshot of them: their values are not "
    "today's recommended AMIs.",
    "SecureString decryption and KMS permissions are not emulated.",
)
