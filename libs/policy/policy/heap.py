"""The heap built at start-up, frozen out of the cyclic garbage collector (p99).

A worker's heap after start-up (modules, settings, compiled statements and templates,
caches) is some 200,000 tracked objects that live as long as the process. Every
full (generation 2) collection walks all of them: about 70 to 160 ms of CPU on the
2-core bench machine, during which the event loop answers nothing, a pause that
lands in the p99 of whichever requests wait behind it. `gc.freeze()` moves them to
the permanent generation, which collections skip (a full collection then takes well
under a millisecond); objects made later are collected as before.

Once per process, after the lifespan's start-up; not in the `test` environment,
where one process starts many apps and a frozen object that later becomes garbage
would never be freed.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap(environment: str) -> bool:
    """Collect, then freeze what is left; True when it did (first call, not `test`)."""
    global _frozen
    if environment == "test" or _frozen:
        return False
    gc.collect()
    gc.freeze()
    _frozen = True
    return True
