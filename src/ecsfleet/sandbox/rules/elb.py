"""The sandbox's rules for Classic ELB: each a documented refusal of the API, checked before moto.

moto's Classic ELB takes almost anything: listeners whose protocols cannot work together, HTTPS
without a certificate, instances that do not exist or live in another VPC, health checks that
cannot be run, policies that were never created. These rules read moto's state (load balancers,
their listeners, policies and registered instances; EC2's instances and their VPC) and refuse
as AWS does, with AWS's error code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import Call, Refusal, Rule, as_mapping, not_enforced, param, rule, validation
from .inputs import constraint_refusal, out_of_range

_API = "https://docs.aws.amazon.com/elasticloadbalancing/2012-06-01/APIReference/"
_LISTENER = _API + "API_Listener.html"
_HEALTH_CHECK = _API + "API_HealthCheck.html"
_LISTENERS_GUIDE = "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/elb-listener-config.html"

# Every operation that names one existing load balancer (DescribeLoadBalancers names several).
_NAMED = (
    "ConfigureHealthCheck", "RegisterInstancesWithLoadBalancer", "DeregisterInstancesFromLoadBalancer",
    "CreateLoadBalancerListeners", "DeleteLoadBalancerListeners", "SetLoadBalancerPoliciesOfListener",
    "SetLoadBalancerPoliciesForBackendServer", "CreateLoadBalancerPolicy", "CreateLBCookieStickinessPolicy",
    "CreateAppCookieStickinessPolicy", "DescribeInstanceHealth", "DescribeLoadBalancerAttributes",
    "ModifyLoadBalancerAttributes", "DeleteLoadBalancerPolicy",
)
_LISTENER_OPS = ("CreateLoadBalancer", "CreateLoadBalancerListeners")
_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "SSL")
_LAYER7 = ("HTTP", "HTTPS")
_SECURE = ("HTTPS", "SSL")
# The states an instance never leaves: ELB takes "a running instance", and these are never one.
_GONE = ("shutting-down", "terminated")


# ---- reading moto's state ----------------------------------------------------------------------

def _balancer(call: Call, name: Any = None) -> Any:
    backend = call.world.moto("elb")
    return backend.load_balancers.get(name if name is not None else param(call, "LoadBalancerName"))


def _listeners(call: Call) -> list[Mapping[str, Any]]:
    return [as_mapping(item) for item in param(call, "Listeners", default=[])]


def _protocol(listener: Mapping[str, Any], key: str = "Protocol") -> str:
    return str(listener.get(key) or "").upper()


def _instance_protocol(listener: Mapping[str, Any]) -> str:
    """AWS's default instance protocol is the listener's own protocol."""
    return _protocol(listener, "InstanceProtocol") or _protocol(listener)


def _existing(balancer: Any) -> Iterator[tuple[int, int, str, str, str | None]]:
    """(load balancer port, instance port, protocol, instance protocol, certificate) of each
    listener moto holds (CloudFormation gives ports as strings)."""
    for listener in balancer.listeners:
        yield (int(listener.load_balancer_port), int(listener.instance_port), str(listener.protocol).upper(),
               str(listener.instance_protocol).upper(), listener.ssl_certificate_id or None)


def _instances(call: Call) -> dict[str, Any]:
    """moto's instances by id, read once per call: a call names up to thousands of instances."""
    return {i.id: i for i in call.world.moto("ec2").all_instances()}


def _instance_ids(call: Call) -> list[str]:
    return [str(as_mapping(i).get("InstanceId")) for i in param(call, "Instances", default=[])]


def _policy_names(balancer: Any) -> set[str]:
    return {p.policy_name for p in balancer.policies}


def _range_error(call: Call, value: Any, at: str, low: int, high: int) -> Refusal | None:
    """AWS's model-constraint refusal for a number outside [low, high]."""
    problem = out_of_range(value, at, low, high) if isinstance(value, int) else None
    return constraint_refusal(call, [problem]) if problem is not None else None


# ---- the rules ---------------------------------------------------------------------------------

_BY_NAMES = ("DescribeLoadBalancers", "DescribeTags", "AddTags", "RemoveTags")  # take LoadBalancerNames
MAX_TAGS = 10


@rule("load_balancer_exists", "elb", (*_BY_NAMES, *_NAMED),
      "The named load balancer must exist (LoadBalancerNotFound).", _API + "API_DescribeLoadBalancers.html")
def _load_balancer_exists(call: Call) -> Refusal | None:
    if call.operation in _BY_NAMES:
        missing = [n for n in param(call, "LoadBalancerNames", default=[]) if _balancer(call, n) is None]
        return Refusal("LoadBalancerNotFound", f"Cannot find Load Balancer {missing[0]}") if missing else None
    name = param(call, "LoadBalancerName")
    if name is None or _balancer(call) is not None:
        return None
    return Refusal("LoadBalancerNotFound", f"There is no ACTIVE Load Balancer named '{name}'")


