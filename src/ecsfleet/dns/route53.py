"""Route53: read the managed zones and their record sets; send planned changes in batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..aws import error_code, paginate
from ..errors import UserError
from ..runner import Outcome
from .filters import NameRules, managed_records, managed_zones
from .plan import ChangeGroup, DnsPlan, pack
from .records import RecordKey, RecordSet, Zone, parse_record_set, parse_zone


def read_zones(route53: Any, zone_ids: Sequence[str] = ()) -> list[Zone]:
    zones = [parse_zone(z) for z in paginate(route53, "list_hosted_zones", "HostedZones")]
    if not zone_ids:
        return zones
    wanted = {z.rsplit("/", 1)[-1] for z in zone_ids}
    missing = wanted - {z.id for z in zones}
    if missing:
        raise UserError(f"hosted zone(s) not found: {', '.join(sorted(missing))}")
    return [z for z in zones if z.id in wanted]


def read_records(route53: Any, zones: Sequence[Zone]) -> dict[tuple[str, RecordKey], RecordSet]:
    """Every record set of the zones, alias ones included: ecsfleet never writes those, but they
    hold their name and type (a CREATE beside them is refused)."""
    found: dict[tuple[str, RecordKey], RecordSet] = {}
    for zone in zones:
        for doc in paginate(route53, "list_resource_record_sets", "ResourceRecordSets", HostedZoneId=zone.id):
            record = parse_record_set(doc)
            found[(zone.id, record.key)] = record
    return found


def read_managed(route53: Any, zone_ids: Sequence[str], rules: NameRules
                 ) -> tuple[list[Zone], dict[tuple[str, RecordKey], RecordSet]]:
    """The zones and record sets a pass may manage: those under `--domain-filter`, if any."""
    zones = managed_zones(read_zones(route53, zone_ids), rules)
    return zones, managed_records(read_records(route53, zones), rules)


# Refusals of a batch's content: Route53 changed nothing (a batch is all or nothing), and the
# cause is in one of its change groups.
INVALID = ("InvalidChangeBatch", "InvalidInput")


def _send(route53: Any, zone_id: str, batch: list[ChangeGroup]) -> list[Outcome]:
    """One ChangeResourceRecordSets; a batch Route53 refuses as invalid is split in halves (at
    change group boundaries: a record and its registry record always travel together) so the
    valid groups still land and the refusal is pinned to the group that caused it.
    PriorRequestNotComplete and throttling are retried with backoff by botocore (its retry
    budget, the same batch resent); past the budget the batch is reported failed and the next
    pass, which reads the zone again, plans it again."""
    changes = [c for group in batch for c in group]
    try:
        route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={
            "Comment": "ecsfleet dns-sync",
            "Changes": [{"Action": c.action, "ResourceRecordSet": c.record.to_route53()} for c in changes],
        })
    except Exception as error:
        if error_code(error) in INVALID and len(batch) > 1:
            half = len(batch) // 2
            return _send(route53, zone_id, batch[:half]) + _send(route53, zone_id, batch[half:])
        reason = f"{error_code(error) or type(error).__name__}: {error}"
        return [Outcome(c.action.lower(), zone_id, c.describe(), ok=False, error=reason) for c in changes]
    return [Outcome(c.action.lower(), zone_id, c.describe()) for c in changes]


def apply(route53: Any, plan: DnsPlan) -> list[Outcome]:
    """Every zone's batches; a failed batch is reported and the others are still sent."""
    outcomes: list[Outcome] = []
    for zone_id, groups in sorted(plan.groups_by_zone.items()):
        for batch in pack(groups):
            outcomes += _send(route53, zone_id, batch)
    return outcomes
