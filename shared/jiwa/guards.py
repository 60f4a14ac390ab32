"""Idempotency records for side effects that must happen once per delivery id.

Both use Firestore `create()`, which fails with AlreadyExists: cheaper than a transaction
and free of the emulator's contention aborts (DESIGN.md).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from jiwa.single_document import read_modify_write

# Firestore document ids may not contain '/', be '.' or '..', match __.*__, or exceed
# 1,500 bytes (firebase.google.com/docs/firestore/quotas, "Constraints on document IDs").
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:=+-]{1,200}")  # wamids are base64: = and +


def document_id(key: str) -> str:
    """A valid document id for an external id (a WhatsApp message id, an event id): the
    id itself when it is plainly safe, so records stay readable, else a hash of it."""
    if _PLAIN_ID.fullmatch(key) and key not in (".", "..") and not key.startswith("__"):
        return key
    return "sha256_" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class Claim(StrEnum):
    GRANTED = "granted"  # do the side effect now
    DONE = "done"  # it already happened: acknowledge
    BUSY = "busy"  # another delivery holds it right now: retry later


class SendGuard:
    """`notifications/{eventId}`: sending -> sent. A `sending` record older than the lease
    means a crash between the send and its record: the event is sent again (at least once
    rather than lost); a fresh one means a concurrent delivery, which must wait."""

    def __init__(self, client: firestore.Client, collection: str = "notifications",
                 lease: timedelta = timedelta(seconds=60)) -> None:
        self._col = client.collection(collection)
        self._lease = lease

    def claim(self, key: str, **fields: Any) -> Claim:
        ref = self._col.document(document_id(key))
        started = datetime.now(UTC)
        try:
            ref.create({"status": "sending", "claimedAt": started, **fields})
            return Claim.GRANTED
        except (AlreadyExists, Conflict):
            pass
        snap = ref.get()
        record = snap.to_dict() or {}
        if record.get("status") in ("sent", "rejected", "held"):
            return Claim.DONE  # held: the user's next message releases it (jiwa.window)
        claimed_at = record.get("claimedAt")
        if claimed_at is None or started - claimed_at > self._lease:
            try:  # take over only if nobody else did since we read it
                ref.update({"status": "sending", "claimedAt": started},
                           option=self._col._client.write_option(last_update_time=snap.update_time))
                return Claim.GRANTED
            except Exception:
                return Claim.BUSY
        return Claim.BUSY

    def finish(self, key: str, status: str = "sent", **fields: Any) -> None:
        self._col.document(document_id(key)).update(
            {"status": status, "finishedAt": datetime.now(UTC), **fields})

    def reopen(self, key: str) -> None:
        """A sent message that WhatsApp later failed to deliver: let one more delivery of
        the event send it again (its claim takes the record over)."""
        self._col.document(document_id(key)).set(
            {"status": "retry", "claimedAt": None}, merge=True)

    def release(self, key: str) -> None:
        """The side effect did not happen: let the next delivery try."""
        self._col.document(document_id(key)).delete()

    def status(self, key: str) -> str | None:
        snap = self._col.document(document_id(key)).get()
        return (snap.to_dict() or {}).get("status") if snap.exists else None


class RateLimiter:
    """`rateLimits/{key}`: at most `limit` events per `window`, counted atomically
    (jiwa.single_document: one user's messages often arrive together).

    Returns whether to act, and whether to say "too many" (only the first time the limit
    is passed in a window, so spam does not make us spam back)."""

    def __init__(self, client: firestore.Client, limit: int = 6,
                 window: timedelta = timedelta(minutes=1)) -> None:
        self._col = client.collection("rateLimits")
        self._limit, self._window = limit, window

    def hit(self, key: str) -> tuple[bool, bool]:
        def count(record: dict[str, Any] | None) -> tuple[dict[str, Any], tuple[bool, bool]]:
            now = datetime.now(UTC)
            start = (record or {}).get("windowStart")
            hits = int((record or {}).get("count", 0))
            if start is None or now - start > self._window:
                start, hits = now, 0
            hits += 1
            return ({"windowStart": start, "count": hits},
                    (hits <= self._limit, hits == self._limit + 1))

        return read_modify_write(self._col.document(key), count)
