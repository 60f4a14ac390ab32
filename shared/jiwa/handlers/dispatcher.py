"""onboarding-requested -> exactly one run of the job."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from jiwa.events import BadEventError, OnboardingRequested, decode_pubsub_data
from jiwa.launchers import Launcher
from jiwa.store import JobNotFoundError, JobStore

log = logging.getLogger("jiwa.dispatcher")


class Dispatcher:
    def __init__(self, store: JobStore, launcher: Launcher) -> None:
        self._store, self._launcher = store, launcher

    def handle(self, data: Mapping[str, Any] | None) -> str:
        """Returns what happened; raising makes Pub/Sub redeliver."""
        try:
            request = decode_pubsub_data(data, OnboardingRequested)
        except BadEventError as exc:
            log.error("dispatcher: dropping bad message: %s", exc)
            return "dropped"
        ctx = {"job_id": request.job_id, "event_id": request.event_id}
        try:
            claimed = self._store.claim_for_dispatch(request.job_id, request.run,
                                                     request.dispatch)
        except JobNotFoundError:
            log.error("dispatcher: no such job", extra=ctx)
            return "dropped"
        if not claimed:
            log.info("dispatcher: already dispatched or not queued", extra=ctx)
            return "duplicate"
        try:
            execution = self._launcher.launch(request.job_id)
        except Exception:
            self._store.release_dispatch(request.job_id)
            log.exception("dispatcher: launch failed; Pub/Sub will redeliver", extra=ctx)
            raise
        self._store.record_execution(request.job_id, execution)
        log.info("dispatcher: launched %s", execution, extra=ctx)
        return "launched"
