"""The Cloud Run Job's entry point (`jiwa-job`): run the waves of job $JOB_ID.

Reads CLOUD_RUN_TASK_ATTEMPT (0-based) to know whether this is the last allowed try.
Exit 0 when done, non-zero to ask Cloud Run for a retry.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import resource
import signal
import sys
from collections.abc import Callable
from datetime import date

from jiwa import lifecycle, logs
from jiwa.clients import Clients
from jiwa.job.runner import JobRunner, Wave
from jiwa.launchers import STANDBY_VARIABLE
from jiwa.settings import SettingError, Settings
from jiwa.startup import bulk_imports

log = logging.getLogger("jiwa.job")
# how long a standby waits for its login when JIWA_STANDBY_SECONDS is not set here
DEFAULT_STANDBY_SECONDS = 300.0

PipelineFactory = Callable[[Clients], list[Wave]]


def load_pipeline(spec: str) -> PipelineFactory:
    """`module:attribute`, the attribute a callable building the waves from the clients."""
    module_name, _, attribute = spec.partition(":")
    factory: PipelineFactory = getattr(importlib.import_module(module_name), attribute)
    return factory


def warn_about_retirements(settings: Settings, today: date) -> list[str]:
    """Log (and return) a warning per configured model or Graph version that is retired
    or retires soon, naming the variable to change."""
    lines = lifecycle.warnings({"ANTHROPIC_MODEL": settings.anthropic_model,
                                "ANTHROPIC_SCORE_MODEL": settings.anthropic_score_model},
                               settings.graph_api_version, today)
    for line in lines:
        log.warning("job: %s", line)
    return lines


def admission_release(settings: Settings, clients: Clients) -> Callable[[str], int] | None:
    """When admission is on: at the job's end, free its slot and start whoever that lets
    in (the sweeper's minute-by-minute reclaim stays the backstop)."""
    if settings.admission_max_running is None:
        return None
    from jiwa.admission import publish_admitted
    from jiwa.admission_store import admission_for

    gate = admission_for(settings, clients.firestore)
    assert gate is not None
    return lambda job_id: publish_admitted(clients.store, clients.publisher,
                                           gate.release(job_id))


def prepare(settings: Settings) -> JobRunner:
    """The runner, with everything done before its first Firestore read (bench/start.py
    measures this; tests/unit/test_job_imports.py checks what it loads). The clients and
    the pipeline import more (Pub/Sub's client, the waves' modules): as at the start."""
    warn_about_retirements(settings, date.today())
    with bulk_imports():
        clients = Clients(settings)
        publisher = clients.publisher
        pipeline = load_pipeline(settings.pipeline)(clients)
    return JobRunner(clients.store, publisher, pipeline,
                     max_attempts=settings.job_max_attempts,
                     heartbeat_seconds=settings.heartbeat_seconds,
                     on_end=admission_release(settings, clients))


async def _run(settings: Settings, job_id: str, attempt: int) -> int:
    runner = prepare(settings)
    task = asyncio.current_task()
    assert task is not None
    # Cloud Run sends SIGTERM 10 s before SIGKILL: stop at once, leaving the last
    # checkpoint as it is, so the retry resumes cleanly.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        if os.environ.get(STANDBY_VARIABLE) == "1" and not await _stood_by(settings, runner,
                                                                           job_id):
            return 0
        return await runner.run(job_id, attempt)
    except asyncio.CancelledError:
        log.warning("job: stopped by SIGTERM", extra={"job_id": job_id, "attempt": attempt})
        return 143
    finally:
        # ru_maxrss is in KiB on Linux: sizing the Cloud Run task's memory comes from here.
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        log.info("job: process peak RSS %.1f MB", peak,
                 extra={"job_id": job_id, "attempt": attempt})


async def _stood_by(settings: Settings, runner: JobRunner, job_id: str) -> bool:
    """Started as the job's standby: whether the run was handed to this process."""
    from jiwa.job.standby import stand_by
    from jiwa.standby import Standbys

    seconds = settings.standby_seconds or DEFAULT_STANDBY_SECONDS
    return await stand_by(Standbys(runner.store), job_id, seconds)


def main() -> None:
    try:
        settings = Settings.from_env(required=["project"])
    except SettingError as exc:  # missing or invalid: exit non-zero, naming the variables
        sys.exit(f"jiwa-job: {exc}")
    logs.configure(settings.project, settings.log_level, settings.secret_values())
    job_id = os.environ.get("JOB_ID", "")
    if not job_id:
        sys.exit("jiwa-job: missing required setting(s): JOB_ID")
    attempt = int(os.environ.get("CLOUD_RUN_TASK_ATTEMPT", "0"))
    sys.exit(asyncio.run(_run(settings, job_id, attempt)))


if __name__ == "__main__":
    main()
