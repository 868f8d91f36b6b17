"""A converged pass of each capability reads exactly its floor: the fewest list and describe
calls that can see the cluster, from the APIs' page sizes and batch maxima, and nothing the
capability does not use (lb-sync reads no EC2; agents reads neither tasks nor EC2 without tag
filters). Counted by the sandbox, per operation, so one extra read of any kind fails.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import pytest

from ecsfleet.agents.plan import Options
from ecsfleet.agents.rollout import AgentUpdates
from ecsfleet.aws import Clients
from ecsfleet.dns import DnsSync
from ecsfleet.lbsync import LbSync
from ecsfleet.lbsync.services import ServiceEntry
from ecsfleet.runner import Reconciler, safe_pass
from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import DEMO_ZONE, seed_cluster

CLUSTER = "floor"
TASKS, INSTANCES = 1000, 100

# The APIs' limits the floor is made of (AWS's documentation, not ecsfleet's code).
ECS_PAGE = 100  # ListTasks / ListContainerInstances: at most 100 a page
ECS_BATCH = 100  # DescribeTasks / DescribeContainerInstances: at most 100 a call
EC2_FILTER_VALUES = 200  # DescribeInstances: at most 200 values in the instance-id filter
ELB_NAMES = 20  # DescribeLoadBalancers / DescribeTags: at most 20 names a call
R53_ZONES_PAGE = 100  # ListHostedZones
R53_RECORDS_PAGE = 300  # ListResourceRecordSets


def pages(items: int, size: int) -> int:
    """A list call costs one page even when it finds nothing."""
    return max(1, math.ceil(items / size))


def batches(items: int, size: int) -> int:
    return math.ceil(items / size)


@dataclass(frozen=True)
class World:
    instances: int
    tasks: int
    families: tuple[str, ...]
    zone_id: str
    other_record_sets: int = 0  # in the zone beside SOA, NS and dns-sync's own

    @property
    def services(self) -> list[ServiceEntry]:
        return [ServiceEntry(serviceName=f, family=f, exposedContainerName=f, loadBalancerName=f"{f}-lb")
                for f in self.families]

    def ecs_floor(self) -> Counter[tuple[str, str]]:
        return Counter({
            ("ecs", "ListContainerInstances"): pages(self.instances, ECS_PAGE),
            ("ecs", "DescribeContainerInstances"): batches(self.instances, ECS_BATCH),
            ("ecs", "ListTasks"): pages(self.tasks, ECS_PAGE),
            ("ecs", "DescribeTasks"): batches(self.tasks, ECS_BATCH),
        })

    def lbsync_floor(self) -> Counter[tuple[str, str]]:
        """Tasks and instance ids, and each load balancer with its tags (where an interrupted
        listener move is recorded): no EC2, a Classic ELB registers the ids ECS gives."""
        return self.ecs_floor() + Counter({
            ("elb", "DescribeLoadBalancers"): batches(len(self.families), ELB_NAMES),
            ("elb", "DescribeTags"): batches(len(self.families), ELB_NAMES),
        })

    def dns_floor(self) -> Counter[tuple[str, str]]:
        """Tasks, the hosts' addresses, the zone and its record sets: SOA and NS, and per service
        an SRV and an A name, each with its TXT ownership record."""
        record_sets = 2 + 4 * len(self.families) + self.other_record_sets
        return self.ecs_floor() + Counter({
            ("ec2", "DescribeInstances"): batches(self.instances, EC2_FILTER_VALUES),
            ("route53", "ListHostedZones"): pages(1, R53_ZONES_PAGE),
            ("route53", "ListResourceRecordSets"): pages(record_sets, R53_RECORDS_PAGE),
        })

    def agents_floor(self) -> Counter[tuple[str, str]]:
        """Agent versions and update states are on the container instances: no task, no EC2."""
        return Counter({
            ("ecs", "ListContainerInstances"): pages(self.instances, ECS_PAGE),
            ("ecs", "DescribeContainerInstances"): batches(self.instances, ECS_BATCH),
        })

    def definitions(self) -> Counter[tuple[str, str]]:
        """A new process reads each task definition once (one per service here)."""
        return Counter({("ecs", "DescribeTaskDefinition"): len(self.families)})


def build(sb: Sandbox) -> World:
    """1,000 tasks of 5 services over 100 hosts; each service behind its own Classic ELB and
    publishing an SRV and an A name in one zone."""
    seeded = seed_cluster(sb, CLUSTER, INSTANCES, TASKS, services=5)
    elb = sb.client("elb")
    for family in seeded.services:
        elb.create_load_balancer(LoadBalancerName=f"{family}-lb", Subnets=[seeded.subnet_id], Listeners=[
            {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}])
    zone = sb.client("route53").create_hosted_zone(Name=DEMO_ZONE, CallerReference="floor")
    return World(INSTANCES, TASKS, seeded.services, zone["HostedZone"]["Id"].rsplit("/", 1)[-1])


def counted_pass(sb: Sandbox, controller: Reconciler) -> Counter[tuple[str, str]]:
    sb.reset_calls()
    report = safe_pass(controller, False)
    assert report.ok, report.summary()
    return sb.calls()


def counted_pass_all_current(sb: Sandbox, controller: Reconciler) -> Counter[tuple[str, str]]:
    """A pass while the sandbox holds every agent's version for the latest."""
    latest = sb.timings.latest_agent_version
    sb.timings.latest_agent_version = sb.timings.initial_agent_version
    try:
        return counted_pass(sb, controller)
    finally:
        sb.timings.latest_agent_version = latest


