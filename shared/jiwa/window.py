"""The 24-hour customer-service window: `conversations/{phone digest}` (keyed: PhoneDigest).

WhatsApp delivers free-form messages only within 24 hours of the user's last message;
outside it only an approved template may go out, and a free-form send fails with 131047
(WIRE.md; Meta's Cloud API "customer service window"). A rerun or a replay a day later
would otherwise lose every message. So: the webhook records each inbound message's
time; the notifier, finding the window closed (or told so by a 131047 status), holds the
event, sends one template asking the user to reply, and the user's reply releases the
held events, in the order they were held, on their jobs' ordering keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from jiwa.crypto import PhoneDigest
from jiwa.guards import SendGuard
from jiwa.single_document import read_modify_write
from jiwa.store import Job
from jiwa.whatsapp import WhatsAppClient, WhatsAppError

log = logging.getLogger("jiwa.window")

# Meta's window is 24 h from the user's last message; a margin keeps a message that is
# accepted at 23:59 from failing at 24:00.
WINDOW = timedelta(hours=24) - timedelta(minutes=5)


@dataclass(frozen=True)
class Held:
    job_id: str
    event_id: str


class ConversationWindow:
    def __init__(self, client: firestore.Client, phones: PhoneDigest) -> None:
        self._col = client.collection("conversations")
        self._phones = phones

    def _ref(self, phone: str) -> Any:
        return self._col.document(self._phones(phone))

    def touch(self, phone: str, at: datetime | None = None) -> bool:
        """The user wrote at `at` (default now): the window is open for 24 hours from the
        latest message, never moved back by an older one Meta redelivers late. True when
        the window is open now."""
        sent = at or datetime.now(UTC)

        def later(record: dict[str, Any] | None) -> tuple[dict[str, Any] | None, None]:
            last = (record or {}).get("lastInboundAt")
            return ({"lastInboundAt": sent} if last is None or sent > last else None), None

        read_modify_write(self._ref(phone), later)
        return datetime.now(UTC) - sent < WINDOW

    def is_open(self, phone: str, now: datetime | None = None) -> bool:
        """False only when we know the user last wrote more than 24 h ago. With no record
        (a conversation from before this was deployed) the message is tried: a closed
        window then comes back as a 131047 status, which holds it the same way."""
        snap = self._ref(phone).get()
        last = (snap.to_dict() or {}).get("lastInboundAt") if snap.exists else None
        return last is None or (now or datetime.now(UTC)) - last < WINDOW

    def hold(self, phone: str, held: Held) -> bool:
        """Keep `held` for the user's next message; True when the template asking for it
        must go out now (once per closed window, not once per held message)."""
        entry = {"jobId": held.job_id, "eventId": held.event_id}

        def add(record: dict[str, Any] | None) -> tuple[dict[str, Any], bool]:
            record = record or {}
            queue = list(record.get("held") or [])
            if entry not in queue:
                queue.append(entry)
            asked, last = record.get("templateSentAt"), record.get("lastInboundAt")
            ask = asked is None or (last is not None and asked < last)
            changes: dict[str, Any] = {"held": queue}
            if ask:
                changes["templateSentAt"] = datetime.now(UTC)
            return changes, ask

        return read_modify_write(self._ref(phone), add)

    def release(self, phone: str) -> list[Held]:
        """What was held for this user, in order, now that they wrote (cleared at once, so a
        redelivered webhook releases nothing twice)."""

        def clear(record: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[Held]]:
            queue = list((record or {}).get("held") or [])
            return ({"held": []} if queue else None), [Held(e["jobId"], e["eventId"])
                                                       for e in queue]

        return read_modify_write(self._ref(phone), clear)


class HeldMessages:
    """Holding an event for a closed window, and asking the user (once) to reply."""

    def __init__(self, window: ConversationWindow, guard: SendGuard, whatsapp: WhatsAppClient,
                 template: str) -> None:
        self.window, self._guard = window, guard
        self._whatsapp, self._template = whatsapp, template

    def hold(self, job: Job, event_id: str) -> None:
        self._guard.finish(event_id, "held")
        if not self.window.hold(job.phone, Held(job.id, event_id)):
            return
        try:
            self._whatsapp.send_template(job.phone, self._template, job.language)
        except WhatsAppError as exc:  # the held events wait for the user's next message
            log.error("window: the re-engagement template was refused (code %s)", exc.code,
                      extra={"job_id": job.id})
