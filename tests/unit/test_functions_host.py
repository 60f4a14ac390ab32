"""The stack's side of forked function starts (jiwa.dev.functions_host.start): a host that
dies or hangs before it forks fails the start instead of holding it up, and the file
holding the functions' environments is readable by its owner only and gone afterwards."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from jiwa.dev import functions_host

SPECS = [{"name": "sweeper", "argv": [], "env": {"WHATSAPP_APP_SECRET": "s"}, "log": "x"}]


def test_a_host_that_exits_or_hangs_before_forking_gives_no_pids(tmp_path: Path) -> None:
    modes: list[int] = []
    started: list[subprocess.Popen[bytes]] = []

    def spawn(command: list[str], fd: int, program: list[str]) -> None:
        specs = Path(command[-2])
        modes.append(stat.S_IMODE(specs.stat().st_mode))
        started.append(subprocess.Popen(program, pass_fds=(fd,)))

    try:
        assert functions_host.start(SPECS, tmp_path, lambda c, fd: spawn(c, fd, ["true"])) \
            is None
        assert functions_host.start(SPECS, tmp_path,
                                    lambda c, fd: spawn(c, fd, ["sleep", "30"]),
                                    timeout=0.5) is None
    finally:
        for process in started:
            process.kill()
            process.wait()
    assert modes == [0o600, 0o600] and list(tmp_path.iterdir()) == []
