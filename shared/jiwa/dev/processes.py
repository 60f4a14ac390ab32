"""Process groups and ports for the local tools: every process they start leads its own
group and is stopped by that group, never by name."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import time

_HANDED_OUT: set[int] = set()


def _ephemeral_start() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
            return int(ports.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port the kernel hands out (bind
    to 0) is in that range, so between our check and the server's bind any outgoing
    connection can take it: a busy test stack did ("Address already in use")."""
    top = _ephemeral_start()
    for _ in range(200):
        port = random.randrange(max(1024, top - 12000), top)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as s:  # nothing free below the range: let the kernel choose
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int) -> bool:
    """Whether `pid` still runs (a child of ours that has exited is reaped here)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_group(pid: int, grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the process group led by `pid`; SIGKILL what is left after `grace`
    seconds, and return once the group is gone (its ports free again)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    if not _group_gone(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _group_gone(pid, 5.0)


def stop_groups(pids: list[int], grace: float = 5.0) -> None:
    """`stop_group` for several groups at once: each gets SIGTERM now and its grace
    together with the others (a stack's processes stopped one by one took 18 s, most of
    it waiting out graces in turn); SIGKILL for what is left."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    left = [pid for pid in pids if not _group_gone(pid, max(0.0, deadline - time.monotonic()))]
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    for pid in left:
        _group_gone(pid, 5.0)


def _group_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        alive(pid)  # reap our own child so the group can disappear
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
