"""Classic ELB: read the configured load balancers, and apply lb-sync's plan to them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..aws import batches, error_code
from ..runner import Outcome
from .plan import (
    Action,
    Deregister,
    HealthCheck,
    Listener,
    LoadBalancer,
    MoveListener,
    Register,
    SetBackendPolicies,
    SetHealthCheck,
    describe,
)

DESCRIBE_MAX = 20  # LoadBalancerNames per DescribeLoadBalancers
NOT_FOUND = ("LoadBalancerNotFound", "AccessPointNotFound")
# ELB's answer for an instance it will not take: unknown to it, terminated, or in another VPC.
INVALID_INSTANCE = "InvalidInstance"


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


def read_load_balancers(elb: Any, names: Sequence[str]) -> tuple[dict[str, LoadBalancer], list[str]]:
    """The named load balancers in as few calls as the API allows (20 names a call), and an error
    for each that does not exist (one missing name fails its whole batch, which is then read
    name by name so the others are still found)."""
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
            # A listener's instance port cannot be changed in place: these two calls are the
            # only moment the port has no listener, so nothing runs between them.
            elb.delete_load_balancer_listeners(LoadBalancerName=lb, LoadBalancerPorts=[listener.load_balancer_port])
            try:
                _create_listener(elb, lb, listener, port)
            except Exception as error:
                # Half moved. A pass knows only the listeners it reads: one left deleted, or
                # re-created without its policies, would stay so. Put it back as it was, so the
                # next pass moves it again.
                try:
                    elb.delete_load_balancer_listeners(LoadBalancerName=lb,
                                                       LoadBalancerPorts=[listener.load_balancer_port])
                    _create_listener(elb, lb, listener, listener.instance_port)
                except Exception as undo:
                    raise RuntimeError(f"{error}; putting listener {listener.protocol}:{listener.load_balancer_port} "
                                       f"back failed too, re-create it by hand: {undo}") from error
                raise
        case SetBackendPolicies(lb, port, names):
            elb.set_load_balancer_policies_for_backend_server(
                LoadBalancerName=lb, InstancePort=port, PolicyNames=list(names))


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
            MoveListener: "move-listener", SetBackendPolicies: "backend-policies"}[type(action)]


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
