"""Route53 rules of the sandbox: each refused call answers AWS's error code, and a refused batch
changes nothing; moto's behaviour fixes (exact deletes, all-or-nothing, PENDING changes)."""

from __future__ import annotations

from typing import Any

import botocore.config
import pytest

from ecsfleet.sandbox import Sandbox
from rules_support import refused

ZONE = "example.com"


def _zone(sb: Sandbox, name: str = ZONE) -> str:
    made = sb.client("route53").create_hosted_zone(Name=name, CallerReference=name)
    return str(made["HostedZone"]["Id"].rsplit("/", 1)[-1])


def _set(name: str, rtype: str = "A", *values: str, ttl: int = 60, **extra: Any) -> dict[str, Any]:
    return {"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values or ["192.0.2.1"]],
            **extra}


def _batch(*changes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {"Changes": [{"Action": action, "ResourceRecordSet": rset} for action, rset in changes]}


def _change(sb: Sandbox, zone_id: str, *changes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    answer: dict[str, Any] = sb.client("route53").change_resource_record_sets(
        HostedZoneId=zone_id, ChangeBatch=_batch(*changes))
    return answer


def _refused(sb: Sandbox, zone_id: str, code: str, *changes: tuple[str, dict[str, Any]], status: int = 400) -> str:
    error = refused(sb.client("route53").change_resource_record_sets, code, status, HostedZoneId=zone_id,
                    ChangeBatch=_batch(*changes))
    return str(error["Message"])


def _sets(sb: Sandbox, zone_id: str) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    found = []
    for page in sb.client("route53").get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone_id):
        for r in page["ResourceRecordSets"]:
            if r["Type"] not in ("NS", "SOA"):
                found.append((r["Name"], r["Type"], r.get("SetIdentifier"),
                              tuple(v["Value"] for v in r.get("ResourceRecords", []))))
    return sorted(found)


def _weighted(name: str, set_id: str, value: str = "192.0.2.1", weight: int = 1, ttl: int = 60) -> dict[str, Any]:
    return _set(name, "A", value, ttl=ttl, SetIdentifier=set_id, Weight=weight)


def _multivalue(name: str, set_id: str, value: str = "192.0.2.1", ttl: int = 60) -> dict[str, Any]:
    return _set(name, "A", value, ttl=ttl, SetIdentifier=set_id, MultiValueAnswer=True)


# ---- request-level refusals ----------------------------------------------------------------------

def test_change_to_unknown_zone_is_no_such_hosted_zone(sb: Sandbox) -> None:
    message = _refused(sb, "ZNOSUCHZONE", "NoSuchHostedZone", ("CREATE", _set("a.example.com")), status=404)
    assert "ZNOSUCHZONE" in message
    refused(sb.client("route53").list_resource_record_sets, "NoSuchHostedZone", 404, HostedZoneId="ZNOSUCHZONE")


def test_get_change_of_unknown_id_is_no_such_change(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    refused(sb.client("route53").get_change, "NoSuchChange", 404, Id="C0000000000000")
    change = _change(sb, zone_id, ("CREATE", _set("a.example.com")))["ChangeInfo"]
    assert sb.client("route53").get_change(Id=change["Id"])["ChangeInfo"]["Id"] == change["Id"]


def test_list_zones_of_unknown_delegation_set(sb: Sandbox) -> None:
    route53 = sb.client("route53")
    refused(route53.list_hosted_zones, "NoSuchDelegationSet", DelegationSetId="NZNOSUCHSET")
    delegation = route53.create_reusable_delegation_set(CallerReference="set")["DelegationSet"]["Id"]
    route53.list_hosted_zones(DelegationSetId=delegation.rsplit("/", 1)[-1])


def test_record_set_has_values_or_alias(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidInput", ("CREATE", {"Name": "a.example.com", "Type": "A", "TTL": 60}))
    assert message.startswith("Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
                              "ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with")
    assert _sets(sb, zone_id) == []


def test_set_identifier_needs_routing_policy(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidInput", ("CREATE", _set("a.example.com", SetIdentifier="one")))
    assert "but found none in Change with [Action=CREATE, Name=a.example.com, Type=A, SetIdentifier=one]" in message
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "one")))


def test_routing_policy_needs_set_identifier(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidInput", ("CREATE", _set("a.example.com", Weight=10)))
    assert message.startswith("Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE")
    assert _sets(sb, zone_id) == []


def test_weight_in_0_to_255(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidInput", ("CREATE", _weighted("a.example.com", "one", weight=256)))
    assert "255" in message
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "one", weight=255)))


