"""The sandbox's rules for DynamoDB: each a documented refusal of the API, checked before moto.

ecsfleet's agents hold a lease with PutItem and DeleteItem under a condition expression; these
rules cover what such a call can get wrong: the table, the key, the attribute values and the
expression's names and values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any

from .base import Call, Refusal, Rule, as_mapping, not_enforced, param, rule

_API = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/"
_PUT = _API + "API_PutItem.html"
_DELETE = _API + "API_DeleteItem.html"
_VALUE = _API + "API_AttributeValue.html"
_LIMITS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
_NAMES = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ExpressionAttributeNames.html"
_VALUES = ("https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
           "Expressions.ExpressionAttributeValues.html")
_RESERVED = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html"

_ITEM_OPS = ("PutItem", "DeleteItem", "GetItem", "UpdateItem")
_KEY_OPS = ("DeleteItem", "GetItem", "UpdateItem")
_CONDITIONED = ("PutItem", "DeleteItem", "UpdateItem")
_EXPRESSIONS = ("ConditionExpression", "UpdateExpression", "ProjectionExpression", "KeyConditionExpression",
                "FilterExpression")
_TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_MAX_ITEM = 400 * 1024
_TOKEN = re.compile(r"[#:]?[A-Za-z_][A-Za-z0-9_]*")
_GRAMMAR = {"AND", "OR", "NOT", "BETWEEN", "IN"}


def _invalid(message: str) -> Refusal:
    return Refusal("ValidationException", message)


def _table(call: Call) -> Any:
    """moto's table the call names (by name, or by ARN as AWS also takes), or None."""
    name = str(param(call, "TableName", default=""))
    tables = call.world.moto("dynamodb").tables
    if name in tables:
        return tables[name]
    return next((t for t in list(tables.values()) if t.table_arn == name), None)


@rule("table_must_exist", "dynamodb", _ITEM_OPS,
      "The table an item operation names must exist (and be active).", _PUT)
def _table_must_exist(call: Call) -> Refusal | None:
    if _table(call) is None:
        return Refusal("ResourceNotFoundException", "Requested resource not found")
    return None


def _key_schema(table: Any) -> dict[str, str]:
    """The table's key attributes and their types ({'lease': 'S'})."""
    schema = {str(table.hash_key_attr): str(table.hash_key_type)}
    if table.range_key_attr is not None:
        schema[str(table.range_key_attr)] = str(table.range_key_type)
    return schema


def _type_of(value: Any) -> str | None:
    """The one data type an AttributeValue sets, or None when it sets none or several."""
    set_types = [t for t in as_mapping(value) if t in _TYPES]
    return set_types[0] if len(set_types) == 1 else None


@rule("item_has_the_key_attributes", "dynamodb", "PutItem",
      "PutItem's Item carries every key attribute of the table, with the key schema's type.", _PUT)
def _item_has_key(call: Call) -> Refusal | None:
    table, item = _table(call), as_mapping(param(call, "Item"))
    if table is None:
        return None
    for name, wanted in _key_schema(table).items():
        if name not in item:
            return _invalid(f"One or more parameter values were invalid: Missing the key {name} in the item")
        actual = _type_of(item[name])
        if actual is not None and actual != wanted:
            return _invalid(f"One or more parameter values were invalid: Type mismatch for key {name} "
                            f"expected: {wanted} actual: {actual}")
    return None


@rule("key_matches_the_schema", "dynamodb", _KEY_OPS,
      "Key names exactly the table's key attributes (no fewer, no more), each of the schema's type.", _DELETE)
def _key_matches_schema(call: Call) -> Refusal | None:
    table, key = _table(call), as_mapping(param(call, "Key"))
    if table is None:
        return None
    schema = _key_schema(table)
    if set(key) != set(schema) or any(_type_of(key[name]) not in (None, wanted) for name, wanted in schema.items()):
        return _invalid("The provided key element does not match the schema")
    return None


@rule("key_values_not_empty", "dynamodb", _ITEM_OPS,
      "A key attribute's string or binary value is not empty (other attributes may be).", _VALUE)
def _key_not_empty(call: Call) -> Refusal | None:
    table = _table(call)
    if table is None:
        return None
    values = as_mapping(param(call, "Item" if call.operation == "PutItem" else "Key"))
    for name in _key_schema(table):
        value = as_mapping(values.get(name))
        if value.get("S") == "" or value.get("B") in ("", b""):
            return _invalid("One or more parameter values are not valid. The AttributeValue for a key attribute "
                            f"cannot contain an empty string value. Key: {name}")
    return None


def _attribute_values(call: Call) -> Iterator[Any]:
    """Every AttributeValue of the call, nested ones included."""
    for member in ("Item", "Key", "ExpressionAttributeValues"):
        for value in as_mapping(param(call, member)).values():
            yield from _nested(value)


def _nested(value: Any) -> Iterator[Any]:
    yield value
    mapping = as_mapping(value)
    for item in mapping.get("L") or []:
        yield from _nested(item)
    for item in as_mapping(mapping.get("M")).values():
        yield from _nested(item)


@rule("attribute_value_sets_exactly_one_type", "dynamodb", _ITEM_OPS,
      "Every AttributeValue sets exactly one data type (S, N, B, SS, NS, BS, M, L, NULL or BOOL).", _VALUE)
