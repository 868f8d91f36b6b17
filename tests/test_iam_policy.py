"""`ecsfleet iam-policy`: each capability's policy allows exactly what its sandbox scenario calls."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.iam import policies
from ecsfleet.iam.policies import Scope
from ecsfleet.runner import SqsWakeups
from ecsfleet.sandbox import Sandbox
from least_privilege import CallRecorder, Expected, check_exact
from support import cluster_with_instances, rule_to_queue
from test_dns_ecs import service as dns_service
from test_dns_ecs import zone
from test_lbsync import WEB, describe_lb, web_world

DOCS = Path(__file__).resolve().parents[1] / "docs"


def events_queue(sb: Sandbox, name: str) -> str:
    """An SQS queue an EventBridge rule fills with ECS events, holding one event already."""
    url = rule_to_queue(sb, name, {"source": ["aws.ecs"]})
    sb.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps({
        "source": "aws.ecs", "detail-type": "ECS Task State Change", "resources": ["arn:task"],
        "detail": {"version": 1}}))
    return url


def wake_on_events(sb: Sandbox, clients: Clients, queue: str) -> None:
    """What a daemon's `--events-queue` does: read the events, wake up, delete them."""
    wakeups = SqsWakeups(clients, queue).start()
    try:
        assert wakeups.wake.wait(30), "no event read from the queue"
        deadline = time.monotonic() + 30
        while sb.count("sqs", "DeleteMessageBatch") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        wakeups.stop()


# ---- scenarios: each runs a capability's own calls inside recorder.recording() ----------------

def lb_sync(sb: Sandbox, clients: Clients, recorder: CallRecorder) -> Expected:
    """Per-host statika files on S3, a first pass that registers and moves everything (listener and
    backend-server policies included), a stopped service deregistering, and event wake-ups."""
    web_world(sb)
    elb = sb.client("elb")
    elb.create_load_balancer_policy(LoadBalancerName="web-lb", PolicyName="proxy",
                                    PolicyTypeName="ProxyProtocolPolicyType",
                                    PolicyAttributes=[{"AttributeName": "ProxyProtocol", "AttributeValue": "true"}])
    elb.set_load_balancer_policies_for_backend_server(LoadBalancerName="web-lb", InstancePort=8080,
                                                      PolicyNames=["proxy"])
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="ops")
    s3.put_object(Bucket="ops", Key="config.json", Body=json.dumps({"cluster": "test", "sleepTimeSeconds": 5}))
    s3.put_object(Bucket="ops", Key="services.json", Body=json.dumps([WEB.model_dump(exclude_none=True)]))
    queue = events_queue(sb, "lb-sync-events")
    argv = ["lb-sync", "--once", "--all-instances", "--config", "s3://ops/config.json",
            "--services", "s3://ops/services.json"]

    with recorder.recording():
        assert main(argv) == 0
    assert describe_lb(sb)["Instances"]
    sb.client("ecs").update_service(cluster="test", service="web", desiredCount=0)
    with recorder.recording():
        assert main(argv) == 0
        wake_on_events(sb, clients, queue)
    assert describe_lb(sb)["Instances"] == []

    objects = (policies.s3_object_arn("s3://ops/config.json"), policies.s3_object_arn("s3://ops/services.json"))
    return Expected(frozenset({"s3-files", "events-queue"}),
                    Scope(cluster="test", load_balancers=("web-lb",), s3_objects=objects))


def dns_sync(sb: Sandbox, clients: Clients, recorder: CallRecorder) -> Expected:
    """The ECS source: records created for a service, removed when it stops, and event wake-ups."""
    zone_id = zone(sb)
    cluster_with_instances(sb, count=2)
    dns_service(sb, "echo", 2, {"SERVICE_PORT_8080": "_echo._tcp.example.com",
                                "SERVICE_FQDN_LOCAL": "echo.example.com"})
    queue = events_queue(sb, "dns-sync-events")
    argv = ["dns-sync", "--cluster", "test", "--once", "--zone-id", zone_id]

    with recorder.recording():
        assert main(argv) == 0
    sb.client("ecs").update_service(cluster="test", service="echo", desiredCount=0)
    with recorder.recording():
        assert main(argv) == 0
        wake_on_events(sb, clients, queue)
    assert recorder.calls[("route53", "ChangeResourceRecordSets")] == 2

    return Expected(frozenset({"events-queue"}), Scope(cluster="test", zone_ids=(zone_id,)))


