"""`ecsfleet bootstrap render`: the controllers as scheduled Lambda functions, checked by cfn-lint
and deployed in the sandbox."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

import ecsfleet
from ecsfleet.aws import Clients
from ecsfleet.bootstrap import Options, render
from ecsfleet.cfn import lint
from ecsfleet.cli import main
from ecsfleet.fleet.observe import read_world
from ecsfleet.fleet.schema import load_infra
from ecsfleet.iam import policies
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances, rolled_out, task_definition

EVERYTHING = ["--cluster", "test", "--services", "s3://ops/services.json", "--zone-id", "Z0123",
              "--load-balancer", "web-lb", "--window", "Mon-Fri 02:00-05:00 UTC", "--max-in-flight", "2",
              "--code-bucket", "code", "--code-key", "ecsfleet.zip"]
# The cluster of tests/fixtures/infra-sandbox.yml.
FLEET = ["--controllers", "fleet", "--cluster", "shop", "--infra-url", "s3://ops/infra.yml",
         "--code-bucket", "code", "--code-key", "ecsfleet.zip"]
INFRA = Path(__file__).parent / "fixtures" / "infra-sandbox.yml"


def rendered(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["bootstrap", "render", *argv]) == 0
    template: dict[str, Any] = json.loads(capsys.readouterr().out)
    return template


def role_policy(template: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p["PolicyDocument"] for p in template["Resources"][f"{key}Role"]["Properties"][
        "Policies"] if p["PolicyName"] == name)
    return found


def actions(doc: dict[str, Any]) -> set[str]:
    return set(policies.allowed_actions(doc))


def test_every_variant_passes_cfn_lint(capsys: pytest.CaptureFixture[str]) -> None:
    variants = [
        EVERYTHING,
        ["--controllers", "agents"],  # every cluster, no events, no scope
        ["--controllers", "lb-sync", "--cluster", "c", "--services", "https://config.example.com/services.json",
         "--schedule", "cron(0/5 * * * ? *)"],
        ["--controllers", "dns-sync,agents", "--cluster", "c"],
        FLEET,
        [*EVERYTHING, "--controllers", "lb-sync,dns-sync,agents,fleet",
         "--infra-url", "https://config.example.com/infra.yml"],
    ]
    for argv in variants:
        template = rendered(capsys, *argv)
        assert lint(template) == [], argv
    assert main(["bootstrap", "render", *EVERYTHING, "--format", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == render(Options(
        cluster="test", services="s3://ops/services.json", zone_ids=("Z0123",), load_balancers=("web-lb",),
        window="Mon-Fri 02:00-05:00 UTC", max_in_flight=2, code_bucket="code", code_key="ecsfleet.zip"))


def test_each_role_holds_its_capability_policy_and_what_lambda_needs(capsys: pytest.CaptureFixture[str]) -> None:
    template = rendered(capsys, *EVERYTHING)
    resources = template["Resources"]
    assert actions(role_policy(template, "LbSync", "lb-sync")) == actions(policies.policy("lb-sync", ["s3-files"]))
    assert actions(role_policy(template, "DnsSync", "dns-sync")) == actions(policies.policy("dns-sync"))
    # A named cluster: agents never lists clusters.
    assert actions(role_policy(template, "Agents", "agents")) == actions(policies.policy(
        "agents", ["lease-table"], policies.Scope(cluster="test")))
    lb = {s["Sid"]: s for s in role_policy(template, "LbSync", "lb-sync")["Statement"]}
    assert lb["ReadConfigFromS3"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:s3:::ops/services.json"}
    assert lb["ChangeLoadBalancers"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:elasticloadbalancing:"
                                                                "${AWS::Region}:${AWS::AccountId}:loadbalancer/web-lb"}
    dns = {s["Sid"]: s for s in role_policy(template, "DnsSync", "dns-sync")["Statement"]}
    assert dns["ChangeRecords"]["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:route53:::hostedzone/Z0123"}
    leases = {s["Sid"]: s for s in role_policy(template, "Agents", "agents")["Statement"]}["Leases"]
    assert leases["Resource"] == {"Fn::GetAtt": ["AgentsLeaseTable", "Arn"]}
    # Lambda's own needs: its log group, and its queue for the event-fed controllers only.
    assert actions(role_policy(template, "LbSync", "lambda-runtime")) == {
        "logs:CreateLogStream", "logs:PutLogEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage",
        "sqs:GetQueueAttributes"}
    assert actions(role_policy(template, "Agents", "lambda-runtime")) == {"logs:CreateLogStream",
                                                                         "logs:PutLogEvents"}
    assert "AgentsQueue" not in resources and "AgentsEvents" not in resources
    pattern = resources["LbSyncEvents"]["Properties"]["EventPattern"]
    # One source: the plain pattern, no $or.
    assert pattern["source"] == ["aws.ecs"]
    assert pattern["detail"]["clusterArn"] == [{"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:"
                                                           "${AWS::AccountId}:cluster/test"}]
    assert resources["LbSyncSchedule"]["Properties"]["ScheduleExpression"] == "rate(1 minute)"


def test_agents_alone_covers_every_cluster(capsys: pytest.CaptureFixture[str]) -> None:
    template = rendered(capsys, "--controllers", "agents")
    assert "ecs:ListClusters" in actions(role_policy(template, "Agents", "agents"))
    env = template["Resources"]["AgentsFunction"]["Properties"]["Environment"]["Variables"]
    assert "ECSFLEET_CLUSTERS" not in env and env["ECSFLEET_LEASE_TABLE"] == {"Ref": "AgentsLeaseTable"}
    assert set(template["Parameters"]) == {"CodeBucket", "CodeKey", "WebhookUrl"}
    assert template["Parameters"]["WebhookUrl"]["NoEcho"] is True


@pytest.mark.parametrize(("argv", "message"), [
    (["--controllers", "lb-sync", "--services", "s3://ops/s.json"], "lb-sync runs for one cluster: pass --cluster"),
    (["--controllers", "lb-sync", "--cluster", "c", "--services", "/etc/services.json"], "--services s3://"),
    (["--controllers", "lb-sync", "--cluster", "c", "--services", "s3://ops"], "not an s3://bucket/key URL"),
    (["--controllers", "agents", "--schedule", "every minute"], "--schedule 'every minute'"),
    (["--controllers", "agents,kured"], "choose among lb-sync, dns-sync, agents, fleet (got kured)"),
    (["--controllers", "fleet", "--infra-url", "s3://ops/infra.yml"], "fleet runs for one cluster: pass --cluster"),
    (["--controllers", "fleet", "--cluster", "shop"], "fleet needs infra.yml where Lambda can read it"),
    (["--controllers", "fleet", "--cluster", "shop", "--infra-url", "./infra.yml"], "--infra-url s3://"),
    (["--controllers", "fleet", "--cluster", "shop", "--infra-url", "s3://ops/"], "not an s3://bucket/key URL"),
    (["--controllers", "agents", "--window", "Someday 25:00-26:00"], "--window"),
])
def test_bad_options_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "render", *argv]) == 2
    assert message in capsys.readouterr().err


def test_fleet_role_holds_the_fleet_policy_and_may_read_only_its_infra(capsys: pytest.CaptureFixture[str]) -> None:
    template = rendered(capsys, *FLEET)
    fleet = role_policy(template, "Fleet", "fleet")["Statement"]
    # The capability's statements as `ecsfleet iam-policy fleet --cluster shop` prints them,
    # stack-resources included (reconcile deletes empty inactive stacks), then the infra object.
    assert fleet[:-1] == policies.for_cloudformation(policies.statements("fleet", (), policies.Scope(cluster="shop")))
    assert "StackResources" in {s["Sid"] for s in fleet}
    assert fleet[-1] == {"Sid": "ReadInfraFromS3", "Effect": "Allow", "Action": "s3:GetObject",
                         "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::ops/infra.yml"}}
    assert actions(role_policy(template, "Fleet", "lambda-runtime")) == {
        "logs:CreateLogStream", "logs:PutLogEvents", "sqs:ReceiveMessage", "sqs:DeleteMessage",
        "sqs:GetQueueAttributes"}
    resources = template["Resources"]
    function = resources["FleetFunction"]["Properties"]
    assert function["Handler"] == "ecsfleet.fleet.handler" and function["Timeout"] == 300
    assert function["Environment"]["Variables"] == {"ECSFLEET_INFRA": "s3://ops/infra.yml"}
    # Lambda refuses a trigger queue whose visibility timeout is shorter than the function's.
    assert resources["FleetQueue"]["Properties"]["VisibilityTimeout"] >= function["Timeout"]
    assert resources["FleetSchedule"]["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    assert resources["FleetEventSource"]["Properties"]["FunctionName"] == {"Ref": "FleetFunction"}

    # infra.yml over HTTPS: no S3 permission at all.
    https = rendered(capsys, *FLEET, "--infra-url", "https://config.example.com/infra.yml")
    assert actions(role_policy(https, "Fleet", "fleet")) == actions(policies.policy("fleet"))


def test_fleet_rule_carries_the_clusters_ecs_changes_spot_warnings_and_lifecycle_actions(
        capsys: pytest.CaptureFixture[str]) -> None:
    resources = rendered(capsys, *FLEET)["Resources"]
    rule = resources["FleetEvents"]["Properties"]
    assert rule["Targets"] == [{"Id": "queue", "Arn": {"Fn::GetAtt": ["FleetQueue", "Arn"]}}]
    by_source = {p["source"][0]: p for p in rule["EventPattern"]["$or"]}
    assert set(by_source) == {"aws.ecs", "aws.ec2", "aws.autoscaling"}
    assert by_source["aws.ecs"]["detail"]["clusterArn"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/shop"}]
    assert by_source["aws.ec2"] == {"source": ["aws.ec2"], "detail-type": [
        "EC2 Spot Instance Interruption Warning", "EC2 Instance Rebalance Recommendation"]}
    assert by_source["aws.autoscaling"] == {
        "source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-terminate Lifecycle Action"],
        "detail": {"AutoScalingGroupName": [{"prefix": "shop-"}], "LifecycleHookName": ["ecsfleet-drain"]}}
    policy = resources["FleetQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert [s["Condition"]["ArnEquals"]["aws:SourceArn"] for s in policy] == [{"Fn::GetAtt": ["FleetEvents", "Arn"]}]


def code_zip() -> bytes:
    """The package's own sources as a Lambda zip (the sandbox stores the code, it runs nothing)."""
    root = Path(ecsfleet.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.py")):
            archive.write(path, Path("ecsfleet") / path.relative_to(root))
    return buffer.getvalue()


def deploy(sb: Sandbox, tmp_path: Path, argv: list[str], stack_name: str) -> dict[str, str]:
    """Render the template (its code in s3://code/ecsfleet.zip), create its stack in the sandbox;
    the stack's outputs."""
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="ecsfleet.zip", Body=code_zip())
    out = tmp_path / "ecsfleet.json"
    assert main(["bootstrap", "render", *argv, "--out", str(out)]) == 0
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName=stack_name, TemplateBody=out.read_text(), Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def deployed_policy(sb: Sandbox, function: dict[str, Any], name: str) -> dict[str, Any]:
    """The inline policy `name` of the function's role, as the sandbox's IAM holds it."""
    role = function["Role"].rsplit("/", 1)[-1]
    deployed = sb.client("iam").get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    if isinstance(deployed, str):  # moto keeps a policy that CloudFormation created as the dict's repr
        deployed = ast.literal_eval(deployed)
    found: dict[str, Any] = deployed
    return found


