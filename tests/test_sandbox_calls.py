"""The sandbox counts every call it serves, from Python and over HTTP, and injects faults."""

from __future__ import annotations

import json
import urllib.request

import botocore.config
import botocore.exceptions
import pytest

from ecsfleet.sandbox import Sandbox


def _control(sb: Sandbox, name: str, args: dict | None = None) -> dict:
    request = urllib.request.Request(f"{sb.endpoint_url}/_sandbox/{name}", data=json.dumps(args or {}).encode(),
                                     method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_calls_are_counted_by_service_and_operation(sb: Sandbox) -> None:
    ecs, route53, s3 = sb.client("ecs"), sb.client("route53"), sb.client("s3")
    ecs.create_cluster(clusterName="counted")
    for _ in range(3):
        ecs.list_tasks(cluster="counted")
    route53.create_hosted_zone(Name="example.com", CallerReference="x")
    s3.create_bucket(Bucket="counted")
    s3.put_object(Bucket="counted", Key="a/b.json", Body=b"{}")
    s3.get_object(Bucket="counted", Key="a/b.json")

    calls = sb.calls()
    assert calls[("ecs", "CreateCluster")] == 1
    assert calls[("ecs", "ListTasks")] == 3
    assert calls[("route53", "CreateHostedZone")] == 1
    assert calls[("s3", "PutObject")] == 1 and calls[("s3", "GetObject")] == 1
    assert sb.calls("ecs") == {("ecs", "CreateCluster"): 1, ("ecs", "ListTasks"): 3}

    over_http = {(c["service"], c["operation"]): c["count"] for c in _control(sb, "calls")["calls"]}
    assert over_http == dict(calls)
    _control(sb, "calls/reset")
    assert sb.calls() == {}


def test_throttled_operation_is_retried_by_adaptive_mode(sb: Sandbox) -> None:
    sb.client("ecs").create_cluster(clusterName="t")
    sb.reset_calls()
    sb.throttle("ecs", "ListTasks", times=2)
    patient = sb.client("ecs", config=botocore.config.Config(retries={"mode": "adaptive", "max_attempts": 5}))
    assert patient.list_tasks(cluster="t")["taskArns"] == []
    assert sb.count("ecs", "ListTasks") == 3

    _control(sb, "fault", {"service": "ecs", "operation": "ListTasks", "times": 1, "kind": "throttle"})
    impatient = sb.client("ecs", config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as error:
        impatient.list_tasks(cluster="t")
    assert error.value.response["Error"]["Code"] == "ThrottlingException"


def test_clock_advances_over_http(sb: Sandbox) -> None:
    before = sb.now()
    _control(sb, "advance", {"seconds": 12.5})
    assert sb.now() == pytest.approx(before + 12.5)
    assert _control(sb, "health")["ok"] is True
