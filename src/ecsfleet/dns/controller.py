"""dns-sync's reconcile pass for the ECS source: one controller for a whole cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..aws import Clients
from ..draining import short_stop_timeouts
from ..errors import UserError
from ..runner import PassReport
from ..snapshot import SnapshotReader
from .endpoints import Places, snapshot_values
from .filters import NameRules
from .plan import Ordered, plan, screened_records, srv_ttl_for
from .records import DEFAULT_TTL, owner_problem
from .route53 import apply, read_managed


def require_owner(owner: str) -> None:
    """A clear error for an owner id that cannot be written into a registry record."""
    problem = owner_problem(owner)
    if problem:
        raise UserError(f"owner id {owner!r} (--owner-id, ECSFLEET_DNS_OWNER_ID): {problem}")


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
    srv_ttl: int | None = None  # default: ecsd's 0 when adopting, else `ttl`
    names: NameRules = field(default_factory=NameRules)
    capability: str = field(default="dns-sync")
    # The hosts as the last pass read them, with the SRV texts made for them (endpoints.Places).
    places: Places = field(default_factory=Places, repr=False)
    # Each record set's values in order, as the last pass left them (plan.Ordered).
    ordered: Ordered = field(default_factory=Ordered, repr=False)

    def __post_init__(self) -> None:
        require_owner(self.owner)

    def reconcile(self, dry_run: bool) -> PassReport:
        reader = self.reader = self.reader or SnapshotReader(self.clients)
        snap = reader.read(self.cluster)
        values, source_warnings = snapshot_values(snap, self.places)
        route53 = self.clients("route53")
        zones, existing = read_managed(route53, self.zone_ids, self.names)
        desired, refused, placement_warnings = screened_records(
            values, zones, self.names, self.ttl, srv_ttl_for(self.ttl, self.srv_ttl, self.adopt_ecsd), self.ordered)
        # ecsd ran on these hosts: its records of them that no task asks for are left-overs.
        hosts = {a for i in snap.instances for a in (i.private_ip, i.public_ip, i.private_dns_name) if a}
        result = plan(desired, existing, self.owner, self.policy, adopt=self.adopt_ecsd, ecsd_hosts=hosts)
        return PassReport(
            capability=self.capability,
            dry_run=dry_run,
            planned=tuple(f"{change.describe()} (zone {zone})" for zone, change in result.changes),
            outcomes=() if dry_run else tuple(apply(route53, result)),
            warnings=tuple(source_warnings) + tuple(refused) + tuple(placement_warnings) + result.warnings
            + tuple(short_stop_timeouts(snap, self.ttl if self.min_drain is None else self.min_drain)),
        )
