"""Warm local job starts (jiwa.job.warm, the test stacks' JIWA_LOCAL_JOB_START=warm): each
job runs in its own process forked from the warm one, jobs started carry on when the warm
process dies, and the next start brings up another. The cold start keeps its own tests:
test_emulator_sh.py's stack and the Cloud Run stand-in's executions in test_quotas.py
start jobs cold (docs/decisions/0015)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from harness import Harness, new_phone, parent_pid, wait_for

from jiwa.launchers import WarmStarter


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return [int(c) for c in children.read().split()]


def test_jobs_fork_from_the_warm_process_and_outlive_it(harness: Harness,
                                                        tmp_path: Path) -> None:
    starter = WarmStarter()
    env = {k: v for k, v in harness.state.env.items() if k != "JOB_ID"}
    release = tmp_path / "release"
    held = new_phone()
    harness.control(held, hold_at_wave=2, release_file=str(release))
    job = harness.queued_job(held)
    supervisor = starter.start({**env, "JOB_ID": job.id})
    warm = starter.pid
    assert warm is not None and supervisor != warm
    # the job holds at wave 2: its supervisor is the warm process's child, and the
    # attempt the supervisor's child (a process of its own, as a cold attempt is)
    wait_for(lambda: harness.store.require(job.id).current_wave == 2, 60, "wave 2")
    assert parent_pid(supervisor) == warm
    attempts = _children(supervisor)
    assert len(attempts) == 1 and attempts[0] not in (warm, supervisor)

    os.kill(warm, signal.SIGKILL)  # ours: the starter started it
    wait_for(lambda: starter.pid is None or not os.path.exists(f"/proc/{warm}"), 10,
             "the warm process gone")
    release.touch()
    assert harness.wait_status(job.id, "COMPLETED", "FAILED", timeout=60).status \
        == "COMPLETED"

    after = harness.queued_job(new_phone())
    assert starter.start({**env, "JOB_ID": after.id}) > 0
    assert starter.pid not in (None, warm)  # a new warm process
    assert harness.wait_status(after.id, "COMPLETED", "FAILED", timeout=60).status \
        == "COMPLETED"
    starter.stop()
    assert starter.pid is None
