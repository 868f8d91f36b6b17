"""What Route53 accepts, checked before sending: the sandbox (moto) accepts things Route53 rejects."""

from __future__ import annotations

import ipaddress
import re

MAX_NAME = 253
TTL_MAX = 2_147_483_647
_LABEL = re.compile(r"^(?:_?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|_[a-z0-9-]{1,62}|\*)$")
_SRV = re.compile(r"^(\d{1,5}) (\d{1,5}) (\d{1,5}) (\S+)$")


def normalize(name: str) -> str:
    """Lower case with a trailing dot, as Route53 returns names."""
    return name.strip().lower().rstrip(".") + "."


def is_under(name: str, domain: str) -> bool:
    """`name` is `domain` or a name below it (both normalized)."""
    return name == domain or name.endswith("." + domain)


def name_problem(name: str) -> str | None:
    """None when `name` is a valid record name, else why not."""
    bare = name.rstrip(".")
    if not bare:
        return "empty name"
    if len(bare) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if "." not in bare:
        return "not a fully qualified name (no dot)"
    for label in bare.lower().split("."):
        if not label:
            return "empty label (two dots in a row)"
        if len(label) > 63:
            return f"label {label[:20]}… longer than 63 characters"
        if not _LABEL.fullmatch(label):  # `$` alone would let a trailing newline through
            return f"label {label!r} may hold only letters, digits, hyphens (not at its ends) and a leading underscore"
    return None


def srv_value(priority: int, weight: int, port: int, target: str) -> str:
    return f"{priority} {weight} {port} {normalize(target)}"


def value_problem(record_type: str, value: str) -> str | None:
    if record_type == "A":
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return f"{value!r} is not an IPv4 address"
        return None
    if record_type == "SRV":
        match = _SRV.match(value)
        if not match:
            return f"{value!r} is not 'priority weight port target'"
        if any(int(n) > 65535 for n in match.groups()[:3]):
            return f"{value!r}: priority, weight and port must be 0-65535"
        return name_problem(match.group(4))
    if record_type == "TXT":
        if not (value.startswith('"') and value.endswith('"')) or len(value) > 257:
            return "TXT values are quoted strings of at most 255 characters"
        return None
    return f"record type {record_type} is not managed by ecsfleet"


def ttl_problem(ttl: int) -> str | None:
    return None if 0 <= ttl <= TTL_MAX else f"TTL {ttl} is outside 0-{TTL_MAX}"
