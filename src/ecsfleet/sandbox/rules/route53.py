"""The sandbox's rules for route53: each a documented refusal of the API, checked before the emulator.

ChangeResourceRecordSets is checked as AWS checks it: the whole batch, change by change in order,
against a copy of the zone's record sets (keyed by name, type and SetIdentifier). Every problem
of the batch is collected and the refusal lists them all, in AWS's form
(`InvalidChangeBatch: [problem, problem]`); each documented problem is its own rule, so the
first rule that finds its problem answers with the batch's complete list. A refused batch
changes nothing (and `sandbox/moto_route53.py` makes moto's apply all-or-nothing as well).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..moto_route53 import changes, fqdn, in_zone, record_key
from .base import Call, Refusal, Rule, as_mapping, param, rule
from .inputs import constraint_refusal, out_of_range

SERVICE = "route53"
_API = "https://docs.aws.amazon.com/Route53/latest/APIReference"
_GUIDE = "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide"
_CHANGE = f"{_API}/API_ChangeResourceRecordSets.html"
_RRSET = f"{_API}/API_ResourceRecordSet.html"
_QUOTAS = f"{_GUIDE}/DNSLimitations.html"
_TYPES = f"{_GUIDE}/ResourceRecordTypes.html"
_WEIGHTED = f"{_GUIDE}/resource-record-sets-values-weighted.html"
_MULTIVALUE = f"{_GUIDE}/resource-record-sets-values-multivalue.html"
_CHANGE_OP = "ChangeResourceRecordSets"

MAX_BATCH_VALUES = 1000
MAX_BATCH_CHARACTERS = 32000
MAX_VALUES_PER_SET = 400
MAX_ROUTED_SETS = 100  # weighted (or multivalue) record sets of one name and type
MAX_TXT_STRING = 255
ROUTING = ("Weight", "Region", "Failover", "GeoLocation", "MultiValueAnswer", "GeoProximityLocation",
           "CidrRoutingConfig")

Key = tuple[str, str, str | None]


# ---- the record sets as the rules see them ------------------------------------------------------

@dataclass(frozen=True)
class RSet:
    name: str  # fqdn(): lower case, trailing dot
    type: str
    set_id: str | None
    ttl: int | None
    values: tuple[str, ...]
    weight: int | None = None
    multivalue: bool = False
    other_policy: bool = False  # latency, failover, geolocation...
    alias: bool = False

    @property
    def key(self) -> Key:
        return self.name, self.type, self.set_id

    @property
    def policy(self) -> str | None:
        if self.weight is not None:
            return "weighted"
        if self.multivalue:
            return "multivalue"
        return "other" if self.other_policy or self.set_id is not None else None

    @property
    def same_as(self) -> tuple[Any, ...]:
        """What a DELETE must repeat exactly: AWS compares every value, in any order."""
        return (self.ttl, tuple(sorted(self.values)), self.weight, self.multivalue, self.alias)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def from_request(doc: Mapping[str, Any]) -> RSet:
    return RSet(
        name=fqdn(str(doc.get("Name", ""))), type=str(doc.get("Type", "")), set_id=doc.get("SetIdentifier"),
        ttl=_int(doc.get("TTL")),
        values=tuple(str(as_mapping(r).get("Value", "")) for r in doc.get("ResourceRecords") or []),
        weight=_int(doc.get("Weight")), multivalue=bool(doc.get("MultiValueAnswer")),
        other_policy=any(doc.get(k) is not None for k in ROUTING if k not in ("Weight", "MultiValueAnswer")),
        alias=doc.get("AliasTarget") is not None,
    )


def from_moto(record_set: Any) -> RSet:
    name, rtype, set_id = record_key(record_set)
    records = record_set.records or []
    values = tuple(r["Value"] if isinstance(r, Mapping) else str(r) for r in records)
    return RSet(name, rtype, set_id, _int(record_set.ttl), values, _int(record_set.weight),
                bool(record_set.multi_value_answer),
                any(getattr(record_set, a, None) for a in ("region", "failover", "geo_location")),
                record_set.alias_target is not None)


# ---- the batch, simulated in order ----------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One change of the batch, with the zone's record sets as they stand just before it."""

    index: int
    action: str
    rset: RSet
    state: Mapping[Key, RSet]
    at_name: Mapping[str, Mapping[Key, RSet]]  # the same record sets by name, so checks need not scan the zone
    zone: str  # the zone's name, fqdn()
    repeated: bool  # the batch already changed this set in a way AWS does not allow again


