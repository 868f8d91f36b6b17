"""Bin packing of tasks onto free room: the arithmetic both placement-driven scale-out and
consolidation rest on. Pure functions over task sizes (CPU units, MiB), no I/O.

Two fits, for two questions:
- first fit decreasing (`first_fit`): how many new instances a set of tasks needs, and whether a
  reserve of tasks still fits somewhere (the question ECS's own placement does not answer for us);
- best fit decreasing on memory (`best_fit`): where ECS puts tasks moved off a drained instance,
  as its `binpack` strategy on memory does (the instance with the least memory left that fits).
  A consolidation first moves the tasks that way, then checks the reserve by first fit in what is
  left, so the room it counts on is room ECS really leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # capacity.py fits tasks with these functions
    from .capacity import TaskSize


@dataclass(frozen=True)
class Room:
    """Free CPU units and MiB on one instance (a running one, or one asked for and still booting)."""

    key: str
    cpu: int
    memory: int

    def holds(self, task: TaskSize) -> bool:
        return self.cpu >= task.cpu and self.memory >= task.memory

    def minus(self, task: TaskSize) -> Room:
        return Room(self.key, self.cpu - task.cpu, self.memory - task.memory)


def decreasing(tasks: Sequence[TaskSize]) -> list[TaskSize]:
    """Largest first, by memory then CPU (TaskSize's order): the order both fits place in."""
    return sorted(tasks, reverse=True)


def first_fit(tasks: Sequence[TaskSize], rooms: Sequence[Room]) -> tuple[list[Room], list[TaskSize]]:
    """Place `tasks` largest first, each in the first room that holds it. Returns the rooms with
    what is left in them and the tasks that fit nowhere."""
    left = list(rooms)
    unplaced: list[TaskSize] = []
    for task in decreasing(tasks):
        spot = next((i for i, room in enumerate(left) if room.holds(task)), None)
        if spot is None:
            unplaced.append(task)
        else:
            left[spot] = left[spot].minus(task)
    return left, unplaced


def best_fit(tasks: Sequence[TaskSize], rooms: Sequence[Room]) -> tuple[list[Room], list[TaskSize]]:
    """Place `tasks` largest first, each in the room with the least memory left that holds it
    (ECS's binpack on memory; ties by CPU, then by the rooms' order)."""
    left = list(rooms)
    unplaced: list[TaskSize] = []
    for task in decreasing(tasks):
        fitting = [i for i, room in enumerate(left) if room.holds(task)]
        if not fitting:
            unplaced.append(task)
            continue
        spot = min(fitting, key=lambda i: (left[i].memory, left[i].cpu, i))
        left[spot] = left[spot].minus(task)
    return left, unplaced


def new_instances(tasks: Sequence[TaskSize], shape: TaskSize, limit: int | None = None) -> tuple[int, list[TaskSize]]:
    """How many new instances of `shape` (registered memory and CPU) first fit decreasing opens
    for `tasks`, at most `limit` of them; returns that count and the tasks they do not hold
    (tasks larger than the shape, or beyond the limit)."""
    opened: list[Room] = []
    unplaced: list[TaskSize] = []
    for task in decreasing(tasks):
        spot = next((i for i, room in enumerate(opened) if room.holds(task)), None)
        if spot is None:
            fresh = Room(f"new-{len(opened)}", shape.cpu, shape.memory)
            if not fresh.holds(task) or (limit is not None and len(opened) >= limit):
                unplaced.append(task)
                continue
            opened.append(fresh)
            spot = len(opened) - 1
        opened[spot] = opened[spot].minus(task)
    return len(opened), unplaced