def agents_everywhere(sb: Sandbox, clients: Clients, recorder: CallRecorder) -> Expected:
    """`--all` with a lease table (as the Lambda handler runs it), and `agents status`."""
    cluster_with_instances(sb, "prod", count=2)
    sb.client("dynamodb").create_table(
        TableName="leases", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "lease", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "lease", "KeyType": "HASH"}])

    with recorder.recording():
        assert main(["agents", "update", "--all", "--lease-table", "leases"]) == 0
        assert main(["agents", "status", "--output", "json"]) == 0
    assert recorder.calls[("ecs", "UpdateContainerAgent")] == 1

    return Expected(frozenset({"lease-table", "status"}), Scope(lease_tables=(policies.lease_table_arn("leases"),)))


def agents_one_cluster(sb: Sandbox, clients: Clients, recorder: CallRecorder) -> Expected:
    """Named clusters: no ListClusters, so a policy scoped to the cluster drops it. With a tag
    filter, the one use of EC2 (DescribeInstances) an update pass has."""
    cluster_with_instances(sb, "prod", count=2)
    with recorder.recording():
        assert main(["agents", "update", "--cluster", "prod", "--exclude-tag", "pinned=true"]) == 0
    return Expected(scope=Scope(cluster="prod"))


def fleet(sb: Sandbox, clients: Clients, recorder: CallRecorder) -> Expected:
    """A rollout of v1, a service outgrowing it (scale-out), a spot interruption read from the
    events queue, a rollout of v2 followed to the deletion of v1's stack, then plan and status.
    What CloudFormation itself creates (`stack-resources`) happens inside the sandbox's
    CloudFormation, not as calls it serves: the policy is checked here without it."""
    from ecsfleet.fleet.controller import FleetController
    from ecsfleet.fleet.network import resolve_network
    from ecsfleet.fleet.observe import read_world
    from ecsfleet.fleet.rollout import RolloutSettings, rollout
    from ecsfleet.fleet.schema import load_infra
    from ecsfleet.runner import read_queue
    from test_fleet_lifecycle import INFRA, web_service

    infra = load_infra(INFRA)[1]
    queue = rule_to_queue(sb, "fleet-events", {"source": ["aws.ec2"]})
    with recorder.recording():
        rollout(clients, infra, "v1", resolve_network(clients, infra), lambda _: None,
                RolloutSettings(follow=False, poll=5), sleep=sb.advance)
    web_service(sb, desired=2, memory=1024)
    sb.client("ecs").update_service(cluster="shop", service="web", desiredCount=12)
    v1 = read_world(clients, infra).fleet("v1")
    assert v1 is not None
    sb.interrupt_spot(v1.spot_fleets[0].instance_ids[0])
    # A drain that failed after its intent was written: the next pass clears the stale mark.
    ecs = sb.client("ecs")
    host = ecs.list_container_instances(cluster="shop")["containerInstanceArns"][-1]
    ecs.put_attributes(cluster="shop", attributes=[{"name": "ecsfleet.drain-reason", "value": "scale-in",
                                                    "targetId": host}])
    with recorder.recording():
        controller = FleetController(clients, infra)
        controller.inbox.add_bodies(read_queue(clients, queue))
        for _ in range(5):
            assert controller.reconcile(dry_run=False).ok
            sb.advance(10)
        rollout(clients, infra, "v2", resolve_network(clients, infra), lambda _: None,
                RolloutSettings(poll=10, follow_timeout=1800), sleep=sb.advance)
        assert main(["fleet", "plan", INFRA, "--version", "v2"]) == 0
        assert main(["fleet", "status", INFRA]) == 0
    assert recorder.calls[("cloudformation", "DeleteStack")] == 1
    return Expected(frozenset({"events-queue"}), Scope(cluster="shop"), defaults=False)


