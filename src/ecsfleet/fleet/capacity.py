"""Pure arithmetic of cluster capacity, in copies of the largest task.

The seed's metric ("schedulable cluster tasks") sums, over ACTIVE container instances,
min(remaining CPU / task CPU, remaining memory / task memory) for the largest service task.
ecsfleet floors each instance's share (a fraction of a task places nothing) and measures sizes
as ECS reserves them (memoryReservation, else memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..snapshot import ContainerInstance, Task
from .packing import Room, first_fit


@dataclass(frozen=True, order=True)
class TaskSize:
    memory: int
    cpu: int

    def copies(self, cpu: int, memory: int) -> int:
        """How many tasks of this size fit in `cpu` units and `memory` MiB."""
        fits = []
        if self.memory > 0:
            fits.append(memory // self.memory)
        if self.cpu > 0:
            fits.append(cpu // self.cpu)
        return max(0, min(fits)) if fits else 0


def largest(sizes: Iterable[TaskSize]) -> TaskSize | None:
    """The largest task by memory, then CPU (the seed's choice)."""
    real = [s for s in sizes if s.memory > 0 or s.cpu > 0]
    return max(real) if real else None


def free_copies(instance: ContainerInstance, size: TaskSize) -> int:
    return size.copies(instance.remaining_cpu, instance.remaining_memory)


def full_copies(instance: ContainerInstance, size: TaskSize) -> int:
    return size.copies(instance.registered_cpu, instance.registered_memory)


def schedulable(instances: Iterable[ContainerInstance], size: TaskSize) -> int:
    """Copies of `size` the ACTIVE, connected instances can still place."""
    return sum(free_copies(i, size) for i in instances if i.status == "ACTIVE" and i.agent_connected)


def absorb(tasks: Sequence[Task], hosts: Sequence[ContainerInstance]) -> tuple[bool, list[ContainerInstance]]:
    """Would `tasks` fit on `hosts`' remaining CPU and memory (first fit, largest first)? Returns
    whether all fit and the hosts with what would be left, so several moves can be checked in turn."""
    rooms, unplaced = first_fit([TaskSize(t.memory, t.cpu) for t in tasks],
                                [Room(h.arn, h.remaining_cpu, h.remaining_memory) for h in hosts])
    if unplaced:
        return False, list(hosts)
    return True, [replace(h, remaining_cpu=room.cpu, remaining_memory=room.memory) for h, room in zip(hosts, rooms,
                                                                                                     strict=True)]
