"""Route53 changes as AWS makes them: all or nothing, exact deletes, PENDING until propagated.

moto 5.2.5 gets three things wrong that a DNS controller depends on:
- a DELETE with a SetIdentifier removes every record set carrying that identifier, whatever its
  name and type, and a DELETE without one removes every set of the name and type whatever its
  values (AWS deletes exactly the one matching set, and refuses a mismatch);
- a batch that fails half-way keeps its first half (AWS applies a batch whole or not at all);
- every change answers INSYNC at once under one fixed change id, and GetChange answers INSYNC for
  any id (AWS answers PENDING until the change has propagated, then INSYNC; an unknown id is
  NoSuchChange).

This module patches all three, once per process. Propagation runs on the sandbox clock
(`route_route53`), so `Sandbox.advance` moves a change to INSYNC. The PriorRequestNotComplete
fault (`arm_prior_request`) refuses the next changes to a zone that still has a PENDING change,
as AWS does when it has not finished the previous one. The whole-batch validation itself (AWS's
InvalidChangeBatch messages) is the rules layer's (`sandbox/rules/route53.py`), which runs before
this code; the apply here only keeps moto's own last-resort checks.
"""

from __future__ import annotations

import copy
import datetime
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .ecs_model import ACCOUNT_ID

# On moto's backend, so moto's reset forgets them with the zones.
CHANGES = "_ecsfleet_route53_changes"  # change id -> Change
PENDING = "_ecsfleet_route53_pending"  # zone id -> when its latest record change is INSYNC
PRIOR_REQUEST = "_ecsfleet_route53_prior_request"  # how many more changes the fault refuses
_PATCHED = "_ecsfleet_sandbox_route53"
PRIOR_REQUEST_MESSAGE = "The request was rejected because Route 53 was still processing a prior request."
NO_SUCH_CHANGE = "A change with the specified change ID does not exist."
# "Changes generally propagate to all Route 53 name servers within 60 seconds" (GetChange).
DEFAULT_PROPAGATION = 60.0


@dataclass(frozen=True)
class Timing:
    """Where a sandbox's Route53 takes its time from, and how long a change stays PENDING."""

    clock: Callable[[], float]
    propagation: float = DEFAULT_PROPAGATION


@dataclass(frozen=True)
class Change:
    id: str
    zone_id: str
    submitted: float
    insync_at: float


# moto's state is per process; the sandbox started last (and not yet stopped) keeps the time.
_timings: list[Timing] = []


def route_route53(timing: Timing) -> None:
    _timings.append(timing)


def unroute_route53(timing: Timing) -> None:
    if timing in _timings:
        _timings.remove(timing)


def _timing() -> Timing:
    return _timings[-1] if _timings else Timing(time.time, 0.0)


def backend() -> Any:
    from moto.route53.models import route53_backends

    return route53_backends[ACCOUNT_ID]["aws"]


def changes(route53: Any) -> dict[str, Change]:
    """The changes a backend has answered, by bare id (no `/change/`)."""
    found: dict[str, Change] | None = getattr(route53, CHANGES, None)
    if found is None:
        found = {}
        setattr(route53, CHANGES, found)
    return found


def pending_until(route53: Any, zone_id: str) -> float | None:
    """When the zone's latest record change is INSYNC (None when it never had one)."""
    until: dict[str, float] = getattr(route53, PENDING, {})
    return until.get(_bare(zone_id))


def arm_prior_request(times: int) -> None:
    """The next `times` ChangeResourceRecordSets to a zone with a PENDING change are refused."""
    route53 = backend()
    setattr(route53, PRIOR_REQUEST, getattr(route53, PRIOR_REQUEST, 0) + times)


def patch_moto_route53() -> None:
    from moto.route53.models import Route53Backend
    from moto.route53.responses import Route53

    if getattr(Route53Backend, _PATCHED, False):
        return
    setattr(Route53Backend, _PATCHED, True)
    Route53Backend.change_resource_record_sets = _change_resource_record_sets  # type: ignore[method-assign]
    create, change, delete = Route53.create_hosted_zone, Route53.change_resource_record_sets, \
        Route53.delete_hosted_zone
    Route53.create_hosted_zone = lambda self: _answer_change(self, create(self), None)  # type: ignore[method-assign]
    Route53.delete_hosted_zone = lambda self: _answer_change(self, delete(self), None)  # type: ignore[method-assign]
    Route53.change_resource_record_sets = (  # type: ignore[method-assign]
        lambda self: _answer_change(self, change(self), self._get_param("HostedZoneId")))
    Route53.get_change = _get_change  # type: ignore[method-assign,assignment]


# ---- the backend: one batch, all or nothing ------------------------------------------------------

