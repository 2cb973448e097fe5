"""Pausing Python's cycle collector over work whose objects all live until it ends.

The cycle collector runs after every few hundred allocations and walks the objects made
since; those that survive move to older generations, until a full collection walks
every object of the process. A SQL statement's tree is thousands of sqlglot nodes, each
pointing at its parent, that all live until the statement is written: collections
meanwhile free nothing, and the nodes they promote bring the next full collection
closer (one fell inside most whole-catalog renderings and doubled them). Paused, the
nodes are walked once, when the pause ends, and freed as the garbage they have become.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector for the ``with`` block; reference counting still frees.

    A collector paused by the caller (``gc.disable()``) stays paused afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = ["paused_cycle_collection"]
