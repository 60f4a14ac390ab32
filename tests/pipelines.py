"""Test pipelines for the job runner: nine waves named like the real ones, steered per
phone by a `testControl/{phone}` document (kill the process, fail a wave)."""

from __future__ import annotations

import os
import signal
from typing import Any

from jiwa.clients import Clients
from jiwa.events import ProgressKind
from jiwa.job.runner import Wave, WaveContext, WaveFailedError
from jiwa.waves import build_pipeline

NAMES = ["profile", "website", "brand", "products", "influencers", "calendar", "prompts",
         "images", "quality"]
SUMMARY_WAVES = {3: "brand", 6: "calendar"}


def build(clients: Clients) -> list[Wave]:
    """The test waves, or the real ones for a job whose phone asks for them."""
    control = clients.firestore.collection("testControl")
    job = clients.store.get(os.environ.get("JOB_ID", ""))
    rules = (control.document(job.phone).get().to_dict() or {}) if job else {}
    # One record per job process, so tests can count how often the job really ran.
    clients.firestore.collection("testRuns").add({
        "jobId": os.environ.get("JOB_ID"), "pid": os.getpid(),
        "attempt": int(os.environ.get("CLOUD_RUN_TASK_ATTEMPT", "0"))})
    if rules.get("pipeline") == "real":
        return build_pipeline(clients)

    def make(number: int) -> Any:
        async def run(ctx: WaveContext) -> dict[str, Any]:
            rules = control.document(ctx.job.phone).get().to_dict() or {}
            attempt = int(os.environ.get("CLOUD_RUN_TASK_ATTEMPT", "0"))
            lost = ctx.job.dispatch < rules.get("kill_dispatches", 99)
            if rules.get("kill_at_wave") == number and attempt < rules.get("kill_attempts", 1) \
                    and lost:
                os.kill(os.getpid(), signal.SIGKILL)
            if rules.get("fail_at_wave") == number:
                raise WaveFailedError("test_failure", "the test said so", "tes memintanya")
            if number in SUMMARY_WAVES:
                await ctx.emit(ProgressKind.SUMMARY, 50, summary=f"summary of wave {number}")
            return {"wave": number, "attempt": attempt}
        return run

    return [Wave(n, name, make(n)) for n, name in enumerate(NAMES, 1)]
