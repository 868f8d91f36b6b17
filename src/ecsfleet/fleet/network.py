"""The VPC and subnets a fleet runs in when infra.yml leaves them out: as the seed documents, the
region's default VPC and its subnets (in `availability_zones` when given)."""

from __future__ import annotations

from typing import Any

from ..aws import Clients, paginate
from ..errors import UserError
from .schema import Infra


def default_vpc(ec2: Any, region: str) -> str:
    vpcs = paginate(ec2, "describe_vpcs", "Vpcs", Filters=[{"Name": "is-default", "Values": ["true"]}])
    if not vpcs:
        raise UserError(f"infra.yml names no cluster.vpc and {region} has no default VPC: set cluster.vpc "
                        f"and cluster.subnets")
    return str(vpcs[0]["VpcId"])


def choose_subnets(subnets: list[dict[str, Any]], zones: list[str]) -> list[str]:
    """Pure: one subnet per availability zone (the default-for-AZ one first), limited to `zones`."""
    chosen: dict[str, str] = {}
    for subnet in sorted(subnets, key=lambda s: (not s.get("DefaultForAz", False), s["SubnetId"])):
        zone = subnet.get("AvailabilityZone", "")
        if (not zones or zone in zones) and zone not in chosen:
            chosen[zone] = subnet["SubnetId"]
    return [chosen[z] for z in sorted(chosen)]


def resolve_network(clients: Clients, infra: Infra) -> dict[str, str]:
    """Stack parameters for what infra.yml leaves to defaults: `VpcId` and `Subnets`."""
    spec = infra.cluster
    if spec.subnets and spec.vpc:  # the cluster stack's security groups need the VPC: named, or the default
        return {}
    ec2 = clients("ec2")
    vpc = spec.vpc or default_vpc(ec2, clients.target.region)
    params = {"VpcId": vpc}
    if not spec.subnets:
        found = paginate(ec2, "describe_subnets", "Subnets", Filters=[{"Name": "vpc-id", "Values": [vpc]}])
        subnets = choose_subnets(found, list(spec.availability_zones))
        if not subnets:
            zones = f" in {', '.join(spec.availability_zones)}" if spec.availability_zones else ""
            raise UserError(f"VPC {vpc} has no subnets{zones}: set cluster.subnets in infra.yml")
        params["Subnets"] = ",".join(subnets)
    return params
