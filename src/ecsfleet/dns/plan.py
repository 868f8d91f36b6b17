"""Plan: desired endpoints + the managed zones' record sets -> Route53 changes, packed into as
few ChangeResourceRecordSets batches as Route53 allows. Pure: no I/O, no clock.

Shape: the cluster-wide controller owns one simple record set per (name, type) holding every
value (up to Route53's 400), with a TXT registry record beside it naming the owner id. Only
record sets whose registry record names this owner are ever changed or deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .endpoints import Endpoint
from .names import name_problem, ttl_problem, value_problem
from .records import RecordKey, RecordSet, Zone, managed_key, registry_key, registry_owner, registry_record, zones_for

MAX_VALUES_PER_SET = 400
MAX_BATCH_VALUES = 1000
MAX_BATCH_CHARS = 32000
POLICIES = ("sync", "upsert-only")


@dataclass(frozen=True)
class Change:
    action: str  # CREATE | UPSERT | DELETE
    record: RecordSet

    @property
    def cost(self) -> tuple[int, int]:
        """(values, characters) this change counts against a batch; an UPSERT counts twice."""
        factor = 2 if self.action == "UPSERT" else 1
        return factor * len(self.record.values), factor * sum(len(v) for v in self.record.values)

    def describe(self) -> str:
        r = self.record
        shown = ", ".join(r.values[:3]) + (f" (+{len(r.values) - 3} more)" if len(r.values) > 3 else "")
        return f"{self.action} {r.name} {r.record_type} [{shown}]"


# The changes that must land together: a record set and its registry record.
ChangeGroup = tuple[Change, ...]


@dataclass(frozen=True)
class DnsPlan:
    groups_by_zone: Mapping[str, tuple[ChangeGroup, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def changes(self) -> list[tuple[str, Change]]:
        return [(zone, c) for zone, groups in sorted(self.groups_by_zone.items()) for g in groups for c in g]


def desired_records(
    endpoints: Iterable[Endpoint], zones: Sequence[Zone], ttl: int
) -> tuple[dict[tuple[str, RecordKey], RecordSet], list[str]]:
    """One record set per (zone, name, type) with every live value."""
    values: dict[tuple[str, RecordKey], set[str]] = defaultdict(set)
    warnings: list[str] = []
    unplaced: set[str] = set()
    for endpoint in endpoints:
        targets = zones_for(endpoint.name, zones, endpoint.private)
        if not targets:
            unplaced.add(endpoint.name)
            continue
        for zone in targets:
            values[(zone.id, RecordKey(endpoint.name, endpoint.record_type))].add(endpoint.value)
    warnings += [f"{name} is in no managed hosted zone: not published" for name in sorted(unplaced)]
    desired = {}
    for (zone_id, key), found in sorted(values.items()):
        ordered = tuple(sorted(found))
        if len(ordered) > MAX_VALUES_PER_SET:
            warnings.append(
                f"{key.name} {key.record_type} has {len(ordered)} values; Route53 allows {MAX_VALUES_PER_SET} in one "
                f"record set, so {len(ordered) - MAX_VALUES_PER_SET} are left out"
            )
            ordered = ordered[:MAX_VALUES_PER_SET]
        desired[(zone_id, key)] = RecordSet(key.name, key.record_type, ttl, ordered)
    return desired, warnings


ECSD_WEIGHT = 100


def set_identifier(endpoint: Endpoint) -> str:
    """ecsd's identifiers: the IP for A records, `<host>:<port>` for SRV records."""
    if endpoint.record_type == "SRV":
        _, _, port, target = endpoint.value.split()
        return f"{target.rstrip('.')}:{port}"
    return endpoint.value


def per_host_records(
    endpoints: Iterable[Endpoint],
    zones: Sequence[Zone],
    ttl: int,
    existing: Mapping[tuple[str, RecordKey], RecordSet],
) -> tuple[dict[tuple[str, RecordKey], RecordSet], list[str]]:
    """One record set per value, for agents that run on every host: each agent owns only its own
    values, so concurrent agents never overwrite each other. Multivalue answer records (Route53
    answers up to eight at once), unless the name already holds weighted ones (ecsd's shape:
    Route53 allows one routing policy per name and type), which are then kept."""
    weighted = {(zone_id, key.name, key.record_type) for (zone_id, key), r in existing.items() if r.weight is not None}
    desired: dict[tuple[str, RecordKey], RecordSet] = {}
    unplaced: set[str] = set()
    for endpoint in endpoints:
        targets = zones_for(endpoint.name, zones, endpoint.private)
        if not targets:
            unplaced.add(endpoint.name)
        for zone in targets:
            ecsd = (zone.id, endpoint.name, endpoint.record_type) in weighted
            record = RecordSet(endpoint.name, endpoint.record_type, ttl, (endpoint.value,), set_identifier(endpoint),
                               weight=ECSD_WEIGHT if ecsd else None, multivalue=not ecsd)
            desired[(zone.id, record.key)] = record
    return desired, [f"{name} is in no managed hosted zone: not published" for name in sorted(unplaced)]


