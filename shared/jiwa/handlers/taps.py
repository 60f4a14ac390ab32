"""Taps on our reply buttons (jiwa/buttons.py), answered by the webhook.

"Try again" under a failure reruns the job from the wave that failed: the same path as
`jiwa rerun` (JobStore.rerun_from, then an onboarding-requested for the new run). One
retry per failure: the button names the run that failed, and a claim per run makes a
double tap, a redelivered tap or an old button do nothing. Taps count against the same
per-user command limit as typed commands. "Show calendar" sends the finished job's
calendar message again.
"""

from __future__ import annotations

import logging

from jiwa.buttons import Tap
from jiwa.crypto import mask_phone
from jiwa.events import EventPublisher, OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.guards import Claim, SendGuard
from jiwa.messages import render, text
from jiwa.store import IllegalTransitionError, Job, JobStore, Status
from jiwa.whatsapp import WhatsAppClient

log = logging.getLogger("jiwa.taps")


class TapHandler:
    def __init__(self, store: JobStore, retries: SendGuard, publisher: EventPublisher,
                 whatsapp: WhatsAppClient) -> None:
        self._store, self._retries = store, retries
        self._publisher, self._whatsapp = publisher, whatsapp

    def answer(self, to: str, tap: Tap, language: str) -> str:
        job = self._store.get(tap.job_id)
        if job is None or job.phone != to:  # not this user's job: say nothing about it
            self._whatsapp.send_text(to, text("retry_unavailable", language))
            return "tap_unknown"
        if tap.action == "calendar":
            return self._calendar(to, job)
        return self._retry(to, job, tap)

    def _retry(self, to: str, job: Job, tap: Tap) -> str:
        key = f"{job.id}-r{tap.run}"
        if job.status != Status.FAILED or job.run != tap.run \
                or self._retries.claim(key, jobId=job.id) is not Claim.GRANTED:
            self._whatsapp.send_text(to, text("retry_unavailable", job.language))
            return "retry_unavailable"
        try:
            queued = self._store.rerun_from(job.id, tap.wave)
        except IllegalTransitionError:
            self._retries.finish(key, "refused")
            self._whatsapp.send_text(to, text("retry_unavailable", job.language))
            return "retry_unavailable"
        # A crash before this publish leaves the job QUEUED: the sweeper dispatches it.
        self._publisher.publish_requested(OnboardingRequested.for_run(job.id, queued.run))
        self._retries.finish(key, "retried", run=queued.run)
        log.info("taps: %s retried from wave %d", mask_phone(to), tap.wave,
                 extra={"job_id": job.id})
        self._whatsapp.send_text(to, text("retry_started", job.language))
        return "retry"

    def _calendar(self, to: str, job: Job) -> str:
        done = [e for e in self._store.events(job.id)
                if e.get("kind") == ProgressKind.COMPLETED and e.get("run") == job.run]
        if job.status != Status.COMPLETED or not done:
            self._whatsapp.send_text(to, text("calendar_none", job.language))
            return "calendar_none"
        self._whatsapp.send_text(to, render(ProgressEvent.model_validate(done[-1]),
                                            job.language).body)
        return "calendar"
