"""A cold start's imports, without the cyclic garbage collector walking them.

Importing the job's code creates a few hundred thousand objects (modules, classes,
functions, their dicts) and keeps nearly all of them. Python's collector runs every 2,000
or so new objects and, as the older generations grow, walks what the imports made again
and again, freeing almost nothing. So `bulk_imports` pauses it while the imports run, then
moves everything they made to the permanent generation (`gc.freeze`, Python docs, "gc"),
where no later collection walks it: the runner is ready sooner, and the job's own work
is collected among its own objects only. Re-enabling without the freeze would leave all
of them in the youngest generation, walked at the next collections: slower than never
pausing (measured here, bench/results/start-comparison.md; docs/decisions/0017).

Used at a process's start (the job's command, the warm job starter, each function's
module) and around the job's later bursts of imports: the Claude SDK (about 1.7 s of CPU,
in a thread while waves 1 and 2 run), each wave's module, the later waves' preload.
Whatever is alive at a freeze is never collected as a cycle afterwards: at a start that
is the imports alone; in the job, also the few objects its waves hold at that moment,
a bounded amount for a process that lives a few minutes.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def leave_out_httpx_cli() -> None:
    """httpx imports its command-line client's modules (rich, click, pygments: about 0.1 s
    of CPU here) whenever they are installed, and rich is, for `jiwa`'s tables. None of our
    processes runs that client, so its module is marked absent before httpx is first
    imported (a None entry in sys.modules makes its import raise ModuleNotFoundError: the
    import system reference); httpx/__init__.py catches that and defines a stub `main`.
    Too late once httpx is loaded (then nothing changes)."""
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: absent


# Blocks can overlap across threads (the Claude SDK's import and the later waves' preload
# run in threads while the event loop imports a wave's module): the first block to open
# pauses the collector and the last to close resumes it. A block that restored what it
# found would, ending first, turn the collector back on under the other thread's imports.
_blocks = threading.Lock()
_open = 0
_resume = False


@contextmanager
def bulk_imports() -> Iterator[None]:
    """Run the block's imports with the collector paused; freeze what exists after, if
    the block imported anything (a wave whose module is loaded freezes nothing). The
    collector runs again, if it ran before, once no block is open in any thread. Every
    process of ours starts its imports here, so this is also where httpx's CLI is left
    out (`leave_out_httpx_cli`)."""
    global _open, _resume
    leave_out_httpx_cli()
    with _blocks:
        if _open == 0:
            _resume = gc.isenabled()
            gc.disable()
        _open += 1
    modules = len(sys.modules)
    try:
        yield
    finally:
        with _blocks:
            if len(sys.modules) != modules:
                gc.freeze()
            _open -= 1
            if _open == 0 and _resume:
                gc.enable()