Check = Callable[[Step], str | None]
_CHECKS: dict[str, Check] = {}


def _batch_check(name: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        _CHECKS[name] = check
        return check

    return register


def _zone(call: Call) -> Any:
    zones = call.world.moto("route53").zones
    return zones.get(str(param(call, "HostedZoneId", default="")).rsplit("/", 1)[-1])


def _changes(call: Call) -> list[tuple[str, RSet]]:
    return [(str(as_mapping(c).get("Action", "")), from_request(as_mapping(as_mapping(c).get("ResourceRecordSet"))))
            for c in param(call, "ChangeBatch", "Changes", default=[])]


def simulate(batch: Sequence[tuple[str, RSet]], zone_name: str, existing: Sequence[RSet]) -> Iterator[Step]:
    """The batch's changes in order, each seen against the record sets the earlier ones left."""
    state: dict[Key, RSet] = {r.key: r for r in existing}
    at_name: dict[str, dict[Key, RSet]] = {}
    for r in existing:
        at_name.setdefault(r.name, {})[r.key] = r
    seen: dict[Key, list[str]] = {}
    for index, (action, rset) in enumerate(batch):
        before = seen.setdefault(rset.key, [])
        # A set may be deleted and then created again in one batch (AWS's way to replace it);
        # anything else done twice to one set is "an invalid set of changes".
        repeated = bool(before) and not (before == ["DELETE"] and action in ("CREATE", "UPSERT"))
        before.append(action)
        # The checks read `state` before the walk goes on, so the step may share it.
        yield Step(index, action, rset, state, at_name, fqdn(zone_name), repeated)
        if repeated:
            continue
        if action == "DELETE":
            state.pop(rset.key, None)
            at_name.get(rset.name, {}).pop(rset.key, None)
        elif action in ("CREATE", "UPSERT"):
            state[rset.key] = rset
            at_name.setdefault(rset.name, {})[rset.key] = rset


# The rules of one call share one simulation: the last call's problems, by the call's identity.
_last: list[tuple[Call, tuple[tuple[str, str], ...]]] = []


def batch_problems(call: Call) -> tuple[tuple[str, str], ...]:
    """(check name, AWS's message) for every problem of the batch, in the batch's order."""
    if _last and _last[0][0] is call:
        return _last[0][1]
    zone = _zone(call)
    found: list[tuple[str, str]] = []
    if zone is not None:
        for step in simulate(_changes(call), zone.name, [from_moto(r) for r in zone.rrsets]):
            said: set[str] = set()
            for name, check in _CHECKS.items():
                message = check(step)
                if message is not None and message not in said:  # one problem, said once
                    said.add(message)
                    found.append((name, message))
    _last[:] = [(call, tuple(found))]
    return _last[0][1]


def _invalid_batch(messages: Sequence[str]) -> Refusal:
    return Refusal("InvalidChangeBatch", "[" + ", ".join(messages) + "]")


def _batch_rule(name: str, summary: str, source: str) -> Callable[[Check], Rule]:
    """A rule over the simulated batch: `check` finds this rule's problem in one step; the refusal
    lists every problem of the batch, as AWS's does."""

    def make(check: Check) -> Rule:
        _batch_check(name)(check)

        @rule(name, SERVICE, _CHANGE_OP, summary, source)
        def enforce(call: Call) -> Refusal | None:
            problems = batch_problems(call)
            if any(n == name for n, _ in problems):
                return _invalid_batch([m for _, m in problems])
            return None

        return enforce

    return make


def _set_text(r: RSet) -> str:
    return f"[name='{r.name}', type='{r.type}'" + (f", set-identifier='{r.set_id}'" if r.set_id else "") + "]"


def _same_name_type(step: Step) -> list[RSet]:
    r = step.rset
    return [s for k, s in step.at_name.get(r.name, {}).items() if k != r.key and s.type == r.type]


def _writes(step: Step) -> bool:
    return step.action in ("CREATE", "UPSERT") and not step.repeated


# ---- request-level rules (InvalidInput, NoSuchHostedZone, NoSuchChange, batch quotas) -------------

@rule("change_to_unknown_zone_is_no_such_hosted_zone", SERVICE, (_CHANGE_OP, "ListResourceRecordSets"),
      "A change to, or a listing of, a hosted zone that does not exist is NoSuchHostedZone (404).",
      f"{_API}/API_ChangeResourceRecordSets.html#API_ChangeResourceRecordSets_Errors")
def _unknown_zone(call: Call) -> Refusal | None:
    if _zone(call) is None:
        zone_id = str(param(call, "HostedZoneId", default="")).rsplit("/", 1)[-1]
        return Refusal("NoSuchHostedZone", f"No hosted zone found with ID: {zone_id}", 404)
    return None


@rule("get_change_of_unknown_id_is_no_such_change", SERVICE, "GetChange",
      "GetChange of a change id Route53 never answered is NoSuchChange (404).",
      f"{_API}/API_GetChange.html#API_GetChange_Errors")
def _unknown_change(call: Call) -> Refusal | None:
    change_id = str(param(call, "Id", default="")).rsplit("/", 1)[-1]
    if change_id not in changes(call.world.moto("route53")):
        return Refusal("NoSuchChange", "A change with the specified change ID does not exist.", 404)
    return None


@rule("list_zones_of_unknown_delegation_set", SERVICE, "ListHostedZones",
      "ListHostedZones with a DelegationSetId that names no reusable delegation set is NoSuchDelegationSet.",
      f"{_API}/API_ListHostedZones.html#API_ListHostedZones_Errors")
def _unknown_delegation_set(call: Call) -> Refusal | None:
    wanted = param(call, "DelegationSetId")
    if wanted is None:
        return None
    known = {str(d.id).rsplit("/", 1)[-1] for d in call.world.moto("route53").delegation_sets.values()}
    if str(wanted).rsplit("/", 1)[-1] not in known:
        return Refusal("NoSuchDelegationSet", "A reusable delegation set with the specified ID does not exist.")
    return None


def _change_text(action: str, doc: Mapping[str, Any]) -> str:
    return (f"Change with [Action={action}, Name={doc.get('Name')}, Type={doc.get('Type')}, "
            f"SetIdentifier={doc.get('SetIdentifier') or 'null'}]")


def _docs(call: Call) -> Iterator[tuple[int, str, Mapping[str, Any]]]:
    for index, change in enumerate(param(call, "ChangeBatch", "Changes", default=[])):
        yield index, str(as_mapping(change).get("Action", "")), as_mapping(as_mapping(change).get("ResourceRecordSet"))


@rule("record_set_has_values_or_alias", SERVICE, _CHANGE_OP,
      "Each record set of a change has exactly one of AliasTarget, or TTL and ResourceRecords.", _RRSET)
def _values_or_alias(call: Call) -> Refusal | None:
    for _, action, doc in _docs(call):
        plain = doc.get("TTL") is not None and bool(doc.get("ResourceRecords"))
        alias = doc.get("AliasTarget") is not None or doc.get("TrafficPolicyInstanceId") is not None
        if not plain and not alias:
            return Refusal("InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
                           "ResourceRecords], or TrafficPolicyInstanceId], but found none in "
                           + _change_text(action, doc))
    return None


@rule("set_identifier_needs_routing_policy", SERVICE, _CHANGE_OP,
      "A record set with a SetIdentifier has a routing policy (Weight, MultiValueAnswer, Region, ...).", _RRSET)
def _set_id_without_policy(call: Call) -> Refusal | None:
    for _, action, doc in _docs(call):
        if doc.get("SetIdentifier") is not None and not any(doc.get(k) is not None for k in ROUTING):
            return Refusal("InvalidInput", "Invalid request: Expected exactly one of [Weight, Region, Failover, "
                           "GeoLocation, MultiValueAnswer, GeoProximityLocation, or CidrRoutingConfig], but found "
                           "none in " + _change_text(action, doc))
    return None


@rule("routing_policy_needs_set_identifier", SERVICE, _CHANGE_OP,
      "A record set with a routing policy (Weight, MultiValueAnswer, ...) has a SetIdentifier.", _RRSET)
def _policy_without_set_id(call: Call) -> Refusal | None:
    for _, action, doc in _docs(call):
        if doc.get("SetIdentifier") is None and any(doc.get(k) is not None for k in ROUTING):
            return Refusal("InvalidInput", "Invalid request: Missing field 'SetIdentifier' in "
                           + _change_text(action, doc))
    return None


@rule("weight_in_0_to_255", SERVICE, _CHANGE_OP, "Weight is an integer from 0 to 255.", _RRSET)
def _weight_range(call: Call) -> Refusal | None:
    for index, _, doc in _docs(call):
        weight = _int(doc.get("Weight"))
        at = f"changeBatch.changes.{index + 1}.member.resourceRecordSet.weight"
        problem = out_of_range(weight, at, 0, 255) if weight is not None else None
        if problem is not None:
            return constraint_refusal(call, [problem])
    return None


def _batch_cost(call: Call) -> tuple[int, int]:
    """(values, characters) of the batch as Route53 counts them: an UPSERT counts twice."""
    values = characters = 0
    for _, action, doc in _docs(call):
        factor = 2 if action == "UPSERT" else 1
        records = [str(as_mapping(r).get("Value", "")) for r in doc.get("ResourceRecords") or []]
        values += factor * len(records)
        characters += factor * sum(len(v) for v in records)
    return values, characters


@rule("batch_at_most_1000_values", SERVICE, _CHANGE_OP,
      "A request holds at most 1,000 ResourceRecord elements; an UPSERT's count twice.",
      f"{_QUOTAS}#limits-api-requests-changeresourcerecordsets")
def _batch_values(call: Call) -> Refusal | None:
    if _batch_cost(call)[0] > MAX_BATCH_VALUES:
        return _invalid_batch([f"Number of records limit of {MAX_BATCH_VALUES} exceeded."])
    return None


@rule("batch_at_most_32000_characters", SERVICE, _CHANGE_OP,
      "The Value elements of a request hold at most 32,000 characters; an UPSERT's count twice.",
      f"{_QUOTAS}#limits-api-requests-changeresourcerecordsets")
def _batch_characters(call: Call) -> Refusal | None:
    if _batch_cost(call)[1] > MAX_BATCH_CHARACTERS:
        return _invalid_batch([f"Number of characters limit of {MAX_BATCH_CHARACTERS} exceeded."])
    return None


# ---- the batch against the zone (InvalidChangeBatch, every problem listed) ------------------------

@_batch_rule("same_set_changed_twice_in_a_batch",
             "A batch changes one record set once (a DELETE then a CREATE of it is allowed).", _CHANGE)
def _twice(step: Step) -> str | None:
    if step.repeated:
        return (f"The request contains an invalid set of changes for a resource record set "
                f"'{step.rset.type} {step.rset.name}'")
    return None


@_batch_rule("create_of_existing_set", "CREATE of a record set that exists (same name, type, SetIdentifier).",
             f"{_API}/API_Change.html")
def _create_existing(step: Step) -> str | None:
    if step.action == "CREATE" and not step.repeated and step.rset.key in step.state:
        return f"Tried to create resource record set {_set_text(step.rset)} but it already exists"
    return None


@_batch_rule("delete_of_missing_set", "DELETE of a record set that does not exist.", f"{_API}/API_Change.html")
def _delete_missing(step: Step) -> str | None:
    if step.action == "DELETE" and not step.repeated and step.rset.key not in step.state:
        return f"Tried to delete resource record set {_set_text(step.rset)} but it was not found"
    return None


@_batch_rule("delete_must_match_current_values",
             "A DELETE repeats the record set exactly: TTL, every value, weight, routing.", _CHANGE)
def _delete_mismatch(step: Step) -> str | None:
    current = step.state.get(step.rset.key)
    if step.action == "DELETE" and not step.repeated and current is not None and current.same_as != step.rset.same_as:
        return (f"Tried to delete resource record set {_set_text(step.rset)} but the values provided do not "
                "match the current values")
    return None


def _routed_message(r: RSet) -> str:
    if r.policy == "multivalue":
        return (f"RRSet with DNS name {r.name}, type {r.type}, SetIdentifier \"{r.set_id}\" cannot be created "
                "because a non multivalue answer rrset exists with the same name and type.")
    return (f"RRSet with DNS name {r.name}, type {r.type}, SetIdentifier {r.set_id} cannot be created as a "
            "non-weighted set exists with the same name and type.")


def _other_policies(step: Step) -> list[RSet]:
    """Record sets of the step's name and type whose routing policy differs from the step's set."""
    return [s for s in _same_name_type(step) if s.policy != step.rset.policy] if _writes(step) else []


@_batch_rule("simple_and_routed_sets_do_not_mix",
             "A simple record set cannot share its name and type with weighted or multivalue ones, nor the reverse.",
             _WEIGHTED)
def _simple_vs_routed(step: Step) -> str | None:
    r, others = step.rset, _other_policies(step)
    if r.policy is None and others:
        return f"RRSet with DNS name {r.name}, type {r.type} cannot be created as other RRSets exist with the " \
               "same name and type."
    if r.policy is not None and any(s.policy is None for s in others):
        return _routed_message(r)
    return None


@_batch_rule("one_routing_policy_per_name_and_type",
             "Weighted and multivalue record sets cannot share a name and type.", _WEIGHTED)
def _routed_vs_routed(step: Step) -> str | None:
    r = step.rset
    if r.policy is not None and any(s.policy is not None for s in _other_policies(step)):
        return _routed_message(r)
    return None


@_batch_rule("weighted_sets_share_ttl", "Weighted record sets of one name and type have the same TTL.", _WEIGHTED)
def _weighted_ttl(step: Step) -> str | None:
    r = step.rset
    if _writes(step) and r.policy == "weighted" and any(
            s.policy == "weighted" and s.ttl != r.ttl for s in _same_name_type(step)):
        return (f"RRSet with DNS name {r.name} and type {r.type}, SetIdentifier {r.set_id} cannot be created as "
                "weighted sets must contain the same TTL.")
    return None


@_batch_rule("at_most_100_routed_sets_per_name_and_type",
             "At most 100 weighted (or multivalue) record sets share one name and type.", _QUOTAS)
def _routed_count(step: Step) -> str | None:
    r = step.rset
    if not _writes(step) or r.policy is None or r.key in step.state:
        return None
    same = [s for s in _same_name_type(step) if s.policy == r.policy]
    if len(same) >= MAX_ROUTED_SETS:
        return (f"RRSet with DNS name {r.name}, type {r.type}, SetIdentifier {r.set_id} cannot be created as the "
                f"limit of {MAX_ROUTED_SETS} {r.policy} RRSets with the same name and type is reached.")
    return None


@_batch_rule("at_most_400_values_per_set", "A record set holds at most 400 values.", _QUOTAS)
def _values_per_set(step: Step) -> str | None:
    if step.action != "DELETE" and len(step.rset.values) > MAX_VALUES_PER_SET:
        return f"Cannot have more than {MAX_VALUES_PER_SET} records in a RRSet."
    return None


@_batch_rule("name_inside_zone", "A record set's name is the zone's name or a name under it.", _CHANGE)
def _outside_zone(step: Step) -> str | None:
    if not in_zone(step.rset.name, step.zone):
        return f"RRSet with DNS name {step.rset.name} is not permitted in zone {step.zone}"
    return None


@_batch_rule("cname_not_at_zone_apex", "No CNAME record at the zone apex.", f"{_TYPES}#CNAMEFormat")
def _cname_apex(step: Step) -> str | None:
    if _writes(step) and step.rset.type == "CNAME" and step.rset.name == step.zone:
        return f"RRSet of type CNAME with DNS name {step.rset.name} is not permitted at apex in zone {step.zone}"
    return None


@_batch_rule("cname_alone_at_its_name", "A CNAME record set cannot share its name with records of another type.",
             f"{_TYPES}#CNAMEFormat")
def _cname_conflict(step: Step) -> str | None:
    r = step.rset
    if not _writes(step) or r.name == step.zone or not in_zone(r.name, step.zone):
        return None
    here = [s for k, s in step.at_name.get(r.name, {}).items() if k != r.key]
    if r.type == "CNAME" and any(s.type != "CNAME" for s in here):
        return (f"RRSet of type CNAME with DNS name {r.name} is not permitted as it conflicts with other records "
                f"with the same DNS name in zone {step.zone}")
    if r.type != "CNAME" and any(s.type == "CNAME" for s in here):
        return (f"RRSet of type {r.type} with DNS name {r.name} is not permitted because a conflicting RRSet of "
                f"type CNAME with the same DNS name already exists in zone {step.zone}")
    return None


@_batch_rule("multivalue_not_cname", "A multivalue answer record set is of any type except NS or CNAME.", _MULTIVALUE)
def _multivalue_type(step: Step) -> str | None:
    r = step.rset
    if _writes(step) and r.multivalue and r.type in ("CNAME", "NS"):
        return (f"RRSet with DNS name {r.name}, type {r.type}, SetIdentifier \"{r.set_id}\" cannot be created "
                "because multivalue answer is not supported for this type.")
    return None


# ---- value formats ---------------------------------------------------------------------------------

def _fatal(code: str, what: str, value: str) -> str:
    return f"Invalid Resource Record: 'FATAL problem: {code} ({what}) encountered with '{value}''"


def _first_bad(step: Step, rtype: str, problem: Callable[[str], str | None]) -> str | None:
    if not _writes(step) or step.rset.type != rtype:
        return None
    return next((p for p in (problem(v) for v in step.rset.values) if p is not None), None)


def _a_problem(value: str) -> str | None:
    if " " in value.strip():
        return _fatal("ARRDATANotSingleField", "Value contains spaces", value)
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return _fatal("ARRDATAIllegalIPv4Address", "Value is not a valid IPv4 address", value)
    return None


def _aaaa_problem(value: str) -> str | None:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return _fatal("AAAARRDATAIllegalIPv6Address", "Value is not a valid IPv6 address", value)
    return None


def _srv_problem(value: str) -> str | None:
    fields = value.split()
    if len(fields) != 4:
        return _fatal("SRVRRDATANotFourFields", "SRV record doesn't have 4 fields", value)
    if any(not f.isdigit() or int(f) > 65535 for f in fields[:3]):
        return _fatal("SRVRRDATAIllegalFormat", "Value must be in the format: priority weight port target", value)
    return None


_TXT_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _txt_problem(value: str) -> str | None:
    rest = value.strip()
    strings: list[str] = []
    while rest:
        match = _TXT_STRING.match(rest)
        if match is None:
            return _fatal("InvalidCharacterString", "Value should be enclosed in quotation marks", value)
        strings.append(match.group(1))
        rest = rest[match.end():].lstrip()
    if not strings:
        return _fatal("InvalidCharacterString", "Value should be enclosed in quotation marks", value)
    if any(len(_unescaped(s)) > MAX_TXT_STRING for s in strings):
        return _fatal("CharacterStringTooLong", "Value is too long", value)
    return None


def _unescaped(text: str) -> str:
    """A TXT string's length as DNS counts it: `\\"` is one character, `\\123` one octet."""
    return re.sub(r"\\(\d{3}|.)", "x", text)


@_batch_rule("a_values_are_ipv4_addresses", "An A record's value is one IPv4 address in dotted-quad notation.",
             f"{_TYPES}#AFormat")
def _a_values(step: Step) -> str | None:
    return _first_bad(step, "A", _a_problem)


@_batch_rule("aaaa_values_are_ipv6_addresses", "An AAAA record's value is one IPv6 address.", f"{_TYPES}#AAAAFormat")
def _aaaa_values(step: Step) -> str | None:
    return _first_bad(step, "AAAA", _aaaa_problem)


@_batch_rule("srv_values_are_priority_weight_port_target",
             "An SRV value is 'priority weight port target', each number 0-65535.", f"{_TYPES}#SRVFormat")
def _srv_values(step: Step) -> str | None:
    return _first_bad(step, "SRV", _srv_problem)


@_batch_rule("txt_values_are_quoted_strings_of_255",
             "A TXT value is one or more quoted strings of at most 255 characters each.", f"{_TYPES}#TXTFormat")
def _txt_values(step: Step) -> str | None:
    return _first_bad(step, "TXT", _txt_problem)


@_batch_rule("cname_has_one_value", "A CNAME record set holds exactly one value (one domain name).",
             f"{_TYPES}#CNAMEFormat")
def _cname_one_value(step: Step) -> str | None:
    r = step.rset
    if _writes(step) and r.type == "CNAME" and len(r.values) > 1:
        return f"RRSet of type CNAME with DNS name {r.name} has more than one value."
    return None


RULES: tuple[Rule, ...] = (
    _unknown_zone,
    _unknown_change,
    _unknown_delegation_set,
    _values_or_alias,
    _set_id_without_policy,
    _policy_without_set_id,
    _weight_range,
    _batch_values,
    _batch_characters,
    _twice,
    _create_existing,
    _delete_missing,
    _delete_mismatch,
    _simple_vs_routed,
    _routed_vs_routed,
    _weighted_ttl,
    _routed_count,
    _values_per_set,
    _outside_zone,
    _cname_apex,
    _cname_conflict,
    _multivalue_type,
    _a_values,
    _aaaa_values,
    _srv_values,
    _txt_values,
    _cname_one_value,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Alias records: the target (ELB, CloudFront, another record) is neither resolved nor checked to exist, "
    "because ecsfleet never writes alias records and only skips them when reading.",
    "Health checks: HealthCheckId is stored but never checked to exist and never affects answers, because "
    "ecsfleet creates no health checks.",
    "Latency, failover, geolocation, geoproximity and IP-based routing: accepted and stored as routed sets, "
    "their specific rules (one PRIMARY and one SECONDARY, valid continent codes, ...) are not checked, "
    "because ecsfleet writes only simple, weighted and multivalue record sets.",
    "Value formats are checked for A, AAAA, SRV, TXT and CNAME only (the types ecsfleet writes); MX, CAA, "
    "NAPTR, PTR, SPF and the rest are stored as sent.",
    "Case and escapes of names: names compare case-insensitively and `*` equals `\\052`, but other octal "
    "escapes and internationalised names are not normalised as Route53 does.",
    "Request rate: the five-requests-per-second account limit is not enforced (use the throttle fault "
    "switch), and PriorRequestNotComplete is a fault switch (Sandbox.prior_request_not_complete), not "
    "emergent, because real Route53 answers it only sometimes while a change is PENDING.",
    "The 10,000-record-sets-per-zone quota is not enforced: it can be raised on request and a sandbox "
    "zone never comes near it.",
    "Private hosted zones: VPC association rules are moto's; split-horizon answers are only approximated "
    "by the sandbox's DNS server.",
)