def test_batch_at_most_1000_values(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    values = [f"10.0.{i // 250}.{i % 250}" for i in range(300)]
    # Two UPSERTs of 300 values count 1,200: refused; as CREATEs they count 600.
    sets = [_set("a.example.com", "A", *values), _set("b.example.com", "A", *values)]
    message = _refused(sb, zone_id, "InvalidChangeBatch", *(("UPSERT", s) for s in sets))
    assert message == "[Number of records limit of 1000 exceeded.]"
    _change(sb, zone_id, *(("CREATE", s) for s in sets))


def test_batch_at_most_32000_characters(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    text = '"' + "x" * 200 + '"'
    sets = [_set(f"t{i}.example.com", "TXT", *([text] * 10)) for i in range(10)]  # 20,200 characters
    _refused(sb, zone_id, "InvalidChangeBatch", *(("UPSERT", s) for s in sets))  # counted twice: 40,400
    assert _sets(sb, zone_id) == []
    _change(sb, zone_id, *(("CREATE", s) for s in sets))


# ---- the batch against the zone -------------------------------------------------------------------

def test_same_set_changed_twice_in_a_batch(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("UPSERT", _set("a.example.com")),
                       ("UPSERT", _set("a.example.com", "A", "192.0.2.2")))
    assert message == "[The request contains an invalid set of changes for a resource record set 'A a.example.com.']"
    _change(sb, zone_id, ("CREATE", _set("a.example.com")))
    # DELETE then CREATE of one set is how a batch replaces it: accepted.
    _change(sb, zone_id, ("DELETE", _set("a.example.com")), ("CREATE", _set("a.example.com", "A", "192.0.2.9")))
    assert _sets(sb, zone_id) == [("a.example.com.", "A", None, ("192.0.2.9",))]


def test_create_of_existing_set(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com")))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("b.example.com")),
                       ("CREATE", _set("a.example.com", "A", "192.0.2.2")))
    assert message == "[Tried to create resource record set [name='a.example.com.', type='A'] but it already exists]"
    assert _sets(sb, zone_id) == [("a.example.com.", "A", None, ("192.0.2.1",))]  # b was not created either


def test_delete_of_missing_set(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com")))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("DELETE", _set("a.example.com")),
                       ("DELETE", _set("gone.example.com", "TXT", '"x"')))
    assert message == ("[Tried to delete resource record set [name='gone.example.com.', type='TXT'] but it was "
                       "not found]")
    assert _sets(sb, zone_id) == [("a.example.com.", "A", None, ("192.0.2.1",))]  # the first DELETE did not land


def test_delete_must_match_current_values(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com", "A", "192.0.2.1", "192.0.2.2")))
    for stale in (_set("a.example.com", "A", "192.0.2.1"), _set("a.example.com", "A", "192.0.2.1", "192.0.2.2", ttl=5)):
        message = _refused(sb, zone_id, "InvalidChangeBatch", ("DELETE", stale))
        assert message == ("[Tried to delete resource record set [name='a.example.com.', type='A'] but the values "
                           "provided do not match the current values]")
    _change(sb, zone_id, ("DELETE", _set("a.example.com", "A", "192.0.2.2", "192.0.2.1")))  # any order
    assert _sets(sb, zone_id) == []


def test_simple_and_routed_sets_do_not_mix(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com")), ("CREATE", _multivalue("m.example.com", "one")))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _weighted("a.example.com", "w1")))
    assert message == ("[RRSet with DNS name a.example.com., type A, SetIdentifier w1 cannot be created as a "
                       "non-weighted set exists with the same name and type.]")
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("m.example.com")))
    assert message == ("[RRSet with DNS name m.example.com., type A cannot be created as other RRSets exist with "
                       "the same name and type.]")
    # Replacing the simple set by weighted ones in one batch (DELETE first) is accepted.
    _change(sb, zone_id, ("DELETE", _set("a.example.com")), ("CREATE", _weighted("a.example.com", "w1")))


def test_one_routing_policy_per_name_and_type(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "w1")))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _multivalue("a.example.com", "m1")))
    assert message == ('[RRSet with DNS name a.example.com., type A, SetIdentifier "m1" cannot be created because a '
                       "non multivalue answer rrset exists with the same name and type.]")
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "w2", "192.0.2.2")))