def _problems(record: RecordSet) -> list[str]:
    problems = [name_problem(record.name), ttl_problem(record.ttl)]
    problems += [value_problem(record.record_type, v) for v in record.values]
    if not problems[0]:
        # The registry record goes in the same batch, under a longer name.
        registry = name_problem(registry_key(record.key).name)
        problems.append(f"its ownership record's name is {registry}" if registry else None)
    return [p for p in problems if p]


def plan(
    desired: Mapping[tuple[str, RecordKey], RecordSet],
    existing: Mapping[tuple[str, RecordKey], RecordSet],
    owner: str,
    policy: str = "sync",
    registry_ttl: int = 300,
    adopt: bool = False,
) -> DnsPlan:
    """The changes that make the owned record sets equal to the desired ones. Records already
    right are never rewritten; records of other owners are never touched. `adopt` takes over
    unowned per-host record sets (ecsd's) that hold exactly a desired value."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}")
    owners: dict[tuple[str, RecordKey], str | None] = {}
    for (zone_id, key), record in existing.items():
        target = managed_key(key)
        if target is not None:
            owners[(zone_id, target)] = registry_owner(record)
    groups: dict[str, list[ChangeGroup]] = defaultdict(list)
    warnings: list[str] = []

    for (zone_id, key), want in sorted(desired.items()):
        problems = _problems(want)
        if problems:
            warnings.append(f"{key.name} {key.record_type}: not sent: {'; '.join(problems)}")
            continue
        have = existing.get((zone_id, key))
        owned_by = owners.get((zone_id, key))
        if adopt and have is not None and owned_by is None and have.set_identifier is not None:
            # A record in ecsd's per-host shape, for exactly this host's value: take it over in
            # place (no delete and re-create), writing only our registry record beside it.
            group: list[Change] = [Change("CREATE", registry_record(key, owner, registry_ttl))]
            if have.shape != want.shape:
                group.append(Change("UPSERT", want))
            groups[zone_id].append(tuple(group))
            continue
        if owned_by not in (None, owner) or (have is not None and owned_by is None):
            warnings.append(f"{key.name} {key.record_type} in zone {zone_id} is not owned by {owner!r} "
                            f"({'owner ' + repr(owned_by) if owned_by else 'no ecsfleet registry record'}): left alone")
            continue
        if have is None:
            group = [Change("CREATE", want)]
            if owned_by is None:
                group.append(Change("CREATE", registry_record(key, owner, registry_ttl)))
            groups[zone_id].append(tuple(group))
        elif have.shape != want.shape:
            groups[zone_id].append((Change("UPSERT", want),))

    if policy == "sync":
        for (zone_id, key), owned_by in sorted(owners.items()):
            if owned_by != owner or (zone_id, key) in desired:
                continue
            group = []
            have = existing.get((zone_id, key))
            if have is not None:
                group.append(Change("DELETE", have))
            reg = existing.get((zone_id, registry_key(key)))
            if reg is not None:
                group.append(Change("DELETE", reg))
            groups[zone_id].append(tuple(group))
    return DnsPlan({z: tuple(g) for z, g in groups.items()}, tuple(warnings))


def pack(groups: Sequence[ChangeGroup], max_values: int = MAX_BATCH_VALUES,
         max_chars: int = MAX_BATCH_CHARS) -> list[list[ChangeGroup]]:
    """Groups into batches within Route53's limits, in order, each group whole in one batch."""
    batches: list[list[ChangeGroup]] = []
    current: list[ChangeGroup] = []
    values = chars = 0
    for group in groups:
        cost_values = sum(c.cost[0] for c in group)
        cost_chars = sum(c.cost[1] for c in group)
        if current and (values + cost_values > max_values or chars + cost_chars > max_chars):
            batches.append(current)
            current, values, chars = [], 0, 0
        current.append(group)
        values += cost_values
        chars += cost_chars
    if current:
        batches.append(current)
    return batches
