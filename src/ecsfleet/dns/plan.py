"""Plan: desired endpoints + the managed zones' record sets -> Route53 changes, packed into as
few ChangeResourceRecordSets batches as Route53 allows. Pure: no I/O, no clock.

Shape: the cluster-wide controller owns one simple record set per (name, type) holding every
value (up to Route53's 400), with a TXT registry record beside it naming the owner id; a
per-host agent owns one weighted or multivalue set per value. Only record sets whose registry
record names this owner are ever changed or deleted (and, when told to adopt, ecsd's).

Route53 checks a batch change by change and applies it all or nothing; its rules speak of one
name and type: one routing policy (no simple set beside weighted or multivalue ones), one TTL
in a weighted group, at most 100 weighted or multivalue sets. So every change to one name and
type (and its registry records) is one change group, planned knowing every set there and whose
it is, never split across batches, its DELETEs first; a name that cannot be changed without
touching someone else's sets is left alone with a warning rather than sent to be refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from .endpoints import Endpoint, Wanted
from .filters import NameRules, screen
from .names import Checked, ttl_problem
from .records import (
    Placement,
    RecordKey,
    RecordSet,
    Zone,
    managed_key,
    registry_key,
    registry_owner,
    registry_record,
)

MAX_VALUES_PER_SET = 400
MAX_SETS_PER_NAME = 100  # weighted or multivalue record sets of one name and type
MAX_BATCH_VALUES = 1000
MAX_BATCH_CHARS = 32000
MAX_SET_CHARS = MAX_BATCH_CHARS // 2
POLICIES = ("sync", "upsert-only")


@dataclass(frozen=True)
class Change:
    action: str  # CREATE | UPSERT | DELETE
    record: RecordSet

    @property
    def cost(self) -> tuple[int, int]:
        """(values, characters) this change counts against a batch; an UPSERT counts twice."""
        factor = 2 if self.action == "UPSERT" else 1
        return factor * len(self.record.values), factor * sum(map(len, self.record.values))

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
    endpoints: Iterable[Endpoint], zones: Sequence[Zone], ttl: int, srv_ttl: int | None = None
) -> tuple[dict[tuple[str, RecordKey], RecordSet], list[str]]:
    """One record set per (zone, name, type) with every live value (SRV sets at `srv_ttl` when
    given)."""
    grouped: dict[Wanted, set[str]] = {}
    for name, record_type, value, _, private in endpoints:
        where = (name, record_type, private)
        found = grouped.get(where)
        if found is None:
            found = grouped[where] = set()
        found.add(value)
    return record_sets(grouped, zones, ttl, srv_ttl)


@dataclass
class Ordered:
    """Each record set's values in order, as the last pass of a controller left them: its values
    as they were found, in order, and those of them that fit one record set (`_fitting`). A set
    whose values are those of the pass before takes that order again instead of sorting them:
    the two are compared as sets (in C, a look-up a value, each value's hash already held by the
    string `endpoints.Places` kept), whatever order the tasks were listed in. Sorting and
    measuring each set's values was a ninth of the instructions of a converged pass at 10,000
    tasks (bench/plan_time.py). Holds the last pass's sets alone."""

    sets: dict[tuple[str, RecordKey], tuple[Collection[str], tuple[str, ...], tuple[str, ...]]] = field(
        default_factory=dict)


def record_sets(grouped: Mapping[Wanted, Collection[str]], zones: Sequence[Zone], ttl: int, srv_ttl: int | None = None,
                placement: Placement | None = None, ordered: Ordered | None = None,
                ) -> tuple[dict[tuple[str, RecordKey], RecordSet], list[str]]:
    """`desired_records` of values already grouped by name, type and kind of address
    (`endpoints.snapshot_values`): each kind placed in its zones once, its values merged there
    with those of the other kind of address where both land in one zone. `placement`: the
    pass's, when it has one (over `zones`); `ordered`: what the last pass kept (a controller's),
    updated with this pass's sets."""
    placement = Placement(zones) if placement is None else placement
    values: dict[tuple[str, RecordKey], Collection[str]] = {}
    unplaced: set[str] = set()
    for (name, record_type, private), found in grouped.items():
        targets = placement(name, private)
        if not targets:
            unplaced.add(name)
        for zone in targets:
            where = (zone.id, RecordKey(name, record_type))
            merged = values.get(where)
            values[where] = found if merged is None else {*merged, *found}
    warnings = [f"{name} is in no managed hosted zone: not published" for name in sorted(unplaced)]
    desired = {}
    last = ordered.sets if ordered is not None else {}
    now: dict[tuple[str, RecordKey], tuple[Collection[str], tuple[str, ...], tuple[str, ...]]] = {}
    for where in sorted(values, key=_zone_and_key):
        key = where[1]
        found = values[where]
        before = last.get(where)
        if before is not None and before[0] == found:
            _, in_order, kept = before
        else:
            in_order = tuple(sorted(found))
            kept = _fitting(in_order)
        now[where] = (found, in_order, kept)
        if len(kept) < len(in_order):
            warnings.append(
                f"{key.name} {key.record_type} has {len(in_order)} values; Route53 allows {MAX_VALUES_PER_SET} in one "
                f"record set (and {MAX_SET_CHARS} characters, so that an UPSERT of it fits one batch), so "
                f"{len(in_order) - len(kept)} are left out"
            )
        desired[where] = RecordSet(key.name, key.record_type, _ttl(key.record_type, ttl, srv_ttl), kept)
    if ordered is not None:
        ordered.sets = now
    return desired, warnings


