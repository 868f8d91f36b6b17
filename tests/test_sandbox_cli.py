"""`ecsfleet sandbox up --seed demo` as a user runs it: a separate process, seeded, then used."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3

ECSFLEET = str(Path(sys.executable).with_name("ecsfleet"))


def test_sandbox_up_with_the_demo_seed_prints_its_env_and_serves_the_demo_world() -> None:
    server = subprocess.Popen([ECSFLEET, "sandbox", "up", "--port", "0", "--seed", "demo"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        exported: dict[str, str] = {}
        # The export lines come once the seed is in place; the endpoint line is the last of them.
        for line in server.stdout:
            key, _, value = line.removeprefix("export ").strip().partition("=")
            exported[key] = value
            if {"AWS_ENDPOINT_URL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(exported):
                break
        assert exported["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **exported}

        status = subprocess.run([ECSFLEET, "status", "--cluster", "demo", "--output", "json"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        doc = json.loads(status.stdout)
        assert len(doc["instances"]) == 3 and {i["status"] for i in doc["instances"]} == {"ACTIVE"}
        groups = {g["service"]: (g["running"], g["pending"]) for g in doc["groups"]}
        assert groups == {"web": (3, 0), "api": (2, 0)}
        ports = [p["hostPort"] for t in doc["tasks"] for p in t["hostPorts"]]
        assert len(ports) == 5 and all(32768 <= p <= 60999 for p in ports)

        session = boto3.Session(aws_access_key_id=exported["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=exported["AWS_SECRET_ACCESS_KEY"],
                                region_name=exported["AWS_REGION"])
        endpoint = exported["AWS_ENDPOINT_URL"]
        elb = session.client("elb", endpoint_url=endpoint)
        assert [lb["LoadBalancerName"] for lb in elb.describe_load_balancers()["LoadBalancerDescriptions"]] == [
            "demo-web"]
        zones = session.client("route53", endpoint_url=endpoint).list_hosted_zones()["HostedZones"]
        assert [z["Name"] for z in zones] == ["sandbox.example.com."]
        vpcs = session.client("ec2", endpoint_url=endpoint).describe_vpcs(
            Filters=[{"Name": "cidr", "Values": ["10.10.0.0/16"]}])["Vpcs"]
        assert len(vpcs) == 1
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    assert server.returncode == 0, stderr
    assert "Traceback" not in stderr