def queued_events(sb: Sandbox, queue_url: str) -> list[dict[str, Any]]:
    """Every event waiting on the queue, taken off it (the sandbox runs no function, so nothing
    else consumes them)."""
    sqs = sb.client("sqs")
    events: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        events += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)])
    return events


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")  # moto skips the types it does not model
def test_deploys_in_the_sandbox_and_routes_the_clusters_ecs_events(sb: Sandbox, tmp_path: Path) -> None:
    outputs = deploy(sb, tmp_path, EVERYTHING, "ecsfleet-controllers")
    lam = sb.client("lambda")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    lb_sync = functions[outputs["LbSyncFunction"]]
    assert lb_sync["Handler"] == "ecsfleet.lbsync.handler" and lb_sync["Runtime"] == "python3.11"
    assert lb_sync["Environment"]["Variables"] == {"ECSFLEET_CLUSTER": "test", "SERVICES_URL": "s3://ops/services.json"}
    assert functions[outputs["DnsSyncFunction"]]["Environment"]["Variables"] == {
        "ECSFLEET_CLUSTER": "test", "ECSFLEET_DNS_ZONE_IDS": "Z0123"}
    agents = functions[outputs["AgentsFunction"]]
    assert agents["Handler"] == "ecsfleet.agents.handler"
    lease_table = agents["Environment"]["Variables"]["ECSFLEET_LEASE_TABLE"]
    assert sb.client("dynamodb").describe_table(TableName=lease_table)["Table"]["KeySchema"] == [
        {"AttributeName": "lease", "KeyType": "HASH"}]

    assert actions(deployed_policy(sb, lb_sync, "lb-sync")) == actions(policies.policy("lb-sync", ["s3-files"]))

    mappings = lam.list_event_source_mappings()["EventSourceMappings"]
    queue_arn = {m["FunctionArn"].rsplit(":", 1)[-1]: m["EventSourceArn"] for m in mappings}
    assert queue_arn[outputs["LbSyncFunction"]].endswith(outputs["LbSyncQueue"].rsplit("/", 1)[-1])
    assert set(queue_arn) == {outputs["LbSyncFunction"], outputs["DnsSyncFunction"]}
    # The sandbox cannot run Lambda functions: stop the triggers so the events stay in the queues.
    for mapping in mappings:
        lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)

    cluster_with_instances(sb, "test", count=1)
    cluster_with_instances(sb, "other", count=1)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web"))
    for cluster in ("test", "other"):
        ecs.run_task(cluster=cluster, taskDefinition="web")
    sb.advance(3)

    for key in ("LbSyncQueue", "DnsSyncQueue"):
        bodies = queued_events(sb, outputs[key])
        assert bodies, key
        assert {b["detail"]["clusterArn"].rsplit("/", 1)[-1] for b in bodies} == {"test"}
        assert {b["detail-type"] for b in bodies} <= {"ECS Task State Change", "ECS Container Instance State Change"}


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")  # moto skips the types it does not model
def test_fleet_deploys_in_the_sandbox_and_gets_spot_warnings_and_lifecycle_actions(
        sb: Sandbox, clients: Clients, tmp_path: Path) -> None:
    outputs = deploy(sb, tmp_path, FLEET, "ecsfleet-shop")
    lam = sb.client("lambda")
    function = lam.get_function(FunctionName=outputs["FleetFunction"])["Configuration"]
    assert function["Handler"] == "ecsfleet.fleet.handler" and function["Timeout"] == 300
    assert function["Environment"]["Variables"] == {"ECSFLEET_INFRA": "s3://ops/infra.yml"}
    assert actions(deployed_policy(sb, function, "fleet")) == actions(policies.policy("fleet")) | {"s3:GetObject"}
    [mapping] = lam.list_event_source_mappings(FunctionName=outputs["FleetFunction"])["EventSourceMappings"]
    assert mapping["EventSourceArn"].endswith(outputs["FleetQueue"].rsplit("/", 1)[-1])
    # The sandbox cannot run Lambda functions: stop the trigger so the events stay in the queue.
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)

    # A fleet of infra-sandbox.yml (cluster shop): one Auto Scaling group, one spot fleet.
    _, infra = load_infra(str(INFRA))
    rolled_out(sb, clients, infra)
    world = read_world(clients, infra)
    fleet = world.fleet("v1")
    assert fleet is not None
    ecs_events = queued_events(sb, outputs["FleetQueue"])
    assert ecs_events and {e["source"] for e in ecs_events} == {"aws.ecs"}

    spot_instance = fleet.spot_fleets[0].instance_ids[0]
    sb.interrupt_spot(spot_instance)
    group = fleet.asgs[0]
    sb.client("autoscaling").update_auto_scaling_group(AutoScalingGroupName=group.name, MinSize=0,
                                                       DesiredCapacity=0)
    events = queued_events(sb, outputs["FleetQueue"])
    by_type = {e["detail-type"]: e for e in events}
    assert by_type["EC2 Spot Instance Interruption Warning"]["detail"]["instance-id"] == spot_instance
    lifecycle = by_type["EC2 Instance-terminate Lifecycle Action"]["detail"]
    assert lifecycle["AutoScalingGroupName"] == group.name
    assert lifecycle["EC2InstanceId"] == group.instances[0].instance_id
