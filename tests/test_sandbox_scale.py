"""The sandbox's ECS at scale: bulk seeding, list calls that page through indexes, and a
service scheduler that reconciles once per service and instant rather than once per task.

The 50,000-task run is bench/api_calls.py's; these tests use 1,000 tasks and count work, never
time it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.ecs import EcsRegion
from ecsfleet.sandbox.seed import seed_cluster

CLUSTER = "scale"


def every_page(ecs: Any, operation: str, key: str, **params: Any) -> list[str]:
    found: list[str] = []
    for page in ecs.get_paginator(operation).paginate(**params):
        found += page[key]
    return found


def test_seed_cluster_builds_running_services_spread_evenly(sb: Sandbox) -> None:
    seeded = seed_cluster(sb, CLUSTER, instances=40, tasks=1000, services=4)

    ecs = sb.client("ecs")
    assert len(seeded.instance_ids) == 40 and seeded.services == ("svc0", "svc1", "svc2", "svc3")
    services = ecs.describe_services(cluster=CLUSTER, services=list(seeded.services))["services"]
    assert [(s["desiredCount"], s["runningCount"], s["pendingCount"]) for s in services] == [(250, 250, 0)] * 4
    assert all(s["deployments"][0]["rolloutState"] == "COMPLETED" for s in services)
    instances = every_page(ecs, "list_container_instances", "containerInstanceArns", cluster=CLUSTER)
    described = ecs.describe_container_instances(cluster=CLUSTER, containerInstances=instances[:100])
    assert sorted(i["runningTasksCount"] for i in described["containerInstances"]) == [25] * 40
    # Each host's dynamic ports are distinct, as Docker hands them out.
    tasks = every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER)
    ports: Counter[tuple[str, int]] = Counter()
    for start in range(0, len(tasks), 100):
        for task in ecs.describe_tasks(cluster=CLUSTER, tasks=tasks[start:start + 100])["tasks"]:
            assert task["lastStatus"] == "RUNNING"
            bindings = task["containers"][0]["networkBindings"]
            ports.update((task["containerInstanceArn"], b["hostPort"]) for b in bindings)
    assert len(ports) == 1000 and set(ports.values()) == {1}


def test_seed_cluster_refuses_sizes_it_cannot_build(sb: Sandbox) -> None:
    with pytest.raises(ValueError, match="instances 0: expected 1 to 16000"):
        seed_cluster(sb, CLUSTER, instances=0, tasks=10)
    with pytest.raises(ValueError, match="no room left in cluster scale for service svc0"):
        seed_cluster(sb, CLUSTER, instances=1, tasks=100, instance_type="t3.micro")


def test_list_calls_page_through_every_filter_in_creation_order(sb: Sandbox) -> None:
    seed_cluster(sb, CLUSTER, instances=20, tasks=600, services=3)
    ecs = sb.client("ecs")
    region = sb.ecs(sb.region)
    tasks = every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER)

    assert tasks == [t.arn for t in region.cluster_tasks(CLUSTER)] and len(set(tasks)) == 600
    by_service = every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER, serviceName="svc1")
    assert by_service == [t for t in tasks if region.tasks[t].group == "service:svc1"] and len(by_service) == 200
    assert every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER, family="svc2") == \
        [t for t in tasks if region.tasks[t].task_definition.family == "svc2"]
    host = region.cluster_instances(CLUSTER)[3]
    on_host = every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER, containerInstance=host.id)
    assert on_host == [t for t in tasks if region.tasks[t].container_instance_arn == host.arn] and len(on_host) == 30
    assert every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER, desiredStatus="STOPPED") == []


def test_listings_follow_changes_between_pages(sb: Sandbox) -> None:
    """A list is built once while nothing changes; a stop, a new task or an attribute shows in
    the next call."""
    seed_cluster(sb, CLUSTER, instances=10, tasks=250, services=1)
    ecs = sb.client("ecs")
    tasks = every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER)
    ecs.stop_task(cluster=CLUSTER, task=tasks[0])

    assert every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER, desiredStatus="STOPPED") == [tasks[0]]
    assert len(every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER)) == 249
    sb.advance(30)  # stopped after its stop timeout; the service starts a replacement
    assert len(every_page(ecs, "list_tasks", "taskArns", cluster=CLUSTER)) == 250

    instances = every_page(ecs, "list_container_instances", "containerInstanceArns", cluster=CLUSTER)
    ecs.put_attributes(cluster=CLUSTER, attributes=[{"name": "pinned", "value": "yes", "targetId": instances[4]}])
    assert ecs.list_container_instances(cluster=CLUSTER, filter="attribute:pinned == yes")[
        "containerInstanceArns"] == [instances[4]]
    ecs.update_container_instances_state(cluster=CLUSTER, containerInstances=[instances[5]], status="DRAINING")
    assert instances[5] not in ecs.list_container_instances(cluster=CLUSTER, status="ACTIVE")["containerInstanceArns"]


def test_scheduler_reconciles_once_per_service_and_instant(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 tasks turning RUNNING in one instant cost one reconcile of each of their services,
    not one per task (which scanned the service's tasks each time: quadratic)."""
    reconciled: Counter[str] = Counter()
    original = EcsRegion._reconcile_service

    def counting(self: EcsRegion, svc: Any) -> None:
        reconciled[svc.name] += 1
        original(self, svc)

    monkeypatch.setattr(EcsRegion, "_reconcile_service", counting)
    seed_cluster(sb, CLUSTER, instances=20, tasks=1000, services=4)

    # Each: once when created (no task yet), once when its 250 tasks turn RUNNING together, and
    # once in the clock step's pass over every service.
    assert reconciled == Counter({f"svc{n}": 3 for n in range(4)})
    reconciled.clear()
    ecs = sb.client("ecs")
    ecs.update_service(cluster=CLUSTER, service="svc0", desiredCount=260)
    sb.advance(2)
    # The update places 10 tasks, which turn RUNNING together; then the clock step's pass.
    assert reconciled == Counter({"svc0": 3, "svc1": 1, "svc2": 1, "svc3": 1})
    assert ecs.describe_services(cluster=CLUSTER, services=["svc0"])["services"][0]["runningCount"] == 260


