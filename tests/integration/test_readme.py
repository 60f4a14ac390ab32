"""The README's shell blocks marked `<!-- readme-test: stack -->` run as written, against
a test stack, the way a newcomer would paste them."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import Harness

from jiwa.dev.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
MARKED = re.compile(r"<!-- readme-test: stack -->\n```bash\n(.*?)```", re.S)


def blocks() -> list[str]:
    return MARKED.findall((ROOT / "README.md").read_text())


def test_the_marked_blocks_exist() -> None:
    assert len(blocks()) >= 1


def test_playing_the_user_by_hand_works_as_written(stack: Stack, harness: Harness) -> None:
    script = blocks()[0]
    # a newcomer's shell: nothing of the test process's Google settings, only what the
    # block itself sources
    env = {k: v for k, v in os.environ.items() if k not in {
        "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "PUBSUB_EMULATOR_HOST",
        "FIRESTORE_EMULATOR_HOST"}}
    env |= {"JIWA_STATE_DIR": str(stack.state_dir), "COLUMNS": "80", "TERM": "dumb"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "Instagram terhubung" in out  # the login page, in the language /daftar chose
    assert "Mempelajari bisnis Anda" in out  # a progress message reached the stand-in
    job = harness.job_for("6281234567890")
    assert job.id in out, "jiwa jobs list must show the whole job id in 80 columns"