@pytest.fixture
def world(sb: Sandbox) -> World:
    return build(sb)


def test_seeded_world_is_what_the_floor_assumes(sb: Sandbox, world: World) -> None:
    ecs = sb.client("ecs")
    services = ecs.describe_services(cluster=CLUSTER, services=list(world.families))["services"]
    assert [(s["desiredCount"], s["runningCount"]) for s in services] == [(200, 200)] * 5
    cluster = ecs.describe_clusters(clusters=[CLUSTER])["clusters"][0]
    assert (cluster["registeredContainerInstancesCount"], cluster["runningTasksCount"]) == (INSTANCES, TASKS)


def test_lbsync_converged_pass_reads_its_floor(sb: Sandbox, clients: Clients, world: World) -> None:
    services = world.services
    counted_pass(sb, LbSync(clients, CLUSTER, lambda: services))  # converges

    fresh = counted_pass(sb, LbSync(clients, CLUSTER, lambda: services))
    assert fresh == world.lbsync_floor() + world.definitions()
    controller = LbSync(clients, CLUSTER, lambda: services)
    counted_pass(sb, controller)
    assert counted_pass(sb, controller) == world.lbsync_floor()


def test_dns_sync_converged_pass_reads_its_floor(sb: Sandbox, clients: Clients, world: World) -> None:
    counted_pass(sb, DnsSync(clients, CLUSTER, "floor", (world.zone_id,)))  # converges

    fresh = counted_pass(sb, DnsSync(clients, CLUSTER, "floor", (world.zone_id,)))
    assert fresh == world.dns_floor() + world.definitions()
    controller = DnsSync(clients, CLUSTER, "floor", (world.zone_id,))
    counted_pass(sb, controller)
    assert counted_pass(sb, controller) == world.dns_floor()


def test_dns_sync_reads_no_page_past_an_exactly_full_one(sb: Sandbox, clients: Clients) -> None:
    """Every list ends on a full page and every describe on a full batch: 200 container
    instances (two pages, two batches, one EC2 call of 200 ids), 300 tasks (three pages and
    batches), a zone of exactly 300 record sets (one page). A reader that asked for one more page
    after a full one would read a call more per list, as a cluster of 50,000 tasks (500 full
    pages) would show."""
    seeded = seed_cluster(sb, CLUSTER, instances=200, tasks=300, services=1)
    route53 = sb.client("route53")
    zone_id = route53.create_hosted_zone(Name=DEMO_ZONE, CallerReference="full-pages")["HostedZone"]["Id"]
    # SOA, NS, the service's SRV and A names with their TXT registry records: 294 others make 300.
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": f"legacy{n}.{DEMO_ZONE}", "Type": "A", "TTL": 60,
                                                   "ResourceRecords": [{"Value": "192.0.2.1"}]}}
        for n in range(294)]})
    world = World(200, 300, seeded.services, zone_id.rsplit("/", 1)[-1], other_record_sets=294)
    controller = DnsSync(clients, CLUSTER, "floor", (world.zone_id,))
    counted_pass(sb, controller)  # converges

    pages_of_records = route53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=world.zone_id)
    assert sum(len(page["ResourceRecordSets"]) for page in pages_of_records) == 300
    assert counted_pass(sb, controller) == world.dns_floor() == Counter({
        ("ecs", "ListContainerInstances"): 2, ("ecs", "DescribeContainerInstances"): 2, ("ecs", "ListTasks"): 3,
        ("ecs", "DescribeTasks"): 3, ("ec2", "DescribeInstances"): 1, ("route53", "ListHostedZones"): 1,
        ("route53", "ListResourceRecordSets"): 1})


def test_agents_converged_pass_reads_its_floor(sb: Sandbox, clients: Clients, world: World) -> None:
    """Converged: every agent current. ECS says so only by refusing UpdateContainerAgent
    (NoUpdateAvailableException), so the one write is that probe; tasks and EC2 are not read."""
    calls = counted_pass_all_current(sb, AgentUpdates(clients, [CLUSTER]))
    assert calls == world.agents_floor() + Counter({("ecs", "UpdateContainerAgent"): 1})


def test_agents_tag_filters_add_only_the_ec2_read(sb: Sandbox, clients: Clients, world: World) -> None:
    calls = counted_pass_all_current(sb, AgentUpdates(clients, [CLUSTER], Options(exclude_tags={"pinned": "true"})))
    assert calls == world.agents_floor() + Counter({("ec2", "DescribeInstances"): batches(INSTANCES, EC2_FILTER_VALUES),
                                                    ("ecs", "UpdateContainerAgent"): 1})
