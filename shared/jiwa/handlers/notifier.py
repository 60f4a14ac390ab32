"""onboarding-progress -> one WhatsApp message per event id."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from jiwa.crypto import mask_phone
from jiwa.deliveries import WINDOW_CLOSED, DeliveryLog
from jiwa.events import BadEventError, ProgressEvent, decode_pubsub_data
from jiwa.guards import Claim, SendGuard
from jiwa.handlers.poison import ProviderBusyError
from jiwa.image_store import ImageStore
from jiwa.media import send_our_copy
from jiwa.messages import render
from jiwa.pacing import PairPacer
from jiwa.store import JobStore
from jiwa.whatsapp import WhatsAppClient, WhatsAppError
from jiwa.window import HeldMessages

log = logging.getLogger("jiwa.notifier")


class RetryLaterError(RuntimeError):
    """Raised to make Pub/Sub redeliver (its retry policy owns the backoff)."""


class ThroughputLimitedError(RetryLaterError, ProviderBusyError):
    """WhatsApp's throughput limit for our number (130429, or an HTTP 429): every message
    waits alike, so the redeliveries are not counted towards dead-lettering."""


class CredentialsRefusedError(RetryLaterError):
    """WhatsApp refused our access token or its permissions: counted towards dead-lettering
    (unlike a quota), so the message lands in the dead-letter topic, not in the bin."""


THROUGHPUT_LIMIT = 130429


class Notifier:
    def __init__(self, store: JobStore, guard: SendGuard, whatsapp: WhatsAppClient,
                 deliveries: DeliveryLog | None = None, held: HeldMessages | None = None,
                 pacer: PairPacer | None = None, images: ImageStore | None = None) -> None:
        self._store, self._guard, self._whatsapp = store, guard, whatsapp
        self._deliveries = deliveries  # where the webhook's delivery statuses meet the event
        self._held = held  # the 24-hour window (jiwa.window)
        self._pacer = pacer  # the pair rate limit (jiwa.pacing)
        self._images = images  # our copy of the previews (jiwa.image_store, jiwa.media)

    def handle(self, data: Mapping[str, Any] | None) -> str:
        try:
            event = decode_pubsub_data(data, ProgressEvent)
        except BadEventError as exc:
            log.error("notifier: dropping bad message: %s", exc)
            return "dropped"
        return self.deliver(event)

    def deliver(self, event: ProgressEvent) -> str:
        ctx = {"job_id": event.job_id, "event_id": event.event_id}
        job = self._store.get(event.job_id)
        if job is None:
            log.error("notifier: event for unknown job", extra=ctx)
            return "dropped"
        claim = self._guard.claim(event.event_id, jobId=event.job_id, kind=str(event.kind))
        if claim is Claim.DONE:
            log.info("notifier: already sent", extra=ctx)
            return "duplicate"
        if claim is Claim.BUSY:
            raise RetryLaterError(f"event {event.event_id} is being sent by another delivery")
        if self._held is not None and not self._held.window.is_open(job.phone):
            self._held.hold(job, event.event_id)
            log.info("notifier: window closed; held until the user writes", extra=ctx)
            return "held"
        if self._pacer is not None and not self._pacer.take_turn(job.phone):
            # this user's turn is further away: Pub/Sub brings the event back (the ordered
            # subscription keeps the job's later events behind it)
            self._guard.release(event.event_id)
            log.info("notifier: pacing this user; will retry", extra=ctx)
            raise RetryLaterError(f"event {event.event_id}: paced (pair rate)")
        outgoing = render(event, job.language)
        try:
            if outgoing.image_url and self._images and event.payload.get("object"):
                wamid = send_our_copy(self._images, self._whatsapp, job.phone, event.payload,
                                      outgoing.body)
            elif outgoing.image_url:
                wamid = self._whatsapp.send_image(job.phone, outgoing.image_url, outgoing.body)
            elif outgoing.buttons:
                wamid = self._whatsapp.send_buttons(job.phone, outgoing.body, outgoing.buttons)
            else:
                wamid = self._whatsapp.send_text(job.phone, outgoing.body)
        except WhatsAppError as exc:
            if exc.code == WINDOW_CLOSED and self._held is not None:
                self._held.hold(job, event.event_id)
                return "held"
            if exc.ours:
                # Kept, not rejected: redelivered, then dead-lettered with its reason, and
                # sent by the operator's redrive once the token is fixed (README "Operating")
                self._guard.release(event.event_id)
                log.error("notifier: WhatsApp refused our credentials (code %s); the "
                          "message waits for a new token", exc.code,
                          extra={**ctx, "outcome": "whatsapp_failed", "code": str(exc.code)})
                raise CredentialsRefusedError(str(exc)) from exc
            if exc.retryable:
                self._guard.release(event.event_id)
                log.warning("notifier: WhatsApp busy (%s); will retry", exc.code, extra=ctx)
                if exc.code == THROUGHPUT_LIMIT or exc.status == 429:
                    raise ThroughputLimitedError(str(exc)) from exc
                raise RetryLaterError(str(exc)) from exc
            self._guard.finish(event.event_id, "rejected", code=str(exc.code))
            log.error("notifier: WhatsApp refused for %s (code %s); not retrying",
                      mask_phone(job.phone), exc.code,
                      extra={**ctx, "outcome": "whatsapp_failed", "code": str(exc.code)})
            return "rejected"
        self._guard.finish(event.event_id, "sent", wamid=wamid)
        if self._deliveries is not None:
            self._deliveries.accepted(wamid, event_id=event.event_id, job_id=event.job_id,
                                      kind=str(event.kind))
        log.info("notifier: sent %s", event.kind, extra=ctx)
        return "sent"
