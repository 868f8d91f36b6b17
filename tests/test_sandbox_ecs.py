"""The sandbox's ECS behaves like ECS where ecsfleet depends on it (all calls over HTTP)."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import launch_instances, network
from support import (
    cluster_with_instances,
    container_instances,
    describe_tasks,
    host_ports,
    rule_to_queue,
    running_tasks,
    task_definition,
)


def _run(sb: Sandbox, cluster: str, family: str, count: int, **kwargs: object) -> dict:
    return sb.client("ecs").run_task(cluster=cluster, taskDefinition=family, count=count, **kwargs)


def test_tasks_start_pending_then_run_with_unique_dynamic_ports(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=1)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("app", ports=[(80, 0), (9090, 0)]))
    started = _run(sb, "test", "app", 5)
    assert [t["lastStatus"] for t in started["tasks"]] == ["PENDING"] * 5
    assert all(host_ports(t) == [] for t in started["tasks"])

    sb.advance(2)
    tasks = running_tasks(sb, "test")
    assert {t["lastStatus"] for t in tasks} == {"RUNNING"}
    ports = [p for t in tasks for p in host_ports(t)]
    assert len(ports) == 10 and len(set(ports)) == 10
    assert all(32768 <= p <= 60999 for p in ports)
    bindings = tasks[0]["containers"][0]["networkBindings"]
    assert {b["containerPort"] for b in bindings} == {80, 9090}


def test_stop_frees_ports_and_resources_and_leaves_list_tasks(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=1)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("app", memory=256))
    task = _run(sb, "test", "app", 1)["tasks"][0]
    sb.advance(2)
    port = host_ports(describe_tasks(sb, "test", [task["taskArn"]])[0])[0]
    instance = ecs.describe_container_instances(
        cluster="test", containerInstances=[task["containerInstanceArn"]])["containerInstances"][0]
    remaining = {r["name"]: r for r in instance["remainingResources"]}
    registered = {r["name"]: r for r in instance["registeredResources"]}
    assert remaining["MEMORY"]["integerValue"] == registered["MEMORY"]["integerValue"] - 256
    assert str(port) in remaining["PORTS"]["stringSetValue"]
    assert instance["runningTasksCount"] == 1

    ecs.stop_task(cluster="test", task=task["taskArn"], reason="test")
    # ECS's stop sequence: desiredStatus first, the container keeps running for its stopTimeout.
    stopping = describe_tasks(sb, "test", [task["taskArn"]])[0]
    assert (stopping["desiredStatus"], stopping["lastStatus"]) == ("STOPPED", "RUNNING")
    assert ecs.list_tasks(cluster="test")["taskArns"] == []
    sb.advance(30)
    stopped = describe_tasks(sb, "test", [task["taskArn"]])[0]
    assert stopped["lastStatus"] == "STOPPED"
    assert ecs.list_tasks(cluster="test", desiredStatus="STOPPED")["taskArns"] == [task["taskArn"]]
    instance = ecs.describe_container_instances(
        cluster="test", containerInstances=[task["containerInstanceArn"]])["containerInstances"][0]
    remaining = {r["name"]: r for r in instance["remainingResources"]}
    assert remaining["MEMORY"]["integerValue"] == registered["MEMORY"]["integerValue"]
    assert str(port) not in remaining["PORTS"]["stringSetValue"]
    assert instance["runningTasksCount"] == 0


def test_fixed_host_port_is_placed_once_per_instance(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("fixed", ports=[(8080, 8080)]))
    result = _run(sb, "test", "fixed", 3)
    assert len(result["tasks"]) == 2
    assert len({t["containerInstanceArn"] for t in result["tasks"]}) == 2
    assert result["failures"][0]["reason"] == "RESOURCE:PORTS"
    sb.advance(2)
    assert {p for t in running_tasks(sb, "test") for p in host_ports(t)} == {8080}


def test_placement_respects_memory(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=1, instance_type="t3.small")  # 1928 MiB registered
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("big", memory=900))
    result = _run(sb, "test", "big", 3)
    assert len(result["tasks"]) == 2
    assert result["failures"][0]["reason"] == "RESOURCE:MEMORY"


def test_service_keeps_desired_count_and_replaces_stopped_tasks(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web"))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=4)
    sb.advance(2)
    tasks = running_tasks(sb, "test", serviceName="web")
    assert len(tasks) == 4 and {t["group"] for t in tasks} == {"service:web"}
    service = ecs.describe_services(cluster="test", services=["web"])["services"][0]
    assert (service["runningCount"], service["pendingCount"]) == (4, 0)

    ecs.stop_task(cluster="test", task=tasks[0]["taskArn"])
    sb.advance(2)
    assert len(running_tasks(sb, "test", serviceName="web")) == 4
    ecs.update_service(cluster="test", service="web", desiredCount=1)
    sb.advance(31)
    assert len(running_tasks(sb, "test", serviceName="web")) == 1
    assert len(ecs.list_tasks(cluster="test", desiredStatus="STOPPED")["taskArns"]) == 4


def test_update_service_rolls_new_tasks_before_stopping_old(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web"))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=2)
    sb.advance(2)
    old = {t["taskArn"] for t in running_tasks(sb, "test")}
    v2 = ecs.register_task_definition(**task_definition("web", env={"V": "2"}))["taskDefinition"]
    ecs.update_service(cluster="test", service="web", taskDefinition=v2["taskDefinitionArn"])

    service = ecs.describe_services(cluster="test", services=["web"])["services"][0]
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY", "ACTIVE"]
    tasks = running_tasks(sb, "test")
    new = [t for t in tasks if t["taskArn"] not in old]
    assert len(new) == 2 and {t["lastStatus"] for t in new} == {"PENDING"}
    # Old tasks keep running until the new ones run (minimumHealthyPercent 100).
    assert {t["desiredStatus"] for t in describe_tasks(sb, "test", list(old))} == {"RUNNING"}

    sb.advance(2)
    olds = describe_tasks(sb, "test", list(old))
    assert {(t["desiredStatus"], t["lastStatus"]) for t in olds} == {("STOPPED", "RUNNING")}
    assert {t["taskDefinitionArn"] for t in running_tasks(sb, "test")} == {v2["taskDefinitionArn"]}
    sb.advance(30)
    service = ecs.describe_services(cluster="test", services=["web"])["services"][0]
    assert [d["status"] for d in service["deployments"]] == ["PRIMARY"]
    assert service["deployments"][0]["rolloutState"] == "COMPLETED"


def test_draining_moves_service_tasks_and_keeps_standalone_tasks(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web"))
    ecs.register_task_definition(**task_definition("batch", ports=[]))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=2,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(2)
    web = running_tasks(sb, "test", serviceName="web")
    draining = web[0]["containerInstanceArn"]
    standalone = ecs.start_task(cluster="test", taskDefinition="batch", containerInstances=[draining])["tasks"][0]
    sb.advance(2)

    ecs.update_container_instances_state(cluster="test", containerInstances=[draining], status="DRAINING")
    # The replacement starts elsewhere first; the draining task serves until it runs.
    assert describe_tasks(sb, "test", [web[0]["taskArn"]])[0]["desiredStatus"] == "RUNNING"
    sb.advance(2)
    assert describe_tasks(sb, "test", [web[0]["taskArn"]])[0]["desiredStatus"] == "STOPPED"
    sb.advance(30)
    web_now = running_tasks(sb, "test", serviceName="web")
    assert len(web_now) == 2
    assert all(t["containerInstanceArn"] != draining for t in web_now)
    assert describe_tasks(sb, "test", [standalone["taskArn"]])[0]["lastStatus"] == "RUNNING"
    # Nothing new is placed on a draining instance.
    result = ecs.start_task(cluster="test", taskDefinition="batch", containerInstances=[draining])
    assert result["tasks"] == [] and result["failures"][0]["reason"] == "DRAINING"


def test_agent_update_moves_through_states(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster="test")["containerInstanceArns"]
    ecs.update_container_agent(cluster="test", containerInstance=arns[0])

    def state(arn: str) -> tuple[str | None, str]:
        ci = ecs.describe_container_instances(cluster="test", containerInstances=[arn])["containerInstances"][0]
        return ci.get("agentUpdateStatus"), ci["versionInfo"]["agentVersion"]

    seen = [state(arns[0])[0]]
    with pytest.raises(botocore.exceptions.ClientError) as busy:
        ecs.update_container_agent(cluster="test", containerInstance=arns[0])
    assert busy.value.response["Error"]["Code"] == "UpdateInProgressException"
    for _ in range(4):
        sb.advance(5)
        seen.append(state(arns[0])[0])
    assert seen == ["PENDING", "STAGING", "STAGED", "UPDATING", "UPDATED"]
    assert state(arns[0])[1] == sb.timings.latest_agent_version
    with pytest.raises(botocore.exceptions.ClientError) as current:
        ecs.update_container_agent(cluster="test", containerInstance=arns[0])
    assert current.value.response["Error"]["Code"] == "NoUpdateAvailableException"

    sb.fail_agent_update(arns[1])
    ecs.update_container_agent(cluster="test", containerInstance=arns[1])
    sb.advance(20)
    assert state(arns[1]) == ("FAILED", sb.timings.initial_agent_version)


def test_fault_switches_disconnect_and_terminate(sb: Sandbox) -> None:
    ec2_ids = cluster_with_instances(sb, count=2)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("app"))
    ecs.create_service(cluster="test", serviceName="app", taskDefinition="app", desiredCount=2,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(2)
    sb.disconnect_agent(ec2_ids[0])
    described = ecs.describe_container_instances(
        cluster="test", containerInstances=ecs.list_container_instances(cluster="test")["containerInstanceArns"])
    assert {c["ec2InstanceId"]: c["agentConnected"] for c in described["containerInstances"]} == {
        ec2_ids[0]: False, ec2_ids[1]: True}

    on_terminated = [t["taskArn"] for t in running_tasks(sb, "test")
                     if t["containerInstanceArn"] in {c["containerInstanceArn"] for c in described["containerInstances"]
                                                      if c["ec2InstanceId"] == ec2_ids[1]}]
    sb.terminate_instance(ec2_ids[1])
    remaining = ecs.describe_container_instances(
        cluster="test", containerInstances=ecs.list_container_instances(cluster="test")["containerInstanceArns"])
    assert [c["ec2InstanceId"] for c in remaining["containerInstances"]] == [ec2_ids[0]]
    stopped = describe_tasks(sb, "test", on_terminated)[0]
    assert stopped["lastStatus"] == "STOPPED" and "terminated" in stopped["stoppedReason"]


def test_autoscaling_instances_join_the_cluster_from_user_data(sb: Sandbox) -> None:
    import base64

    from ecsfleet.sandbox.seed import any_image, network, user_data

    _, subnet, group = network(sb)
    sb.client("ecs").create_cluster(clusterName="asg")
    ec2 = sb.client("ec2")
    ec2.create_launch_template(
        LaunchTemplateName="nodes",
        LaunchTemplateData={
            "ImageId": any_image(ec2), "InstanceType": "t3.large", "SecurityGroupIds": [group],
            "UserData": base64.b64encode(user_data("asg", '{"asg_version":"v1"}').encode()).decode(),
        },
    )
    sb.client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="nodes", LaunchTemplate={"LaunchTemplateName": "nodes"},
        MinSize=2, MaxSize=4, DesiredCapacity=2, VPCZoneIdentifier=subnet,
    )
    sb.advance(1)
    ecs = sb.client("ecs")
    arns = ecs.list_container_instances(cluster="asg")["containerInstanceArns"]
    assert len(arns) == 2
    ci = ecs.describe_container_instances(cluster="asg", containerInstances=arns)["containerInstances"][0]
    attributes = {a["name"]: a.get("value") for a in ci["attributes"]}
    assert attributes["asg_version"] == "v1" and attributes["ecs.instance-type"] == "t3.large"
    registered = {r["name"]: r["integerValue"] for r in ci["registeredResources"] if r["type"] == "INTEGER"}
    assert registered == {"CPU": 2048, "MEMORY": 7936}
    # A placement constraint on that attribute places there, and only there.
    ecs.register_task_definition(**task_definition("smoke", ports=[]))
    ok = ecs.run_task(cluster="asg", taskDefinition="smoke", placementConstraints=[
        {"type": "memberOf", "expression": "attribute:asg_version == v1"}])
    assert len(ok["tasks"]) == 1
    none = ecs.run_task(cluster="asg", taskDefinition="smoke", placementConstraints=[
        {"type": "memberOf", "expression": "attribute:asg_version == v2"}])
    assert none["tasks"] == [] and none["failures"][0]["reason"] == "MemberOf"


def test_cluster_created_by_cloudformation_is_usable(sb: Sandbox) -> None:
    template = {"Resources": {"Cluster": {"Type": "AWS::ECS::Cluster", "Properties": {"ClusterName": "cfn"}}}}
    cfn = sb.client("cloudformation")
    cfn.create_stack(StackName="cfn-cluster", TemplateBody=json.dumps(template))
    assert cfn.describe_stacks(StackName="cfn-cluster")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    ecs = sb.client("ecs")
    assert ecs.describe_clusters(clusters=["cfn"])["clusters"][0]["status"] == "ACTIVE"
    assert ecs.list_tasks(cluster="cfn")["taskArns"] == []


def test_state_change_events_reach_sqs(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=1)
    queue, sqs = rule_to_queue(sb, "ecs-events", {"source": ["aws.ecs"]}), sb.client("sqs")
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("app"))
    task = ecs.run_task(cluster="test", taskDefinition="app")["tasks"][0]
    sb.advance(2)
    ecs.update_container_instances_state(cluster="test", containerInstances=[task["containerInstanceArn"]],
                                         status="DRAINING")
    received = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            break
        received += [json.loads(m["Body"]) for m in batch]
    task_events = [e for e in received if e["detail-type"] == "ECS Task State Change"]
    assert [e["detail"]["lastStatus"] for e in task_events] == ["PENDING", "RUNNING"]
    assert task_events[1]["detail"]["containers"][0]["networkBindings"][0]["hostPort"] >= 32768
    assert task_events[0]["detail"]["version"] < task_events[1]["detail"]["version"]
    assert any(e["detail-type"] == "ECS Container Instance State Change" and e["detail"]["status"] == "DRAINING"
               for e in received)


def test_list_calls_page_at_100(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=3)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("tiny", ports=[], memory=16, cpu=8))
    ecs.create_service(cluster="test", serviceName="tiny", taskDefinition="tiny", desiredCount=250)
    first = ecs.list_tasks(cluster="test")
    assert len(first["taskArns"]) == 100 and "nextToken" in first
    assert len(running_tasks(sb, "test")) == 250
    with pytest.raises(botocore.exceptions.ClientError):
        ecs.describe_tasks(cluster="test", tasks=[f"t{i}" for i in range(101)])


def test_unknown_cluster_is_an_ecs_error(sb: Sandbox) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as error:
        sb.client("ecs").list_tasks(cluster="nope")
    assert error.value.response["Error"]["Code"] == "ClusterNotFoundException"


def test_every_stop_path_announces_desired_stopped_first_with_an_event(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)
    queue, sqs = rule_to_queue(sb, "stops", {"detail-type": ["ECS Task State Change"]}), sb.client("sqs")
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web", stopTimeout=10))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=4,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    sb.advance(2)
    tasks = running_tasks(sb, "test")
    ecs.stop_task(cluster="test", task=tasks[0]["taskArn"])                       # StopTask
    ecs.update_service(cluster="test", service="web", desiredCount=3)             # scale-in
    sb.advance(2)
    arns = ecs.list_container_instances(cluster="test")["containerInstanceArns"]
    ecs.update_container_instances_state(cluster="test", containerInstances=[arns[0]], status="DRAINING")  # drain
    sb.advance(2)
    v2 = ecs.register_task_definition(**task_definition("web", env={"V": "2"}, stopTimeout=10))["taskDefinition"]
    ecs.update_service(cluster="test", service="web", taskDefinition=v2["taskDefinitionArn"])  # rolling deploy
    sb.advance(30)

    seen: dict[str, list[tuple[str, str]]] = {}
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            detail = json.loads(message["Body"])["detail"]
            seen.setdefault(detail["taskArn"], []).append((detail["desiredStatus"], detail["lastStatus"]))
    stopped = {arn: steps for arn, steps in seen.items() if steps[-1] == ("STOPPED", "STOPPED")}
    assert len(stopped) >= 4
    for steps in stopped.values():
        # Each stopped task went RUNNING/RUNNING -> STOPPED/RUNNING (announced) -> STOPPED/STOPPED.
        assert steps[-3:] == [("RUNNING", "RUNNING"), ("STOPPED", "RUNNING"), ("STOPPED", "STOPPED")]


def test_spot_fleet_instances_join_the_cluster(sb: Sandbox) -> None:
    import base64

    from ecsfleet.sandbox.seed import any_image, network, user_data

    _, subnet, _ = network(sb)
    sb.client("ecs").create_cluster(clusterName="spot")
    ec2 = sb.client("ec2")
    ec2.request_spot_fleet(SpotFleetRequestConfig={
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 2, "SpotPrice": "0.05",
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": any_image(ec2), "InstanceType": "t3.medium", "SubnetId": subnet,
                                  "UserData": base64.b64encode(user_data("spot").encode()).decode()}]})
    sb.advance(1)
    assert len(sb.client("ecs").list_container_instances(cluster="spot")["containerInstanceArns"]) == 2


def test_run_start_and_services_place_only_where_cpu_fits(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=2)  # t3.medium: 2048 CPU units each
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("heavy", ports=[], cpu=1536, memory=64))
    run = _run(sb, "test", "heavy", 3)
    assert len(run["tasks"]) == 2 and run["failures"][0]["reason"] == "RESOURCE:CPU"
    full = run["tasks"][0]["containerInstanceArn"]
    started = ecs.start_task(cluster="test", taskDefinition="heavy", containerInstances=[full])
    assert started["tasks"] == [] and started["failures"][0]["reason"] == "RESOURCE:CPU"

    ecs.create_service(cluster="test", serviceName="heavy", taskDefinition="heavy", desiredCount=1)
    sb.advance(2)
    service = ecs.describe_services(cluster="test", services=["heavy"])["services"][0]
    assert (service["runningCount"], service["pendingCount"]) == (0, 0)
    # CPU comes free once a task has stopped (after its stopTimeout): the service places its task there.
    ecs.stop_task(cluster="test", task=run["tasks"][0]["taskArn"])
    sb.advance(30)
    sb.advance(2)
    (placed,) = running_tasks(sb, "test", serviceName="heavy")
    assert placed["containerInstanceArn"] == full and placed["lastStatus"] == "RUNNING"


def test_services_binpack_on_memory_by_default(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=3)
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("packed", memory=256))
    ecs.create_service(cluster="test", serviceName="packed", taskDefinition="packed", desiredCount=4)
    sb.advance(2)
    tasks = running_tasks(sb, "test", serviceName="packed")
    assert len(tasks) == 4 and len({t["containerInstanceArn"] for t in tasks}) == 1
    ports = [p for t in tasks for p in host_ports(t)]
    assert len(set(ports)) == 4


def _hosts_of(sb: Sandbox, service: str) -> dict[str, int]:
    """Running tasks of a service per container instance."""
    counts: dict[str, int] = {}
    for task in running_tasks(sb, "test", serviceName=service, desiredStatus="RUNNING"):
        counts[task["containerInstanceArn"]] = counts.get(task["containerInstanceArn"], 0) + 1
    return counts


def _web_service(sb: Sandbox, count: int, strategy: str, field: str) -> None:
    """A service `web` of `count` tasks of 256 MiB in cluster `test`, placed by one strategy."""
    ecs = sb.client("ecs")
    ecs.register_task_definition(**task_definition("web", memory=256))
    ecs.create_service(cluster="test", serviceName="web", taskDefinition="web", desiredCount=count,
                       placementStrategy=[{"type": strategy, "field": field}])
    sb.advance(2)


def _three_and_one(sb: Sandbox) -> tuple[str, str]:
    """A service of four tasks, three on one host and one on another (a standalone task fills
    the first host's memory); returns (the host with three, the host with one)."""
    cluster_with_instances(sb, count=3)
    _web_service(sb, 3, "binpack", "memory")
    ecs = sb.client("ecs")
    (crowded,) = _hosts_of(sb, "web")
    left = ecs.describe_container_instances(cluster="test", containerInstances=[crowded])[
        "containerInstances"][0]["remainingResources"]
    memory = next(r["integerValue"] for r in left if r["name"] == "MEMORY")
    ecs.register_task_definition(**task_definition("filler", ports=[], memory=memory))
    ecs.start_task(cluster="test", taskDefinition="filler", containerInstances=[crowded])
    ecs.update_service(cluster="test", service="web", desiredCount=4)
    sb.advance(2)
    hosts = _hosts_of(sb, "web")
    (single,) = [h for h in hosts if h != crowded]
    assert hosts == {crowded: 3, single: 1}
    return crowded, single


def test_a_binpack_service_scales_in_where_most_room_is_left(sb: Sandbox) -> None:
    # ECS: "the container instance that has the most available resources left after task
    # termination has that task terminated", not the instance with most of the service's tasks.
    crowded, single = _three_and_one(sb)
    sb.client("ecs").update_service(cluster="test", service="web", desiredCount=3)
    sb.advance(31)
    assert _hosts_of(sb, "web") == {crowded: 3}
    stopped = running_tasks(sb, "test", serviceName="web", desiredStatus="STOPPED")
    assert [t["containerInstanceArn"] for t in stopped] == [single]
    assert stopped[0]["stoppedReason"] == "Service scaled in."


def test_a_scale_in_between_equal_instances_stops_the_task_on_the_one_registered_last(sb: Sandbox) -> None:
    # Instance ARNs carry random ids: a tie they decided made two replays of the same calls
    # stop different tasks. Placement fills the instance registered first, so the last goes.
    _, subnet, group = network(sb)
    sb.client("ecs").create_cluster(clusterName="test")
    ec2_ids = []
    for _ in range(4):
        ec2_ids += launch_instances(sb, "test", 1, subnet, group)
        sb.advance(1)
    by_ec2 = container_instances(sb, "test")
    registered = [by_ec2[i] for i in ec2_ids]
    _web_service(sb, 4, "spread", "instanceId")
    ecs = sb.client("ecs")
    assert _hosts_of(sb, "web") == dict.fromkeys(registered, 1)
    ecs.update_service(cluster="test", service="web", desiredCount=2)
    sb.advance(31)
    assert _hosts_of(sb, "web") == dict.fromkeys(registered[:2], 1)


def test_a_spread_service_scales_in_where_it_has_most_tasks(sb: Sandbox) -> None:
    cluster_with_instances(sb, count=3)
    _web_service(sb, 5, "spread", "instanceId")
    ecs = sb.client("ecs")
    assert sorted(_hosts_of(sb, "web").values()) == [1, 2, 2]
    # Scaling in keeps the balance: a task goes from a host with two, never the one with one.
    ecs.update_service(cluster="test", service="web", desiredCount=4)
    sb.advance(31)
    assert sorted(_hosts_of(sb, "web").values()) == [1, 1, 2]
    ecs.update_service(cluster="test", service="web", desiredCount=3)
    sb.advance(31)
    assert sorted(_hosts_of(sb, "web").values()) == [1, 1, 1]
