"""Checks that a capability's IAM policy is exactly what it calls: record the (service,
operation) pairs the sandbox serves while the capability runs, then compare them with the
policy from `ecsfleet.iam`.

To check a capability: write a scenario `def scenario(sb, clients, recorder) -> Expected` that
builds its world with the sandbox, runs the capability's own calls inside
`with recorder.recording():` (world changes between passes stay outside), and returns which
features and scope the policy should be generated with; then add it to SCENARIOS in
tests/test_iam_policy.py and clear the capability's `draft` in ecsfleet/iam/policies.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ecsfleet.iam import policies
from ecsfleet.sandbox import Sandbox


@dataclass
class CallRecorder:
    """The calls the sandbox served while recording, and only then (so the test's own calls that
    build or change the world are not counted)."""

    sb: Sandbox
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.sb.reset_calls()
        try:
            yield
        finally:
            self.calls.update(self.sb.calls())


@dataclass(frozen=True)
class Expected:
    """The policy a scenario must match: the features it exercised, and its scope."""

    features: frozenset[str] = frozenset()
    scope: policies.Scope = field(default_factory=policies.Scope)
    defaults: bool = True


def check_exact(capability: str, expected: Expected, recorder: CallRecorder) -> policies.Audit:
    """Fails naming every action called but not allowed, and every action allowed but not called."""
    doc = policies.policy(capability, expected.features, expected.scope, defaults=expected.defaults)
    result = policies.audit(doc, recorder.calls)
    assert result.used, f"{capability}: the scenario recorded no calls"
    assert not result.missing, f"{capability}: called but not allowed by its policy: {list(result.missing)}"
    assert not result.unused, f"{capability}: allowed by its policy but never called: {list(result.unused)}"
    return result
