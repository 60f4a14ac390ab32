"""The sweeper (Cloud Scheduler, every few minutes): no job stays stuck or silent.

- AWAITING_AUTH past the login window: FAILED, the user told (they may /daftar again).
- RUNNING with a stale heartbeat, or QUEUED too long, whose execution is not running:
  re-dispatched once (resuming from its checkpoints), then FAILED and the user told.
The failure event has the job's own failure id, so a user already told is not told twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import timedelta

from jiwa.admission import Admission, publish_admitted
from jiwa.events import EventPublisher, OnboardingRequested
from jiwa.failures import WaveFailedError, failure_event
from jiwa.launchers import Launcher
from jiwa.store import IllegalTransitionError, Job, JobStore, Status, now

log = logging.getLogger("jiwa.sweeper")

class Sweeper:
    def __init__(self, store: JobStore, publisher: EventPublisher, launcher: Launcher, *,
                 stale_heartbeat: timedelta, queued_timeout: timedelta,
                 login_window: timedelta, max_redispatches: int = 1,
                 admission: Admission | None = None) -> None:
        self._store, self._publisher, self._launcher = store, publisher, launcher
        self._stale, self._queued, self._login = stale_heartbeat, queued_timeout, login_window
        self._max_redispatches = max_redispatches
        self._admission = admission

    def sweep(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        t = now()
        for job in self._store.stale(Status.AWAITING_AUTH, "createdAt", t - self._login):
            self._fail(job, "login_expired", counts)
        lost = self._store.stale(Status.RUNNING, "heartbeatAt", t - self._stale) + \
            self._store.stale(Status.QUEUED, "queuedAt", t - self._queued)
        for job in lost:
            if self._admission is not None and self._admission.is_waiting(job.id):
                counts["in_line"] += 1  # QUEUED because it waits its turn, not lost
                continue
            if job.execution and self._launcher.is_running(job.execution):
                counts["still_running"] += 1
                continue
            if job.redispatches < self._max_redispatches:
                self._redispatch(job, counts)
            else:
                self._fail(job, "job_lost", counts)
        line: dict[str, object] = {}
        if self._admission is not None:
            self._admit(counts)
            length, waited = self._admission.line()
            line = {"queue_length": length, "oldest_wait_seconds": round(waited, 1)}
        log.info("sweeper: %s", dict(counts) or "nothing to do", extra=line)
        return dict(counts)

    def _redispatch(self, job: Job, counts: Counter[str]) -> None:
        try:
            queued = self._store.transition(
                job.id, Status.QUEUED, expect={job.status}, redispatches=job.redispatches + 1,
                dispatch=job.dispatch + 1, queuedAt=now(), execution=None)
        except IllegalTransitionError:
            return  # it moved on since we looked
        self._publisher.publish_requested(
            OnboardingRequested.for_run(job.id, job.run, queued.dispatch))
        log.warning("sweeper: re-dispatched a lost job", extra={"job_id": job.id})
        counts["redispatched"] += 1

    def _fail(self, job: Job, code: str, counts: Counter[str]) -> None:
        failure = WaveFailedError.of(code)
        try:
            self._store.fail(job.id, code, failure.reason_en)
        except IllegalTransitionError:
            return
        event = failure_event(job.id, job.run, job.current_wave, failure)
        self._store.log_event(event)  # the timeline, replay and a re-send read the log
        self._publisher.publish_progress(event)
        log.warning("sweeper: failed a stuck job (%s)", code, extra={"job_id": job.id})
        counts["expired" if code == "login_expired" else "failed"] += 1

    def _admit(self, counts: Counter[str]) -> None:
        """The backstop of admission: free the slots of jobs that ended (their completion
        missed) or died (failed above), and start whoever that lets in."""
        assert self._admission is not None
        finished = {}
        for job_id in self._admission.holders():
            job = self._store.get(job_id)
            finished[job_id] = job is None or job.status in (Status.COMPLETED, Status.FAILED)
        counts["slots_reclaimed"] += sum(finished.values())
        admitted = self._admission.reclaim(finished)
        if started := publish_admitted(self._store, self._publisher, admitted):
            counts["admitted"] += started
