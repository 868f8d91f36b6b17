"""Zones as ecsd left them (its route53a.sh and route53srv.sh: weighted sets, Weight 100,
SetIdentifier the IP or `<hostname>:<port>`, A at TTL 10, SRV at TTL 0 with a target written
without its trailing dot), and a watch that checks, after every change Route53 applies, that no
value still served has left DNS."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ecsfleet.aws import Clients
from ecsfleet.sandbox import Sandbox
from ownership import all_records

ZONE = "example.com"


def make_zone(sb: Sandbox, name: str = ZONE) -> str:
    return str(sb.client("route53").create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
               .rsplit("/", 1)[-1])


def ecsd_a(name: str, ip: str) -> dict[str, Any]:
    return {"Name": name, "Type": "A", "TTL": 10, "SetIdentifier": ip, "Weight": 100,
            "ResourceRecords": [{"Value": ip}]}


def ecsd_srv(name: str, hostname: str, port: int) -> dict[str, Any]:
    return {"Name": name, "Type": "SRV", "TTL": 0, "SetIdentifier": f"{hostname}:{port}", "Weight": 100,
            "ResourceRecords": [{"Value": f"1 1 {port} {hostname}"}]}


def plant(sb: Sandbox, zone_id: str, *records: dict[str, Any]) -> None:
    sb.client("route53").change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
        "Changes": [{"Action": "CREATE", "ResourceRecordSet": r} for r in records]})


def served(sb: Sandbox, zone_id: str) -> set[tuple[str, str, str]]:
    """(name, type, value) of every A and SRV value the zone answers with (an SRV target with or
    without its dot is one name)."""
    return {(name, kind, v["Value"].rstrip(".")) for (name, kind, _), r in all_records(sb, zone_id).items()
            if kind in ("A", "SRV") for v in r.get("ResourceRecords", [])}


class NeverMissing:
    """After every ChangeResourceRecordSets a pass sends, the zone still answers every value of
    `still_served()`: the switch never leaves a served endpoint out of DNS, not even between
    batches."""

    def __init__(self, sb: Sandbox, zone_id: str, clients: Clients,
                 still_served: Callable[[], Iterable[tuple[str, str, str]]]) -> None:
        self.sb, self.zone_id, self.still_served = sb, zone_id, still_served
        self.checks = 0
        self.missing: list[set[tuple[str, str, str]]] = []
        clients("route53").meta.events.register("after-call.route53.ChangeResourceRecordSets", self._check)

    def _check(self, **_: Any) -> None:
        self.checks += 1
        gone = set(self.still_served()) - served(self.sb, self.zone_id)
        if gone:
            self.missing.append(gone)

    def assert_none_missing(self) -> None:
        assert self.checks and not self.missing, self.missing