def _zone_and_key(where: tuple[str, RecordKey]) -> tuple[str, str, str, str]:
    """The order of (zone id, record key) pairs as a tuple of strings, compared in C (a record
    key's own dataclass ordering is a Python call a comparison)."""
    zone_id, key = where
    return zone_id, key.name, key.record_type, key.set_identifier or ""


def screened_records(
    grouped: Mapping[Wanted, Collection[str]], zones: Sequence[Zone], rules: NameRules, ttl: int,
    srv_ttl: int | None = None, ordered: Ordered | None = None,
) -> tuple[dict[tuple[str, RecordKey], RecordSet], list[str], list[str]]:
    """What `screen` then `desired_records` make of a cluster's endpoints, from its values grouped
    (`endpoints.snapshot_values`): the record sets, the names refused, the names in no managed
    zone. `screen` judges an endpoint by its name and kind of address alone, so one endpoint of
    each group stands for all its values."""
    standing = [Endpoint(name, record_type, next(iter(values)), "", private)
                for (name, record_type, private), values in grouped.items() if values]
    placement = Placement(zones)  # one for both: the screen places every name the record sets place again
    kept, refused = screen(standing, zones, rules, placement)
    desired, unplaced = record_sets({(e.name, e.record_type, e.private): grouped[(e.name, e.record_type, e.private)]
                                     for e in kept}, zones, ttl, srv_ttl, placement, ordered)
    return desired, refused, unplaced


def _fitting(values: tuple[str, ...]) -> tuple[str, ...]:
    """The first values that fit one record set: at most 400, and at most half a batch's
    characters, since an UPSERT counts its values twice against the batch's 32,000."""
    if len(values) <= MAX_VALUES_PER_SET and sum(map(len, values)) <= MAX_SET_CHARS:
        return values  # nearly every set: all fit
    kept: list[str] = []
    chars = 0
    for value in values[:MAX_VALUES_PER_SET]:
        if chars + len(value) > MAX_SET_CHARS:
            break
        kept.append(value)
        chars += len(value)
    return tuple(kept)


ECSD_WEIGHT = 100
ECSD_SRV_TTL = 0  # ecsd wrote its SRV records with TTL 0 (and its A records with 10, ecsfleet's default)


def _ttl(record_type: str, ttl: int, srv_ttl: int | None) -> int:
    return srv_ttl if record_type == "SRV" and srv_ttl is not None else ttl


def srv_ttl_for(ttl: int, srv_ttl: int | None, adopt_ecsd: bool) -> int:
    """The SRV records' TTL: `--srv-ttl` when given; else ecsd's 0 when taking over its records
    (a resolver asks again at every lookup, as ecsd's users are used to), else the A records'."""
    if srv_ttl is not None:
        return srv_ttl
    return ECSD_SRV_TTL if adopt_ecsd else ttl


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
    srv_ttl: int | None = None,
) -> tuple[dict[tuple[str, RecordKey], RecordSet], list[str]]:
    """One record set per value, for agents that run on every host: each agent owns only its own
    values, so concurrent agents never overwrite each other. Multivalue answer records (Route53
    answers up to eight at once), unless the name already holds weighted ones (ecsd's shape:
    Route53 allows one routing policy per name and type), which are then kept."""
    weighted = {(zone_id, key.name, key.record_type) for (zone_id, key), r in existing.items() if r.weight is not None}
    desired: dict[tuple[str, RecordKey], RecordSet] = {}
    unplaced: set[str] = set()
    placement = Placement(zones)
    for endpoint in endpoints:
        targets = placement(endpoint.name, endpoint.private)
        if not targets:
            unplaced.add(endpoint.name)
        for zone in targets:
            ecsd = (zone.id, endpoint.name, endpoint.record_type) in weighted
            record = RecordSet(endpoint.name, endpoint.record_type, _ttl(endpoint.record_type, ttl, srv_ttl),
                               (endpoint.value,), set_identifier(endpoint),
                               weight=ECSD_WEIGHT if ecsd else None, multivalue=not ecsd)
            desired[(zone.id, record.key)] = record
    return desired, [f"{name} is in no managed hosted zone: not published" for name in sorted(unplaced)]


