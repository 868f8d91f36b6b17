"""Route53 record sets and zones as ecsfleet sees them, and the TXT registry that says which
record sets an owner manages (external-dns's idea: a record without our TXT is not ours)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .names import Memo, is_under, normalize

# Seconds a record set lives in resolvers' caches unless --ttl says otherwise (ecsd's own default).
DEFAULT_TTL = 10

HERITAGE = "ecsfleet"
# Record set fields beside the ones RecordSet models.
UNMODELLED = ("Region", "Failover", "GeoLocation", "GeoProximityLocation", "HealthCheckId", "CidrRoutingConfig",
              "TrafficPolicyInstanceId")
REGISTRY_PREFIX = "_ecsfleet-"


@dataclass(frozen=True, order=True)
class RecordKey:
    name: str
    record_type: str
    set_identifier: str | None = None


@dataclass(frozen=True)
class RecordSet:
    name: str
    record_type: str
    ttl: int
    values: tuple[str, ...]  # sorted: record sets compare as sets of values
    set_identifier: str | None = None
    weight: int | None = None
    multivalue: bool = False
    alias: bool = False
    # Route53 settings ecsfleet does not model (failover, latency, geolocation, a health check, ...):
    # a set carrying them is never written, since an UPSERT would drop them and a DELETE without
    # them is refused as not matching.
    unmodelled: bool = False

    @property
    def key(self) -> RecordKey:
        return RecordKey(self.name, self.record_type, self.set_identifier)

    @property
    def writable(self) -> bool:
        """Whether ecsfleet can write this set back exactly as it is (for a DELETE or UPSERT)."""
        return not (self.alias or self.unmodelled)

    @property
    def per_value(self) -> bool:
        """A weighted or multivalue set (one of a group under one name and type)."""
        return self.set_identifier is not None

    @property
    def shape(self) -> tuple[tuple[str, ...], int, int | None, bool]:
        """What must match for an existing record set to need no change."""
        return self.values, self.ttl, self.weight, self.multivalue

    def to_route53(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "Name": self.name, "Type": self.record_type, "TTL": self.ttl,
            "ResourceRecords": [{"Value": v} for v in self.values],
        }
        if self.set_identifier is not None:
            doc["SetIdentifier"] = self.set_identifier
            if self.weight is not None:
                doc["Weight"] = self.weight
            if self.multivalue:
                doc["MultiValueAnswer"] = True
        return doc


def parse_record_set(doc: Mapping[str, Any]) -> RecordSet:
    return RecordSet(
        name=normalize(doc["Name"].replace("\\052", "*")),
        record_type=doc["Type"],
        ttl=int(doc.get("TTL", 0)),
        values=tuple(sorted(r["Value"] for r in doc.get("ResourceRecords") or [])),
        set_identifier=doc.get("SetIdentifier"),
        weight=doc.get("Weight"),
        multivalue=bool(doc.get("MultiValueAnswer")),
        alias="AliasTarget" in doc,
        unmodelled=any(k in doc for k in UNMODELLED),
    )


@dataclass(frozen=True)
class Zone:
    id: str
    name: str  # normalized
    private: bool


def parse_zone(doc: Mapping[str, Any]) -> Zone:
    return Zone(doc["Id"].rsplit("/", 1)[-1], normalize(doc["Name"]),
                bool((doc.get("Config") or {}).get("PrivateZone")))


def zones_for(name: str, zones: Sequence[Zone], private: bool) -> list[Zone]:
    """The managed zones a name belongs in: the longest matching suffix; where a public and a
    private zone share it (split horizon), the one matching the value's kind of address."""
    matching = [z for z in zones if is_under(name, z.name)]
    if not matching:
        return []
    longest = max(len(z.name) for z in matching)
    best = [z for z in matching if len(z.name) == longest]
    preferred = [z for z in best if z.private == private]
    return sorted(preferred or best, key=lambda z: z.id)


class Placement(Memo[tuple[str, bool], list[Zone]]):
    """`zones_for` over some zones, once per name and kind of address: every container of a
    service asks for the same name, and placing it again for each made a pass scan the zones per
    task. Keep one per pass."""

    def __init__(self, zones: Sequence[Zone]) -> None:
        super().__init__(lambda key: zones_for(key[0], zones, key[1]))

    def __call__(self, name: str, private: bool) -> list[Zone]:
        return self[(name, private)]


def registry_key(key: RecordKey) -> RecordKey:
    return RecordKey(f"{REGISTRY_PREFIX}{key.record_type.lower()}.{key.name}", "TXT", key.set_identifier)


def registry_record(key: RecordKey, owner: str, ttl: int) -> RecordSet:
    """The TXT record that says `owner` manages the record set `key`. Per-value record sets (with
    a SetIdentifier) get per-value registry records, multivalue so several owners share a name."""
    reg = registry_key(key)
    return RecordSet(reg.name, "TXT", ttl, (f'"heritage={HERITAGE},{HERITAGE}/owner={owner}"',), key.set_identifier,
                     multivalue=key.set_identifier is not None)


# An owner id sits inside the registry record's quoted `key=value,...` text: a quote, comma,
# equals sign, backslash or space would let it forge other fields (`x",heritage=...`).
_OWNER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:/@+-]*")
MAX_OWNER = 255 - len(f"heritage={HERITAGE},{HERITAGE}/owner=")  # one TXT string holds 255 characters


def owner_problem(owner: str) -> str | None:
    """None when `owner` can be written in a registry record, else why not."""
    if not _OWNER.fullmatch(owner):
        return ("may hold only letters, digits and _ . : / @ + - (not first), "
                "no quote, comma, equals sign, backslash or space")
    if len(owner) > MAX_OWNER:
        return f"longer than {MAX_OWNER} characters (it must fit one TXT string beside heritage=)"
    return None


def registry_owner(record: RecordSet) -> str | None:
    """The owner a registry TXT record names, or None when it is not one of ours."""
    for value in record.values:
        ours, owner = _registry_fields(value)
        if ours:
            return owner
    return None


@lru_cache(maxsize=1024)
def _registry_fields(value: str) -> tuple[bool, str | None]:
    """Whether one TXT value is an ecsfleet registry entry, and the owner it names. Cached: a
    zone's registry records hold a handful of distinct values (one an owner), and a pass asks for
    each name's owner several times: three parses a name in a converged pass."""
    fields = dict(part.split("=", 1) for part in value.strip('"').split(",") if "=" in part)
    return fields.get("heritage") == HERITAGE, fields.get(f"{HERITAGE}/owner")


def managed_key(registry: RecordKey) -> RecordKey | None:
    """The record a registry TXT name stands for (inverse of `registry_key`)."""
    if registry.record_type != "TXT" or not registry.name.startswith(REGISTRY_PREFIX):
        return None
    kind, _, name = registry.name.removeprefix(REGISTRY_PREFIX).partition(".")
    return RecordKey(name, kind.upper(), registry.set_identifier) if name else None
