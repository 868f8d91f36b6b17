"""Which names dns-sync may manage at all, whatever containers ask for. A container's environment
is input from whoever can start a container: by default it cannot claim a zone's apex (its NS,
SOA and mail records live there) or a wildcard (which would answer for every name nobody else
serves), and `--domain-filter` (external-dns's meaning) limits dns-sync to names under some
domains: names outside them are neither published nor, when already there, touched."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .endpoints import Endpoint
from .names import Memo, is_under, name_problem, normalize
from .records import Placement, RecordKey, RecordSet, Zone, managed_key


@dataclass(frozen=True)
class NameRules:
    domains: tuple[str, ...] = ()  # normalized; empty: every name of the managed zones
    allow_apex: bool = False
    allow_wildcard: bool = False

    @classmethod
    def of(cls, domains: Iterable[str] = (), allow_apex: bool = False, allow_wildcard: bool = False) -> NameRules:
        return cls(tuple(sorted({normalize(d) for d in domains})), allow_apex, allow_wildcard)

    def in_domains(self, name: str) -> bool:
        return not self.domains or any(is_under(name, d) for d in self.domains)


def domain_problem(domain: str) -> str | None:
    """None when `domain` can be a --domain-filter."""
    return "may not hold a wildcard" if "*" in domain else name_problem(domain.strip())


def managed_zones(zones: Sequence[Zone], rules: NameRules) -> list[Zone]:
    """The zones that can hold a name under the filter: a zone under one of its domains, or one
    a domain lies in (external-dns keeps the same zones)."""
    if not rules.domains:
        return list(zones)
    return [z for z in zones if any(is_under(z.name, d) or is_under(d, z.name)
                                    for d in rules.domains)]


def managed_records(existing: Mapping[tuple[str, RecordKey], RecordSet],
                    rules: NameRules) -> dict[tuple[str, RecordKey], RecordSet]:
    """The record sets under the filter (a registry record with the set it stands for): what is
    outside is neither changed nor deleted, even when an owner id says it is ours."""
    if not rules.domains:
        return dict(existing)
    return {k: r for k, r in existing.items() if rules.in_domains((managed_key(k[1]) or k[1]).name)}


def screen(endpoints: Iterable[Endpoint], zones: Sequence[Zone], rules: NameRules,
           placement: Placement | None = None) -> tuple[list[Endpoint], list[str]]:
    """The endpoints dns-sync may publish, and a warning for each name it refuses (once a name).
    `placement`: the pass's, when it has one (over `zones`)."""
    kept: list[Endpoint] = []
    refused: dict[str, str] = {}
    placement = Placement(zones) if placement is None else placement
    # A refusal depends on the name and its kind of address only: decided once for each.
    reasons: Memo[tuple[str, bool], str | None] = Memo(lambda key: _refusal(*key, placement, rules))
    for endpoint in endpoints:
        why = reasons[(endpoint.name, endpoint.private)]
        if why:
            refused.setdefault(endpoint.name, why)
        else:
            kept.append(endpoint)
    return kept, [f"{name}: {why}: not published" for name, why in sorted(refused.items())]


def _refusal(name: str, private: bool, placement: Placement, rules: NameRules) -> str | None:
    if not rules.in_domains(name):
        return f"outside --domain-filter ({', '.join(d.rstrip('.') for d in rules.domains)})"
    if not rules.allow_wildcard and "*" in name.split("."):
        return "a wildcard name answers for every name under it (--allow-wildcard allows it)"
    if not rules.allow_apex and any(z.name == name for z in placement(name, private)):
        return "the apex of a hosted zone (--allow-apex allows it)"
    return None