def _problems(record: RecordSet, checked: Checked) -> list[str]:
    problems = [checked.name(record.name), ttl_problem(record.ttl)]
    problems += checked.values(record.record_type, record.values)
    if not problems[0]:
        # The registry record goes in the same batch, under a longer name.
        registry = checked.name(registry_key(record.key).name)
        problems.append(f"its ownership record's name is {registry}" if registry else None)
    return [p for p in problems if p]


# One name and type in one zone: the unit Route53's rules speak of (one routing policy, one TTL
# for a weighted group, at most 100 weighted or multivalue sets), so the unit of a change group.
NameKey = tuple[str, str, str]  # zone id, name, type


def _by_set(set_id: str | None) -> str:
    return set_id or ""


@dataclass(frozen=True)
class NameState:
    """What a zone holds under one name and type: its record sets and their registry records, by
    SetIdentifier (None: the simple set)."""

    sets: Mapping[str | None, RecordSet] = field(default_factory=dict)
    registries: Mapping[str | None, RecordSet] = field(default_factory=dict)

    def owner_of(self, set_id: str | None) -> str | None:
        registry = self.registries.get(set_id)
        return registry_owner(registry) if registry is not None else None

    def ours(self, set_id: str | None, owner: str) -> bool:
        """The registry record names `owner`, and the set (if there is one) is one ecsfleet can
        write back exactly."""
        data = self.sets.get(set_id)
        return self.owner_of(set_id) == owner and (data is None or data.writable)

    @property
    def group(self) -> dict[str, RecordSet]:
        """The weighted or multivalue sets."""
        return {sid: s for sid, s in self.sets.items() if sid is not None}


EMPTY = NameState()


@dataclass(frozen=True)
class Scope:
    """What one pass may change: whose records, whether it deletes, whether it adopts ecsd's."""

    owner: str
    policy: str = "sync"
    registry_ttl: int = 300
    adopt: bool = False
    # Where ecsd's records left behind are ours to remove when adopting: the addresses and host
    # names of the hosts this pass speaks for (this host for an agent, the cluster's for the
    # cluster-wide controller).
    ecsd_hosts: frozenset[str] = frozenset()
    checked: Checked = field(default_factory=Checked, compare=False)  # the pass's names and values, each checked once

    def registry(self, key: RecordKey) -> RecordSet:
        return registry_record(key, self.owner, self.registry_ttl)


def index(existing: Mapping[tuple[str, RecordKey], RecordSet]) -> tuple[dict[NameKey, NameState], set[tuple[str, str]]]:
    """The zones' record sets by name and type, each with its registry records; and the
    (zone, name)s holding a CNAME, where Route53 allows no other record."""
    sets: dict[NameKey, dict[str | None, RecordSet]] = defaultdict(dict)
    registries: dict[NameKey, dict[str | None, RecordSet]] = defaultdict(dict)
    cnames: set[tuple[str, str]] = set()
    for (zone_id, key), record in existing.items():
        target = managed_key(key)
        if target is not None:
            registries[(zone_id, target.name, target.record_type)][target.set_identifier] = record
            continue
        sets[(zone_id, key.name, key.record_type)][key.set_identifier] = record
        if key.record_type == "CNAME":
            cnames.add((zone_id, key.name))
    return {k: NameState(sets.get(k, {}), registries.get(k, {})) for k in set(sets) | set(registries)}, cnames


def ecsd_shaped(record: RecordSet) -> bool:
    """One of ecsd's per-host sets: weighted, Weight 100, one value, its SetIdentifier the IP (A)
    or `<host>:<port>` (SRV) of that value, nothing else set."""
    if not record.writable or record.weight != ECSD_WEIGHT or record.multivalue or len(record.values) != 1:
        return False
    value = record.values[0]
    if record.record_type == "A":
        return record.set_identifier == value
    parts = value.split()
    return (record.record_type == "SRV" and len(parts) == 4
            and record.set_identifier == f"{parts[3].rstrip('.')}:{parts[2]}")


