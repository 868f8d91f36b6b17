"""dns-sync's reconcile pass for the ECS source: one controller for a whole cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..aws import Clients
from ..draining import short_stop_timeouts
from ..runner import PassReport
from ..snapshot import SnapshotReader
from .endpoints import snapshot_endpoints
from .plan import desired_records, plan
from .route53 import apply, read_records, read_zones

DEFAULT_TTL = 10


@dataclass
class DnsSync:
    clients: Clients
    cluster: str
    owner: str
    zone_ids: Sequence[str] = ()
    policy: str = "sync"
    ttl: int = DEFAULT_TTL
    min_drain: float | None = None  # default: the TTL
    reader: SnapshotReader | None = None
    adopt_ecsd: bool = False  # convert ecsd's weighted sets of a wanted name into the one set
    capability: str = field(default="dns-sync")

    def reconcile(self, dry_run: bool) -> PassReport:
        reader = self.reader = self.reader or SnapshotReader(self.clients)
        snap = reader.read(self.cluster)
        endpoints, source_warnings = snapshot_endpoints(snap)
        route53 = self.clients("route53")
        zones = read_zones(route53, self.zone_ids)
        desired, placement_warnings = desired_records(endpoints, zones, self.ttl)
        result = plan(desired, read_records(route53, zones), self.owner, self.policy, adopt=self.adopt_ecsd)
        return PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(f"{change.describe()} (zone {zone})" for zone, change in result.changes),
            outcomes=() if dry_run else tuple(apply(route53, result)),
            warnings=tuple(source_warnings) + tuple(placement_warnings) + result.warnings
            + tuple(short_stop_timeouts(snap, self.ttl if self.min_drain is None else self.min_drain)),
        )
