"""What a fleet reconcile pass may do, each with the reason it is done (logged and shown by
--dry-run). Plans are lists of these; `apply.py` carries them out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GroupKind = Literal["asg", "spot"]
# The why of a drain that scales in (Drain.why): the controller times the anti-flap window by it.
SCALE_IN = "scale-in"
# The why of a drain at a spot interruption warning: AWS terminates the instance, not ecsfleet.
SPOT_WARNING = "spot"


@dataclass(frozen=True)
class Drain:
    """Set a container instance DRAINING: ECS moves its service tasks to ACTIVE instances."""

    cluster: str
    container_instance_arn: str
    ec2_instance_id: str
    reason: str  # for people: what the plan saw, ending with the why in brackets
    why: str  # for ecsfleet: written on the instance (plan.DRAIN_WHY), SPOT_WARNING, SCALE_IN, ...
    kind: str = "drain"

    @property
    def target(self) -> str:
        return self.ec2_instance_id


@dataclass(frozen=True)
class ClearDrainMark:
    """Delete ecsfleet's drain marks from an instance that is not draining: a mark is trusted only
    while it is true, so one left by a drain that failed or was cut short is removed before
    anyone else's later drain of the instance could be mistaken for ecsfleet's."""

    cluster: str
    container_instance_arn: str
    ec2_instance_id: str
    names: tuple[str, ...]
    reason: str
    kind: str = "clear-drain-mark"

    @property
    def target(self) -> str:
        return self.ec2_instance_id


@dataclass(frozen=True)
class RemoveInstance:
    """Terminate a drained instance and lower its group's capacity by its weight, so it is not replaced."""

    ec2_instance_id: str
    group_kind: GroupKind
    group_id: str
    weight: int
    new_capacity: int
    reason: str
    kind: str = "remove"
    lowers: bool = True  # False: the capacity was already lowered for it (a pass cut before terminating)

    @property
    def target(self) -> str:
        return self.ec2_instance_id


@dataclass(frozen=True)
class CompleteLifecycle:
    """Let an Auto Scaling group finish terminating an instance it holds in Terminating:Wait."""

    asg_name: str
    hook_name: str
    ec2_instance_id: str
    reason: str
    kind: str = "complete-lifecycle"

    @property
    def target(self) -> str:
        return self.ec2_instance_id


@dataclass(frozen=True)
class SetCapacity:
    """Change a group's capacity: an ASG's desired (and minimum), a spot fleet's target weight."""

    group_kind: GroupKind
    group_id: str
    capacity: int
    reason: str
    min_size: int | None = None
    kind: str = "scale"

    @property
    def target(self) -> str:
        return self.group_id


@dataclass(frozen=True)
class DeleteStack:
    """Delete an inactive, empty compute stack."""

    stack_name: str
    version: str
    reason: str
    kind: str = "delete-stack"

    @property
    def target(self) -> str:
        return self.stack_name


@dataclass(frozen=True)
class SetStatus:
    """Finish a rollout's switch that was cut short: set an older fleet that the new active fleet
    replaces `inactive` (only while the claim is still bound to that fleet's last status change)."""

    stack_name: str
    version: str
    status: str
    replaced_by: str
    stamp: str
    reason: str
    kind: str = "set-status"

    @property
    def target(self) -> str:
        return self.stack_name


Action = Drain | ClearDrainMark | RemoveInstance | CompleteLifecycle | SetCapacity | DeleteStack | SetStatus


def describe(action: Action) -> str:
    return f"{action.kind} {action.target}: {action.reason}"
