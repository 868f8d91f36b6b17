"""DynamoDB rules of the sandbox: each refused call answers AWS's error code and changes nothing."""

from __future__ import annotations

from typing import Any

from ecsfleet.sandbox import Sandbox
from rules_support import refused

TABLE = "leases"


def _table(sb: Sandbox) -> Any:
    dynamodb = sb.client("dynamodb")
    dynamodb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "lease", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "lease", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    return dynamodb


def _items(dynamodb: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = dynamodb.scan(TableName=TABLE)["Items"]
    return items


def test_table_must_exist(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ResourceNotFoundException", 400, TableName="nope",
                    Item={"lease": {"S": "a"}})
    assert error["Message"] == "Requested resource not found"
    refused(dynamodb.delete_item, "ResourceNotFoundException", 400, TableName="nope", Key={"lease": {"S": "a"}})
    dynamodb.put_item(TableName=TABLE, Item={"lease": {"S": "a"}})


def test_item_has_the_key_attributes(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"owner": {"S": "me"}})
    assert error["Message"] == "One or more parameter values were invalid: Missing the key lease in the item"
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"N": "1"}})
    assert error["Message"] == ("One or more parameter values were invalid: Type mismatch for key lease expected: S "
                                "actual: N")
    assert _items(dynamodb) == []


def test_key_matches_the_schema(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    dynamodb.put_item(TableName=TABLE, Item={"lease": {"S": "a"}, "owner": {"S": "me"}})
    for key in ({"owner": {"S": "me"}}, {"lease": {"S": "a"}, "owner": {"S": "me"}}, {"lease": {"N": "1"}}):
        error = refused(dynamodb.delete_item, "ValidationException", 400, TableName=TABLE, Key=key)
        assert error["Message"] == "The provided key element does not match the schema"
    refused(dynamodb.get_item, "ValidationException", 400, TableName=TABLE, Key={"owner": {"S": "me"}})
    assert len(_items(dynamodb)) == 1
    dynamodb.delete_item(TableName=TABLE, Key={"lease": {"S": "a"}})
    assert _items(dynamodb) == []


def test_key_values_not_empty(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"S": ""}})
    assert error["Message"].endswith("The AttributeValue for a key attribute cannot contain an empty string value. "
                                     "Key: lease")
    refused(dynamodb.delete_item, "ValidationException", 400, TableName=TABLE, Key={"lease": {"S": ""}})
    dynamodb.put_item(TableName=TABLE, Item={"lease": {"S": "a"}, "note": {"S": ""}})  # a non-key may be empty


def test_attribute_value_sets_exactly_one_type(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE,
            Item={"lease": {"S": "a"}, "n": {"S": "1", "N": "1"}})
    refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE,
            Item={"lease": {"S": "a"}, "m": {"M": {"x": {}}}})
    assert _items(dynamodb) == []


def test_item_at_most_400_kb(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE,
                    Item={"lease": {"S": "a"}, "blob": {"S": "x" * (400 * 1024)}})
    assert error["Message"] == "Item size has exceeded the maximum allowed size"
    dynamodb.put_item(TableName=TABLE, Item={"lease": {"S": "a"}, "blob": {"S": "x" * (390 * 1024)}})


def test_expression_names_and_values_defined(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"S": "a"}},
                    ConditionExpression="expires < :now")
    assert error["Message"] == ("Invalid ConditionExpression: An expression attribute value used in expression is not "
                                "defined; attribute value: :now")
    error = refused(dynamodb.delete_item, "ValidationException", 400, TableName=TABLE, Key={"lease": {"S": "a"}},
                    ConditionExpression="#owner = :me", ExpressionAttributeValues={":me": {"S": "me"}})
    assert error["Message"].endswith("attribute name: #owner")
    assert _items(dynamodb) == []


def test_expression_names_and_values_used(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"S": "a"}},
                    ConditionExpression="attribute_not_exists(lease)",
                    ExpressionAttributeValues={":now": {"N": "1"}})
    assert error["Message"] == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:now}"
    refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"S": "a"}},
            ConditionExpression="attribute_not_exists(lease)", ExpressionAttributeNames={"#o": "owner"})
    refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"S": "a"}},
            ExpressionAttributeValues={":now": {"N": "1"}})
    assert _items(dynamodb) == []


def test_condition_names_not_reserved_words(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    error = refused(dynamodb.put_item, "ValidationException", 400, TableName=TABLE, Item={"lease": {"S": "a"}},
                    ConditionExpression="attribute_not_exists(lease) OR owner = :me",
                    ExpressionAttributeValues={":me": {"S": "me"}})
    assert error["Message"] == ("Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
                                "owner")
    # ecsfleet's lease condition: 'owner' is aliased, 'lease' and 'expires' are not reserved.
    dynamodb.put_item(TableName=TABLE, Item={"lease": {"S": "a"}},
                      ConditionExpression="attribute_not_exists(lease) OR expires < :now OR #owner = :me",
                      ExpressionAttributeNames={"#owner": "owner"},
                      ExpressionAttributeValues={":now": {"N": "1"}, ":me": {"S": "me"}})


def test_conditional_check_failed(sb: Sandbox) -> None:
    dynamodb = _table(sb)
    dynamodb.put_item(TableName=TABLE, Item={"lease": {"S": "a"}, "owner": {"S": "other"}})
    error = refused(dynamodb.delete_item, "ConditionalCheckFailedException", 400, TableName=TABLE,
                    Key={"lease": {"S": "a"}}, ConditionExpression="#owner = :me",
                    ExpressionAttributeNames={"#owner": "owner"}, ExpressionAttributeValues={":me": {"S": "me"}})
    assert error["Message"] == "The conditional request failed"
    assert len(_items(dynamodb)) == 1
