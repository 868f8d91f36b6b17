"""What Route53 accepts, checked before sending: the sandbox (moto) accepts things Route53 rejects."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import TypeVar

MAX_NAME = 253
TTL_MAX = 2_147_483_647
_LABEL = re.compile(r"^(?:_?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?|_[a-z0-9-]{1,62}|\*)$")
_SRV_HEAD = re.compile(r"(\d{1,5}) (\d{1,5}) (\d{1,5})")  # an SRV value's priority, weight and port
_SRV_TARGET = re.compile(r"\S+")
# What `srv_head_problem` and `srv_target_problem` find wrong, worded by `value_problem`, which
# knows the whole value.
NOT_SRV = "not 'priority weight port target'"
SRV_RANGE = "priority, weight and port must be 0-65535"


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
    return srv_text(priority, weight, port, normalize(target))


def srv_text(priority: int, weight: int, port: int, normalized_target: str) -> str:
    """`srv_value` of a target already normalized (once per host, not once per task)."""
    return f"{priority} {weight} {port} {normalized_target}"


def srv_head_problem(head: str) -> str | None:
    """What is wrong with an SRV value's 'priority weight port', or None."""
    match = _SRV_HEAD.fullmatch(head)
    if not match:
        return NOT_SRV
    return SRV_RANGE if any(int(n) > 65535 for n in match.groups()) else None


def srv_target_problem(target: str, check_name: Callable[[str], str | None] = name_problem) -> str | None:
    """What is wrong with an SRV value's target, or None."""
    return check_name(target) if _SRV_TARGET.fullmatch(target) else NOT_SRV


def value_problem(record_type: str, value: str,
                  check_head: Callable[[str], str | None] = srv_head_problem,
                  check_target: Callable[[str], str | None] = srv_target_problem) -> str | None:
    """None when Route53 takes `value` in a record set of `record_type`, else why not. An SRV
    value is checked in its two parts, 'priority weight port' and the target, by `check_head`
    and `check_target` (a pass looks each distinct part up once)."""
    if record_type == "A":
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return f"{value!r} is not an IPv4 address"
        return None
    if record_type == "SRV":
        head, _, target = value.rpartition(" ")  # a target holds no space: the last one ends the head
        head_problem, target_problem = check_head(head), check_target(target)
        if NOT_SRV in (head_problem, target_problem):
            return f"{value!r} is {NOT_SRV}"
        if head_problem:
            return f"{value!r}: {head_problem}"
        return target_problem
    if record_type == "TXT":
        if not (value.startswith('"') and value.endswith('"')) or len(value) > 257:
            return "TXT values are quoted strings of at most 255 characters"
        return None
    return f"record type {record_type} is not managed by ecsfleet"


def ttl_problem(ttl: int) -> str | None:
    return None if 0 <= ttl <= TTL_MAX else f"TTL {ttl} is outside 0-{TTL_MAX}"


K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A function's results by argument, each computed on first use: what a pass looks up for
    every container or value, but computes once for each distinct name, host or address."""

    def __init__(self, compute: Callable[[K], V]) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key: K) -> V:
        found = self[key] = self.compute(key)
        return found


class Checked:
    """Each distinct name, SRV target and SRV 'priority weight port' validated, and each name
    normalized, once: a cluster's thousands of containers ask for the same few names, and its
    hosts' addresses, host names and ports recur across record sets, so checking them per
    container and per value made a pass cost several validations a task. Keep one per pass: it
    holds only that pass's names and values."""

    def __init__(self) -> None:
        self._problems: Memo[str, str | None] = Memo(name_problem)
        self._normalized: Memo[str, str] = Memo(normalize)
        self._values: dict[str, Memo[str, str | None]] = {}
        self._heads: Memo[str, str | None] = Memo(srv_head_problem)
        # Bound to the names' memo, not to self: a cycle would keep a pass's memos (and all they
        # hold) alive until the collector's next full sweep of the heap.
        self._targets: Memo[str, str | None] = Memo(partial(srv_target_problem, check_name=self._problems.__getitem__))

    def name(self, name: str) -> str | None:
        """`name_problem(name)`."""
        return self._problems[name]

    def normalized(self, name: str) -> str:
        """`normalize(name)`, one string for every container that writes it."""
        return self._normalized[name]

    def value(self, record_type: str, value: str) -> str | None:
        """`value_problem(record_type, value)`. SRV values hold their tasks' own host ports, so
        they are checked by their parts, each part once."""
        if record_type == "SRV":
            return value_problem(record_type, value, self._heads.__getitem__, self._targets.__getitem__)
        return self._of_type(record_type)[value]

    def _of_type(self, record_type: str) -> Memo[str, str | None]:
        memo = self._values.get(record_type)
        if memo is None:
            memo = self._values[record_type] = Memo(partial(value_problem, record_type))
        return memo

    def values(self, record_type: str, values: Iterable[str]) -> list[str]:
        """The problems of a record set's values: what `value` says of each, with a fast path for
        SRV values whose two parts are both already found good, as nearly all are."""
        if record_type != "SRV":
            memo = self._of_type(record_type)
            return [problem for value in values if (problem := memo[value])]
        heads, targets = self._heads, self._targets
        problems = []
        for value in values:
            head, _, target = value.rpartition(" ")
            if heads[head] is None and targets[target] is None:
                continue
            problem = self.value(record_type, value)
            if problem:
                problems.append(problem)
        return problems
