"""onboarding-requested -> exactly one run of the job."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from jiwa.admission import Admission, Decision, publish_admitted
from jiwa.events import (
    BadEventError,
    EventPublisher,
    OnboardingRequested,
    ProgressEvent,
    ProgressKind,
    decode_pubsub_data,
)
from jiwa.handlers.poison import ProviderBusyError
from jiwa.launchers import Launcher, LaunchQuotaError
from jiwa.standby import Standbys
from jiwa.store import JobNotFoundError, JobStore, Status

QUEUED_SEQ = 999  # the "you are in line" event: one id per run, so told once

log = logging.getLogger("jiwa.dispatcher")


class Dispatcher:
    def __init__(self, store: JobStore, launcher: Launcher, admission: Admission | None = None,
                 publisher: EventPublisher | None = None,
                 standbys: Standbys | None = None) -> None:
        """Without `admission`, every request starts at once (the old behaviour); with
        `standbys`, a run goes to the job's standby process when one waits alive."""
        self._store, self._launcher = store, launcher
        self._admission, self._publisher = admission, publisher
        self._standbys = standbys

    def handle(self, data: Mapping[str, Any] | None) -> str:
        """Returns what happened; raising makes Pub/Sub redeliver."""
        try:
            request = decode_pubsub_data(data, OnboardingRequested)
        except BadEventError as exc:
            log.error("dispatcher: dropping bad message: %s", exc)
            return "dropped"
        ctx = {"job_id": request.job_id, "event_id": request.event_id}
        if request.standby:
            return self._start_standby(request.job_id, ctx)
        if self._admission is not None and self._waits(request):
            return "queued"
        try:
            claimed = self._store.claim_for_dispatch(request.job_id, request.run,
                                                     request.dispatch)
        except JobNotFoundError:
            log.error("dispatcher: no such job", extra=ctx)
            return "dropped"
        if not claimed:
            log.info("dispatcher: already dispatched or not queued", extra=ctx)
            return "duplicate"
        handed = self._standbys.hand_over(request.job_id) if self._standbys else None
        if handed is not None:
            self._store.record_execution(request.job_id, handed)
            log.info("dispatcher: handed to its standby %s", handed, extra=ctx)
            return "handed"
        try:
            execution = self._launcher.launch(request.job_id)
        except LaunchQuotaError as exc:
            # Cloud Run's quota on starts: free the claim so the redelivery can start it;
            # nothing failed, so the user hears nothing and the job stays QUEUED, its
            # queued clock restarted: the sweeper must not take it for lost and fail it
            self._store.release_dispatch(request.job_id, waiting=True)
            log.warning("dispatcher: start refused by a quota; Pub/Sub will redeliver",
                        extra={**ctx, "outcome": "launch_quota"})
            raise ProviderBusyError(str(exc)) from exc
        except Exception:
            self._store.release_dispatch(request.job_id)
            log.exception("dispatcher: launch failed; Pub/Sub will redeliver", extra=ctx)
            raise
        self._store.record_execution(request.job_id, execution)
        log.info("dispatcher: launched %s", execution, extra=ctx)
        return "launched"

    def _start_standby(self, job_id: str, ctx: dict[str, Any]) -> str:
        """Start the job's process to wait for the login (jiwa.standby). Only a speed-up:
        a refused or failed start is logged, not retried, and the run starts as before."""
        if self._standbys is None or not self._standbys.claim_start(job_id):
            return "duplicate"
        try:
            execution = self._launcher.launch(job_id, standby=True)
        except Exception:
            self._standbys.start_failed(job_id)
            log.warning("dispatcher: standby not started", exc_info=True,
                        extra={**ctx, "outcome": "standby_failed"})
            return "standby_failed"
        self._standbys.started(job_id, execution)
        log.info("dispatcher: standby %s", execution, extra=ctx)
        return "standby"

    def _waits(self, request: OnboardingRequested) -> bool:
        """Admission before the claim, so a job admitted by someone else's pump finds its
        claim free. Only a job this request may start asks for a slot."""
        assert self._admission is not None
        job = self._store.get(request.job_id)
        key = f"{request.run}.{request.dispatch}"
        if (job is None or job.status != Status.QUEUED or job.run != request.run
                or job.dispatch != request.dispatch or job.dispatched_key == key):
            return False  # the claim below answers (dropped or duplicate)
        decision = self._admission.admit(request.job_id)
        self._start_others(decision)
        if decision.outcome == "admitted":
            return False
        if decision.newly_queued:
            self._tell_queued(request, decision)
        log.info("dispatcher: in line at %d", decision.position,
                 extra={"job_id": request.job_id, "event_id": request.event_id})
        return True

    def _start_others(self, decision: Decision) -> None:
        """Waiters this call admitted: each gets its own request (their dispatch)."""
        if self._publisher is not None:
            publish_admitted(self._store, self._publisher, decision.others_admitted)

    def _tell_queued(self, request: OnboardingRequested, decision: Decision) -> None:
        if self._publisher is None:
            return
        self._publisher.publish_progress(ProgressEvent(
            event_id=ProgressEvent.make_id(request.job_id, request.run, QUEUED_SEQ),
            job_id=request.job_id, run=request.run, seq=QUEUED_SEQ,
            kind=ProgressKind.ACCEPTED,
            payload={"queue_position": str(decision.position),
                     "eta_minutes": str(decision.eta_minutes)}))
