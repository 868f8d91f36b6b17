"""Instances ELB refused to register, remembered across a daemon's passes.

ELB refuses an instance that is terminated, in another VPC than the load balancer, or unknown to
it. The first two never heal, and the third (an instance younger than ELB's view of EC2) heals
within seconds. Retrying every pass would fail every pass, and a daemon whose every pass fails
hides the failures that matter: so a refused instance is held back from registration, with a
warning naming it and ELB's reason, and tried again after 2, 4, 8 ... (at most 64) passes. An
instance no longer planned for registration (its task moved, its host left the cluster) is
forgotten, so it is tried at once if it comes back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from .plan import Action, Register

MAX_WAIT_PASSES = 64


@dataclass(frozen=True)
class Refusal:
    reason: str
    times: int
    retry_pass: int


def without_registrations(actions: Sequence[Action], held: Collection[tuple[str, str]]) -> tuple[Action, ...]:
    """`actions` without registering the (load balancer, instance id) pairs in `held`; a
    registration left with no instance is dropped."""
    kept: list[Action] = []
    for action in actions:
        if not isinstance(action, Register):
            kept.append(action)
            continue
        ids = tuple(i for i in action.instance_ids if (action.load_balancer, i) not in held)
        if ids:
            kept.append(Register(action.load_balancer, ids))
    return tuple(kept)


@dataclass
class RefusedInstances:
    """A controller's memory of ELB's refusals; pass numbers count its `hold_back` calls."""

    passes: int = 0
    refusals: dict[tuple[str, str], Refusal] = field(default_factory=dict)

    def hold_back(self, actions: Sequence[Action]) -> tuple[tuple[Action, ...], tuple[str, ...]]:
        """Begin a pass: the planned actions without the registrations still waiting out a
        refusal, and a warning for each of those."""
        self.passes += 1
        planned = {(a.load_balancer, i) for a in actions if isinstance(a, Register) for i in a.instance_ids}
        self.refusals = {key: r for key, r in self.refusals.items() if key in planned}
        waiting = {key: r for key, r in self.refusals.items() if r.retry_pass > self.passes}
        warnings = tuple(
            f"{instance} is not registered with {lb}: ELB refused it ({r.reason}); "
            f"trying again in {r.retry_pass - self.passes} pass(es)"
            for (lb, instance), r in sorted(waiting.items()))
        return without_registrations(actions, waiting), warnings

    def record(self, refused: Mapping[tuple[str, str], str]) -> None:
        """End a pass: remember this pass's refusals, each waiting twice as long as the last."""
        for key, reason in refused.items():
            times = self.refusals[key].times + 1 if key in self.refusals else 1
            self.refusals[key] = Refusal(reason, times, self.passes + min(2 ** times, MAX_WAIT_PASSES))
