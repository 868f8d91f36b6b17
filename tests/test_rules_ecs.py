"""ECS rules of the sandbox: each refused call answers AWS's error code, and changes nothing.

The client skips botocore's own parameter validation, so every refusal shown is the server's."""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from ecsfleet.sandbox import Sandbox
from rules_support import refused
from support import cluster_with_instances, task_definition

Ecs = Any


def _ecs(sb: Sandbox) -> Ecs:
    return sb.client("ecs", config=Config(parameter_validation=False))


def _hosts(sb: Sandbox, count: int = 1, name: str = "test", instance_type: str = "t3.medium") -> tuple[Ecs, list[str]]:
    """A cluster with `count` container instances; the client and the instances' ARNs."""
    cluster_with_instances(sb, name, count=count, instance_type=instance_type)
    ecs = _ecs(sb)
    return ecs, ecs.list_container_instances(cluster=name)["containerInstanceArns"]


def _describe(ecs: Ecs, arn: str, cluster: str = "test") -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_container_instances(cluster=cluster, containerInstances=[arn])[
        "containerInstances"][0]
    return found


# ---- clusters --------------------------------------------------------------------------------------------------

def test_cluster_name_format(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    refused(ecs.create_cluster, "InvalidParameterException", clusterName="prod cluster")
    refused(ecs.create_cluster, "InvalidParameterException", clusterName="x" * 256)
    assert ecs.list_clusters()["clusterArns"] == []
    assert ecs.create_cluster(clusterName="prod_cluster-1")["cluster"]["status"] == "ACTIVE"


def test_cluster_must_exist(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    refused(ecs.list_tasks, "ClusterNotFoundException", cluster="nope")
    refused(ecs.list_container_instances, "ClusterNotFoundException")  # no cluster given: the default one
    refused(ecs.update_container_instances_state, "ClusterNotFoundException", cluster="nope",
            containerInstances=["abc"], status="DRAINING")
    ecs.create_cluster(clusterName="gone")
    ecs.delete_cluster(cluster="gone")
    refused(ecs.list_services, "ClusterNotFoundException", cluster="gone")  # INACTIVE counts as missing
    ecs.create_cluster()
    assert ecs.list_container_instances()["containerInstanceArns"] == []


def test_delete_cluster_without_instances(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    refused(ecs.delete_cluster, "ClusterContainsContainerInstancesException", cluster="test")
    assert ecs.describe_clusters(clusters=["test"])["clusters"][0]["status"] == "ACTIVE"


def test_delete_cluster_without_services(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="svc")
    ecs.register_task_definition(**task_definition("web"))
    ecs.create_service(cluster="svc", serviceName="web", taskDefinition="web", desiredCount=0)
    refused(ecs.delete_cluster, "ClusterContainsServicesException", cluster="svc")
    ecs.delete_service(cluster="svc", service="web")
    sb.advance(1)
    assert ecs.delete_cluster(cluster="svc")["cluster"]["status"] == "INACTIVE"


# ---- batches and pages -----------------------------------------------------------------------------------------

def test_describe_container_instances_at_most_100(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    refused(ecs.describe_container_instances, "InvalidParameterException", cluster="test",
            containerInstances=[f"ci-{n}" for n in range(101)])
    refused(ecs.describe_container_instances, "InvalidParameterException", cluster="test", containerInstances=[])
    answer = ecs.describe_container_instances(cluster="test", containerInstances=[*arns, "missing"])
    assert len(answer["containerInstances"]) == 1 and answer["failures"][0]["reason"] == "MISSING"


def test_describe_tasks_at_most_100(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="test")
    refused(ecs.describe_tasks, "InvalidParameterException", cluster="test", tasks=[f"t{n}" for n in range(101)])
    assert ecs.describe_tasks(cluster="test", tasks=[f"t{n}" for n in range(100)])["tasks"] == []


def test_describe_services_at_most_10(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="test")
    refused(ecs.describe_services, "InvalidParameterException", cluster="test", services=[f"s{n}" for n in range(11)])
    assert len(ecs.describe_services(cluster="test", services=[f"s{n}" for n in range(10)])["failures"]) == 10


def test_update_container_instances_state_at_most_10(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    refused(ecs.update_container_instances_state, "InvalidParameterException", cluster="test",
            containerInstances=arns * 11, status="DRAINING")
    assert _describe(ecs, arns[0])["status"] == "ACTIVE"


def test_start_task_at_most_10_instances(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    ecs.register_task_definition(**task_definition("web"))
    refused(ecs.start_task, "InvalidParameterException", cluster="test", taskDefinition="web",
            containerInstances=arns * 11)
    assert ecs.list_tasks(cluster="test")["taskArns"] == []


def test_describe_clusters_at_most_100(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    refused(ecs.describe_clusters, "InvalidParameterException", clusters=[f"c{n}" for n in range(101)])
    assert len(ecs.describe_clusters(clusters=[f"c{n}" for n in range(100)])["failures"]) == 100


def test_list_max_results_1_to_100(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="test")
    refused(ecs.list_tasks, "InvalidParameterException", cluster="test", maxResults=101)
    refused(ecs.list_clusters, "InvalidParameterException", maxResults=0)
    assert ecs.list_clusters(maxResults=100)["clusterArns"]


# ---- tasks -----------------------------------------------------------------------------------------------------

def test_list_tasks_family_format(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="test")
    error = refused(ecs.list_tasks, "InvalidParameterException", cluster="test", family="web:3")
    assert error["Message"] == r"family must match ^[a-zA-Z0-9\-_]+$"
    assert ecs.list_tasks(cluster="test", family="web")["taskArns"] == []


def test_list_tasks_started_by_alone(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="test")
    refused(ecs.list_tasks, "InvalidParameterException", cluster="test", startedBy="me", family="web")
    refused(ecs.list_tasks, "InvalidParameterException", cluster="test", startedBy="me", serviceName="web")
    assert ecs.list_tasks(cluster="test", startedBy="me")["taskArns"] == []


def test_run_task_count_1_to_10(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    ecs.register_task_definition(**task_definition("tiny", ports=[], memory=16, cpu=8))
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny", count=11)
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny", count=0)
    assert ecs.list_tasks(cluster="test")["taskArns"] == []
    assert len(ecs.run_task(cluster="test", taskDefinition="tiny", count=10)["tasks"]) == 10


def test_run_task_started_by_format(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    ecs.register_task_definition(**task_definition("tiny", ports=[]))
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny", startedBy="me and you")
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny", startedBy="x" * 129)
    assert ecs.run_task(cluster="test", taskDefinition="tiny", startedBy="ecsfleet-smoke-test/1")["tasks"]


def test_placement_constraint_expression(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    ecs.register_task_definition(**task_definition("tiny", ports=[]))
    for constraint in ({"type": "memberOf"}, {"type": "distinctInstance", "expression": "attribute:a == b"},
                       {"type": "memberOf", "expression": "attribute:a == " + "b" * 2000}):
        refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny",
                placementConstraints=[constraint])
    assert ecs.list_tasks(cluster="test")["taskArns"] == []
    answer = ecs.run_task(cluster="test", taskDefinition="tiny", placementConstraints=[
        {"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}, {"type": "distinctInstance"}])
    assert answer["tasks"]


def test_placement_strategy_at_most_5(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    ecs.register_task_definition(**task_definition("tiny", ports=[]))
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny",
            placementStrategy=[{"type": "spread", "field": "instanceId"}] * 6)
    assert ecs.run_task(cluster="test", taskDefinition="tiny",
                        placementStrategy=[{"type": "spread", "field": "instanceId"}] * 5)["tasks"]


def test_placement_constraints_at_most_10(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    own = [{"type": "memberOf", "expression": "attribute:ecs.os-type == linux"}] * 4
    ecs.register_task_definition(**task_definition("tiny", ports=[]), placementConstraints=own)
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny",
            placementConstraints=[{"type": "distinctInstance"}] * 7)  # 4 of its own + 7 > 10
    assert ecs.run_task(cluster="test", taskDefinition="tiny",
                        placementConstraints=[{"type": "distinctInstance"}] * 6)["tasks"]


def test_task_definition_must_exist(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    error = refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="nothing")
    assert error["Message"] == "TaskDefinition not found."
    ecs.register_task_definition(**task_definition("tiny", ports=[]))
    refused(ecs.run_task, "InvalidParameterException", cluster="test", taskDefinition="tiny:2")
    refused(ecs.create_service, "InvalidParameterException", cluster="test", serviceName="s", taskDefinition="x")
    assert ecs.run_task(cluster="test", taskDefinition="tiny:1")["tasks"]


def test_describe_task_definition_must_exist(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    error = refused(ecs.describe_task_definition, "ClientException", taskDefinition="web")
    assert error["Message"] == "Unable to describe task definition."
    ecs.register_task_definition(**task_definition("web"))
    refused(ecs.describe_task_definition, "ClientException", taskDefinition="web:2")
    ecs.deregister_task_definition(taskDefinition="web:1")
    refused(ecs.describe_task_definition, "ClientException", taskDefinition="web")  # no ACTIVE revision
    assert ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]["status"] == "INACTIVE"


def test_run_task_needs_container_instances(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    ecs.create_cluster(clusterName="empty")
    ecs.register_task_definition(**task_definition("tiny", ports=[]))
    error = refused(ecs.run_task, "InvalidParameterException", cluster="empty", taskDefinition="tiny")
    assert error["Message"] == "No Container Instances were found in your cluster."


def test_stop_task_reason_at_most_255(sb: Sandbox) -> None:
    ecs, _ = _hosts(sb)
    ecs.register_task_definition(**task_definition("tiny", ports=[]))
    arn = ecs.run_task(cluster="test", taskDefinition="tiny")["tasks"][0]["taskArn"]
    refused(ecs.stop_task, "InvalidParameterException", cluster="test", task=arn, reason="x" * 256)
    assert ecs.describe_tasks(cluster="test", tasks=[arn])["tasks"][0]["desiredStatus"] == "RUNNING"
    assert ecs.stop_task(cluster="test", task=arn, reason="x" * 255)["task"]["desiredStatus"] == "STOPPED"


# ---- task definitions ------------------------------------------------------------------------------------------

def test_task_definition_family_format(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    error = refused(ecs.register_task_definition, "ClientException", **task_definition("web.app"))
    assert error["Message"] == "Family contains invalid characters."
    refused(ecs.register_task_definition, "ClientException", **{**task_definition("web"), "family": ""})
    assert ecs.list_task_definition_families()["families"] == []


def test_task_definition_containers_1_to_10(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    one = task_definition("web")["containerDefinitions"][0]
    refused(ecs.register_task_definition, "ClientException", family="web", containerDefinitions=[])
    refused(ecs.register_task_definition, "ClientException", family="web",
            containerDefinitions=[{**one, "name": f"c{n}"} for n in range(11)])
    assert ecs.register_task_definition(family="web", containerDefinitions=[
        {**one, "name": f"c{n}"} for n in range(10)])["taskDefinition"]["revision"] == 1


def test_container_name_and_image(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    one = task_definition("web")["containerDefinitions"][0]
    for containers in ([{**one, "name": "my app"}], [{**one, "name": ""}], [{**one, "image": ""}], [one, one]):
        refused(ecs.register_task_definition, "ClientException", family="web", containerDefinitions=containers)
    assert ecs.list_task_definitions()["taskDefinitionArns"] == []


def test_container_memory_required_on_ec2(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    bare = {"name": "web", "image": "nginx"}
    error = refused(ecs.register_task_definition, "ClientException", family="web", containerDefinitions=[bare])
    assert "At least one of 'memory' or 'memoryReservation' must be specified" in error["Message"]
    assert ecs.register_task_definition(family="web", memory="512", containerDefinitions=[bare])["taskDefinition"]
    assert ecs.register_task_definition(family="web", containerDefinitions=[{**bare, "memoryReservation": 64}])


def test_container_memory_reservation_below_memory(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    refused(ecs.register_task_definition, "ClientException",
            **task_definition("web", memory=128, memoryReservation=256))
    assert ecs.register_task_definition(**task_definition("web", memory=256, memoryReservation=128))


# ---- container instances: state and attributes -----------------------------------------------------------------

def test_instance_state_active_or_draining(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    for status in ("REGISTERING", "DEREGISTERING", "REGISTRATION_FAILED"):
        refused(ecs.update_container_instances_state, "InvalidParameterException", cluster="test",
                containerInstances=arns, status=status)
    assert _describe(ecs, arns[0])["status"] == "ACTIVE"
    answer = ecs.update_container_instances_state(cluster="test", containerInstances=[*arns, "unknown"],
                                                  status="DRAINING")
    assert answer["containerInstances"][0]["status"] == "DRAINING"
    assert answer["failures"] == [{"arn": "unknown", "reason": "MISSING"}]


def test_a_deregistered_instance_is_never_set_draining(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    ecs.deregister_container_instance(cluster="test", containerInstance=arns[0], force=True)
    answer = ecs.update_container_instances_state(cluster="test", containerInstances=arns, status="DRAINING")
    assert answer["containerInstances"] == [] and answer["failures"][0]["arn"] == arns[0]
    assert _describe(ecs, arns[0])["status"] == "INACTIVE"


def _attribute(name: str, target: str, value: str | None = "x") -> dict[str, str]:
    return {"name": name, "targetType": "container-instance", "targetId": target,
            **({"value": value} if value is not None else {})}


def test_put_attributes_at_most_10(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    refused(ecs.put_attributes, "InvalidParameterException", cluster="test",
            attributes=[_attribute(f"a{n}", arns[0]) for n in range(11)])
    refused(ecs.put_attributes, "InvalidParameterException", cluster="test", attributes=[])
    assert "a0" not in {a["name"] for a in _describe(ecs, arns[0])["attributes"]}
    ecs.put_attributes(cluster="test", attributes=[_attribute(f"a{n}", arns[0]) for n in range(10)])


def test_attribute_name_format(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    for name in ("team name", "x" * 129, "", "cost=center"):
        refused(ecs.put_attributes, "InvalidParameterException", cluster="test", attributes=[_attribute(name, arns[0])])
    ecs.put_attributes(cluster="test", attributes=[_attribute("ecsfleet.drain-reason/v1_a-b", arns[0])])


def test_attribute_value_format(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    for value in (" padded", "x" * 129, "", "a=b", "tab\there"):
        refused(ecs.put_attributes, "InvalidParameterException", cluster="test",
                attributes=[_attribute("team", arns[0], value)])
    assert "team" not in {a["name"] for a in _describe(ecs, arns[0])["attributes"]}
    ecs.put_attributes(cluster="test", attributes=[_attribute("team", arns[0], "web @ eu-west-1: a/b.c"),
                                                   _attribute("flag", arns[0], None)])


def test_attribute_target_type_for_short_ids(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    short = arns[0].rsplit("/", 1)[-1]
    refused(ecs.put_attributes, "InvalidParameterException", cluster="test",
            attributes=[{"name": "team", "value": "web", "targetId": short}])
    ecs.put_attributes(cluster="test", attributes=[_attribute("team", short)])


def test_attribute_target_must_exist(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    _hosts(sb, name="other")
    other = ecs.list_container_instances(cluster="other")["containerInstanceArns"][0]
    for target in ("arn:aws:ecs:us-east-1:123456789012:container-instance/test/nope", other):
        refused(ecs.put_attributes, "TargetNotFoundException", cluster="test",
                attributes=[_attribute("ok", arns[0]), _attribute("team", target)])
    assert "ok" not in {a["name"] for a in _describe(ecs, arns[0])["attributes"]}  # the whole call refused
    refused(ecs.delete_attributes, "TargetNotFoundException", cluster="test", attributes=[_attribute("team", other)])


def test_custom_attributes_at_most_10(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    ecs.put_attributes(cluster="test", attributes=[_attribute(f"a{n}", arns[0]) for n in range(8)])
    refused(ecs.put_attributes, "AttributeLimitExceededException", cluster="test",
            attributes=[_attribute(f"b{n}", arns[0]) for n in range(3)])
    ecs.put_attributes(cluster="test", attributes=[_attribute(n, arns[0]) for n in ("b0", "b1", "a0")])  # 10
    ecs.delete_attributes(cluster="test", attributes=[_attribute("a0", arns[0])])
    ecs.put_attributes(cluster="test", attributes=[_attribute("c0", arns[0])])


# ---- agent updates ---------------------------------------------------------------------------------------------

def _agent_refused(sb: Sandbox, code: str, instance_type: str = "t3.medium", **facts: Any) -> tuple[Ecs, str]:
    ecs, arns = _hosts(sb, instance_type=instance_type)
    if facts:
        sb.set_agent_facts(arns[0], **facts)
    refused(ecs.update_container_agent, code, cluster="test", containerInstance=arns[0])
    assert "agentUpdateStatus" not in _describe(ecs, arns[0])
    return ecs, arns[0]


def test_agent_update_needs_version_info(sb: Sandbox) -> None:
    ecs, arn = _agent_refused(sb, "MissingVersionException", version_info=False)
    assert _describe(ecs, arn)["versionInfo"] == {}
    sb.set_agent_facts(arn, version_info=True)
    assert ecs.update_container_agent(cluster="test", containerInstance=arn)["containerInstance"][
        "agentUpdateStatus"] == "PENDING"


def test_agent_update_not_on_windows(sb: Sandbox) -> None:
    _agent_refused(sb, "InvalidParameterException", os_type="windows")


def test_agent_update_not_on_arm64(sb: Sandbox) -> None:
    ecs, arn = _agent_refused(sb, "InvalidParameterException", instance_type="t4g.medium")
    attributes = {a["name"]: a.get("value") for a in _describe(ecs, arn)["attributes"]}
    assert attributes["ecs.cpu-architecture"] == "arm64"  # a Graviton type reports arm64 on its own


def test_agent_update_needs_connected_agent(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    sb.disconnect_agent(arns[0])
    refused(ecs.update_container_agent, "ClientException", cluster="test", containerInstance=arns[0])
    sb.reconnect_agent(arns[0])
    assert ecs.update_container_agent(cluster="test", containerInstance=arns[0])["containerInstance"]


def test_agent_update_not_while_in_progress(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    ecs.update_container_agent(cluster="test", containerInstance=arns[0])
    refused(ecs.update_container_agent, "UpdateInProgressException", cluster="test", containerInstance=arns[0])
    sb.advance(60)
    assert _describe(ecs, arns[0])["agentUpdateStatus"] == "UPDATED"


def test_agent_update_needs_an_update(sb: Sandbox) -> None:
    ecs, arns = _hosts(sb)
    ecs.update_container_agent(cluster="test", containerInstance=arns[0])
    sb.advance(60)
    refused(ecs.update_container_agent, "NoUpdateAvailableException", cluster="test", containerInstance=arns[0])
    assert _describe(ecs, arns[0])["agentUpdateStatus"] == "UPDATED"


# ---- tags ------------------------------------------------------------------------------------------------------

def test_tags_limits(sb: Sandbox) -> None:
    ecs = _ecs(sb)
    reserved = [{"key": "aws:owner", "value": "me"}]
    refused(ecs.create_cluster, "InvalidParameterException", clusterName="tagged", tags=reserved)
    arn = ecs.create_cluster(clusterName="tagged", tags=[{"key": "k0", "value": "v"}])["cluster"]["clusterArn"]
    refused(ecs.tag_resource, "InvalidParameterException", resourceArn=arn, tags=[{"key": "AWS:x", "value": ""}])
    assert ecs.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "k0", "value": "v"}]
    ecs.tag_resource(resourceArn=arn, tags=[{"key": f"k{n}", "value": ""} for n in range(50)])  # k0 replaced
    assert len(ecs.describe_clusters(clusters=[arn], include=["TAGS"])["clusters"][0]["tags"]) == 50
    # 50 on the resource already: one more is refused though the call itself carries only one.
    refused(ecs.tag_resource, "InvalidParameterException", resourceArn=arn, tags=[{"key": "one-more", "value": ""}])
