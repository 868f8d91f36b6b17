"""The demo's story, run against a sandbox started by demo.sh (AWS_ENDPOINT_URL is set).

Operator actions (a rolling deploy) use boto3 directly; everything else is the ecsfleet CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

BIN = Path(sys.executable).parent
WORK = Path(".demo")


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def ecsfleet(*args: str) -> None:
    print(f"$ ecsfleet {' '.join(args)}", flush=True)
    subprocess.run([str(BIN / "ecsfleet"), *args], check=False)


def advance(seconds: float) -> None:
    subprocess.run([str(BIN / "ecsfleet"), "sandbox", "advance", str(seconds)], check=True)


def show_load_balancer(elb: object) -> None:
    lb = elb.describe_load_balancers(LoadBalancerNames=["demo-web"])["LoadBalancerDescriptions"][0]  # type: ignore[attr-defined]
    ports = sorted({d["Listener"]["InstancePort"] for d in lb["ListenerDescriptions"]})
    print(f"   demo-web: instances {[i['InstanceId'] for i in lb['Instances']]}, listener instance port {ports}, "
          f"health check {lb['HealthCheck']['Target']}", flush=True)


def dig(name: str, qtype: str) -> None:
    """What a resolver sees: a real DNS query to the sandbox's DNS port."""
    from dnslib import DNSRecord

    port = int(os.environ["DEMO_DNS_PORT"])
    print(f"$ dig @127.0.0.1 -p {port} {name} {qtype} +short", flush=True)
    answer = DNSRecord.parse(DNSRecord.question(name, qtype).send("127.0.0.1", port, timeout=5))
    for record in answer.rr:
        print(f"   {record.rdata}", flush=True)


def main() -> None:
    region = os.environ["AWS_REGION"]
    ecs = boto3.client("ecs", region_name=region)
    elb = boto3.client("elb", region_name=region)
    WORK.mkdir(exist_ok=True)
    services = WORK / "lb-sync-services.json"
    services.write_text(json.dumps([{"serviceName": "web", "family": "web", "exposedContainerName": "web",
                                     "loadBalancerName": "demo-web"}], indent=2))

    step("The cluster, from one snapshot")
    ecsfleet("status", "--cluster", "demo")

    step("lb-sync: what it would change (statika's services file format)")
    show_load_balancer(elb)
    ecsfleet("lb-sync", "--once", "--dry-run", "--all-instances", "--cluster", "demo", "--services", str(services))
    step("lb-sync: apply")
    ecsfleet("lb-sync", "--once", "--all-instances", "--cluster", "demo", "--services", str(services))
    show_load_balancer(elb)

    step("A rolling deploy of web: a new task definition, one instance port for the ELB")
    ecs.update_service(cluster="demo", service="web", desiredCount=1)
    advance(31)
    ecsfleet("lb-sync", "--once", "--all-instances", "--cluster", "demo", "--services", str(services))
    current = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    keep = ("family", "containerDefinitions", "networkMode")
    v2 = ecs.register_task_definition(**{k: current[k] for k in keep if k in current})["taskDefinition"]
    ecs.update_service(cluster="demo", service="web", taskDefinition=v2["taskDefinitionArn"])
    print(f"   web now deploys {v2['family']}:{v2['revision']}; its new task is PENDING", flush=True)
    ecsfleet("lb-sync", "--once", "--all-instances", "--cluster", "demo", "--services", str(services))
    advance(3)
    print("   the new task runs; the old one is stopping", flush=True)
    ecsfleet("lb-sync", "--once", "--all-instances", "--cluster", "demo", "--services", str(services))
    show_load_balancer(elb)
    ecsfleet("status", "--cluster", "demo")

    step("dns-sync: SRV and A records from the containers' SERVICE_* environment")
    ecsfleet("dns-sync", "--cluster", "demo", "--once")
    step("Scale api from 2 to 4 tasks; one pass later DNS has all four")
    ecs.update_service(cluster="demo", service="api", desiredCount=4)
    advance(3)
    ecsfleet("dns-sync", "--cluster", "demo", "--once")
    dig("_api._tcp.sandbox.example.com", "SRV")
    dig("api.sandbox.example.com", "A")
    ecsfleet("dns-sync", "--cluster", "demo", "--once")

    step("agents: the fleet's agent versions, then a rolling update, one instance per pass")
    ecsfleet("agents", "status", "--cluster", "demo")
    ecsfleet("agents", "update", "--cluster", "demo")
    ecsfleet("agents", "update", "--cluster", "demo")
    print("   (the second pass starts nothing: one update is rolling)", flush=True)
    advance(20)
    ecsfleet("agents", "update", "--cluster", "demo")
    ecsfleet("agents", "status", "--cluster", "demo")

    step("fleet: infra.yml (ecs-cluster-deployer's format) -> validated CloudFormation")
    infra = "examples/infra.yml"
    ecsfleet("fleet", "validate", infra)
    ecsfleet("fleet", "plan", infra, "--version", "v1")
    step("fleet: roll out version 1 (deploy, wait for its instances, smoke test, activate)")
    ecsfleet("fleet", "rollout", infra, "--version", "v1", "--poll", "1")
    ecs.register_task_definition(family="shop-web", containerDefinitions=[{
        "name": "web", "image": "nginx", "memory": 512, "cpu": 256, "stopTimeout": 5,
        "portMappings": [{"containerPort": 80, "hostPort": 0}]}])
    ecs.create_service(cluster="shop", serviceName="web", taskDefinition="shop-web", desiredCount=4,
                       deploymentConfiguration={"minimumHealthyPercent": 50, "maximumPercent": 200})
    advance(3)
    ecsfleet("fleet", "status", infra)
    step("fleet: roll out version 2; the old fleet drains into the new one, then its stack is deleted")
    ecsfleet("fleet", "rollout", infra, "--version", "v2", "--poll", "2")
    ecsfleet("fleet", "status", infra)

    step("API calls the sandbox served during the demo")
    ecsfleet("sandbox", "calls")


if __name__ == "__main__":
    main()
