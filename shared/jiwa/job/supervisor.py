"""Local stand-in for Cloud Run's task retry: run `jiwa.job` until it exits 0 or the
attempts (JIWA_JOB_MAX_ATTEMPTS, like Cloud Run's max_retries + 1) are used up."""

from __future__ import annotations

import os
import subprocess
import sys

from jiwa.settings import SettingError, Settings


def main() -> int:
    try:
        attempts = Settings.from_env().job_max_attempts
    except SettingError as exc:  # the variable's name, not a traceback
        sys.exit(f"jiwa-job: {exc}")
    code = 1
    for attempt in range(attempts):
        env = {**os.environ, "CLOUD_RUN_TASK_ATTEMPT": str(attempt),
               "CLOUD_RUN_EXECUTION": os.environ.get("CLOUD_RUN_EXECUTION", "local")}
        code = subprocess.call([sys.executable, "-m", "jiwa.job"], env=env)
        if code == 0:
            break
    return code


if __name__ == "__main__":
    sys.exit(main())