def _change_resource_record_sets(self: Any, zoneid: str, change_list: list[dict[str, Any]]) -> None:
    zone = self.get_hosted_zone(zoneid)
    _refuse_if_prior_pending(self, zone.resource_id)
    saved = list(zone.rrsets)
    try:
        for change in change_list:
            _apply(zone, copy.deepcopy(change))
    except Exception:
        zone.rrsets = saved  # a batch AWS could not apply whole changes nothing
        raise


def _refuse_if_prior_pending(route53: Any, zone_id: str) -> None:
    from moto.route53.exceptions import Route53ClientError  # the module names the service of the error

    until = pending_until(route53, zone_id)
    budget = getattr(route53, PRIOR_REQUEST, 0)
    if budget > 0 and until is not None and _timing().clock() < until:
        setattr(route53, PRIOR_REQUEST, budget - 1)
        raise Route53ClientError("PriorRequestNotComplete", PRIOR_REQUEST_MESSAGE)


def _apply(zone: Any, change: dict[str, Any]) -> None:
    """One change, with moto's own last-resort checks (the rules layer has already checked the
    batch against the zone, with AWS's messages)."""
    from moto.route53.exceptions import DnsNameInvalidForZone, InvalidActionValue, ResourceRecordAlreadyExists
    from moto.route53.models import RecordSet as MotoRecordSet
    from moto.route53.utils import validate_domain_name

    make: Any = MotoRecordSet  # typed abstract (CloudFormation hooks), built by moto the same way
    action, record = change["Action"], change["ResourceRecordSet"]
    if action not in ("CREATE", "UPSERT", "DELETE"):
        raise InvalidActionValue(action)
    validate_domain_name(record["Name"], code="InvalidChangeBatch")
    name = fqdn(record["Name"])
    if not in_zone(name, zone.name):
        raise DnsNameInvalidForZone(name=record["Name"], zone_name=zone.name)
    record["Name"] = record["Name"] if record["Name"].endswith(".") else record["Name"] + "."
    key = (name, record["Type"], record.get("SetIdentifier"))
    index = next((i for i, s in enumerate(zone.rrsets) if record_key(s) == key), None)
    if action == "DELETE":
        if index is not None:
            del zone.rrsets[index]
        return
    if "ResourceRecords" in record:
        record["ResourceRecords"] = [r["Value"] for r in record["ResourceRecords"]]
    if index is None:
        zone.rrsets.append(make(record))
    elif action == "UPSERT":
        zone.rrsets[index] = make(record)
    else:
        raise ResourceRecordAlreadyExists(name=record["Name"], _type=record["Type"])


def fqdn(name: str) -> str:
    """A DNS name as Route53 compares it: case-insensitive, trailing dot, `\\052` for `*`."""
    name = name.lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."


def in_zone(name: str, zone_name: str) -> bool:
    zone = fqdn(zone_name)
    return name == zone or name.endswith("." + zone)


def record_key(record_set: Any) -> tuple[str, str, str | None]:
    """(name, type, SetIdentifier) of one of moto's record sets: what makes a record set unique."""
    return fqdn(record_set.name), str(record_set.type), record_set.set_identifier


# ---- the responses: change ids, PENDING, INSYNC ---------------------------------------------------

def _answer_change(response: Any, result: Any, zone_id: str | None) -> Any:
    """Give the answered change its own id and the sandbox's time; a record change keeps its zone
    PENDING until it has propagated."""
    info = result.result.get("ChangeInfo") if isinstance(result.result, dict) else None
    if info is None:
        return result
    timing = _timing()
    now = timing.clock()
    change = Change(_new_change_id(), _bare(zone_id or ""), now, now + timing.propagation)
    route53 = response.backend
    changes(route53)[change.id] = change
    if zone_id is not None:
        pending = getattr(route53, PENDING, None)
        if pending is None:
            pending = {}
            setattr(route53, PENDING, pending)
        pending[change.zone_id] = change.insync_at
    result.result["ChangeInfo"] = _info(change, now)
    return result


def _get_change(response: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.route53.exceptions import Route53ClientError  # the module names the service of the error

    change = changes(response.backend).get(_bare(response._get_param("Id") or ""))
    if change is None:
        raise Route53ClientError("NoSuchChange", NO_SUCH_CHANGE)
    return ActionResult({"ChangeInfo": _info(change, _timing().clock())})


def _info(change: Change, now: float) -> dict[str, Any]:
    return {
        "Id": f"/change/{change.id}",
        "Status": "PENDING" if now < change.insync_at else "INSYNC",
        "SubmittedAt": datetime.datetime.fromtimestamp(change.submitted, datetime.UTC),
    }


def _new_change_id() -> str:
    return "C" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))


def _bare(resource_id: str) -> str:
    return resource_id.rsplit("/", 1)[-1]
