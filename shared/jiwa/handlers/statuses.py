"""The webhook's delivery statuses: record each, and answer a failed delivery.

Kept cheap: a sent/delivered/read status is one merge write (no read). A failure reads its
delivery record to find the event: a transient code sends the event again, once per
failed message (the notifier's guard is reopened and the event republished on its job's
ordering key); 131047 (the 24-hour window is closed) and permanent codes are recorded
for the operator (`jiwa jobs show` lists each message's status).
"""

from __future__ import annotations

import logging

from jiwa.deliveries import DeliveryLog, Recovery, recovery_for
from jiwa.events import EventPublisher, ProgressEvent
from jiwa.guards import SendGuard
from jiwa.store import JobStore
from jiwa.whatsapp import DeliveryStatus

log = logging.getLogger("jiwa.statuses")


class StatusHandler:
    def __init__(self, deliveries: DeliveryLog, store: JobStore, guard: SendGuard,
                 publisher: EventPublisher) -> None:
        self._deliveries, self._store = deliveries, store
        self._guard, self._publisher = guard, publisher

    def record(self, statuses: list[DeliveryStatus]) -> None:
        for status in statuses:
            self._deliveries.record(status)
            if status.status == "failed":
                self._failed(status)

    def _failed(self, status: DeliveryStatus) -> None:
        record = self._deliveries.get(status.wamid) or {}
        event_id, job_id = record.get("eventId"), record.get("jobId")
        ctx = {"job_id": job_id, "event_id": event_id}
        if not event_id or not job_id:
            # a reply the webhook itself sent (login link, help), or a wamid we never had
            log.warning("statuses: delivery failed (code %s) for a message with no event",
                        status.code)
            return
        recovery = recovery_for(status.code)
        if recovery is not Recovery.RESEND:
            log.error("statuses: delivery failed for good (code %s, %s)", status.code,
                      recovery, extra=ctx)
            return
        if not self._deliveries.claim_resend(status.wamid):
            return  # this failure was answered already (a redelivered status)
        logged = next((e for e in self._store.events(job_id) if e.get("event_id") == event_id),
                      None)
        if logged is None:
            log.error("statuses: cannot resend an event missing from the log", extra=ctx)
            return
        self._guard.reopen(event_id)
        self._publisher.publish_progress(ProgressEvent.model_validate(logged))
        log.warning("statuses: delivery failed (code %s); sending it again", status.code,
                    extra=ctx)
