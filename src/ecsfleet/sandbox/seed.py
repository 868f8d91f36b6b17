"""Ready-made sandbox worlds. `demo`: a VPC, a cluster of three container instances, two
services on dynamic host ports, a Classic ELB and a Route53 zone. `seed_cluster`: a cluster of
any size up to ECS's own limits (5,000 container instances, tens of thousands of tasks), built
in bulk."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Sandbox

DEMO_CLUSTER = "demo"
DEMO_ZONE = "sandbox.example.com"
DEMO_LB = "demo-web"


@dataclass(frozen=True)
class DemoWorld:
    cluster: str
    vpc_id: str
    subnet_id: str
    security_group_id: str
    instance_ids: tuple[str, ...]
    zone_id: str
    load_balancer: str
    services: tuple[str, ...]


def user_data(cluster: str, attributes: str | None = None) -> str:
    lines = ["#!/bin/bash", f"echo ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config"]
    if attributes:
        lines.append(f"echo 'ECS_INSTANCE_ATTRIBUTES={attributes}' >> /etc/ecs/ecs.config")
    return "\n".join(lines) + "\n"


def any_image(ec2: Any) -> str:
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    return str(images[0]["ImageId"])


def launch_instances(sb: Sandbox, cluster: str, count: int, subnet_id: str, security_group_id: str,
                     instance_type: str = "t3.medium") -> list[str]:
    """EC2 instances whose user data joins `cluster`; they register on the next clock step."""
    ec2 = sb.client("ec2")
    reservation = ec2.run_instances(
        ImageId=any_image(ec2), MinCount=count, MaxCount=count, InstanceType=instance_type,
        SubnetId=subnet_id, SecurityGroupIds=[security_group_id], UserData=user_data(cluster),
    )
    sb.advance(0)
    return [i["InstanceId"] for i in reservation["Instances"]]


def network(sb: Sandbox) -> tuple[str, str, str]:
    ec2 = sb.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.0.0/18",
                               AvailabilityZone=f"{sb.region}a")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    group = ec2.create_security_group(GroupName="ecs-nodes", Description="ECS nodes", VpcId=vpc)["GroupId"]
    return vpc, subnet, group


def web_task_definition(family: str, port: int, fqdn: str, image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "family": family,
        "containerDefinitions": [{
            "name": family,
            "image": image,
            "memory": 128,
            "cpu": 128,
            "essential": True,
            "portMappings": [{"containerPort": port, "hostPort": 0, "protocol": "tcp"}],
            "environment": [
                {"name": f"SERVICE_PORT_{port}", "value": f"_{family}._tcp.{fqdn}"},
                {"name": "SERVICE_FQDN_LOCAL", "value": f"{family}.{fqdn}"},
            ],
        }],
    }


def seed_demo(sb: Sandbox) -> DemoWorld:
    vpc, subnet, group = network(sb)
    ecs = sb.client("ecs")
    ecs.create_cluster(clusterName=DEMO_CLUSTER)
    instances = launch_instances(sb, DEMO_CLUSTER, 3, subnet, group)
    for family, port in (("web", 80), ("api", 8080)):
        ecs.register_task_definition(**web_task_definition(family, port, DEMO_ZONE))
    ecs.create_service(cluster=DEMO_CLUSTER, serviceName="web", taskDefinition="web", desiredCount=3,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    ecs.create_service(cluster=DEMO_CLUSTER, serviceName="api", taskDefinition="api", desiredCount=2,
                       placementStrategy=[{"type": "spread", "field": "instanceId"}])
    elb = sb.client("elb")
    elb.create_load_balancer(
        LoadBalancerName=DEMO_LB,
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}],
        Subnets=[subnet], SecurityGroups=[group],
    )
    elb.configure_health_check(
        LoadBalancerName=DEMO_LB,
        HealthCheck={"Target": "HTTP:8080/health", "Interval": 10, "Timeout": 5,
                     "UnhealthyThreshold": 2, "HealthyThreshold": 3},
    )
    zone = sb.client("route53").create_hosted_zone(Name=DEMO_ZONE, CallerReference="ecsfleet-demo")
    sb.advance(5)  # the services' tasks start
    return DemoWorld(
        cluster=DEMO_CLUSTER, vpc_id=vpc, subnet_id=subnet, security_group_id=group,
        instance_ids=tuple(instances), zone_id=zone["HostedZone"]["Id"].rsplit("/", 1)[-1],
        load_balancer=DEMO_LB, services=("web", "api"),
    )


# A cluster's hosts sit in one /18 subnet: 16,384 addresses, 5 of them kept by AWS.
MAX_SEEDED_INSTANCES = 16_000
RUN_INSTANCES_BATCH = 250


@dataclass(frozen=True)
class SeededCluster:
    cluster: str
    vpc_id: str
    subnet_id: str
    security_group_id: str
    instance_ids: tuple[str, ...]
    services: tuple[str, ...]  # also each service's task family
    tasks: int


def seed_cluster(sb: Sandbox, cluster: str, instances: int, tasks: int, services: int | None = None, *,
                 instance_type: str = "m5.2xlarge", fqdn: str = DEMO_ZONE,
                 task_definition: Callable[[str], dict[str, Any]] | None = None) -> SeededCluster:
    """A cluster of `instances` container instances running `tasks` tasks of `services` ECS
    services (default: one per 200 tasks, at least one), spread evenly over the hosts.

    Everything a client reads goes through the sandbox as usual: EC2 instances launched with
    RunInstances register from their user data, task definitions and services are created
    through the API. Only the tasks are started in bulk (`EcsRegion.seed_service_tasks`): a
    placement search per task scans every host, which at 50,000 tasks on 5,000 hosts would take
    hours. `task_definition(family)` gives RegisterTaskDefinition's arguments (default: one
    container on a dynamic host port publishing `_<family>._tcp.<fqdn>` and `<family>.<fqdn>`, as
    ecsd's users write it). Every task is RUNNING when this returns."""
    if not 1 <= instances <= MAX_SEEDED_INSTANCES:
        raise ValueError(f"instances {instances}: expected 1 to {MAX_SEEDED_INSTANCES}")
    if tasks < 0:
        raise ValueError(f"tasks {tasks}: expected 0 or more")
    count = services if services is not None else max(1, math.ceil(tasks / 200))
    if count < 1:
        raise ValueError(f"services {count}: expected 1 or more")
    from botocore.config import Config

    vpc, subnet, group = network(sb)
    # A RunInstances that timed out may still have launched its instances: never resend it.
    ecs, ec2 = sb.client("ecs"), sb.client("ec2", config=Config(read_timeout=600, retries={"total_max_attempts": 1}))
    ecs.create_cluster(clusterName=cluster)
    image = any_image(ec2)
    instance_ids: list[str] = []
    while len(instance_ids) < instances:
        batch = min(RUN_INSTANCES_BATCH, instances - len(instance_ids))
        reservation = ec2.run_instances(
            ImageId=image, MinCount=batch, MaxCount=batch, InstanceType=instance_type, SubnetId=subnet,
            SecurityGroupIds=[group], UserData=user_data(cluster))
        instance_ids += [i["InstanceId"] for i in reservation["Instances"]]
    sb.advance(0)  # the instances register
    families = tuple(f"svc{n}" for n in range(count))
    for family in families:
        ecs.register_task_definition(**(task_definition or (lambda f: web_task_definition(f, 80, fqdn)))(family))
        ecs.create_service(cluster=cluster, serviceName=family, taskDefinition=family, desiredCount=0)
    with sb.lock:
        region = sb.ecs(sb.region)
        host = 0
        for n, family in enumerate(families):
            svc = region.service(region.cluster(cluster), family)
            host = region.seed_service_tasks(svc, tasks // count + (1 if n < tasks % count else 0), host)
    sb.advance(sb.timings.task_start_seconds)  # every task RUNNING
    return SeededCluster(cluster, vpc, subnet, group, tuple(instance_ids), families, tasks)


SEEDS = {"demo": seed_demo}
