"""The webhook's delivery statuses: record each, and answer a failed delivery.

Kept cheap: a sent/delivered/read status is one merge write (no read). A failure reads its
delivery record to find the event: a transient code sends the event again, once per
failed message (the notifier's guard is reopened and the event republished on its job's
ordering key); 131047 (the 24-hour window is closed) and permanent codes are recorded
for the operator (`jiwa jobs show` lists each message's status).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from jiwa.deliveries import DeliveryLog, Recovery, recovery_for
from jiwa.events import EventPublisher, ProgressEvent
from jiwa.guards import SendGuard
from jiwa.store import JobStore
from jiwa.whatsapp import DeliveryStatus
from jiwa.window import HeldMessages

log = logging.getLogger("jiwa.statuses")


# How long a failed status waits for the notifier's record of the send (its two writes
# after WhatsApp's answer take milliseconds; a failure only costs this wait)
LATE_RECORD_SECONDS = 1.0


class StatusHandler:
    def __init__(self, deliveries: DeliveryLog, store: JobStore, guard: SendGuard,
                 publisher: EventPublisher, held: HeldMessages | None = None,
                 wait: Callable[[float], None] = time.sleep) -> None:
        self._deliveries, self._store = deliveries, store
        self._guard, self._publisher = guard, publisher
        self._held, self._wait = held, wait

    def inbound(self, phone: str, sent_at: datetime | None = None) -> int:
        """The user wrote (at `sent_at`, default now): the window is open again; what was
        held for them goes out, in the order it was held. A message older than the window
        (redelivered late) opens nothing and releases nothing. Returns how many events
        were released."""
        if self._held is None:
            return 0
        if not self._held.window.touch(phone, sent_at):
            return 0
        released = self._held.window.release(phone)
        for held in released:
            self._republish(held.job_id, held.event_id, {"job_id": held.job_id})
        if released:
            log.info("statuses: released %d held message(s)", len(released))
        return len(released)

    def record(self, statuses: list[DeliveryStatus]) -> None:
        for status in statuses:
            self._deliveries.record(status)
            if status.status == "failed":
                self._failed(status)

    def _record_of(self, wamid: str) -> dict[str, Any]:
        """The send record of `wamid`. The notifier writes it after WhatsApp's answer; a
        failed status can arrive in between (Meta promises no order between the two),
        so a record without its event is looked at once more, a moment later."""
        record = self._deliveries.get(wamid) or {}
        if not record.get("eventId"):
            self._wait(LATE_RECORD_SECONDS)
            record = self._deliveries.get(wamid) or {}
        return record

    def _failed(self, status: DeliveryStatus) -> None:
        record = self._record_of(status.wamid)
        event_id, job_id = record.get("eventId"), record.get("jobId")
        ctx = {"job_id": job_id, "event_id": event_id}
        if not event_id or not job_id:
            # a reply the webhook itself sent (login link, help), or a wamid we never had
            log.warning("statuses: delivery failed (code %s) for a message with no event",
                        status.code, extra={"outcome": "whatsapp_failed",
                                            "code": str(status.code)})
            return
        recovery = recovery_for(status.code)
        job = self._store.get(job_id)
        if recovery is Recovery.WINDOW and self._held is not None and job is not None:
            self._held.hold(job, event_id)  # sent again when the user writes
            log.info("statuses: delivery failed (code %s); held until the user writes",
                     status.code, extra={**ctx, "outcome": "whatsapp_failed",
                                         "code": str(status.code)})
            return
        if recovery is not Recovery.RESEND:
            log.error("statuses: delivery failed for good (code %s, %s)", status.code,
                      recovery, extra={**ctx, "outcome": "whatsapp_failed",
                                       "code": str(status.code)})
            return
        if not self._deliveries.claim_resend(status.wamid):
            return  # this failure was answered already (a redelivered status)
        if self._republish(job_id, event_id, ctx):
            log.warning("statuses: delivery failed (code %s); sending it again", status.code,
                        extra={**ctx, "outcome": "whatsapp_failed", "code": str(status.code)})

    def _republish(self, job_id: str, event_id: str, ctx: dict[str, object]) -> bool:
        """Send a logged event again: reopen its send record, publish it on its job's key."""
        logged = next((e for e in self._store.events(job_id) if e.get("event_id") == event_id),
                      None)
        if logged is None:
            log.error("statuses: cannot send again an event missing from the log", extra=ctx)
            return False
        self._guard.reopen(event_id)
        self._publisher.publish_progress(ProgressEvent.model_validate(logged))
        return True
