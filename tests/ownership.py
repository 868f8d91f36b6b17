"""Ownership invariants: resources that belong to someone else, planted beside a scenario's world
and checked unchanged after it. ecsfleet may change only what it owns: the load balancers its
services file names (and there only the cluster's hosts in scope), and the record sets its TXT
registry says are its own in the zones it manages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecsfleet.sandbox import Sandbox, seed

FOREIGN_LB = "foreign-lb"
FOREIGN_ZONE = "elsewhere.test"


@dataclass
class Foreign:
    """What was planted, and how it looked right after planting."""

    sb: Sandbox
    load_balancers: tuple[str, ...] = ()  # not named in any services file: nothing of them may change
    outsider: str | None = None  # an EC2 instance outside the cluster, registered by hand
    managed_load_balancers: tuple[str, ...] = ()  # where the outsider is registered
    zones: tuple[str, ...] = ()  # zones ecsfleet must not touch at all
    managed_zone: str | None = None
    names: tuple[str, ...] = ()  # record names in the managed zone that are not ecsfleet's
    before: dict[str, Any] = field(default_factory=dict)

    def state(self) -> dict[str, Any]:
        elb = self.sb.client("elb")
        found: dict[str, Any] = {}
        for name in self.load_balancers:
            found[f"lb {name}"] = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
        for name in self.managed_load_balancers:
            doc = elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"][0]
            found[f"outsider in {name}"] = self.outsider in {i["InstanceId"] for i in doc["Instances"]}
        for zone_id in self.zones:
            found[f"zone {zone_id}"] = all_records(self.sb, zone_id)
        if self.managed_zone:
            mine = {k: v for k, v in all_records(self.sb, self.managed_zone).items() if k[0] in self.names}
            found[f"foreign records in {self.managed_zone}"] = mine
        return found

    def assert_unchanged(self) -> None:
        after = self.state()
        changed = sorted(k for k in self.before if self.before[k] != after.get(k))
        assert not changed, f"foreign resources changed: {changed}\nbefore: {self.before}\nafter: {after}"


def all_records(sb: Sandbox, zone_id: str) -> dict[tuple[str, str, str | None], Any]:
    """Every record set of a zone, keyed by name, type and set identifier."""
    found: dict[tuple[str, str, str | None], Any] = {}
    for page in sb.client("route53").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for record in page["ResourceRecordSets"]:
            found[(record["Name"], record["Type"], record.get("SetIdentifier"))] = record
    return found


def _records(sb: Sandbox, zone_id: str, records: list[dict[str, Any]]) -> None:
    sb.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in records]})


def txt(value: str) -> list[dict[str, str]]:
    return [{"Value": f'"{value}"'}]


def plant_dns(sb: Sandbox, managed_zone: str, domain: str, owner: str, foreign: Foreign | None = None) -> Foreign:
    """In the managed zone: a record nobody registered, an SRV record beside ecsfleet's names, and a
    record set another ecsfleet owner holds. In a zone outside the run's `--zone-id`s: records,
    one of them even carrying this run's own registry record (that zone is not in scope)."""
    foreign = foreign or Foreign(sb)
    someone = f"heritage=ecsfleet,ecsfleet/owner=someone-else-than-{owner}"
    _records(sb, managed_zone, [
        {"Name": f"mail.{domain}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.1"}]},
        {"Name": f"_sip._tcp.{domain}", "Type": "SRV", "TTL": 60,
         "ResourceRecords": [{"Value": "1 1 5060 sip.example.net."}]},
        {"Name": f"theirs.{domain}", "Type": "A", "TTL": 10, "ResourceRecords": [{"Value": "192.0.2.7"}]},
        {"Name": f"_ecsfleet-a.theirs.{domain}", "Type": "TXT", "TTL": 300, "ResourceRecords": txt(someone)},
    ])
    other = sb.client("route53").create_hosted_zone(Name=FOREIGN_ZONE, CallerReference="foreign-zone")
    other_id = other["HostedZone"]["Id"].rsplit("/", 1)[-1]
    mine = f"heritage=ecsfleet,ecsfleet/owner={owner}"
    _records(sb, other_id, [
        {"Name": f"www.{FOREIGN_ZONE}", "Type": "A", "TTL": 300, "ResourceRecords": [{"Value": "192.0.2.9"}]},
        {"Name": f"stale.{FOREIGN_ZONE}", "Type": "A", "TTL": 10, "ResourceRecords": [{"Value": "192.0.2.10"}]},
        {"Name": f"_ecsfleet-a.stale.{FOREIGN_ZONE}", "Type": "TXT", "TTL": 300, "ResourceRecords": txt(mine)},
    ])
    foreign.zones += (other_id,)
    foreign.managed_zone = managed_zone
    foreign.names += tuple(f"{n}.{domain}." for n in ("mail", "_sip._tcp", "theirs", "_ecsfleet-a.theirs"))
    foreign.before = foreign.state()
    return foreign


def plant_elb(sb: Sandbox, managed: list[str], cluster_host: str, subnet: str | None = None,
              foreign: Foreign | None = None) -> Foreign:
    """An EC2 instance outside the cluster registered by hand with each managed load balancer, and
    a load balancer no services file names, with a listener, a health check and a cluster host."""
    foreign = foreign or Foreign(sb)
    ec2, elb = sb.client("ec2"), sb.client("elb")
    placement = {"SubnetId": subnet} if subnet else {}
    outsider = ec2.run_instances(ImageId=seed.any_image(ec2), MinCount=1, MaxCount=1, **placement)["Instances"][0][
        "InstanceId"]
    for name in managed:
        elb.register_instances_with_load_balancer(LoadBalancerName=name, Instances=[{"InstanceId": outsider}])
    elb.create_load_balancer(
        LoadBalancerName=FOREIGN_LB, AvailabilityZones=[f"{sb.region}a"],
        Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 9000}])
    elb.configure_health_check(LoadBalancerName=FOREIGN_LB, HealthCheck={
        "Target": "TCP:9000", "Interval": 30, "Timeout": 5, "UnhealthyThreshold": 2, "HealthyThreshold": 10})
    elb.register_instances_with_load_balancer(LoadBalancerName=FOREIGN_LB, Instances=[{"InstanceId": cluster_host}])
    foreign.load_balancers += (FOREIGN_LB,)
    foreign.outsider = outsider
    foreign.managed_load_balancers += tuple(managed)
    foreign.before = foreign.state()
    return foreign
