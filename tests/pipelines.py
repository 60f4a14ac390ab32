"""Test pipelines for the job runner: nine waves named like the real ones (or the real
ones themselves), steered per phone by a `testControl/{phone}` document:

  pipeline: "real"        run the real waves instead of the test waves
  kill_at_wave: k         SIGKILL the process when wave k starts …
  kill_attempts: n        … on attempts below n (default 1: Cloud Run's retry succeeds)
  kill_dispatches: d      … only while the job's dispatch number is below d
  kill_after_images: i    SIGKILL once i images are stored (watched from real wave 6,
                          where the first images start, and again from wave 8)
  fail_at_wave: k         raise a WaveFailedError in wave k
  sigterm_at_wave: k      SIGTERM the process (as Cloud Run does on stop) in wave k,
                          on the first attempt
  hold_at_wave: k         wait at the start of wave k (after its "started" message) …
  release_file: path      … until this file exists (a file, not Firestore, so the test
                          can release the job while an emulator is down)
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from jiwa.clients import Clients
from jiwa.events import ProgressKind
from jiwa.failures import WaveFailedError
from jiwa.job.runner import Wave, WaveContext
from jiwa.waves import build_pipeline

NAMES = ["profile", "website", "brand", "products", "influencers", "calendar", "prompts",
         "images", "quality"]
SUMMARY_WAVES = {3: "brand", 6: "calendar"}
RunFn = Callable[[WaveContext], Awaitable[dict[str, Any]]]


def build(clients: Clients) -> list[Wave]:
    control = clients.firestore.collection("testControl")
    job = clients.store.get(os.environ.get("JOB_ID", ""))
    rules = (control.document(job.phone).get().to_dict() or {}) if job else {}
    attempt = int(os.environ.get("CLOUD_RUN_TASK_ATTEMPT", "0"))
    # One record per job process, so tests can count how often the job really ran.
    clients.firestore.collection("testRuns").add({
        "jobId": os.environ.get("JOB_ID"), "pid": os.getpid(), "attempt": attempt})

    def steer(number: int, run: RunFn) -> RunFn:
        async def steered(ctx: WaveContext) -> dict[str, Any]:
            doomed = (attempt < rules.get("kill_attempts", 1)
                      and ctx.job.dispatch < rules.get("kill_dispatches", 99))
            if rules.get("kill_at_wave") == number and doomed:
                os.kill(os.getpid(), signal.SIGKILL)
            if rules.get("sigterm_at_wave") == number and attempt == 0:
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.sleep(30)  # cancelled by the job's SIGTERM handler
            if rules.get("hold_at_wave") == number:
                while not os.path.exists(rules["release_file"]):
                    await asyncio.sleep(0.05)
            if rules.get("fail_at_wave") == number:
                raise WaveFailedError("test_failure", "the test said so", "tes memintanya")
            if number in (6, 8) and rules.get("kill_after_images") and doomed:
                asyncio.get_running_loop().create_task(
                    _kill_after(clients, ctx.job.id, int(rules["kill_after_images"])))
            return await run(ctx)
        return steered

    waves = build_pipeline(clients) if rules.get("pipeline") == "real" else [
        Wave(n, name, _test_wave(n, attempt)) for n, name in enumerate(NAMES, 1)]
    return [Wave(w.number, w.name, steer(w.number, w.run), w.announce) for w in waves]


def _test_wave(number: int, attempt: int) -> RunFn:
    async def run(ctx: WaveContext) -> dict[str, Any]:
        if number in SUMMARY_WAVES:
            await ctx.emit(ProgressKind.SUMMARY, 50, summary=f"summary of wave {number}")
        return {"wave": number, "attempt": attempt}
    return run


async def _kill_after(clients: Clients, job_id: str, images: int) -> None:
    while len(await asyncio.to_thread(clients.store.images, job_id)) < images:
        await asyncio.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
