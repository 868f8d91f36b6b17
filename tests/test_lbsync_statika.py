"""statika's own files, as its users wrote them for v0.1.0 (its released version: no `family`,
`serviceName` is the task family), run unchanged; and docs/migrate-from-statika.md followed step
by step in the sandbox."""

from __future__ import annotations

import json

import pytest

from ecsfleet.aws import Clients
from ecsfleet.cli import main
from ecsfleet.config import Reloading
from ecsfleet.lbsync import LbSync
from ecsfleet.lbsync.services import parse_services
from ecsfleet.runner import safe_pass
from ecsfleet.sandbox import Sandbox
from support import running_tasks, task_definition
from test_lbsync import MOVE, default_vpc_cluster, describe_lb, elb_writes, make_lb

# statika v0.1.0's services file: `serviceName` holds the task family, keys in any case (Go's
# encoding/json), and a second load balancer whose entry names nothing that runs (a typo).
V010_SERVICES = [
    {"ServiceName": "web", "exposedcontainername": "web", "loadBalancerName": "web-lb"},
    {"serviceName": "wbe", "exposedContainerName": "web", "loadBalancerName": "typo-lb"},
]


def statika_world(sb: Sandbox) -> tuple[str, int]:
    """One host running service `web-service` of family `web`; web-lb has the host registered
    and its listener and health check on the old port 8080 (statika's last move); typo-lb has the
    host registered too. The host, and the task's port."""
    (host,) = default_vpc_cluster(sb, count=1)
    make_lb(sb)
    make_lb(sb, "typo-lb")
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web", ports=[(80, 0)]))
    ecs.create_service(cluster="test", serviceName="web-service", taskDefinition="web", desiredCount=1)
    sb.advance(2)
    for name in ("web-lb", "typo-lb"):
        sb.client("elb").register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": host}])
    (task,) = running_tasks(sb, "test")
    return host, int(task["containers"][0]["networkBindings"][0]["hostPort"])


def put(sb: Sandbox, key: str, body: object) -> str:
    s3 = sb.client("s3")
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket="ops")
    s3.put_object(Bucket="ops", Key=key, Body=json.dumps(body).encode())
    return f"s3://ops/{key}"


def test_a_v010_services_file_keeps_the_serving_host_and_moves_the_listener(sb: Sandbox, clients: Clients) -> None:
    host, port = statika_world(sb)
    url = put(sb, "statika-services.json", V010_SERVICES)
    document = Reloading(url, parse_services, clients)
    sync = LbSync(clients, "test", document.get, host)
    sb.reset_calls()

    report = safe_pass(sync, dry_run=False)

    assert report.ok, report.summary()
    # `web` is no service's name: it is the family of `web-service`'s task, as in statika v0.1.0.
    lb = describe_lb(sb)
    assert lb["Instances"] == [{"InstanceId": host}]
    assert lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == port
    assert lb["HealthCheck"]["Target"] == f"HTTP:{port}/healthz"
    assert "DeregisterInstancesFromLoadBalancer" not in elb_writes(sb)
    assert elb_writes(sb) == ["ConfigureHealthCheck", *MOVE]
    # The typo matches nothing: the host stays registered, and a warning says why.
    assert describe_lb(sb, "typo-lb")["Instances"] == [{"InstanceId": host}]
    (warning,) = report.warnings
    assert "'wbe'" in warning and "stay(s) registered with typo-lb" in warning


def test_a_name_that_is_a_service_and_another_family_warns_and_the_service_wins(
    sb: Sandbox, clients: Clients
) -> None:
    host, _ = statika_world(sb)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web-service", ports=[(80, 0)]))
    ecs.create_service(cluster="test", serviceName="other", taskDefinition="web-service", desiredCount=1)
    sb.advance(2)
    entry = {"serviceName": "web-service", "exposedContainerName": "web", "loadBalancerName": "web-lb"}
    sync = LbSync(clients, "test", lambda: parse_services("s.json", json.dumps([entry]).encode()), host)
    report = safe_pass(sync, dry_run=False)
    assert report.ok
    (warning,) = report.warnings
    assert "names both an ECS service and the task family of other tasks" in warning and '"family"' in warning
    (task,) = running_tasks(sb, "test", serviceName="web-service")
    port = task["containers"][0]["networkBindings"][0]["hostPort"]
    assert describe_lb(sb)["ListenerDescriptions"][0]["Listener"]["InstancePort"] == port


def test_the_migration_guide_step_by_step(
    sb: Sandbox, clients: Clients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    host, port = statika_world(sb)
    # 1. statika's files as they are (sleepTimeSeconds 0: statika's loop without a pause).
    monkeypatch.setenv("CONFIGURATION_URL", put(sb, "statika-config.json", {"cluster": "test", "sleepTimeSeconds": 0}))
    monkeypatch.setenv("SERVICES_URL", put(sb, "statika-services.json", V010_SERVICES[:1]))
    monkeypatch.setenv("AWS_REGION", sb.region)
    # 2. The policy, narrowed, with the tag actions that record a move.
    assert main(["iam-policy", "lb-sync", "--cluster", "test", "--load-balancer", "web-lb",
                 "--s3-object", "s3://ops/statika-services.json"]) == 0
    policy = capsys.readouterr().out
    for action in ("AddTags", "RemoveTags", "DescribeTags"):
        assert f"elasticloadbalancing:{action}" in policy
    # 3. Look before switching: the plan, no change.
    sb.reset_calls()
    assert main(["lb-sync", "--once", "--dry-run", "--instance-id", host]) == 0
    assert elb_writes(sb) == [] and f"instance port 8080 -> {port}" in capsys.readouterr().out
    # 4. Switch: the same environment, per host (one pass here; the daemon repeats it).
    assert main(["lb-sync", "--once", "--instance-id", host]) == 0
    lb = describe_lb(sb)
    assert lb["Instances"] == [{"InstanceId": host}]
    assert lb["ListenerDescriptions"][0]["Listener"]["InstancePort"] == port
    assert lb["ListenerDescriptions"][0]["PolicyNames"] == ["sticky"]
    # 5. Cluster-wide, from the same files: converged, nothing to write.
    sb.reset_calls()
    assert main(["lb-sync", "--once", "--all-instances"]) == 0
    assert elb_writes(sb) == []
