"""Forked local function starts (the test stacks': docs/decisions/0018).

Each of a stack's five functions is a functions-framework server of its own. Started as
`python -m functions_framework`, every one of them spent about 1 s of CPU on the same
imports (Flask, gunicorn, the Google clients, our handlers) before serving: 5.5 s of the
10 s a stack's start costs, and a test run starts nine stacks on two cores. This process
imports them once and forks one child per function. Each child becomes a session (process
group) of its own, writes to its own log and runs functions-framework's command, which
loads the function's main.py and serves it with functions-framework's gunicorn server,
exactly as `python -m functions_framework` does: each function is still a separate
process, stopped by its own pid. `./emulator.sh up` keeps cold starts (one interpreter
per function, as Cloud Run starts them).

Protocol (`start`, the stack's side): argv[1] names a file, readable by its owner only
(the environments hold the stack's keys), of a JSON list of {"name", "argv"
(functions-framework's arguments), "env" (the function's whole environment), "log" (a
file to append to)}, which this process reads and deletes; once every child is forked,
{name: pid} is written as one JSON line on the file descriptor argv[2]. Then this process
waits for its children and exits when they are all gone.

Nothing here opens a connection or starts a thread before it forks: the Google clients
and gRPC's core are created in each child, at its first request.
"""

from __future__ import annotations

import importlib
import json
import os
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jiwa.startup import bulk_imports

PRELOAD = ("functions_framework", "functions_framework._cli",
           "functions_framework._http.gunicorn", "jiwa.app")


def preload() -> None:
    with bulk_imports():  # as each function's main.py does: see jiwa.startup
        for name in PRELOAD:
            importlib.import_module(name)


def run_function(spec: dict[str, Any]) -> None:
    """In a forked child: functions-framework's command for this function, until its server
    stops. The child then leaves through the interpreter's ordinary shutdown, as `python -m
    functions_framework` does (an error escapes as it would there: a traceback, exit 1)."""
    os.setsid()
    log = os.open(spec["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    for source, target in ((null, 0), (log, 1), (log, 2)):
        os.dup2(source, target)
    os.environ.clear()
    os.environ.update(spec["env"])
    from functions_framework import _cli, _function_registry

    _function_registry.REGISTRY_MAP.clear()  # each child registers its own main.py
    _cli._cli.main(args=spec["argv"], prog_name="functions_framework", standalone_mode=False)


def start(specs: list[dict[str, Any]], folder: Path, spawn: Callable[[list[str], int], None],
          timeout: float = 60.0) -> dict[str, int] | None:
    """Run this module through `spawn(command, fd)` (which must pass `fd` on) and return
    each function's pid, or None when the host exited, or took over `timeout` seconds,
    before it forked them."""
    path = folder / f"functions-{os.getpid()}-{time.monotonic_ns()}.json"
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(json.dumps(specs))
    read, write = os.pipe()
    try:
        spawn([sys.executable, "-m", "jiwa.dev.functions_host", str(path), str(write)], write)
    finally:
        os.close(write)
    with os.fdopen(read) as replies:
        # a host that hangs before it forks fails the start, as a server that never
        # answers does (Stack._wait_http)
        line = replies.readline() if select.select([replies], [], [], timeout)[0] else ""
    path.unlink(missing_ok=True)
    return json.loads(line) if line else None


def main() -> None:
    path = Path(sys.argv[1])
    specs: list[dict[str, Any]] = json.loads(path.read_text())
    path.unlink(missing_ok=True)
    replies = os.fdopen(int(sys.argv[2]), "w")
    preload()
    pids = {}
    for spec in specs:
        pid = os.fork()
        if pid == 0:
            replies.close()
            run_function(spec)
            sys.exit(0)
        pids[spec["name"]] = pid
    replies.write(json.dumps(pids) + "\n")
    replies.close()
    for _ in pids:
        try:
            os.wait()
        except ChildProcessError:
            break


if __name__ == "__main__":
    main()
