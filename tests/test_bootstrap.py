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
from ecsfleet.bootstrap import Options, render
from ecsfleet.cli import main
from ecsfleet.fleet.lint import lint
from ecsfleet.iam import policies
from ecsfleet.sandbox import Sandbox
from support import cluster_with_instances, task_definition

EVERYTHING = ["--cluster", "test", "--services", "s3://ops/services.json", "--zone-id", "Z0123",
              "--load-balancer", "web-lb", "--window", "Mon-Fri 02:00-05:00 UTC", "--max-in-flight", "2",
              "--code-bucket", "code", "--code-key", "ecsfleet.zip"]


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
    assert "AgentsQueue" not in resources and "AgentsEcsEvents" not in resources
    pattern = resources["LbSyncEcsEvents"]["Properties"]["EventPattern"]
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
    (["--controllers", "agents,kured"], "choose among lb-sync, dns-sync, agents (got kured)"),
    (["--controllers", "agents", "--window", "Someday 25:00-26:00"], "--window"),
])
def test_bad_options_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bootstrap", "render", *argv]) == 2
    assert message in capsys.readouterr().err


def code_zip() -> bytes:
    """The package's own sources as a Lambda zip (the sandbox stores the code, it runs nothing)."""
    root = Path(ecsfleet.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.py")):
            archive.write(path, Path("ecsfleet") / path.relative_to(root))
    return buffer.getvalue()


@pytest.mark.filterwarnings("ignore:Tried to parse AWS::")  # moto skips the types it does not model
def test_deploys_in_the_sandbox_and_routes_the_clusters_ecs_events(sb: Sandbox, tmp_path: Path) -> None:
    s3 = sb.client("s3")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="ecsfleet.zip", Body=code_zip())
    out = tmp_path / "ecsfleet.json"
    assert main(["bootstrap", "render", *EVERYTHING, "--out", str(out)]) == 0

    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="ecsfleet-controllers", TemplateBody=out.read_text(), Capabilities=["CAPABILITY_IAM"])
    stack = cfn.describe_stacks(StackName="ecsfleet-controllers")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

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

    role = lb_sync["Role"].rsplit("/", 1)[-1]
    deployed = sb.client("iam").get_role_policy(RoleName=role, PolicyName="lb-sync")["PolicyDocument"]
    if isinstance(deployed, str):  # moto keeps a policy that CloudFormation created as the dict's repr
        deployed = ast.literal_eval(deployed)
    assert actions(deployed) == actions(policies.policy("lb-sync", ["s3-files"]))

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

    sqs = sb.client("sqs")
    for key in ("LbSyncQueue", "DnsSyncQueue"):
        url = sqs.get_queue_url(QueueName=outputs[key].rsplit("/", 1)[-1])["QueueUrl"]
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])]
        assert bodies, key
        assert {b["detail"]["clusterArn"].rsplit("/", 1)[-1] for b in bodies} == {"test"}
        assert {b["detail-type"] for b in bodies} <= {"ECS Task State Change", "ECS Container Instance State Change"}
