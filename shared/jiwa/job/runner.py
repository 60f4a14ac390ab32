"""Runs a job's waves with checkpoints, a heartbeat and deterministic progress events.

Retry ownership: a wave that raises fails this attempt; Cloud Run (`max_retries`) owns
re-running the process, which resumes after the last checkpointed wave. Only the last
allowed attempt marks the job FAILED and tells the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jiwa.events import EventPublisher, ProgressEvent, ProgressKind
from jiwa.failures import COMPLETED_SEQ, failure_event, user_facing
from jiwa.store import Job, JobStore, Status, now

log = logging.getLogger("jiwa.job")

@dataclass(frozen=True)
class Wave:
    number: int
    name: str
    run: Callable[[WaveContext], Awaitable[dict[str, Any]]]
    announce: bool = True  # send the "wave started" message


class WaveContext:
    """What a wave sees: the job, earlier waves' outputs, and a way to tell the user."""

    def __init__(self, runner: JobRunner, job: Job, wave: Wave,
                 outputs: dict[str, dict[str, Any]]) -> None:
        self._runner, self.job, self.wave, self.outputs = runner, job, wave, outputs

    async def emit(self, kind: ProgressKind, step: int, *, image_index: int | None = None,
                   image_count: int | None = None, **payload: str) -> None:
        """Publish step `step` (1..99) of this wave; the same step always has the same id."""
        await self._runner.emit(self.job, self.wave.number * 100 + step, kind,
                                wave=self.wave.number, wave_name=self.wave.name,
                                image_index=image_index, image_count=image_count,
                                payload=payload)


class JobRunner:
    def __init__(self, store: JobStore, publisher: EventPublisher, pipeline: list[Wave], *,
                 max_attempts: int = 2, heartbeat_seconds: float = 15.0,
                 on_end: Callable[[str], object] | None = None) -> None:
        """`on_end(job_id)` runs (in a thread) once the job is COMPLETED or FAILED for
        good: admission frees its slot there and starts the next in line."""
        numbers = [w.number for w in pipeline]
        if numbers != sorted(set(numbers)) or not all(1 <= n <= 9 for n in numbers):
            raise ValueError(f"waves must be numbered 1..9 in order, got {numbers}")
        self._store, self._publisher, self._pipeline = store, publisher, pipeline
        self._max_attempts, self._heartbeat_seconds = max_attempts, heartbeat_seconds
        self._on_end = on_end

    @property
    def store(self) -> JobStore:
        return self._store

    async def run(self, job_id: str, attempt: int) -> int:
        """The process exit code: 0 done (or nothing to do), 1 failed this attempt."""
        ctx = {"job_id": job_id, "attempt": attempt}
        job = self._store.require(job_id)
        if job.status in (Status.COMPLETED, Status.FAILED):
            log.info("job: already %s; nothing to do", job.status, extra=ctx)
            await self._ended(job_id)  # a retry after a crash between the end and this
            return 0
        job = await asyncio.to_thread(self._store.start_attempt, job_id, attempt)
        heartbeat = asyncio.create_task(self._beat(job_id))
        try:
            outputs = await self._run_waves(job)
            await self.emit(job, COMPLETED_SEQ, ProgressKind.COMPLETED,
                            payload=self._completion_payload(outputs))
            await asyncio.to_thread(self._store.complete, job_id)
            log.info("job: completed", extra={**ctx, "outcome": "completed"})
            await self._ended(job_id)
            return 0
        except Exception as exc:
            last = attempt + 1 >= self._max_attempts
            # "failed" only on the last attempt: a retried attempt is no failure yet
            log.exception("job: attempt failed%s", " (last attempt)" if last else "",
                          extra={**ctx, "outcome": "failed" if last else "retrying"})
            if last:
                await self._fail(job_id, exc)
                await self._ended(job_id)
            return 1
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _ended(self, job_id: str) -> None:
        if self._on_end is None:
            return
        try:
            await asyncio.to_thread(self._on_end, job_id)
        except Exception:  # the sweeper frees the slot within a minute anyway
            log.warning("job: ending hook failed", exc_info=True, extra={"job_id": job_id})

    async def _run_waves(self, job: Job) -> dict[str, dict[str, Any]]:
        """Every wave's output by name (finished earlier or now)."""
        finished = await asyncio.to_thread(self._store.checkpoints, job.id)
        outputs = {w.name: finished[w.number] for w in self._pipeline if w.number in finished}
        for wave in self._pipeline:
            if wave.number in finished:
                continue
            log.info("job: wave %d %s", wave.number, wave.name,
                     extra={"job_id": job.id, "wave": wave.number})
            started = now()
            await asyncio.to_thread(self._store.set_current_wave, job.id, wave.number)
            if wave.announce:
                await self.emit(job, wave.number * 100, ProgressKind.WAVE, wave=wave.number,
                                wave_name=wave.name)
            output = await wave.run(WaveContext(self, job, wave, outputs))
            await asyncio.to_thread(self._store.save_checkpoint, job.id, wave.number,
                                    wave.name, output, started)
            outputs[wave.name] = output
        return outputs

    def _completion_payload(self, outputs: dict[str, dict[str, Any]]) -> dict[str, str]:
        """The last wave may say what the final message holds (`completion`)."""
        last = outputs.get(self._pipeline[-1].name, {})
        return {str(k): str(v) for k, v in last.get("completion", {"images": "0"}).items()}

    async def _fail(self, job_id: str, exc: Exception) -> None:
        failure = user_facing(exc)
        job = self._store.require(job_id)
        wave = next((w for w in self._pipeline if w.number == job.current_wave), None)
        event = failure_event(job.id, job.run, job.current_wave, failure,
                              wave.name if wave else None)
        await self._send(event)
        await asyncio.to_thread(self._store.fail, job_id, failure.code,
                                f"wave {job.current_wave}: {type(exc).__name__}: {exc}")

    async def emit(self, job: Job, seq: int, kind: ProgressKind, *, wave: int = 0,
                   wave_name: str = "", image_index: int | None = None,
                   image_count: int | None = None, payload: dict[str, str] | None = None,
                   ) -> None:
        event = ProgressEvent(
            event_id=ProgressEvent.make_id(job.id, job.run, seq), job_id=job.id, run=job.run,
            seq=seq, kind=kind, wave=wave, wave_name=wave_name, image_index=image_index,
            image_count=image_count, payload=payload or {})
        await self._send(event)

    async def _send(self, event: ProgressEvent) -> None:
        """Log the event (the timeline replay reads), then publish it (what the user gets)."""
        await asyncio.to_thread(self._store.log_event, event)
        await asyncio.to_thread(self._publisher.publish_progress, event)

    async def _beat(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                await asyncio.to_thread(self._store.heartbeat, job_id)
            except Exception:
                log.warning("job: heartbeat failed", exc_info=True, extra={"job_id": job_id})