def _adoptable(state: NameState, record: RecordSet, how: Scope) -> bool:
    return how.adopt and record.set_identifier not in state.registries and ecsd_shaped(record)


def ecsd_host(record: RecordSet) -> str:
    """The host an ecsd-shaped set speaks for: its IP (A) or its SRV target (without the dot)."""
    value = record.values[0]
    return value.split()[3].rstrip(".").lower() if record.record_type == "SRV" else value


def _same_values(have: RecordSet, want: RecordSet) -> bool:
    """Equal values, an SRV target with or without its trailing dot (ecsd wrote none; Route53
    takes every name as fully qualified) being the same."""
    def norm(values: tuple[str, ...]) -> list[str]:
        return sorted(v.rstrip(".").lower() for v in values)
    return norm(have.values) == norm(want.values)


def _left_by_ecsd(state: NameState, how: Scope, wanted: Iterable[str | None]) -> list[RecordSet]:
    """ecsd's sets of this pass's hosts that nothing asks for any more (a container gone while
    ecsd was down, an SRV at ecsd's literal port): removed when adopting, unless upsert-only."""
    if not (how.adopt and how.policy == "sync"):
        return []
    skip = set(wanted)
    return [s for sid, s in sorted(state.group.items()) if sid not in skip and _adoptable(state, s, how)
            and ecsd_host(s) in how.ecsd_hosts]


def _not_owned(label: str, owned_by: str | None, owner: str) -> str:
    return (f"{label} is not owned by {owner!r} "
            f"({'owner ' + repr(owned_by) if owned_by else 'no ecsfleet registry record'}): left alone")


def _routing(group: Iterable[RecordSet]) -> str:
    return "weighted" if any(s.weight is not None for s in group) else "multivalue"


def _group_ttl(records: Iterable[RecordSet]) -> int | None:
    """The TTL a group's sets share (Route53 refuses a weighted set whose TTL differs from its
    group's); the most common one should they differ."""
    ttls = [r.ttl for r in records if not r.alias]
    return max(sorted(set(ttls)), key=ttls.count) if ttls else None


def _retire(state: NameState, how: Scope, keep: set[str | None]) -> tuple[list[Change], list[str]]:
    """DELETEs of every set `how.owner` owns here, except `keep`, each with its registry record,
    carrying the values just read (Route53 deletes only an exact match)."""
    changes: list[Change] = []
    warnings: list[str] = []
    for set_id, registry in sorted(state.registries.items(), key=lambda item: _by_set(item[0])):
        if set_id in keep or state.owner_of(set_id) != how.owner:
            continue
        data = state.sets.get(set_id)
        if data is not None and not data.writable:
            warnings.append(f"{data.name} {data.record_type} ({set_id or 'simple'}) carries settings ecsfleet "
                            "does not write (alias, health check, other routing): not deleted")
            continue
        changes += [Change("DELETE", data)] if data is not None else []
        changes.append(Change("DELETE", registry))
    return changes, warnings


def _simple(label: str, state: NameState, want: RecordSet, how: Scope) -> tuple[list[Change], list[str]]:
    """The cluster-wide controller's one set holding every value. Route53 allows no simple set
    beside weighted or multivalue sets of the same name and type: where those are ours (or
    ecsd's, adopted), they are deleted and the simple set created in one batch, which Route53
    applies all or nothing, so the name never stops answering; where they are someone else's, the
    name is left alone."""
    simple = state.sets.get(None)
    if simple is not None or None in state.registries:
        if not state.ours(None, how.owner):
            return [], [_not_owned(label, state.owner_of(None), how.owner)]
        if simple is not None:
            retired, warnings = _retire(state, how, {None}) if how.policy == "sync" else ([], [])
            return retired + ([Change("UPSERT", want)] if simple.shape != want.shape else []), warnings
    group = state.group
    strangers = sorted(sid for sid, s in group.items() if not (state.ours(sid, how.owner) or _adoptable(state, s, how)))
    others = sorted(sid for sid in state.registries if sid is not None and state.owner_of(sid) != how.owner)
    if strangers or others:
        ecsd = not others and all(ecsd_shaped(group[sid]) and sid not in state.registries for sid in strangers)
        hint = ("; they are in ecsd's shape: --adopt-ecsd converts them into one record set" if ecsd and not how.adopt
                else "")
        count = len(set(strangers) | set(others))
        return [], [f"{label} is served by {count} {_routing(group.values())} record set(s) {how.owner!r} does not own "
                    f"(Route53 allows no simple record set beside them): left alone{hint}"]
    changes = [Change("DELETE", group[sid]) for sid in sorted(group) if sid not in state.registries]  # ecsd's
    retired, warnings = _retire(state, how, {None})
    changes += retired
    if warnings:  # one of ours cannot be deleted exactly: the simple set would be refused beside it
        return [], warnings
    changes.append(Change("CREATE", want))
    if None not in state.registries:
        changes.append(Change("CREATE", how.registry(want.key)))
    return changes, []


