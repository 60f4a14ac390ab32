"""Local stand-in for Cloud Run's task retry: run `jiwa.job` until it exits 0 or the
attempts (JIWA_JOB_MAX_ATTEMPTS, like Cloud Run's max_retries + 1) are used up.

Each attempt is a new process: a new interpreter, or (`fork_attempts`, from
jiwa.job.warm) a fork of this one, which has imported the job's code and done nothing
else."""

from __future__ import annotations

import os
import subprocess
import sys


def _attempt(attempt: int, fork: bool) -> int:
    env = {"CLOUD_RUN_TASK_ATTEMPT": str(attempt),
           "CLOUD_RUN_EXECUTION": os.environ.get("CLOUD_RUN_EXECUTION", "local")}
    if not fork:
        return subprocess.call([sys.executable, "-m", "jiwa.job.start"], env={**os.environ, **env})
    pid = os.fork()
    if pid == 0:
        os.environ.update(env)
        from jiwa.job.start import main as run_job

        run_job()  # exits, through the frames above, with the job's code
        raise SystemExit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)  # -9 when killed, as subprocess reports


def main(fork_attempts: bool = False) -> int:
    # The first attempt starts before the settings are read: there is always one, and
    # reading them (pydantic) would delay the job's first progress event by a few hundred
    # milliseconds of CPU, on every local dispatch. A bad setting stops that attempt in
    # its own Settings.from_env, before it does anything, and then stops us below.
    code = _attempt(0, fork_attempts)
    if code == 0:
        return 0
    from jiwa.settings import SettingError, Settings

    try:
        attempts = Settings.from_env().job_max_attempts
    except SettingError as exc:  # the variable's name, not a traceback
        sys.exit(f"jiwa-job: {exc}")
    for attempt in range(1, attempts):
        code = _attempt(attempt, fork_attempts)
        if code == 0:
            break
    return code


if __name__ == "__main__":
    sys.exit(main())
