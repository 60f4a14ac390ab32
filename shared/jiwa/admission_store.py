"""The Firestore documents of admission (jiwa.admission's `AdmissionBackend`).

No transactions on the hot path: the emulator aborts transactions at a few concurrent
writers (and took minutes to settle 16 dispatches at 4 slots here), so a claim is a
chain of `create()`s, each atomic on its own: the slot, the start token, the hold. A
step that finds its document taken undoes the earlier ones. A claim that died between
the slot and the hold leaves an orphan slot, freed by the sweeper after ORPHAN_AGE.
Queries are single-field (an order on `enqueuedAt`, an inequality on it), served by
Firestore's automatic indexes: no composite index (jiwa.queries' rules).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from jiwa.admission import Admission, Move
from jiwa.settings import Settings

SLOTS, STARTS, QUEUE, HOLDS = ("admissionSlots", "admissionStarts", "admissionQueue",
                               "admissionHolds")
TOKEN_TTL = timedelta(days=1)  # `expiresAt`: a TTL policy deletes used start tokens
ORPHAN_AGE = timedelta(minutes=2)  # far longer than a claim's three writes take


class FirestoreAdmission:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def _doc(self, collection: str, key: str) -> Any:
        return self._db.collection(collection).document(key)

    def _create(self, ref: Any, record: dict[str, Any]) -> bool:
        try:
            ref.create(record)
            return True
        except (AlreadyExists, Conflict):
            return False

    def slot_of(self, job_id: str) -> int | None:
        snap = self._doc(HOLDS, job_id).get()
        return int(snap.get("slot")) if snap.exists else None

    def holders(self, slots: int) -> dict[int, str]:
        refs = [self._doc(SLOTS, str(k)) for k in range(slots)]
        return {int(s.id): str(s.get("jobId")) for s in self._db.get_all(refs) if s.exists}

    def enqueue(self, job_id: str, at: datetime) -> bool:
        return self._create(self._doc(QUEUE, job_id), {"jobId": job_id, "enqueuedAt": at})

    def waiting(self, limit: int) -> list[str]:
        query = self._db.collection(QUEUE).order_by("enqueuedAt").limit(limit)
        return [s.id for s in query.stream()]

    def line(self) -> tuple[int, datetime | None]:
        queue = self._db.collection(QUEUE)
        counted: Any = queue.count()
        head = list(queue.order_by("enqueuedAt").limit(1).stream())
        return (int(counted.get()[0][0].value),
                head[0].get("enqueuedAt") if head else None)

    def is_waiting(self, job_id: str) -> bool:
        return bool(self._doc(QUEUE, job_id).get().exists)

    def position(self, job_id: str) -> int:
        snap = self._doc(QUEUE, job_id).get()
        if not snap.exists:
            return 0
        ahead: Any = self._db.collection(QUEUE).where(
            filter=firestore.FieldFilter("enqueuedAt", "<", snap.get("enqueuedAt"))).count()
        return int(ahead.get()[0][0].value) + 1

    def move_to_slot(self, job_id: str, slot: int, token: str) -> Move:
        waiter, hold = self._doc(QUEUE, job_id), self._doc(HOLDS, job_id)
        if not waiter.get().exists:
            return "not_waiting"
        at = datetime.now(UTC)
        seat, used = self._doc(SLOTS, str(slot)), self._doc(STARTS, token)
        if not self._create(seat, {"jobId": job_id, "heldAt": at}):
            return "slot_taken"
        if not self._create(used, {"jobId": job_id, "expiresAt": at + TOKEN_TTL}):
            seat.delete()
            return "token_used"
        if not self._create(hold, {"slot": slot, "heldAt": at}):
            seat.delete()  # another pump admitted this job meanwhile (the token stays
            waiter.delete()  # used: a start counted once too often, on the safe side)
            return "not_waiting"
        waiter.delete()
        return "ok"

    def release(self, job_id: str) -> bool:
        hold = self._doc(HOLDS, job_id)
        snap = hold.get()
        if not snap.exists:
            return False
        seat = self._doc(SLOTS, str(snap.get("slot")))
        held = seat.get()
        if held.exists and held.get("jobId") == job_id:
            seat.delete(option=self._db.write_option(last_update_time=held.update_time))
        hold.delete()
        return True

    def drop_orphans(self, slots: int) -> int:
        """Slots whose claim died before its hold was written (see the module doc)."""
        dropped = 0
        cutoff = datetime.now(UTC) - ORPHAN_AGE
        for k, job_id in self.holders(slots).items():
            held = self._doc(SLOTS, str(k)).get()
            if held.exists and held.get("heldAt") < cutoff and self.slot_of(job_id) != k:
                self._doc(SLOTS, str(k)).delete(
                    option=self._db.write_option(last_update_time=held.update_time))
                dropped += 1
        return dropped


def admission_for(settings: Settings, db: firestore.Client) -> Admission | None:
    """The configured admission, or None when JIWA_ADMISSION_MAX_RUNNING is unset (every
    onboarding starts at once): the dispatcher, the sweeper and the job share it."""
    if settings.admission_max_running is None:
        return None
    return Admission(FirestoreAdmission(db), max_running=settings.admission_max_running,
                     starts_per_minute=settings.admission_starts_per_minute,
                     job_seconds=settings.admission_job_seconds)
