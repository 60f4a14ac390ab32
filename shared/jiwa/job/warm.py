"""Warm local job starts (JIWA_LOCAL_JOB_START=warm, docs/decisions/0015).

A local job's interpreter spends about 3 s of CPU importing the job's code (the anthropic
SDK alone 1.5-2 s, the Google clients 0.8 s) before it does anything. On a laptop that is
a cold start like Cloud Run's and is kept by default; in the test suite, where a hundred
jobs start on two cores, it was a quarter of the suite's CPU. This process imports that
code once and forks a supervisor per job (`jiwa.job.supervisor`, which forks each attempt
in turn): every attempt is still a fresh process, killed or retried as before, only not
a fresh interpreter.

Protocol: the launcher writes one JSON object per line on our stdin (the job's whole
environment) and reads the supervisor's pid, one line each, from the file descriptor
named in argv[1]. When stdin closes (the launcher's process is gone) we exit; the jobs
already started carry on.

Nothing here opens a connection or starts a thread before it forks: gRPC starts its core
(and its threads) with the first channel, which only the forked attempt creates.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import IO

from jiwa.startup import bulk_imports

# The job's entry point and the SDK the waves load first; then every wave's module
# (jiwa.waves.MODULES), what the later waves warm up, and the pipeline JIWA_PIPELINE names.
PRELOAD = ("jiwa.job.__main__", "anthropic", "jiwa.ai")


def preload(environ: dict[str, str]) -> None:
    from jiwa.waves import MODULES
    from jiwa.waves.preload import later_waves

    pipeline = environ.get("JIWA_PIPELINE", "").partition(":")[0]
    waves = [f"jiwa.waves.{name}" for name, _ in MODULES]
    # paused collection, then frozen: faster, and the forked jobs share these pages
    # instead of copying each one a collection would have written to
    with bulk_imports():
        for name in (*PRELOAD, *waves, *([pipeline] if pipeline else [])):
            importlib.import_module(name)
        later_waves(None)


def serve(requests: IO[str], replies: IO[str]) -> Callable[[], int] | None:
    """Fork a supervisor per request. Returns None in this process when `requests` ends;
    in each forked child, the supervisor to run (the caller exits with its code, so the
    child leaves through the interpreter's ordinary shutdown, as a cold job does)."""
    # The supervisors are the kernel's to reap: none lingers as a zombie, so the
    # launcher's is_running sees a finished one as gone.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in requests:
        environ = json.loads(line)
        pid = os.fork()
        if pid == 0:
            return _child(environ, requests, replies)
        replies.write(f"{pid}\n")
        replies.flush()
    return None


def _child(environ: dict[str, str], requests: IO[str], replies: IO[str]) -> Callable[[], int]:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the supervisor waits on its attempts
    requests.close()
    replies.close()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # as the cold launcher's stdin=DEVNULL
    os.close(null)
    os.environ.clear()
    os.environ.update(environ)
    from jiwa.job import supervisor

    return lambda: supervisor.main(fork_attempts=True)


def main() -> None:
    replies = os.fdopen(int(sys.argv[1]), "w")
    preload(dict(os.environ))
    run = serve(sys.stdin, replies)
    if run is not None:
        sys.exit(run())


if __name__ == "__main__":
    main()
