"""The sandbox's rules for SQS: each a documented refusal of the API, checked before moto.

SQS speaks JSON but kept its query-protocol error codes: `Refusal.code` is the code boto3 reports
as `Error.Code` (AWS.SimpleQueueService.NonExistentQueue); protocols.refusal_response sends the
modelled shape's name (QueueDoesNotExist) beside it, so boto3 raises the modelled exception class.

SQS calls are checked outside the sandbox lock (ReceiveMessage long-polls): these checks only read
moto's queues, which take concurrent access on their own.
"""

from __future__ import annotations

import re
from typing import Any

from .base import Call, Refusal, Rule, param, rule

_API = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/"
_RECEIVE = _API + "API_ReceiveMessage.html"
_DELETE = _API + "API_DeleteMessage.html"
_DELETE_BATCH = _API + "API_DeleteMessageBatch.html"
_GET_URL = _API + "API_GetQueueUrl.html"
_CREATE = _API + "API_CreateQueue.html"

# Every operation that names its queue by QueueUrl.
_BY_URL = (
    "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "SendMessage", "SendMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueAttributes", "SetQueueAttributes",
    "PurgeQueue", "DeleteQueue", "ListQueueTags", "TagQueue", "UntagQueue", "ListDeadLetterSourceQueues",
    "AddPermission", "RemovePermission",
)
_BATCHES = {"DeleteMessageBatch": "DeleteMessageBatchRequestEntry", "SendMessageBatch": "SendMessageBatchRequestEntry",
            "ChangeMessageVisibilityBatch": "ChangeMessageVisibilityBatchRequestEntry"}
_MAX_BATCH = 10
_BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_MAX_VISIBILITY = 43200  # 12 hours


def _invalid_value(message: str) -> Refusal:
    return Refusal("InvalidParameterValue", message)


def _queue_name(call: Call) -> str:
    """The queue a call names: the last segment of its QueueUrl (AWS also takes the bare name)."""
    if call.operation == "GetQueueUrl":
        return str(param(call, "QueueName", default=""))
    return str(param(call, "QueueUrl", default="")).rstrip("/").rsplit("/", 1)[-1]


def _queue(call: Call) -> Any:
    return call.world.moto("sqs").queues.get(_queue_name(call))


@rule("queue_must_exist", "sqs", ("GetQueueUrl", *_BY_URL),
      "The queue a call names (QueueUrl, or QueueName for GetQueueUrl) must exist.", _GET_URL)