def _fit(want: RecordSet, weighted: bool, ttl: int) -> RecordSet:
    """A per-value set in its group's routing policy and TTL."""
    return replace(want, ttl=ttl, weight=(want.weight or ECSD_WEIGHT) if weighted else None, multivalue=not weighted)


def _per_value(label: str, state: NameState, wants: Mapping[str, RecordSet], held: set[str | None],
               how: Scope) -> tuple[list[Change], list[str]]:
    """A per-host agent's own sets in a group others share: the group's routing policy and TTL,
    at most 100 sets in it, never a set beside a simple set someone else owns. Route53 checks a
    batch change by change, so the group's DELETEs go first (freeing room, and letting a TTL
    change be a DELETE and re-CREATE of each of our sets: an UPSERT of one weighted set to a new
    TTL is refused while its siblings keep the old one)."""
    deletes: list[Change] = []
    writes: list[Change] = []
    warnings: list[str] = []
    if None in state.sets or None in state.registries:
        if not state.ours(None, how.owner):
            return [], [f"{label} is served by a simple record set {how.owner!r} does not own "
                        "(Route53 allows no weighted or multivalue set beside it): left alone"]
        deletes += [Change("DELETE", r) for r in (state.sets.get(None), state.registries.get(None)) if r]
    group = state.group
    adopted = {sid for sid, s in group.items() if sid in wants and _adoptable(state, s, how)
               and _same_values(s, wants[sid])}
    left = _left_by_ecsd(state, how, wants)
    deletes += [Change("DELETE", s) for s in left]
    mine = {sid for sid in group if state.ours(sid, how.owner)} | adopted | {str(s.set_identifier) for s in left}
    strangers = [s for sid, s in group.items() if sid not in mine]
    keep = set(wants) | held | (set(state.registries) if how.policy != "sync" else set())
    staying = [s for sid, s in group.items() if sid not in mine or sid in keep]
    weighted = _routing(staying or wants.values()) == "weighted"  # Route53: one routing policy per name and type
    group_ttl = _group_ttl(strangers)
    ttl = group_ttl if group_ttl is not None else min(w.ttl for w in wants.values())

    def rewrite(have: RecordSet, fitted: RecordSet) -> None:
        if have.ttl != fitted.ttl:
            deletes.append(Change("DELETE", have))
            writes.append(Change("CREATE", fitted))
        elif have.shape != fitted.shape:
            writes.append(Change("UPSERT", fitted))

    room = MAX_SETS_PER_NAME - len(staying)
    for set_id, want in sorted(wants.items()):
        fitted = _fit(want, weighted, ttl)
        have = group.get(set_id)
        if set_id not in mine and (have is not None or set_id in state.registries):
            warnings.append(_not_owned(f"{label} ({set_id})", state.owner_of(set_id), how.owner))
        elif have is not None:
            writes += [Change("CREATE", how.registry(want.key))] if set_id in adopted else []
            rewrite(have, fitted)
        elif room <= 0:
            warnings.append(f"{label}: Route53 allows at most {MAX_SETS_PER_NAME} weighted or multivalue record "
                            f"sets per name and type, and it has {len(staying)}: {want.values[0]} not published")
        else:
            room -= 1
            writes.append(Change("CREATE", fitted))
            writes += [] if set_id in state.registries else [Change("CREATE", how.registry(want.key))]
    for set_id in sorted(mine - set(wants)):  # ours, kept unwanted (upsert-only): the group's TTL too
        if set_id in keep:
            rewrite(group[set_id], replace(group[set_id], ttl=ttl))
    retired, problems = _retire(state, how, keep | {None})
    return retired + deletes + writes, warnings + problems


