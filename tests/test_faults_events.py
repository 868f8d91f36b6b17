"""The events queue that wakes the lb-sync and dns-sync daemons, under faults: a receive that keeps
failing is logged and retried, never the end of the wake-ups; a throttled delete is retried."""

from __future__ import annotations

import json
import logging
import time

import pytest

from ecsfleet.aws import Clients
from ecsfleet.runner import SqsWakeups
from ecsfleet.sandbox import Sandbox
from faults import ATTEMPTS, RetryWaits, exhaust, fault_suite, within_budget


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> RetryWaits:
    return fault_suite(monkeypatch)


def test_a_failing_receive_and_a_throttled_delete_still_wake_the_daemon(
    sb: Sandbox, clients: Clients, caplog: pytest.LogCaptureFixture
) -> None:
    sqs = sb.client("sqs")
    queue = sqs.create_queue(QueueName="ecs-events")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(
        {"resources": ["arn:aws:ecs:us-east-1:123456789012:task/test/t1"], "detail": {"version": 3}}))
    sb.reset_calls()
    exhaust(sb, ("sqs", "ReceiveMessage"))
    within_budget(sb, ("sqs", "DeleteMessageBatch"))

    with caplog.at_level(logging.WARNING):
        wakeups = SqsWakeups(clients, queue).start()
        try:
            # The first receive fails to the end of its budget; the poller says so, pauses, and
            # the next receive brings the event.
            assert wakeups.wake.wait(30)
            # It deletes what it read right after waking.
            deadline = time.monotonic() + 30
            while sb.count("sqs", "DeleteMessageBatch") < ATTEMPTS and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            wakeups.stop()

    assert f"cannot read events from {queue}" in caplog.text
    assert sb.count("sqs", "ReceiveMessage") >= ATTEMPTS + 1
    # The delete was retried until it went through: the event is not delivered again.
    assert sb.count("sqs", "DeleteMessageBatch") == ATTEMPTS
    assert "cannot delete events" not in caplog.text
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
