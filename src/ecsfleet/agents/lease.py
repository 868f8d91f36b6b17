"""A lease per cluster, so two runs at once (two schedules, a retry) never act on one cluster
together: a DynamoDB conditional write with an expiry, as a lock that cannot be left held
forever by a run that died.

The table needs a string partition key named `lease`; ecsfleet writes items
`{lease: "agents/<cluster>", owner: <run id>, expires: <epoch seconds>}` and deletes them when
done. Permissions: dynamodb:PutItem and dynamodb:DeleteItem on the table.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from ..aws import error_code


@dataclass
class Lease:
    dynamodb: Any
    table: str
    seconds: int = 300
    owner: str = field(default_factory=lambda: uuid.uuid4().hex)

    def acquire(self, name: str) -> bool:
        """True when this run now holds the lease `name` (free, or expired)."""
        now = int(time.time())
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={"lease": {"S": name}, "owner": {"S": self.owner}, "expires": {"N": str(now + self.seconds)}},
                ConditionExpression="attribute_not_exists(lease) OR expires < :now OR #owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":me": {"S": self.owner}},
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, name: str) -> None:
        try:
            self.dynamodb.delete_item(
                TableName=self.table, Key={"lease": {"S": name}},
                ConditionExpression="#owner = :me", ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": self.owner}},
            )
        except Exception as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