def _tag_keys(call: Call) -> list[str]:
    return [str(as_mapping(t).get("Key")) for t in param(call, "Tags", default=[])]


@rule("tag_keys_distinct", "elb", "AddTags",
      "One AddTags call names each tag key once (DuplicateTagKeys).", _API + "API_AddTags.html")
def _tag_keys_distinct(call: Call) -> Refusal | None:
    keys = _tag_keys(call)
    if len(keys) == len(set(keys)):
        return None
    return Refusal("DuplicateTagKeys", "A tag key was specified more than once.")


@rule("tags_per_load_balancer", "elb", "AddTags",
      "A load balancer has at most 10 tags, counting those it has (TooManyTags).", _API + "API_AddTags.html")
def _tags_per_load_balancer(call: Call) -> Refusal | None:
    for name in param(call, "LoadBalancerNames", default=[]):
        balancer = _balancer(call, name)
        if balancer is not None and len(set(balancer.tags) | set(_tag_keys(call))) > MAX_TAGS:
            return Refusal("TooManyTags", "The quota for the number of tags that can be assigned to a load "
                           "balancer has been reached.")
    return None


@rule("listener_protocol_supported", "elb", _LISTENER_OPS,
      "A listener's Protocol and InstanceProtocol are each one of HTTP, HTTPS, TCP, SSL.", _LISTENER)
def _protocol_supported(call: Call) -> Refusal | None:
    for listener in _listeners(call):
        for protocol in (_protocol(listener), _instance_protocol(listener)):
            if protocol not in _PROTOCOLS:
                return Refusal("UnsupportedProtocol", "The specified protocol or signature version is not "
                                                      f"supported: {protocol or '(none)'}.")
    return None


@rule("secure_listener_needs_certificate", "elb", _LISTENER_OPS,
      "An HTTPS or SSL listener must name its server certificate (SSLCertificateId).", _LISTENER)
def _secure_needs_certificate(call: Call) -> Refusal | None:
    for listener in _listeners(call):
        if _protocol(listener) in _SECURE and not listener.get("SSLCertificateId"):
            return validation("Secure Listeners need to specify a SSLCertificateId")
    return None


@rule("listener_protocols_compatible", "elb", _LISTENER_OPS,
      "HTTP/HTTPS listeners send HTTP or HTTPS to instances; TCP/SSL listeners send TCP or SSL.", _LISTENER)
def _protocols_compatible(call: Call) -> Refusal | None:
    for listener in _listeners(call):
        front, back = _protocol(listener), _instance_protocol(listener)
        if front in _PROTOCOLS and back in _PROTOCOLS and (front in _LAYER7) != (back in _LAYER7):
            return validation(f"Listener protocol '{front}' and instance protocol '{back}' are not compatible: "
                              "if the front-end protocol is HTTP or HTTPS, the back-end protocol must be HTTP or "
                              "HTTPS; if it is TCP or SSL, TCP or SSL.")
    return None


@rule("listener_ports_in_range", "elb", _LISTENER_OPS,
      "A listener's LoadBalancerPort and InstancePort are each 1-65535.", _LISTENERS_GUIDE)
def _ports_in_range(call: Call) -> Refusal | None:
    for index, listener in enumerate(_listeners(call), start=1):
        for key in ("LoadBalancerPort", "InstancePort"):
            at = f"listeners.{index}.member.{key[0].lower()}{key[1:]}"
            refusal = _range_error(call, listener.get(key), at, 1, 65535)
            if refusal is not None:
                return refusal
    return None


def _listener_key(listener: Mapping[str, Any]) -> tuple[int, str, str, str | None]:
    return (int(listener.get("InstancePort") or 0), _protocol(listener), _instance_protocol(listener),
            listener.get("SSLCertificateId") or None)


@rule("duplicate_listener", "elb", "CreateLoadBalancerListeners",
      "A load balancer port has one listener: creating another there with a different instance port, "
      "protocol or certificate is refused (the same one again is a no-op).",
      _API + "API_CreateLoadBalancerListeners.html")
def _duplicate_listener(call: Call) -> Refusal | None:
    balancer = _balancer(call)
    if balancer is None:
        return None
    seen = {lb_port: (port, proto, back, cert) for lb_port, port, proto, back, cert in _existing(balancer)}
    for listener in _listeners(call):
        lb_port = int(listener.get("LoadBalancerPort") or 0)
        wanted = _listener_key(listener)
        if seen.setdefault(lb_port, wanted) != wanted:
            return Refusal("DuplicateListener", f"A listener already exists for {balancer.name} with LoadBalancerPort "
                                                f"{lb_port}, but with a different InstancePort, Protocol, or "
                                                "SSLCertificateId")
    return None


