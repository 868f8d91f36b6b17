"""The sandbox's rules for SSM Parameter Store: each a documented refusal of the API, checked before moto.

ecsfleet reads one public parameter, the recommended ECS-optimized AMI, and keeps one of its own
per cluster: `scaling: placement`'s memory (created with its tag, overwritten while it is ecsfleet's).
"""

from __future__ import annotations

from typing import Any

from .base import Call, Refusal, Rule, param, rule

_API = "https://docs.aws.amazon.com/systems-manager/latest/APIReference/"
_GET = _API + "API_GetParameter.html"
_PUT = _API + "API_PutParameter.html"
_LIST_TAGS = _API + "API_ListTagsForResource.html"
_QUOTAS = "https://docs.aws.amazon.com/general/latest/gr/ssm.html"
_TIERS = "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"
_STANDARD_VALUE_MAX = 4096
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


@rule("standard_parameter_value_at_most_4096_characters", "ssm", "PutParameter",
      "A Standard tier parameter's value (the tier asked for, or the account's default Standard) holds at most "
      "4,096 characters; larger values need the Advanced tier.", _TIERS)
def _standard_value_fits(call: Call) -> Refusal | None:
    tier = param(call, "Tier", default="Standard")
    if tier == "Standard" and len(str(param(call, "Value", default=""))) > _STANDARD_VALUE_MAX:
        # The message AWS answers (quoted in aws/aws-sdk-net#3157).
        return Refusal("ValidationException", "Standard tier parameters support a maximum parameter value of 4096 "
                       "characters. To create a larger parameter value, upgrade the parameter to use the "
                       "advanced-parameter tier. For more information, see " + _TIERS)
    return None


@rule("parameter_overwritten_only_with_overwrite", "ssm", "PutParameter",
      "PutParameter of a name that exists is refused with ParameterAlreadyExists unless Overwrite is true.", _PUT)
def _overwrite_needed(call: Call) -> Refusal | None:
    if param(call, "Overwrite", default=False) is True:
        return None
    if _stored(call, str(param(call, "Name", default=""))) is None:
        return None
    return Refusal("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the "
                                             "overwrite option in the request to true.")


@rule("parameter_tags_only_on_create", "ssm", "PutParameter",
      "Tags are given only when a parameter is created: PutParameter with both Tags and Overwrite is refused "
      "(an existing parameter's tags change with AddTagsToResource).", _PUT)
def _tags_only_on_create(call: Call) -> Refusal | None:
    if param(call, "Overwrite", default=False) is True and param(call, "Tags", default=[]):
        return Refusal("ValidationException", "Invalid request: tags and overwrite can't be used together. To create "
                       "a parameter with tags, please remove overwrite flag. To update tags for an existing "
                       "parameter, please use AddTagsToResource or RemoveTagsFromResource.")
    return None


@rule("tagged_parameter_must_exist", "ssm", ("ListTagsForResource", "AddTagsToResource"),
      "ListTagsForResource and AddTagsToResource of a parameter the account does not hold are refused with "
      "InvalidResourceId.", _LIST_TAGS)
def _tagged_must_exist(call: Call) -> Refusal | None:
    if param(call, "ResourceType") != "Parameter":
        return None
    if _stored(call, str(param(call, "ResourceId", default=""))) is not None:
        return None
    # AWS's answer carries no message (aws/aws-cli#4419, getmoto/moto#4360).
    return Refusal("InvalidResourceId", "")


RULES: tuple[Rule, ...] = (_must_exist, _not_reserved, _at_most_15_levels, _standard_value_fits, _overwrite_needed,
                           _tags_only_on_create, _tagged_must_exist)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "AWS's public parameters (/aws/service/...) are moto's snapshot of them: their values are not "
    "today's recommended AMIs.",
    "SecureString decryption and KMS permissions are not emulated.",
)