def test_weighted_sets_share_ttl(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "w1", ttl=60)))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _weighted("a.example.com", "w2", ttl=300)))
    assert "cannot be created as weighted sets must contain the same TTL." in message
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "w2", ttl=60)))


def test_at_most_100_routed_sets_per_name_and_type(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    sets = [_weighted("a.example.com", f"w{i}", f"10.0.0.{i}") for i in range(100)]
    _change(sb, zone_id, *(("CREATE", s) for s in sets))
    _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _weighted("a.example.com", "w100", "10.0.1.1")))
    _change(sb, zone_id, ("UPSERT", _weighted("a.example.com", "w0", "10.0.1.1")))  # replacing one is fine


def test_at_most_400_values_per_set(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    values = [f"10.0.{i // 250}.{i % 250}" for i in range(401)]
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("a.example.com", "A", *values)))
    assert message == "[Cannot have more than 400 records in a RRSet.]"
    _change(sb, zone_id, ("CREATE", _set("a.example.com", "A", *values[:400])))


def test_name_inside_zone(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("a.example.org")))
    assert message == "[RRSet with DNS name a.example.org. is not permitted in zone example.com.]"
    _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("notexample.com")))  # a suffix is not a subdomain
    _change(sb, zone_id, ("CREATE", _set("example.com")), ("CREATE", _set("deep.a.example.com")))


def test_cname_not_at_zone_apex(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("example.com", "CNAME", "other.example.org")))
    assert message == "[RRSet of type CNAME with DNS name example.com. is not permitted at apex in zone example.com.]"


def test_cname_alone_at_its_name(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com")), ("CREATE", _set("c.example.com", "CNAME", "x.example.org")))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("a.example.com", "CNAME", "x.example.org")))
    assert message == ("[RRSet of type CNAME with DNS name a.example.com. is not permitted as it conflicts with other "
                       "records with the same DNS name in zone example.com.]")
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("c.example.com", "TXT", '"x"')))
    assert message == ("[RRSet of type TXT with DNS name c.example.com. is not permitted because a conflicting RRSet "
                       "of type CNAME with the same DNS name already exists in zone example.com.]")


def test_multivalue_not_cname(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _refused(sb, zone_id, "InvalidChangeBatch",
             ("CREATE", _set("c.example.com", "CNAME", "x.example.org", SetIdentifier="m", MultiValueAnswer=True)))
    _change(sb, zone_id, ("CREATE", _multivalue("c.example.com", "m")))


def test_a_values_are_ipv4_addresses(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("a.example.com", "A", "192.0.2")))
    assert message == ("[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid "
                       "IPv4 address) encountered with '192.0.2'']")


def test_aaaa_values_are_ipv6_addresses(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("a.example.com", "AAAA", "192.0.2.1")))
    assert "AAAARRDATAIllegalIPv6Address" in message
    _change(sb, zone_id, ("CREATE", _set("a.example.com", "AAAA", "2001:db8::1")))


def test_srv_values_are_priority_weight_port_target(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("_s._tcp.example.com", "SRV", "1 1 80")))
    assert "SRVRRDATANotFourFields (SRV record doesn't have 4 fields)" in message
    port_too_big = _set("_s._tcp.example.com", "SRV", "1 1 65536 h.example.com")
    _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", port_too_big))
    _change(sb, zone_id, ("CREATE", _set("_s._tcp.example.com", "SRV", "1 1 32768 h.example.com")))


