"""What became of each message WhatsApp accepted: `deliveries/{wamid}`.

A 200 from the send call means only "accepted"; the outcome arrives later as webhook
`statuses[]` (sent, delivered, read, or failed with an error code; WIRE.md, "Accepted is
not delivered"). The notifier records the message it sent; the webhook records each
status as one merge write, with no read, because status callbacks are the most frequent
webhook by far (about three per message). Only a failure reads the record, to find the
event to send again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from jiwa.group_commit import GroupCommitter
from jiwa.guards import document_id
from jiwa.whatsapp import DeliveryStatus

# Meta's Cloud API error codes reference: "try again later" kinds of failure. A message
# that fails with one of these is sent again, once.
TRANSIENT_CODES = frozenset({130429, 131000, 131016, 131056})
WINDOW_CLOSED = 131047  # more than 24 h since the user wrote: only a template may go out

RANK = {"accepted": 0, "sent": 1, "delivered": 2, "read": 3}


class Recovery(StrEnum):
    RESEND = "resend"  # transient: send the same event again, once
    WINDOW = "window"  # the customer-service window is closed
    PERMANENT = "permanent"  # recorded for the operator; nothing will help


def recovery_for(code: int | None) -> Recovery:
    if code in TRANSIENT_CODES:
        return Recovery.RESEND
    if code == WINDOW_CLOSED:
        return Recovery.WINDOW
    return Recovery.PERMANENT


def current_status(record: dict[str, Any]) -> str:
    """The furthest a message got: failed wins; otherwise the highest ranked status seen
    (statuses may arrive out of order, so no single write can hold the latest)."""
    seen = record.get("statusAt") or {}
    if "failed" in seen:
        return "failed"
    return max(seen, key=lambda s: RANK.get(s, -1), default="unknown")


class DeliveryLog:
    def __init__(self, client: firestore.Client) -> None:
        self._col = client.collection("deliveries")
        self._resends = client.collection("deliveryResends")
        self._writes = GroupCommitter(client)  # concurrent status writes, one commit

    def accepted(self, wamid: str, *, event_id: str, job_id: str, kind: str) -> None:
        self._col.document(document_id(wamid)).set(
            {"wamid": wamid, "eventId": event_id, "jobId": job_id, "kind": kind,
             "statusAt": {"accepted": datetime.now(UTC)}}, merge=True)

    def record(self, status: DeliveryStatus) -> None:
        """One merge write: the status's time, and the error of a failure."""
        at = datetime.fromtimestamp(status.timestamp, UTC) if status.timestamp \
            else datetime.now(UTC)
        fields: dict[str, Any] = {"wamid": status.wamid, "statusAt": {status.status: at}}
        if status.errors:
            fields["error"] = {"code": status.code, "title": status.errors[0][1]}
        self._writes.merge(self._col.document(document_id(status.wamid)), fields)

    def get(self, wamid: str) -> dict[str, Any] | None:
        snap = self._col.document(document_id(wamid)).get()
        return snap.to_dict() if snap.exists else None

    def claim_resend(self, wamid: str) -> bool:
        """True once per failed message: a failure is answered by one re-send, however
        often its status is redelivered."""
        try:
            self._resends.document(document_id(wamid)).create({"at": datetime.now(UTC)})
            return True
        except (AlreadyExists, Conflict):
            return False

    def for_job(self, job_id: str) -> list[dict[str, Any]]:
        """The job's messages with their current status, in the order they were accepted
        (an equality filter only: served by the automatic single-field index)."""
        docs = [d.to_dict() or {} for d in
                self._col.where(filter=firestore.FieldFilter("jobId", "==", job_id)).stream()]
        rows = [{**d, "status": current_status(d)} for d in docs]
        return sorted(rows, key=lambda d: (d.get("statusAt") or {}).get(
            "accepted", datetime.max.replace(tzinfo=UTC)))