def test_elb_instance_rules_read_ec2_once_per_call(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registering hosts with a Classic ELB reads moto's EC2 instances as often for 100 hosts as
    for one: the rules look each named host up in one read of them. A read per host named made
    registering 200 of 5,000 hosts outlast the client's read timeout."""
    from moto.ec2.models import EC2Backend

    seeded = seed_cluster(sb, CLUSTER, instances=100, tasks=0)
    elb = sb.client("elb")
    listener = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}
    for name in ("one", "many"):
        elb.create_load_balancer(LoadBalancerName=name, Subnets=[seeded.subnet_id], Listeners=[listener])
    reads: Counter[str] = Counter()
    original = EC2Backend.all_instances

    def counting(self: EC2Backend, filters: Any = None) -> Any:
        reads[current] += 1
        return original(self, filters)

    monkeypatch.setattr(EC2Backend, "all_instances", counting)
    for current, hosts in (("one", seeded.instance_ids[:1]), ("many", seeded.instance_ids)):
        elb.register_instances_with_load_balancer(LoadBalancerName=current,
                                                  Instances=[{"InstanceId": i} for i in hosts])

    assert reads["many"] == reads["one"] <= 2  # once per rule that checks the hosts
    described = elb.describe_load_balancers(LoadBalancerNames=["many"])["LoadBalancerDescriptions"][0]
    assert sorted(i["InstanceId"] for i in described["Instances"]) == sorted(seeded.instance_ids)


AZ_SPREAD = [{"type": "spread", "field": "attribute:ecs.availability-zone"}, {"type": "binpack", "field": "memory"}]


@pytest.mark.parametrize("strategy", [None, AZ_SPREAD], ids=["binpack", "zone spread, then binpack"])
def test_a_large_scale_in_scores_each_host_again_only_when_it_stops_a_task(
        sb: Sandbox, monkeypatch: pytest.MonkeyPatch, strategy: list[dict[str, str]] | None) -> None:
    """A service of 1,000 tasks on 100 hosts in three zones scaling in by 600 reads each host's
    free memory about once per stop, not once per host per stop (which made a 5,000-task
    scale-in take seconds in one call; with a spread over zones, 2,000 tasks on 2,000 hosts took
    2.9 s of CPU), and stops what ECS's rule stops, checked against that rule stated directly: at
    each stop, the newest task of the host in the zone where the service has most tasks left
    (when it spreads over zones), then with the most memory free after the stop."""
    from ecsfleet.sandbox.ecs_model import ContainerInstance

    seed_cluster(sb, CLUSTER, instances=100, tasks=1000, services=1)
    region = sb.ecs(sb.region)
    svc = region.service(region.cluster(CLUSTER), "svc0")
    tasks = list(region.service_tasks(svc))
    for n, task in enumerate(tasks):  # hosts of different loads, tasks of different ages
        task.created_at += n % 7
    for n, ci in enumerate(region.instances.values()):
        ci.used_memory += 64 * (n % 9)
        ci.attributes["ecs.availability-zone"] = "abc"[n % 11 % 3]  # zones of unequal sizes

    left = {t.arn: t for t in tasks}
    freed: Counter[str] = Counter()
    expected = []

    def zone(task: Any) -> str:
        return str(region.instances[task.container_instance_arn].attributes["ecs.availability-zone"])

    def claim(task: Any, in_zone: Counter[str]) -> tuple[int, ...]:
        ci = region.instances[task.container_instance_arn]
        spread = (in_zone[zone(task)],) if strategy else ()
        return *spread, ci.remaining_memory + freed[ci.arn] + task.memory, task.created_at, ci.seq

    for _ in range(600):
        in_zone = Counter(zone(t) for t in left.values())
        expected.append(left.pop(max(left.values(), key=lambda t: claim(t, in_zone)).arn))
        freed[expected[-1].container_instance_arn] += expected[-1].memory

    reads = Counter[str]()
    original = ContainerInstance.remaining_memory

    def counting(self: ContainerInstance) -> int:
        reads["memory"] += 1
        return original.fget(self)  # type: ignore[no-any-return, misc]

    monkeypatch.setattr(ContainerInstance, "remaining_memory", property(counting))
    chosen = region._scale_in_choice(tasks, 600, strategy)
    assert [t.arn for t in chosen] == [t.arn for t in expected]
    assert reads["memory"] <= 100 + 600
