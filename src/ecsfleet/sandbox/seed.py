"""Ready-made sandbox worlds. `demo`: a VPC, a cluster of three container instances, two
services on dynamic host ports, a Classic ELB and a Route53 zone."""

from __future__ import annotations

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


SEEDS = {"demo": seed_demo}