@rule("instance_port_one_security", "elb", _LISTENER_OPS,
      "Listeners that share an InstancePort agree on whether its InstanceProtocol is secure (HTTPS, SSL) or "
      "not (HTTP, TCP).", _LISTENER)
def _instance_port_one_security(call: Call) -> Refusal | None:
    balancer = _balancer(call) if call.operation == "CreateLoadBalancerListeners" else None
    secure: dict[int, tuple[bool, str]] = {}
    if balancer is not None:
        for _, port, _, back, _ in _existing(balancer):
            secure.setdefault(port, (back in _SECURE, back))
    for listener in _listeners(call):
        port, back = int(listener.get("InstancePort") or 0), _instance_protocol(listener)
        is_secure, other = secure.setdefault(port, (back in _SECURE, back))
        if is_secure != (back in _SECURE):
            return Refusal("InvalidConfigurationRequest",
                           f"Instance port {port} is already used with instance protocol {other}: listeners with "
                           "the same InstancePort must all use a secure instance protocol (HTTPS, SSL) or all a "
                           "plain one (HTTP, TCP).", 409)
    return None


@rule("register_existing_instances", "elb", "RegisterInstancesWithLoadBalancer",
      "Only existing instances that are not terminated (or terminating) can be registered (InvalidInstance).",
      _API + "API_RegisterInstancesWithLoadBalancer.html")
def _register_existing(call: Call) -> Refusal | None:
    ids, known = _instance_ids(call), _instances(call)
    for instance_id in ids:
        instance = known.get(instance_id)
        if instance is None or instance.state in _GONE:
            return Refusal("InvalidInstance", f"InvalidInstance found in [{', '.join(ids)}]. "
                                              f"Invalid id: \"{instance_id}\"")
    return None


@rule("register_same_vpc", "elb", "RegisterInstancesWithLoadBalancer",
      "An instance must be in the load balancer's VPC to be registered (InvalidInstance).",
      _API + "API_RegisterInstancesWithLoadBalancer.html")
def _register_same_vpc(call: Call) -> Refusal | None:
    balancer = _balancer(call)
    if balancer is None or not balancer.vpc_id:
        return None
    known = _instances(call)
    for instance_id in _instance_ids(call):
        instance = known.get(instance_id)
        if instance is not None and instance.vpc_id and instance.vpc_id != balancer.vpc_id:
            return Refusal("InvalidInstance", f"EC2 instance {instance_id} is not in the same VPC as ELB.")
    return None


@rule("deregister_registered_instances", "elb", "DeregisterInstancesFromLoadBalancer",
      "Only instances registered with the load balancer can be deregistered (InvalidInstance).",
      _API + "API_DeregisterInstancesFromLoadBalancer.html")
def _deregister_registered(call: Call) -> Refusal | None:
    balancer = _balancer(call)
    if balancer is None:
        return None
    registered = set(balancer.instance_ids)
    missing = [i for i in _instance_ids(call) if i not in registered]
    return Refusal("InvalidInstance", f"Could not find EC2 instance {missing[0]}.") if missing else None


_TARGET = re.compile(r"^(?P<proto>[A-Za-z]+):(?P<port>\d+)(?P<path>.*)$")


@rule("health_check_target_syntax", "elb", "ConfigureHealthCheck",
      "Target is PROTOCOL:PORT for TCP and SSL, PROTOCOL:PORT/PATH for HTTP and HTTPS (the path is required); "
      "the port is 1-65535.", _HEALTH_CHECK)
def _target_syntax(call: Call) -> Refusal | None:
    target = str(param(call, "HealthCheck", "Target", default=""))
    protocol = target.split(":", 1)[0].upper()
    if protocol not in _PROTOCOLS:
        return validation("HealthCheck Target must begin with one of HTTP, TCP, HTTPS, SSL")
    match = _TARGET.match(target)
    if match is None or not 1 <= int(match["port"]) <= 65535:
        return validation("HealthCheck Target must specify a port number")
    if protocol in _LAYER7 and not match["path"].startswith("/"):
        return validation(f"HealthCheck {protocol} Target must specify a port followed by a path that begins "
                          f"with a slash. e.g. {protocol}:80/ping/this/path")
    if protocol not in _LAYER7 and match["path"]:
        return validation("HealthCheck Target must specify a port number")
    return None


_CHECK_RANGES = (("Interval", 5, 300), ("Timeout", 2, 60), ("UnhealthyThreshold", 2, 10),
                 ("HealthyThreshold", 2, 10))