def plan(
    desired: Mapping[tuple[str, RecordKey], RecordSet],
    existing: Mapping[tuple[str, RecordKey], RecordSet],
    owner: str,
    policy: str = "sync",
    registry_ttl: int = 300,
    adopt: bool = False,
    ecsd_hosts: Iterable[str] = (),
) -> DnsPlan:
    """The changes that make the owned record sets equal to the desired ones, one change group
    per name and type (so Route53's rules, which speak of a name and type, are checked on whole
    groups). Records already right are never rewritten; records of other owners are never
    touched. `adopt` takes over unowned record sets in ecsd's shape: per-host agents keep them in
    place, the cluster-wide controller converts them into its one set; and ecsd's sets of
    `ecsd_hosts` that nothing asks for any more are deleted."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}")
    how = Scope(owner, policy, registry_ttl, adopt, frozenset(h.rstrip(".").lower() for h in ecsd_hosts))
    states, cnames = index(existing)
    wants: dict[NameKey, dict[str | None, RecordSet]] = defaultdict(dict)
    for (zone_id, key), record in desired.items():
        wants[(zone_id, key.name, key.record_type)][key.set_identifier] = record
    owned = {k for k, state in states.items() if any(state.owner_of(sid) == owner for sid in state.registries)}
    groups: dict[str, list[ChangeGroup]] = defaultdict(list)
    warnings: list[str] = []
    left = {k for k, state in states.items() if _left_by_ecsd(state, how, ())}
    for name_key in sorted(set(wants) | (owned | left if policy == "sync" else set())):
        changes, notes = _plan_name(name_key, states.get(name_key, EMPTY), wants.get(name_key, {}), cnames, how)
        if changes:
            groups[name_key[0]].append(tuple(changes))
        warnings += notes
    return DnsPlan({z: tuple(g) for z, g in groups.items()}, tuple(warnings))


def _plan_name(name_key: NameKey, state: NameState, wants: Mapping[str | None, RecordSet],
               cnames: set[tuple[str, str]], how: Scope) -> tuple[list[Change], list[str]]:
    zone_id, name, kind = name_key
    label = f"{name} {kind} in zone {zone_id}"
    valid: dict[str | None, RecordSet] = {}
    warnings: list[str] = []
    settled = False  # the simple set is in the zone as wanted, written by this owner
    for set_id, want in sorted(wants.items(), key=lambda item: _by_set(item[0])):
        if state.sets.get(set_id) == want and state.ours(set_id, how.owner):
            # In the zone exactly as wanted, written by this owner: Route53 took it, and nothing
            # is sent. A converged pass checks no value (a cluster's every host port) again.
            valid[set_id] = want
            settled = settled or set_id is None
            continue
        problems = _problems(want, how.checked)
        if problems:
            warnings.append(f"{name} {kind}: not sent: {'; '.join(problems)}")
        else:
            valid[set_id] = want
    held = set(wants) - set(valid)  # wanted but not sendable: what is there stays
    if wants and not valid:
        return [], warnings
    if valid and ((zone_id, name) in cnames or (zone_id, registry_key(RecordKey(name, kind)).name) in cnames):
        cname = f"{label}: a CNAME record holds the name (Route53 allows no other record beside it): left alone"
        return [], [*warnings, cname]
    if None in valid and settled and len(state.sets) == 1 and len(state.registries) == 1:
        # The simple set alone, ours and as wanted, nothing beside it: what `_simple` would find
        # again, comparing every value a second time (a converged pass's every name).
        return [], warnings
    if None in valid:
        changes, notes = _simple(label, state, valid[None], how)
    elif valid:
        changes, notes = _per_value(label, state, {sid: w for sid, w in valid.items() if sid is not None}, held, how)
    else:
        changes, notes = _retire(state, how, held)
        changes = [Change("DELETE", s) for s in _left_by_ecsd(state, how, held)] + changes
    return changes, warnings + notes


def pack(groups: Sequence[ChangeGroup], max_values: int = MAX_BATCH_VALUES,
         max_chars: int = MAX_BATCH_CHARS) -> list[list[ChangeGroup]]:
    """Groups into batches within Route53's limits, in order, each group whole in one batch."""
    batches: list[list[ChangeGroup]] = []
    current: list[ChangeGroup] = []
    values = chars = 0
    for group in groups:
        costs = [c.cost for c in group]
        cost_values = sum(v for v, _ in costs)
        cost_chars = sum(n for _, n in costs)
        if current and (values + cost_values > max_values or chars + cost_chars > max_chars):
            batches.append(current)
            current, values, chars = [], 0, 0
        current.append(group)
        values += cost_values
        chars += cost_chars
    if current:
        batches.append(current)
    return batches
