"""jiwa.dev.stack: a server whose port was taken before it could bind is told apart from
other start failures, so that the stack starts again on new ports (CI, session 26: the
stand-ins' port was taken, and every test of that worker's stack errored)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from jiwa.dev.emulators import StackError
from jiwa.dev.stack import PortTakenError, Stack


def _exits_at_start(tmp_path: Path, output: str) -> Stack:
    stack = Stack(tmp_path / "stack", project="ports-unit")
    Path(stack.state.log_dir).mkdir(parents=True)
    # the stand-ins' process, failing as Werkzeug's make_server does on a taken port
    stack._spawn("standins", [sys.executable, "-c", f"print({output!r}); raise SystemExit(1)"],
                 {})
    return stack  # _wait_http polls until it sees the process gone


def test_a_taken_port_is_told_apart_from_other_failures(tmp_path: Path) -> None:
    stack = _exits_at_start(tmp_path, "Port 31113 is in use by another program.")
    with pytest.raises(PortTakenError, match="standins exited at start"):
        stack._wait_http("meta", timeout=5)  # a stand-in: its process is "standins"


def test_another_failure_at_start_is_not_retried(tmp_path: Path) -> None:
    stack = _exits_at_start(tmp_path, "KeyError: 'WHATSAPP_APP_SECRET'")
    with pytest.raises(StackError) as raised:
        stack._wait_http("anthropic", timeout=5)
    assert not isinstance(raised.value, PortTakenError)
