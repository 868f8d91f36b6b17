"""The cyclic garbage collector paused while a planner walks a large snapshot."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection inside. A planner's pass over a cluster allocates
    an object or two a task (endpoints, candidates) that live until the pass ends, and no
    reference cycle: a collection during it would find nothing to free, yet enough new objects
    make CPython sweep its whole heap (the snapshot with it) about once a pass in a large
    cluster, costing more than the pass. Collection resumes as it was (another thread may have
    paused it); what the pass allocates is counted at the next collection as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
