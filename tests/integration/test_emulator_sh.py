"""`./emulator.sh` as a developer uses it: up, status, demo, then down leaves no process
of the stack running."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_up_status_demo_down(tmp_path: Path) -> None:
    """A developer's session: up, status, the demo on the running stack, down. One stack
    for both (the demo started alone adds scaled provider latencies; its own run of that
    is `./emulator.sh demo`, which the README times)."""
    # A copy of the script pointed at its own state folder, so a developer's running
    # stack is neither used nor stopped.
    env = {**os.environ, "JIWA_STATE_DIR": str(tmp_path / "state")}
    run = lambda *args: subprocess.run(  # noqa: E731
        [str(ROOT / "emulator.sh"), *args], env=env, capture_output=True, text=True,
        timeout=240, check=False)
    up = run("up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "JIWA_WEBHOOK_URL=http://127.0.0.1:" in up.stdout
        assert "STORAGE_EMULATOR_HOST=http://127.0.0.1:" in up.stdout  # with its scheme
        state = (tmp_path / "state/stack.json")
        pids = json.loads(state.read_text())["pids"]
        assert set(pids) >= {"pubsub", "firestore", "storage", "standins", "whatsapp_webhook",
                             "instagram_oauth", "dispatcher", "notifier"}
        assert all(_group_alive(p) for p in pids.values())
        status = run("status")
        assert status.stdout.count(" up") == len(pids)
        demo = run("demo")
        assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    finally:
        down = run("down")
    assert down.returncode == 0, down.stderr
    assert not any(_group_alive(p) for p in pids.values())
    assert not state.exists()
    out = demo.stdout
    assert "stack already running" in out  # the demo used the stack that was up
    assert "WhatsApp ▸ Mempelajari bisnis Anda…" in out
    assert out.count("WhatsApp ▸ [image] Gambar") == 6
    assert "WhatsApp ▸ Semua 6 gambar siap!" in out
    assert "status COMPLETED" in out and "./emulator.sh down" in out
    saved = out.split("Previews saved in ")[1].split("\n")[0].strip()
    assert len(list(Path(saved).glob("preview-*.jpg"))) == 6
