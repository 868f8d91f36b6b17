"""SQS rules of the sandbox: each refused call answers AWS's error code (SQS's legacy query code,
as boto3 reports it against AWS, with the modelled exception class)."""

from __future__ import annotations

from typing import Any

import pytest

from ecsfleet.sandbox import Sandbox
from rules_support import refused


def _queue(sb: Sandbox, name: str = "events") -> tuple[Any, str]:
    sqs = sb.client("sqs")
    return sqs, str(sqs.create_queue(QueueName=name)["QueueUrl"])


def _received(sqs: Any, url: str, count: int = 1) -> list[dict[str, Any]]:
    for i in range(count):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    messages: list[dict[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    return messages


def test_queue_must_exist(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    gone = url.rsplit("/", 1)[0] + "/nope"
    error = refused(sqs.receive_message, "AWS.SimpleQueueService.NonExistentQueue", 400, QueueUrl=gone)
    assert error["QueryErrorCode"] == "QueueDoesNotExist"  # boto3 raises sqs.exceptions.QueueDoesNotExist
    refused(sqs.delete_message_batch, "AWS.SimpleQueueService.NonExistentQueue", 400, QueueUrl=gone,
            Entries=[{"Id": "0", "ReceiptHandle": "x"}])
    refused(sqs.get_queue_url, "AWS.SimpleQueueService.NonExistentQueue", 400, QueueName="nope")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="nope")
    assert sqs.get_queue_url(QueueName="events")["QueueUrl"] == url


def test_receive_max_number_of_messages_1_to_10(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    error = refused(sqs.receive_message, "InvalidParameterValue", 400, QueueUrl=url, MaxNumberOfMessages=11)
    assert error["Message"] == "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 " \
                               "and 10, if provided."
    refused(sqs.receive_message, "InvalidParameterValue", 400, QueueUrl=url, MaxNumberOfMessages=0)
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []


def test_receive_wait_time_seconds_0_to_20(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    error = refused(sqs.receive_message, "InvalidParameterValue", 400, QueueUrl=url, WaitTimeSeconds=21)
    assert "Must be >= 0 and <= 20" in error["Message"]
    refused(sqs.receive_message, "InvalidParameterValue", 400, QueueUrl=url, WaitTimeSeconds=-1)
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


def test_receive_visibility_timeout_0_to_43200(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    refused(sqs.receive_message, "InvalidParameterValue", 400, QueueUrl=url, VisibilityTimeout=-1)
    refused(sqs.receive_message, "InvalidParameterValue", 400, QueueUrl=url, VisibilityTimeout=43201)
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=43200)


def test_receipt_handle_must_have_been_issued(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    message = _received(sqs, url)[0]
    error = refused(sqs.delete_message, "ReceiptHandleIsInvalid", 400, QueueUrl=url, ReceiptHandle="fake")
    assert error["Message"] == 'The input receipt handle "fake" is not a valid receipt handle.'
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])  # deleting twice is accepted


def test_batch_not_empty(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    error = refused(sqs.delete_message_batch, "AWS.SimpleQueueService.EmptyBatchRequest", 400, QueueUrl=url,
                    Entries=[])
    assert error["Message"] == "There should be at least one DeleteMessageBatchRequestEntry in the request."


def test_batch_at_most_10_entries(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    messages = _received(sqs, url, 10)
    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    error = refused(sqs.delete_message_batch, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400,
                    QueueUrl=url, Entries=[*entries, {"Id": "10", "ReceiptHandle": messages[0]["ReceiptHandle"]}])
    assert error["Message"] == "Maximum number of entries per request are 10. You have sent 11."
    assert len(sqs.delete_message_batch(QueueUrl=url, Entries=entries)["Successful"]) == len(messages)


def test_batch_entry_ids_distinct(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    handle = _received(sqs, url)[0]["ReceiptHandle"]
    refused(sqs.delete_message_batch, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, QueueUrl=url,
            Entries=[{"Id": "a", "ReceiptHandle": handle}, {"Id": "a", "ReceiptHandle": handle}])
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # nothing was deleted


def test_batch_entry_id_characters(sb: Sandbox) -> None:
    sqs, url = _queue(sb)
    handle = _received(sqs, url)[0]["ReceiptHandle"]
    refused(sqs.delete_message_batch, "AWS.SimpleQueueService.InvalidBatchEntryId", 400, QueueUrl=url,
            Entries=[{"Id": "a.b", "ReceiptHandle": handle}])
    refused(sqs.delete_message_batch, "AWS.SimpleQueueService.InvalidBatchEntryId", 400, QueueUrl=url,
            Entries=[{"Id": "x" * 81, "ReceiptHandle": handle}])
    assert sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": "a-b_1", "ReceiptHandle": handle}])["Successful"]


def test_queue_name_characters(sb: Sandbox) -> None:
    sqs = sb.client("sqs")
    refused(sqs.create_queue, "InvalidParameterValue", 400, QueueName="a.b")
    refused(sqs.create_queue, "InvalidParameterValue", 400, QueueName="q" * 81)
    refused(sqs.create_queue, "InvalidParameterValue", 400, QueueName="jobs", Attributes={"FifoQueue": "true"})
    sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})
    sqs.create_queue(QueueName="ecs-events_1")
    assert len(sqs.list_queues()["QueueUrls"]) == 2
