"""An emulated AWS for trying ecsfleet and for its tests: moto's server plus what an ECS
control plane, scheduler and agents do. See `Sandbox`."""

from .ecs import EcsTimings
from .emulator import Sandbox

__all__ = ["EcsTimings", "Sandbox"]
