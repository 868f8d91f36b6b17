"""EventBridge rules of the sandbox: each refused call answers AWS's error code and changes nothing."""

from __future__ import annotations

import json
from typing import Any

from ecsfleet.sandbox import Sandbox
from rules_support import refused

PATTERN = json.dumps({"source": ["aws.ecs"], "detail-type": ["ECS Task State Change"]})
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:events"


def _rules(events: Any) -> list[str]:
    return [r["Name"] for r in events.list_rules()["Rules"]]


def test_event_bus_must_exist(sb: Sandbox) -> None:
    events = sb.client("events")
    error = refused(events.put_rule, "ResourceNotFoundException", 400, Name="r", EventPattern=PATTERN,
                    EventBusName="nope")
    assert error["Message"] == "Event bus nope does not exist."
    events.create_event_bus(Name="custom")
    events.put_rule(Name="r", EventPattern=PATTERN, EventBusName="custom")


def test_rule_needs_a_pattern_or_a_schedule(sb: Sandbox) -> None:
    events = sb.client("events")
    error = refused(events.put_rule, "ValidationException", 400, Name="r")
    assert error["Message"] == "Parameter(s) EventPattern or ScheduleExpression must be specified."
    assert _rules(events) == []


def test_event_pattern_is_valid(sb: Sandbox) -> None:
    events = sb.client("events")
    for pattern in ("{nope", '["aws.ecs"]', '{"source": "aws.ecs"}', '{"detail": {"lastStatus": "RUNNING"}}'):
        error = refused(events.put_rule, "InvalidEventPatternException", 400, Name="r", EventPattern=pattern)
        assert error["Message"].startswith("Event pattern is not valid. Reason: ")
    assert _rules(events) == []
    events.put_rule(Name="r", EventPattern=json.dumps({"detail": {"lastStatus": ["RUNNING"]}}))


def test_schedule_expression_is_valid(sb: Sandbox) -> None:
    events = sb.client("events")
    for expression in ("every 5 minutes", "rate(5 minute)", "rate(1 minutes)", "rate(0 minutes)",
                       "cron(0 12 * * *)", "cron(0 12 * * MON *)"):
        error = refused(events.put_rule, "ValidationException", 400, Name="r", ScheduleExpression=expression)
        assert error["Message"] == "Parameter ScheduleExpression is not valid.", expression
    assert _rules(events) == []
    accepted = ("rate(1 minute)", "rate(5 minutes)", "cron(0 12 * * ? *)", "cron(0/5 * ? * MON-FRI *)")
    for i, expression in enumerate(accepted):
        events.put_rule(Name=f"r{i}", ScheduleExpression=expression)


def test_schedule_only_on_the_default_bus(sb: Sandbox) -> None:
    events = sb.client("events")
    events.create_event_bus(Name="custom")
    error = refused(events.put_rule, "ValidationException", 400, Name="r", ScheduleExpression="rate(5 minutes)",
                    EventBusName="custom")
    assert error["Message"] == "ScheduleExpression is supported only on the default event bus."


def test_targets_need_an_existing_rule(sb: Sandbox) -> None:
    events = sb.client("events")
    error = refused(events.put_targets, "ResourceNotFoundException", 400, Rule="nope",
                    Targets=[{"Id": "q", "Arn": QUEUE_ARN}])
    assert error["Message"] == "Rule nope does not exist on EventBus default."


def test_at_most_5_targets_per_rule(sb: Sandbox) -> None:
    events = sb.client("events")
    events.put_rule(Name="r", EventPattern=PATTERN)
    targets = [{"Id": f"t{i}", "Arn": QUEUE_ARN} for i in range(5)]
    events.put_targets(Rule="r", Targets=targets)
    events.put_targets(Rule="r", Targets=targets[:2])  # the same Ids again replace themselves
    error = refused(events.put_targets, "LimitExceededException", 400, Rule="r",
                    Targets=[{"Id": "t5", "Arn": QUEUE_ARN}])
    assert error["Message"] == "The requested resource exceeds the maximum number allowed."
    assert len(events.list_targets_by_rule(Rule="r")["Targets"]) == 5
    refused(events.put_targets, "LimitExceededException", 400, Rule="r",
            Targets=[{"Id": f"n{i}", "Arn": QUEUE_ARN} for i in range(6)])


def test_a_scheduled_rule_matches_no_event(sb: Sandbox) -> None:
    """moto matched every event to a rule with only a ScheduleExpression; AWS never does."""
    from support import rule_to_queue

    sqs, events = sb.client("sqs"), sb.client("events")
    queue = rule_to_queue(sb, "ecs-events", {"source": ["aws.ecs"]})
    scheduled = sqs.create_queue(QueueName="scheduled")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=scheduled, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="cron", ScheduleExpression="rate(5 minutes)")
    events.put_targets(Rule="cron", Targets=[{"Id": "q", "Arn": arn}])
    events.put_events(Entries=[{"Source": "aws.ecs", "DetailType": "ECS Task State Change", "Detail": "{}"}])
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages")
    assert not sqs.receive_message(QueueUrl=scheduled, WaitTimeSeconds=0).get("Messages")
