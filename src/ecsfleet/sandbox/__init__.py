"""An emulated AWS for trying ecsfleet and for its tests: moto's server plus what an ECS
control plane, scheduler and agents do. See `Sandbox`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ecs import EcsTimings
    from .emulator import Sandbox

__all__ = ["EcsTimings", "Sandbox"]


def __getattr__(name: str) -> Any:
    """`Sandbox` and `EcsTimings` are imported on first use (PEP 562): they bring moto, which
    `ecsfleet sandbox --help` has no use for."""
    if name == "Sandbox":
        from .emulator import Sandbox

        return Sandbox
    if name == "EcsTimings":
        from .ecs import EcsTimings

        return EcsTimings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