def _queue_must_exist(call: Call) -> Refusal | None:
    if _queue(call) is None:
        return Refusal("AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
    return None


def _range(call: Call, name: str, low: int, high: int, reason: str) -> Refusal | None:
    value = param(call, name)
    if isinstance(value, int) and not low <= value <= high:
        return _invalid_value(f"Value {value} for parameter {name} is invalid. Reason: {reason}, if provided.")
    return None


@rule("receive_max_number_of_messages_1_to_10", "sqs", "ReceiveMessage",
      "ReceiveMessage's MaxNumberOfMessages is between 1 and 10.", _RECEIVE)
def _max_messages(call: Call) -> Refusal | None:
    return _range(call, "MaxNumberOfMessages", 1, 10, "Must be between 1 and 10")


@rule("receive_wait_time_seconds_0_to_20", "sqs", "ReceiveMessage",
      "ReceiveMessage's WaitTimeSeconds (long polling) is between 0 and 20 seconds.", _RECEIVE)
def _wait_time(call: Call) -> Refusal | None:
    return _range(call, "WaitTimeSeconds", 0, 20, "Must be >= 0 and <= 20")


@rule("receive_visibility_timeout_0_to_43200", "sqs", "ReceiveMessage",
      "ReceiveMessage's VisibilityTimeout is between 0 and 43,200 seconds (12 hours).", _RECEIVE)
def _visibility(call: Call) -> Refusal | None:
    return _range(call, "VisibilityTimeout", 0, _MAX_VISIBILITY, f"Must be >= 0 and <= {_MAX_VISIBILITY}")


@rule("receipt_handle_must_have_been_issued", "sqs", ("DeleteMessage", "ChangeMessageVisibility"),
      "A receipt handle the queue never issued is refused (ReceiptHandleIsInvalid); a stale one that "
      "it did issue is accepted.", _DELETE)
def _receipt_handle(call: Call) -> Refusal | None:
    queue, handle = _queue(call), param(call, "ReceiptHandle", default="")
    if queue is None or _issued(queue, handle):
        return None
    return Refusal("ReceiptHandleIsInvalid", f'The input receipt handle "{handle}" is not a valid receipt handle.')


def _issued(queue: Any, handle: str) -> bool:
    """Whether the queue ever gave out this handle (to a message still there, or one deleted)."""
    if handle in queue.deleted_messages:
        return True
    return any(message.had_receipt_handle(handle) for message in list(queue._messages))


def _entries(call: Call) -> list[Any]:
    entries = param(call, "Entries", default=[])
    return entries if isinstance(entries, list) else []


def _entry_ids(call: Call) -> list[str]:
    return [str(entry.get("Id", "")) for entry in _entries(call) if isinstance(entry, dict)]


@rule("batch_not_empty", "sqs", tuple(_BATCHES),
      "A batch request carries at least one entry.", _DELETE_BATCH)
def _batch_not_empty(call: Call) -> Refusal | None:
    if _entries(call):
        return None
    return Refusal("AWS.SimpleQueueService.EmptyBatchRequest",
                   f"There should be at least one {_BATCHES[call.operation]} in the request.")


@rule("batch_at_most_10_entries", "sqs", tuple(_BATCHES),
      "A batch request carries at most 10 entries.", _DELETE_BATCH)
def _batch_at_most_10(call: Call) -> Refusal | None:
    count = len(_entries(call))
    if count <= _MAX_BATCH:
        return None
    return Refusal("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                   f"Maximum number of entries per request are {_MAX_BATCH}. You have sent {count}.")


@rule("batch_entry_ids_distinct", "sqs", tuple(_BATCHES),
      "The Ids of a batch request's entries are unique within the request.", _DELETE_BATCH)
def _batch_ids_distinct(call: Call) -> Refusal | None:
    seen: set[str] = set()
    for entry_id in _entry_ids(call):
        if entry_id in seen:
            return Refusal("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", f"Id {entry_id} repeated.")
        seen.add(entry_id)
    return None


@rule("batch_entry_id_characters", "sqs", tuple(_BATCHES),
      "A batch entry Id has 1 to 80 characters: alphanumerics, hyphens and underscores.", _DELETE_BATCH)
def _batch_id_characters(call: Call) -> Refusal | None:
    for entry_id in _entry_ids(call):
        if not _BATCH_ID.fullmatch(entry_id):
            return Refusal("AWS.SimpleQueueService.InvalidBatchEntryId",
                           "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
                           "It can be at most 80 letters long.")
    return None


@rule("queue_name_characters", "sqs", "CreateQueue",
      "A queue name has 1 to 80 characters: alphanumerics, hyphens and underscores; a FIFO queue's "
      "name ends in .fifo, and only a FIFO queue's does.", _CREATE)
def _queue_name_characters(call: Call) -> Refusal | None:
    name = str(param(call, "QueueName", default=""))
    fifo = str(param(call, "Attributes", "FifoQueue", default="false")).lower() == "true"
    if fifo and not _FIFO_NAME.fullmatch(name):
        return _invalid_value("The name of a FIFO queue can only include alphanumeric characters, hyphens, or "
                              "underscores, must end with .fifo suffix and be 1 to 80 in length.")
    if not fifo and not _QUEUE_NAME.fullmatch(name):
        return _invalid_value("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
    return None


RULES: tuple[Rule, ...] = (
    _queue_must_exist,
    _max_messages,
    _wait_time,
    _visibility,
    _receipt_handle,
    _batch_not_empty,
    _batch_at_most_10,
    _batch_ids_distinct,
    _batch_id_characters,
    _queue_name_characters,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Queue URLs are matched by their last path segment (the queue name), as moto does: a URL naming "
    "another account or region still reaches the sandbox's queue of that name.",
    "A receipt handle is never refused for having expired or for belonging to a message received "
    "again since: AWS accepts such a delete too (and may not delete), so only handles the queue never "
    "issued are refused.",
    "Per-entry failures of a batch (an invalid receipt handle inside DeleteMessageBatch) are moto's: "
    "they come back in the response's Failed list, as on AWS, not as a refusal.",
)
