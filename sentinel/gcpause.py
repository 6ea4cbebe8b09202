"""`gc_paused()`: no cyclic garbage collection while a block builds many objects that form no cycle.

why: Sentinel's hot loops (a batch of packets decoded into events, the devices described and written at the end
of a run) allocate 10^4–10^5 container objects, none of them part of a reference cycle. A collection during such
a block can free nothing; it only rescans young objects over and over (with the default thresholds every 700
allocations: ~30 % of an in-process run of cap_100k; in the end phase of `sentinel analyze` on cap_1M, 0.31 of
the 0.89 s `Observer.devices()` took). Counting goes on while paused, so the first allocation after the block runs
one collection over everything it left alive. Reference counting frees memory as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    if not gc.isenabled():  # nested, or the caller has its own policy: leave it alone
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
