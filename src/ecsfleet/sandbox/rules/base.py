"""What a sandbox rule is: a documented AWS refusal, checked on a call before the emulator sees it.

A rule is data: its name, the operations it guards, the rule as AWS states it, the page of AWS's
documentation it comes from, and a pure check from the call to a refusal (or None). The check
reads the emulated world through `Call.world` and never changes it; a rule never imports
ecsfleet's client code (the planners' validators), or the client and the emulator would share
their bugs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Refusal:
    """AWS's answer to a refused call: its error code, message and HTTP status, as AWS sends them."""

    code: str
    message: str
    status: int = 400


class World(Protocol):
    """A read-only view of the emulated state of the call's account and region."""

    region: str

    def moto(self, service: str) -> Any:
        """moto's backend of `service` for the call's account and region (the global one for
        Route53 and IAM)."""

    def ecs(self) -> Any:
        """The sandbox's own ECS region (`sandbox.ecs.EcsRegion`)."""

    def now(self) -> float:
        """The sandbox clock, in seconds."""


@dataclass(frozen=True)
class Call:
    """One API call as the rules see it: `params` is the operation's input in botocore's shape
    (the dict a boto3 client method was called with), whatever the wire protocol."""

    service: str
    operation: str
    params: Mapping[str, Any]
    world: World


Check = Callable[[Call], Refusal | None]


@dataclass(frozen=True)
class Rule:
    """One server-side rule of an AWS API.

    `name` is unique and snake_case; the rule's test is `test_<name>` in
    `tests/test_rules_<service>.py`. `check` is None for a rule the sandbox knowingly does not
    enforce; `not_enforced` then says why.
    """

    name: str
    service: str
    operations: tuple[str, ...]
    summary: str
    source: str
    check: Check | None
    not_enforced: str = ""

    @property
    def enforced(self) -> bool:
        return self.check is not None

    @property
    def test_file(self) -> str:
        return f"tests/test_rules_{'inputs' if self.service == '*' else self.service}.py"

    @property
    def test_name(self) -> str:
        return f"{self.test_file}::test_{self.name}"


def rule(
    name: str, service: str, operations: str | tuple[str, ...], summary: str, source: str
) -> Callable[[Check], Rule]:
    """Decorator: the decorated check becomes a `Rule` with these facts."""

    ops = (operations,) if isinstance(operations, str) else operations

    def make(check: Check) -> Rule:
        return Rule(name, service, ops, summary, source, check)

    return make


def not_enforced(name: str, service: str, operations: str | tuple[str, ...], summary: str, source: str,
                 why: str) -> Rule:
    """A documented rule the sandbox deliberately does not check, and why."""
    ops = (operations,) if isinstance(operations, str) else operations
    return Rule(name, service, ops, summary, source, None, why)


# ---- small helpers the service modules share -------------------------------------------------

def param(call: Call, *path: str | int, default: Any = None) -> Any:
    """`call.params[path[0]][path[1]]...`, or `default` where any step is missing."""
    value: Any = call.params
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return default
    return default if value is None else value


def validation(message: str, code: str = "ValidationError", status: int = 400) -> Refusal:
    """The query protocol's generic refusal (Auto Scaling, CloudFormation, ELB use it)."""
    return Refusal(code, message, status)


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