def test_txt_values_are_quoted_strings_of_255(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("t.example.com", "TXT", "unquoted")))
    assert "InvalidCharacterString (Value should be enclosed in quotation marks)" in message
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("t.example.com", "TXT", f'"{"x" * 256}"')))
    assert "CharacterStringTooLong (Value is too long)" in message
    _change(sb, zone_id, ("CREATE", _set("t.example.com", "TXT", f'"{"x" * 255}" "{"y" * 255}"')))


def test_cname_has_one_value(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    two = _set("c.example.com", "CNAME", "x.example.org", "y.example.org")
    _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", two))
    _change(sb, zone_id, ("CREATE", _set("c.example.com", "CNAME", "x.example.org")))


def test_every_problem_of_a_batch_is_listed(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com")))
    message = _refused(sb, zone_id, "InvalidChangeBatch", ("CREATE", _set("a.example.com")),
                       ("DELETE", _set("gone.example.com")))
    assert message == ("[Tried to create resource record set [name='a.example.com.', type='A'] but it already exists, "
                       "Tried to delete resource record set [name='gone.example.com.', type='A'] but it was not found]")


# ---- moto's behaviour, fixed -----------------------------------------------------------------------

def test_delete_removes_only_the_matching_set(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _weighted("a.example.com", "shared")),
            ("CREATE", _weighted("b.example.com", "shared")), ("CREATE", _set("a.example.com", "TXT", '"x"')))
    _change(sb, zone_id, ("DELETE", _weighted("a.example.com", "shared")))
    assert _sets(sb, zone_id) == [("a.example.com.", "TXT", None, ('"x"',)),
                                  ("b.example.com.", "A", "shared", ("192.0.2.1",))]


def test_a_batch_that_fails_half_way_changes_nothing(sb: Sandbox) -> None:
    from moto.route53.exceptions import DnsNameInvalidForZone as InvalidChangeBatch

    from ecsfleet.sandbox.moto_route53 import backend

    zone_id = _zone(sb)
    _change(sb, zone_id, ("CREATE", _set("a.example.com")))
    # moto's apply, without the rules: the second change raises after the first applied.
    with sb.lock, pytest.raises(InvalidChangeBatch):
            backend().change_resource_record_sets(zone_id, [
                {"Action": "DELETE", "ResourceRecordSet": _set("a.example.com")},
                {"Action": "CREATE", "ResourceRecordSet": _set("x.example.org")}])
    assert _sets(sb, zone_id) == [("a.example.com.", "A", None, ("192.0.2.1",))]


def test_changes_are_pending_until_propagated(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    route53 = sb.client("route53")
    info = _change(sb, zone_id, ("CREATE", _set("a.example.com")))["ChangeInfo"]
    assert info["Status"] == "PENDING"
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "PENDING"
    sb.advance(61)
    assert route53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    assert _change(sb, zone_id, ("CREATE", _set("b.example.com")))["ChangeInfo"]["Id"] != info["Id"]


def test_prior_request_not_complete(sb: Sandbox) -> None:
    zone_id = _zone(sb)
    once = sb.client("route53", config=botocore.config.Config(retries={"total_max_attempts": 1}))
    first = _change(sb, zone_id, ("CREATE", _set("a.example.com")))["ChangeInfo"]
    assert first["Status"] == "PENDING"
    sb.prior_request_not_complete(times=1)
    error = refused(once.change_resource_record_sets, "PriorRequestNotComplete", 400, HostedZoneId=zone_id,
                    ChangeBatch=_batch(("CREATE", _set("b.example.com"))))
    assert error["Message"] == "The request was rejected because Route 53 was still processing a prior request."
    assert _sets(sb, zone_id) == [("a.example.com.", "A", None, ("192.0.2.1",))]
    sb.advance(61)
    assert once.get_change(Id=first["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    _change(sb, zone_id, ("CREATE", _set("b.example.com")))
    # Once the zone has nothing PENDING the fault does not fire, and an armed fault waits for one.
    sb.advance(61)
    sb.prior_request_not_complete(times=1)
    _change(sb, zone_id, ("CREATE", _set("c.example.com")))
    refused(once.change_resource_record_sets, "PriorRequestNotComplete", 400, HostedZoneId=zone_id,
            ChangeBatch=_batch(("CREATE", _set("d.example.com"))))
