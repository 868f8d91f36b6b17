"""Classic ELB: read the configured load balancers, and apply lb-sync's plan to them."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..aws import batches, error_code, one_change
from ..runner import Outcome
from .plan import (
    Action,
    Deregister,
    ForgetMove,
    HealthCheck,
    Listener,
    LoadBalancer,
    MoveListener,
    PendingMove,
    Register,
    ResumeMove,
    SetBackendPolicies,
    SetHealthCheck,
    describe,
)

DESCRIBE_MAX = 20  # LoadBalancerNames per DescribeLoadBalancers
log = logging.getLogger(__name__)
NOT_FOUND = ("LoadBalancerNotFound", "AccessPointNotFound")
# ELB's answer for an instance it will not take: unknown to it, terminated, or in another VPC.
INVALID_INSTANCE = "InvalidInstance"
# A move in progress is recorded as tags on its load balancer: `ecsfleet:move-<port>` and, when the
# record is longer than a tag value may be (256 characters), `ecsfleet:move-<port>.1` and so on.
# The value is base64 (its alphabet is within what ELB allows in a tag value) of a JSON object.
MOVE_TAG = "ecsfleet:move-"
TAG_VALUE_MAX = 256


def parse_load_balancer(doc: dict[str, Any]) -> LoadBalancer:
    listeners = []
    for description in doc.get("ListenerDescriptions") or []:
        raw = description["Listener"]
        listeners.append(Listener(
            protocol=raw["Protocol"],
            load_balancer_port=int(raw["LoadBalancerPort"]),
            instance_protocol=raw.get("InstanceProtocol") or raw["Protocol"],
            instance_port=int(raw["InstancePort"]),
            ssl_certificate_id=raw.get("SSLCertificateId") or None,
            policy_names=tuple(description.get("PolicyNames") or ()),
        ))
    check = doc.get("HealthCheck")
    return LoadBalancer(
        name=doc["LoadBalancerName"],
        listeners=tuple(sorted(listeners, key=lambda item: item.load_balancer_port)),
        health_check=HealthCheck(check["Target"], int(check["Interval"]), int(check["Timeout"]),
                                 int(check["UnhealthyThreshold"]), int(check["HealthyThreshold"]))
        if check and check.get("Target") else None,
        instances=frozenset(i["InstanceId"] for i in doc.get("Instances") or []),
        backend_policies={
            int(b["InstancePort"]): tuple(b.get("PolicyNames") or ())
            for b in doc.get("BackendServerDescriptions") or []
            if b.get("PolicyNames")
        },
    )


def move_tags(listener: Listener, instance_port: int) -> list[dict[str, str]]:
    """The tags that record a move of `listener` (as it is) to `instance_port`."""
    record = {"protocol": listener.protocol, "instanceProtocol": listener.instance_protocol,
              "loadBalancerPort": listener.load_balancer_port, "from": listener.instance_port,
              "to": instance_port, "certificate": listener.ssl_certificate_id, "policies": list(listener.policy_names)}
    value = base64.b64encode(json.dumps(record, separators=(",", ":")).encode()).decode()
    chunks = [value[i:i + TAG_VALUE_MAX] for i in range(0, len(value), TAG_VALUE_MAX)]
    key = f"{MOVE_TAG}{listener.load_balancer_port}"
    return [{"Key": key if n == 0 else f"{key}.{n}", "Value": chunk} for n, chunk in enumerate(chunks)]


def parse_moves(lb: str, tags: Mapping[str, str]) -> tuple[tuple[PendingMove, ...], list[str]]:
    """The moves recorded in a load balancer's tags, and an error for a record that cannot be read
    (left in place: a human decides)."""
    parts: dict[str, list[tuple[int, str]]] = {}
    for key, value in tags.items():
        if key.startswith(MOVE_TAG):
            base, _, number = key.partition(".")
            parts.setdefault(base, []).append((int(number) if number.isdigit() else 0, value))
    moves: list[PendingMove] = []
    errors: list[str] = []
    for base, chunks in sorted(parts.items()):
        try:
            record = json.loads(base64.b64decode("".join(v for _, v in sorted(chunks)), validate=True))
            listener = Listener(record["protocol"], int(record["loadBalancerPort"]), record["instanceProtocol"],
                                int(record["from"]), record.get("certificate") or None,
                                tuple(record.get("policies") or ()))
            moves.append(PendingMove(listener, int(record["to"])))
        except (ValueError, KeyError, TypeError, binascii.Error) as error:
            errors.append(f"load balancer {lb!r}: tag {base!r} records an interrupted listener move that cannot "
                          f"be read ({error}); check the listener by hand, then remove the tag")
    return tuple(moves), errors


def read_move_records(elb: Any, names: Sequence[str]) -> tuple[dict[str, tuple[PendingMove, ...]], list[str]]:
    """Interrupted listener moves recorded on these load balancers (DescribeTags, 20 names a call)."""
    moves: dict[str, tuple[PendingMove, ...]] = {}
    errors: list[str] = []
    for batch in batches(sorted(names), DESCRIBE_MAX):
        for description in elb.describe_tags(LoadBalancerNames=list(batch))["TagDescriptions"]:
            tags = {t["Key"]: t.get("Value", "") for t in description.get("Tags") or []}
            found, problems = parse_moves(description["LoadBalancerName"], tags)
            moves[description["LoadBalancerName"]] = found
            errors += problems
    return moves, errors


def read_load_balancers(elb: Any, names: Sequence[str]) -> tuple[dict[str, LoadBalancer], list[str]]:
    """The named load balancers in as few calls as the API allows (20 names a call), with the moves
    recorded on them, and an error for each that does not exist (one missing name fails its
    whole batch, which is then read name by name so the others are still found)."""
    found: dict[str, LoadBalancer] = {}
    errors: list[str] = []
    for batch in batches(sorted(set(names)), DESCRIBE_MAX):
        try:
            docs = elb.describe_load_balancers(LoadBalancerNames=list(batch))["LoadBalancerDescriptions"]
        except Exception as error:
            if error_code(error) not in NOT_FOUND:
                raise
            docs = []
            for name in batch:
                try:
                    docs += elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
                except Exception as single:
                    if error_code(single) not in NOT_FOUND:
                        raise
                    errors.append(f"load balancer {name!r} does not exist")
        for doc in docs:
            lb = parse_load_balancer(doc)
            found[lb.name] = lb
    if found:
        moves, problems = read_move_records(elb, list(found))
        errors += problems
        found = {name: replace(lb, moves=moves.get(name, ())) for name, lb in found.items()}
    return found, errors


def _apply_one(elb: Any, action: Action) -> None:
    match action:
        case Register():
            raise AssertionError("a registration is applied by _apply_register, instance by instance if need be")
        case Deregister(lb, ids):
            elb.deregister_instances_from_load_balancer(
                LoadBalancerName=lb, Instances=[{"InstanceId": i} for i in ids])
        case SetHealthCheck(lb, check, _):
            elb.configure_health_check(LoadBalancerName=lb, HealthCheck={
                "Target": check.target, "Interval": check.interval, "Timeout": check.timeout,
                "UnhealthyThreshold": check.unhealthy_threshold, "HealthyThreshold": check.healthy_threshold})
        case MoveListener(lb, listener, port):
            with one_change():
                _move(elb, lb, listener, port)
        case ResumeMove(lb, listener, port, present):
            # The record is already on the load balancer: finish what it says, then drop it.
            with one_change():
                if present:
                    elb.delete_load_balancer_listeners(LoadBalancerName=lb,
                                                       LoadBalancerPorts=[listener.load_balancer_port])
                _create_listener(elb, lb, listener, port)
                _forget_move(elb, lb, move_tags(listener, port))
        case ForgetMove(lb, lb_port):
            _forget_move(elb, lb, [{"Key": f"{MOVE_TAG}{lb_port}"}])
        case SetBackendPolicies(lb, port, names):
            elb.set_load_balancer_policies_for_backend_server(
                LoadBalancerName=lb, InstancePort=port, PolicyNames=list(names))


def _move(elb: Any, lb: str, listener: Listener, port: int) -> None:
    """Delete and re-create `listener` on `port`. The move is recorded on the load balancer first:
    a process killed before it ends (SIGKILL, OOM, a Lambda timeout) leaves the record, and the
    next pass of any process finishes the move from it (see plan.ResumeMove)."""
    tags = move_tags(listener, port)
    recorded = _record_move(elb, lb, listener, tags)
    # A listener's instance port cannot be changed in place: these two calls are the only
    # moment the port has no listener, so nothing runs between them.
    elb.delete_load_balancer_listeners(LoadBalancerName=lb, LoadBalancerPorts=[listener.load_balancer_port])
    try:
        _create_listener(elb, lb, listener, port)
    except Exception as error:
        # Half moved: put it back as it was, so the next pass moves it again. If that fails too,
        # the record stays and the next pass re-creates the listener from it.
        try:
            elb.delete_load_balancer_listeners(LoadBalancerName=lb, LoadBalancerPorts=[listener.load_balancer_port])
            _create_listener(elb, lb, listener, listener.instance_port)
        except Exception as undo:
            raise RuntimeError(f"{error}; putting listener {listener.protocol}:{listener.load_balancer_port} "
                               f"back failed too ({undo}): the next pass re-creates it from the "
                               f"{MOVE_TAG}{listener.load_balancer_port} tag") from error
        if recorded:
            _forget_move(elb, lb, tags)
        raise
    if recorded:
        _forget_move(elb, lb, tags)


def _record_move(elb: Any, lb: str, listener: Listener, tags: Sequence[Mapping[str, str]]) -> bool:
    """Write the move's record; False when the load balancer already holds ELB's maximum of 10
    tags. A listener left on a port no task serves is an outage, so the move then goes ahead
    without its record, with a warning: only a kill in the instant between its two calls would
    need a person."""
    try:
        elb.add_tags(LoadBalancerNames=[lb], Tags=list(tags))
    except Exception as error:
        if error_code(error) != "TooManyTags":
            raise
        log.warning("%s has ELB's maximum of 10 tags: moving listener %s:%s without a record of the move "
                    "(free one tag so a process killed mid-move can be repaired by the next pass)",
                    lb, listener.protocol, listener.load_balancer_port)
        return False
    return True


def _forget_move(elb: Any, lb: str, tags: Sequence[Mapping[str, str]]) -> None:
    """Remove a move's record. Removing a key that is not there is not an error, so the record's
    continuation keys are named generously (a record is a few hundred characters at most)."""
    key = tags[0]["Key"]
    keys = [key] + [f"{key}.{n}" for n in range(1, max(len(tags), 4))]
    elb.remove_tags(LoadBalancerNames=[lb], Tags=[{"Key": k} for k in keys])


def _create_listener(elb: Any, lb: str, listener: Listener, port: int) -> None:
    """`listener` on instance port `port`, with its protocols, certificate and policies."""
    new: dict[str, Any] = {
        "Protocol": listener.protocol, "LoadBalancerPort": listener.load_balancer_port,
        "InstanceProtocol": listener.instance_protocol, "InstancePort": port,
    }
    if listener.ssl_certificate_id:
        new["SSLCertificateId"] = listener.ssl_certificate_id
    elb.create_load_balancer_listeners(LoadBalancerName=lb, Listeners=[new])
    if listener.policy_names:
        elb.set_load_balancer_policies_of_listener(
            LoadBalancerName=lb, LoadBalancerPort=listener.load_balancer_port, PolicyNames=list(listener.policy_names))


def _kind(action: Action) -> str:
    return {Register: "register", Deregister: "deregister", SetHealthCheck: "health-check",
            MoveListener: "move-listener", ResumeMove: "resume-move", ForgetMove: "resume-move",
            SetBackendPolicies: "backend-policies"}[type(action)]


@dataclass
class Applied:
    """What became of a plan: an outcome per action (per refused instance for a registration),
    and the instances ELB refused to register, by (load balancer, instance id), with its reason."""

    outcomes: list[Outcome] = field(default_factory=list)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)


def _register(elb: Any, lb: str, ids: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Register `ids`; the ones registered, and AWS's reason for each it refused as not valid.

    AWS refuses the whole call for one bad instance and names only the first, so after a refusal
    the instances are registered one by one: one terminated host must not keep the others out.
    Any other error is raised (it is about the load balancer, not one instance)."""
    try:
        elb.register_instances_with_load_balancer(LoadBalancerName=lb, Instances=[{"InstanceId": i} for i in ids])
        return list(ids), {}
    except Exception as error:
        if error_code(error) != INVALID_INSTANCE:
            raise
        if len(ids) == 1:
            return [], {ids[0]: _reason(error)}
    registered: list[str] = []
    refused: dict[str, str] = {}
    for instance_id in ids:
        try:
            elb.register_instances_with_load_balancer(LoadBalancerName=lb, Instances=[{"InstanceId": instance_id}])
            registered.append(instance_id)
        except Exception as error:
            if error_code(error) != INVALID_INSTANCE:
                raise
            refused[instance_id] = _reason(error)
    return registered, refused