Scenario = Callable[[Sandbox, Clients, CallRecorder], Expected]
# Every capability whose policy is not a draft has at least one scenario here.
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "lb-sync": ("lb-sync", lb_sync),
    "dns-sync-ecs": ("dns-sync", dns_sync),
    "agents-all-clusters": ("agents", agents_everywhere),
    "agents-one-cluster": ("agents", agents_one_cluster),
    "fleet": ("fleet", fleet),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_policy_allows_exactly_what_the_scenario_calls(scenario: str, sb: Sandbox, clients: Clients,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    capability, run = SCENARIOS[scenario]
    recorder = CallRecorder(sb)
    expected = run(sb, clients, recorder)
    check_exact(capability, expected, recorder)


def test_every_checked_policy_has_a_scenario() -> None:
    covered = {capability for capability, _ in SCENARIOS.values()}
    for name, cap in policies.CAPABILITIES.items():
        assert cap.draft or name in covered, f"{name}: add a scenario to SCENARIOS, or mark its policy a draft"


def test_option_statements_appear_only_with_their_options() -> None:
    plain = set(policies.allowed_actions(policies.policy("lb-sync")))
    assert not {a for a in plain if a.startswith(("sqs:", "s3:"))}
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= set(policies.allowed_actions(
        policies.policy("lb-sync", ["events-queue"])))
    agents = set(policies.allowed_actions(policies.policy("agents", scope=Scope(cluster="prod"))))
    assert agents == {"ecs:ListContainerInstances", "ecs:DescribeContainerInstances", "ec2:DescribeInstances",
                      "ecs:UpdateContainerAgent"}
    docker = policies.policy("dns-sync", defaults=False)
    assert {a.split(":")[0] for a in policies.allowed_actions(docker)} == {"route53"}


def test_scope_narrows_resources() -> None:
    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/lb-events"
    doc = policies.policy("lb-sync", ["events-queue"], Scope(cluster="prod", load_balancers=("web-lb",),
                                                              queues=(policies.queue_arn(queue),)),
                          account="123456789012", region="eu-west-1")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["ListClusterInstances"]["Resource"] == "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"
    assert by_sid["ReadClusterTasks"]["Condition"] == {
        "ArnLike": {"ecs:cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/prod"}}
    assert by_sid["ChangeLoadBalancers"]["Resource"] == \
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/web-lb"
    assert by_sid["ReadEventsQueue"]["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:lb-events"
    assert by_sid["DescribeLoadBalancers"]["Resource"] == "*"
    zones = policies.policy("dns-sync", scope=Scope(zone_ids=("/hostedzone/Z1", "Z2")))
    change = next(s for s in zones["Statement"] if s["Sid"] == "ChangeRecords")
    assert change["Resource"] == ["arn:aws:route53:::hostedzone/Z1", "arn:aws:route53:::hostedzone/Z2"]


def test_sandbox_calls_map_to_iam_actions() -> None:
    assert policies.iam_action("elb", "DescribeLoadBalancers") == "elasticloadbalancing:DescribeLoadBalancers"
    assert policies.iam_action("ecs", "DescribeTasks") == "ecs:DescribeTasks"
    assert policies.iam_action("sqs", "DeleteMessageBatch") == "sqs:DeleteMessage"
    assert policies.iam_action("s3", "HeadObject") == "s3:GetObject"
    doc = {"Statement": [{"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"},
                         {"Effect": "Deny", "Action": "ecs:*", "Resource": "*"}]}
    result = policies.audit(doc, [("ec2", "DescribeInstances"), ("ecs", "ListTasks")])
    assert result.missing == ("ecs:ListTasks",) and result.unused == ()


def test_every_policy_fits_a_managed_policy() -> None:
    for name, cap in policies.CAPABILITIES.items():
        everything = policies.policy(name, cap.feature_names())
        assert policies.policy_size(everything) <= policies.MANAGED_POLICY_MAX_CHARS, name
        sids = [s["Sid"] for s in everything["Statement"]]
        assert len(sids) == len(set(sids)), name


def test_cli_prints_the_document_and_checks_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["iam-policy", "agents", "--cluster", "prod", "--lease-table", "leases",
                 "--account", "123456789012"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == policies.policy("agents", ["lease-table"], Scope(
        cluster="prod", lease_tables=(policies.lease_table_arn("leases"),)), account="123456789012")
    assert "ecs:ListClusters" not in policies.allowed_actions(doc)

    assert main(["iam-policy", "dns-sync", "--source", "docker", "--output", "table"]) == 0
    out = capsys.readouterr().out
    assert "ChangeRecords" in out and "ecs:" not in out

    assert main(["iam-policy", "dns-sync", "--load-balancer", "web-lb"]) == 2
    assert "--load-balancer does not apply to dns-sync" in capsys.readouterr().err
    assert main(["iam-policy", "agents", "--with", "bogus"]) == 2
    assert "agents has no feature bogus" in capsys.readouterr().err
    assert main(["iam-policy", "lb-sync", "--s3-object", "https://example.com/x"]) == 2
    assert "not an s3://bucket/key URL" in capsys.readouterr().err

    assert main(["iam-policy", "fleet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and {s["Sid"] for s in json.loads(captured.out)["Statement"]} >= {
        "Stacks", "ScaleFleets", "StackResources"}


def test_documented_tables_are_the_generated_ones(capsys: pytest.CaptureFixture[str]) -> None:
    """Each capability's page (docs/NAME.md) holds its IAM table as the command prints it."""
    for name, cap in policies.CAPABILITIES.items():
        if cap.draft:
            continue
        assert main(["iam-policy", name, "--output", "markdown"]) == 0
        table = capsys.readouterr().out
        assert table == policies.markdown(name)
        assert table in (DOCS / f"{name}.md").read_text(), \
            f"the IAM table of docs/{name}.md differs from `ecsfleet iam-policy {name} --output markdown`"