def _one_type(call: Call) -> Refusal | None:
    for value in _attribute_values(call):
        count = sum(1 for t in as_mapping(value) if t in _TYPES)
        if count == 0:
            return _invalid("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        if count > 1:
            return _invalid("Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
                            "the supported datatypes")
    return None


@rule("item_at_most_400_kb", "dynamodb", "PutItem",
      "An item (attribute names and values together) is at most 400 KB.", _LIMITS)
def _item_size(call: Call) -> Refusal | None:
    item = as_mapping(param(call, "Item"))
    if sum(len(name.encode()) + _size(value) for name, value in item.items()) > _MAX_ITEM:
        return _invalid("Item size has exceeded the maximum allowed size")
    return None


def _size(value: Any) -> int:
    """An AttributeValue's size as DynamoDB counts it: UTF-8 bytes of strings, bytes of binaries,
    about one byte per two digits of a number, one byte for booleans and nulls, plus three bytes
    of overhead and one per element for lists and maps."""
    mapping = as_mapping(value)
    if "S" in mapping:
        return len(str(mapping["S"]).encode())
    if "B" in mapping:
        return len(mapping["B"]) if isinstance(mapping["B"], bytes | str) else 0
    if "N" in mapping:
        return len(str(mapping["N"])) // 2 + 1
    if "SS" in mapping or "NS" in mapping or "BS" in mapping:
        members = mapping.get("SS") or mapping.get("NS") or mapping.get("BS") or []
        return sum(len(m.encode()) if isinstance(m, str) else len(m) for m in members)
    if "L" in mapping:
        return 3 + sum(1 + _size(item) for item in mapping["L"] or [])
    if "M" in mapping:
        return 3 + sum(1 + len(k.encode()) + _size(v) for k, v in as_mapping(mapping["M"]).items())
    return 1


def _expressions(call: Call) -> dict[str, str]:
    return {name: str(param(call, name)) for name in _EXPRESSIONS if param(call, name)}


def _tokens(expression: str, prefix: str) -> set[str]:
    return {token for token in _TOKEN.findall(expression) if token.startswith(prefix)}


@rule("expression_names_and_values_defined", "dynamodb", _ITEM_OPS,
      "Every #name and :value an expression uses is defined in ExpressionAttributeNames / -Values.", _VALUES)
def _defined(call: Call) -> Refusal | None:
    names = as_mapping(param(call, "ExpressionAttributeNames"))
    values = as_mapping(param(call, "ExpressionAttributeValues"))
    for member, expression in _expressions(call).items():
        for name in sorted(_tokens(expression, "#")):
            if name not in names:
                return _invalid(f"Invalid {member}: An expression attribute name used in the document path is not "
                                f"defined; attribute name: {name}")
        for value in sorted(_tokens(expression, ":")):
            if value not in values:
                return _invalid(f"Invalid {member}: An expression attribute value used in expression is not "
                                f"defined; attribute value: {value}")
    return None


@rule("expression_names_and_values_used", "dynamodb", _ITEM_OPS,
      "Every entry of ExpressionAttributeNames / -Values is used by an expression of the call, and "
      "neither is given without an expression.", _NAMES)
def _used(call: Call) -> Refusal | None:
    expressions = _expressions(call)
    for member, prefix in (("ExpressionAttributeValues", ":"), ("ExpressionAttributeNames", "#")):
        given = as_mapping(param(call, member))
        if given and not expressions:
            null = ": ConditionExpression is null" if call.operation in ("PutItem", "DeleteItem") else ""
            return _invalid(f"{member} can only be specified when using expressions{null}")
        used = set().union(*(_tokens(e, prefix) for e in expressions.values())) if expressions else set()
        unused = sorted(set(given) - used)
        if given and unused:
            return _invalid(f"Value provided in {member} unused in expressions: keys: {{{', '.join(unused)}}}")
    return None


@functools.cache
def _reserved_words() -> frozenset[str]:
    # The list is moto's copy of AWS's published reserved words (data, not moto's logic).
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return frozenset(word.upper() for word in ReservedKeywords.get_reserved_keywords())


@rule("condition_names_not_reserved_words", "dynamodb", _CONDITIONED,
      "An attribute name written bare in a ConditionExpression is not a DynamoDB reserved word "
      "(use an #alias from ExpressionAttributeNames).", _RESERVED)
def _not_reserved(call: Call) -> Refusal | None:
    expression = str(param(call, "ConditionExpression", default=""))
    for match in _TOKEN.finditer(expression):
        word = match.group()
        if word[0] in "#:" or word.upper() in _GRAMMAR or expression[match.end():].lstrip().startswith("("):
            continue  # an alias, a value, the grammar's own words, or a function name
        if word.upper() in _reserved_words():
            return _invalid(f"Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
                            f"{word}")
    return None


_conditional_check = not_enforced(
    "conditional_check_failed", "dynamodb", _CONDITIONED,
    "A write whose ConditionExpression is false for the stored item is refused "
    "(ConditionalCheckFailedException, 'The conditional request failed') and changes nothing.", _PUT,
    why="moto evaluates condition expressions against the stored item and answers AWS's code and message "
        "itself (tests/test_rules_dynamodb.py::test_conditional_check_failed shows it); a second evaluator in "
        "the rules layer would only duplicate DynamoDB's expression grammar.")


RULES: tuple[Rule, ...] = (
    _table_must_exist,
    _one_type,
    _defined,
    _used,
    _not_reserved,
    _item_has_key,
    _key_matches_schema,
    _key_not_empty,
    _item_size,
    _conditional_check,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Throughput (ProvisionedThroughputExceededException) and on-demand throttling are not emulated; "
    "the sandbox's fault switches throttle a call on demand instead.",
    "Expression syntax errors ('Invalid ConditionExpression: Syntax error; token: ...') are left to "
    "moto, which does not always answer them as AWS does.",
    "Item size is computed as DynamoDB documents it for strings, binaries, lists and maps; numbers "
    "are approximated (one byte per two digits, plus one). moto itself still refuses items above "
    "405,000 bytes, so an item between that and AWS's 409,600 is refused where AWS takes it.",
)