def _reason(error: Exception) -> str:
    return f"{error_code(error) or type(error).__name__}: {error}"


def _apply_register(elb: Any, action: Register, applied: Applied) -> None:
    registered, refused = _register(elb, action.load_balancer, action.instance_ids)
    lb = action.load_balancer
    if registered:
        applied.outcomes.append(Outcome("register", lb, describe(Register(lb, tuple(registered)))))
    for instance_id, reason in refused.items():
        applied.outcomes.append(Outcome("register", lb, describe(Register(lb, (instance_id,))), ok=False,
                                        error=reason))
        applied.refused[(lb, instance_id)] = reason


def apply(elb: Any, actions: Iterable[Action]) -> Applied:
    """Apply in order. A failure skips the rest of that load balancer's actions (their order is
    what keeps traffic flowing) and never the other load balancers'.

    An instance ELB refuses to register (terminated, in another VPC) fails alone: the others are
    registered and the load balancer's later actions still run, since nothing after a
    registration depends on that one instance joining."""
    applied = Applied()
    failed: set[str] = set()
    for action in actions:
        lb = action.load_balancer
        if lb in failed:
            applied.outcomes.append(Outcome(_kind(action), lb, describe(action), ok=True, skipped=True,
                                            error="an earlier change to this load balancer failed"))
            continue
        try:
            if isinstance(action, Register):
                _apply_register(elb, action, applied)
                continue
            _apply_one(elb, action)
            applied.outcomes.append(Outcome(_kind(action), lb, describe(action)))
        except Exception as error:
            failed.add(lb)
            applied.outcomes.append(Outcome(_kind(action), lb, describe(action), ok=False, error=_reason(error)))
    return applied