@rule("health_check_values_in_range", "elb", "ConfigureHealthCheck",
      "Interval 5-300, Timeout 2-60, HealthyThreshold and UnhealthyThreshold 2-10.", _HEALTH_CHECK)
def _check_ranges(call: Call) -> Refusal | None:
    for key, low, high in _CHECK_RANGES:
        refusal = _range_error(call, param(call, "HealthCheck", key), f"healthCheck.{key[0].lower()}{key[1:]}",
                               low, high)
        if refusal is not None:
            return refusal
    return None


@rule("health_check_timeout_below_interval", "elb", "ConfigureHealthCheck",
      "The health check's Timeout must be less than its Interval.", _HEALTH_CHECK)
def _timeout_below_interval(call: Call) -> Refusal | None:
    interval, timeout = param(call, "HealthCheck", "Interval"), param(call, "HealthCheck", "Timeout")
    if isinstance(interval, int) and isinstance(timeout, int) and timeout >= interval:
        return validation("Health check interval must be greater than the timeout.")
    return None


@rule("listener_policies_need_a_listener", "elb", "SetLoadBalancerPoliciesOfListener",
      "Policies are set on an existing listener: a port without one is refused (ListenerNotFound).",
      _API + "API_SetLoadBalancerPoliciesOfListener.html")
def _listener_exists(call: Call) -> Refusal | None:
    balancer, port = _balancer(call), param(call, "LoadBalancerPort")
    if balancer is None or port is None or any(lb_port == int(port) for lb_port, *_ in _existing(balancer)):
        return None
    return Refusal("ListenerNotFound", f"There is no listener on port {port} of load balancer {balancer.name}: the "
                                       "load balancer does not have a listener configured at the specified port.")


@rule("policies_exist", "elb", ("SetLoadBalancerPoliciesOfListener", "SetLoadBalancerPoliciesForBackendServer"),
      "Every named policy must have been created for the load balancer (PolicyNotFound).",
      _API + "API_SetLoadBalancerPoliciesForBackendServer.html")
def _policies_exist(call: Call) -> Refusal | None:
    balancer = _balancer(call)
    if balancer is None:
        return None
    known = _policy_names(balancer)
    missing = [p for p in param(call, "PolicyNames", default=[]) if p not in known]
    if not missing:
        return None
    return Refusal("PolicyNotFound", f"There is no policy with name {missing[0]} for load balancer {balancer.name}")


_EC2_CLASSIC_PORTS = not_enforced(
    "ec2_classic_load_balancer_ports", "elb", _LISTENER_OPS,
    "In EC2-Classic a load balancer listened only on ports 25, 80, 443, 465, 587 and 1024-65535.", _LISTENER,
    why="EC2-Classic is retired (2023): every Classic Load Balancer is in a VPC, where any port 1-65535 is allowed "
        "(listener_ports_in_range).")

_DELETE_ABSENT_LISTENER = not_enforced(
    "delete_absent_listener_succeeds", "elb", "DeleteLoadBalancerListeners",
    "Deleting the listener of a port that has none is not an error: AWS succeeds and changes nothing.",
    _API + "API_DeleteLoadBalancerListeners.html",
    why="Nothing to refuse: the sandbox (moto) also succeeds and changes nothing, as AWS does.")

RULES: tuple[Rule, ...] = (
    _load_balancer_exists,
    _tag_keys_distinct,
    _tags_per_load_balancer,
    _protocol_supported,
    _secure_needs_certificate,
    _protocols_compatible,
    _ports_in_range,
    _duplicate_listener,
    _instance_port_one_security,
    _register_existing,
    _register_same_vpc,
    _deregister_registered,
    _target_syntax,
    _check_ranges,
    _timeout_below_interval,
    _listener_exists,
    _policies_exist,
    _EC2_CLASSIC_PORTS,
    _DELETE_ABSENT_LISTENER,
)

# What the sandbox deliberately does not emulate for this service, and why (docs/sandbox-fidelity.md).
GAPS: tuple[str, ...] = (
    "Instances in the stopped or pending state can be registered: AWS's documentation asks for a running "
    "instance, but what it answers for a stopped one is not documented, so only unknown, terminated and "
    "terminating instances are refused.",
    "Certificates are not checked against IAM or ACM beyond what moto does (CertificateNotFound for an unknown "
    "ACM ARN): an HTTPS listener with any certificate id is accepted.",
    "Policy types are not checked against the listener or backend they are set on (a stickiness policy on a TCP "
    "listener, a non-authentication policy on a backend port): AWS refuses some of these with "
    "InvalidConfigurationRequest, and lb-sync only copies policies AWS already accepted.",
    "Registered instances have no health: DescribeInstanceHealth answers InService for a running instance.",
)
