"""`AdmissionBackend` in memory, one lock standing for each Firestore transaction."""

from __future__ import annotations

import threading
from datetime import datetime

from jiwa.admission import Move


class MemoryAdmission:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: dict[int, str] = {}
        self.holds: dict[str, int] = {}
        self.queue: dict[str, tuple[datetime, int]] = {}  # job -> (enqueuedAt, arrival)
        self.tokens: set[str] = set()
        self._arrivals = 0

    def slot_of(self, job_id: str) -> int | None:
        with self.lock:
            return self.holds.get(job_id)

    def holders(self, slots: int) -> dict[int, str]:
        with self.lock:
            return {k: j for k, j in self.slots.items() if k < slots}

    def enqueue(self, job_id: str, at: datetime) -> bool:
        with self.lock:
            if job_id in self.queue or job_id in self.holds:
                return False
            self._arrivals += 1
            self.queue[job_id] = (at, self._arrivals)
            return True

    def _ordered(self) -> list[str]:
        return sorted(self.queue, key=lambda j: self.queue[j])

    def waiting(self, limit: int) -> list[str]:
        with self.lock:
            return self._ordered()[:limit]

    def line(self) -> tuple[int, datetime | None]:
        with self.lock:
            order = self._ordered()
            return len(order), (self.queue[order[0]][0] if order else None)

    def is_waiting(self, job_id: str) -> bool:
        with self.lock:
            return job_id in self.queue

    def position(self, job_id: str) -> int:
        with self.lock:
            order = self._ordered()
            return order.index(job_id) + 1 if job_id in order else 0

    def move_to_slot(self, job_id: str, slot: int, token: str) -> Move:
        with self.lock:
            if job_id not in self.queue or job_id in self.holds:
                return "not_waiting"
            if slot in self.slots:
                return "slot_taken"
            if token in self.tokens:
                return "token_used"
            del self.queue[job_id]
            self.slots[slot], self.holds[job_id] = job_id, slot
            self.tokens.add(token)
            return "ok"

    def release(self, job_id: str) -> bool:
        with self.lock:
            slot = self.holds.pop(job_id, None)
            if slot is None:
                return False
            if self.slots.get(slot) == job_id:
                del self.slots[slot]
            return True

    def drop_orphans(self, slots: int) -> int:
        return 0  # each step here is atomic: a claim never stops half-way
