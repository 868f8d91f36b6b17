"""The model checks every AWS API makes on its input before the operation runs; and requests the
sandbox cannot read get AWS's error in the protocol's shape, never a 500 or an HTML page."""

from __future__ import annotations

import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
from botocore.config import Config
from botocore.credentials import Credentials

from ecsfleet.sandbox import Sandbox
from rules_support import refused

UNCHECKED = Config(parameter_validation=False)  # send what boto3 would refuse, as another SDK could


def test_input_required_members(sb: Sandbox) -> None:
    ecs = sb.client("ecs", config=UNCHECKED)
    error = refused(ecs.describe_tasks, "ClientException", cluster="default")
    assert error["Message"] == ("1 validation error detected: Value null at 'tasks' failed to satisfy "
                                "constraint: Member must not be null")


def test_input_lengths(sb: Sandbox) -> None:
    cfn = sb.client("cloudformation")
    error = refused(cfn.describe_stacks, "ValidationError", StackName="s", NextToken="t" * 1025)
    assert "at 'nextToken' failed to satisfy constraint: Member must have length less than or equal to 1024" \
        in error["Message"]
    events = sb.client("events", config=UNCHECKED)
    refused(events.put_rule, "ValidationException", Name="", ScheduleExpression="rate(1 minute)")  # min 1


def test_input_numeric_ranges(sb: Sandbox) -> None:
    elb = sb.client("elb")
    elb.create_load_balancer(LoadBalancerName="web", AvailabilityZones=["us-east-1a"],
                             Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 8080}])
    error = refused(elb.configure_health_check, "ValidationError", LoadBalancerName="web", HealthCheck={
        "Target": "HTTP:8080/", "Interval": 301, "Timeout": 5, "UnhealthyThreshold": 2, "HealthyThreshold": 2})
    assert "at 'healthCheck.interval' failed to satisfy constraint: Member must have value less than or " \
        "equal to 300" in error["Message"]


def test_input_patterns(sb: Sandbox) -> None:
    events = sb.client("events")
    error = refused(events.put_rule, "ValidationException", Name="ecs changes!", ScheduleExpression="rate(1 minute)")
    assert error["Message"].startswith("1 validation error detected: Value 'ecs changes!' at 'name' failed to "
                                       "satisfy constraint: Member must satisfy regular expression pattern: ")
    events.put_rule(Name="ecs-changes", ScheduleExpression="rate(1 minute)")


def test_input_enumerations(sb: Sandbox) -> None:
    ecs = sb.client("ecs")
    ecs.create_cluster(clusterName="c")
    error = refused(ecs.update_container_instances_state, "ClientException", cluster="c",
                    containerInstances=["x"], status="DRAINIG")
    assert "Member must satisfy enum value set: [ACTIVE, DRAINING" in error["Message"]


# ---- requests the sandbox cannot read ----------------------------------------------------------

def _send(sb: Sandbox, service: str, method: str, path: str, body: bytes = b"",
          headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    request = botocore.awsrequest.AWSRequest(method=method, url=sb.endpoint_url + path, data=body,
                                             headers=headers or {})
    botocore.auth.SigV4Auth(Credentials("sandbox", "sandbox"), service, sb.region).add_auth(request)
    prepared = request.prepare()
    raw = urllib.request.Request(prepared.url, data=body or None, headers=dict(prepared.headers), method=method)
    try:
        with urllib.request.urlopen(raw, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON = {"Content-Type": "application/x-amz-json-1.1"}


def test_bad_requests_get_aws_errors_never_a_500_or_html(sb: Sandbox) -> None:
    cases = [
        ("elasticloadbalancing", "POST", "/", b"Action=NoSuchThing&Version=2012-06-01", FORM, b"InvalidAction"),
        ("elasticloadbalancing", "POST", "/", b"Action=DescribeLoadBalancers&Version=2012-06-01&PageSize=abc",
         FORM, b"ValidationError"),
        ("autoscaling", "POST", "/", b"Action=SetDesiredCapacity&Version=2011-01-01&AutoScalingGroupName=g"
         b"&DesiredCapacity=many", FORM, b"ValidationError"),
        ("route53", "POST", "/2013-04-01/hostedzone/Z1/rrset/", b"<not-xml", {"Content-Type": "application/xml"},
         b"MalformedXML"),
        ("route53", "GET", "/2013-04-01/no-such-resource", b"", {}, b"UnknownOperationException"),
        ("ecs", "POST", "/", b"{not json", {**JSON, "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListTasks"},
         b"SerializationException"),
        ("ecs", "POST", "/", b"{}", {**JSON, "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.NoSuch"},
         b"UnknownOperationException"),
        ("dynamodb", "POST", "/", b"{}", {"Content-Type": "application/x-amz-json-1.0",
                                          "X-Amz-Target": "DynamoDB_20120810.PutItem"}, b"ValidationException"),
    ]
    for service, method, path, body, headers, code in cases:
        status, content_type, payload = _send(sb, service, method, path, body, headers)
        assert 400 <= status < 500, (service, path, body, status, payload)
        assert b"<html" not in payload.lower() and "html" not in content_type, payload
        assert code in payload, (code, payload)
