"""Admission: at most `max_running` onboardings at once, at most `starts_per_minute`
started per minute; the rest wait in order (docs/decisions/0011-admission-slots.md).

Firestore is the queue. No document is written by every dispatch, because the emulator
(and, more gently, production) aborts transactions when many writers touch one document:
- `admissionSlots/{k}` (k < max_running): one document per running job, claimed with a
  transaction that also removes the job from the queue and takes a start token;
- `admissionStarts/{minute}-{k}` (k < starts_per_minute): the start tokens of a minute;
- `admissionQueue/{job id}`: one document per waiting job, created once (its creator
  tells the user they are in line), ordered by `enqueuedAt`;
- `admissionHolds/{job id}`: which slot a job holds (so a redelivery finds it).
Claimers start at different slots, tokens and waiters, so contention stays spread.
"""

from __future__ import annotations

import logging
import math
import random  # spreading contention, not secrecy
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from jiwa.events import EventPublisher
    from jiwa.store import JobStore

log = logging.getLogger("jiwa.admission")

RACED_ROUNDS = 10  # looks again after claims lost to other pumps before leaving the
# rest to the next pump (a release, the sweeper)
Outcome = Literal["admitted", "queued"]
Move = Literal["ok", "slot_taken", "token_used", "not_waiting", "busy"]
Claim = Literal["ok", "raced", "no"]


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    newly_queued: bool = False  # this call put the job in line: tell the user, once
    position: int = 0  # 1 = next to start
    eta_minutes: int = 0  # roughly when it starts
    others_admitted: tuple[str, ...] = ()  # waiters this call admitted: publish for them


class AdmissionBackend(Protocol):
    """The documents above; each method is one atomic step."""

    def slot_of(self, job_id: str) -> int | None: ...

    def holders(self, slots: int) -> dict[int, str]: ...

    def enqueue(self, job_id: str, at: datetime) -> bool:
        """Create the waiter record; False when it existed (told already)."""
        ...

    def waiting(self, limit: int) -> list[str]:
        """The oldest waiters first."""
        ...

    def is_waiting(self, job_id: str) -> bool: ...

    def position(self, job_id: str) -> int: ...

    def move_to_slot(self, job_id: str, slot: int, token: str) -> Move:
        """Atomically: the job waits, `slot` is free and `token` unused -> the job holds
        the slot, the token is used, the job no longer waits ("ok"); else why not
        ("busy": the transaction kept aborting under contention)."""
        ...

    def release(self, job_id: str) -> bool: ...

    def line(self) -> tuple[int, datetime | None]:
        """How many wait, and since when the oldest has."""
        ...

    def drop_orphans(self, slots: int) -> int:
        """Free slots whose claim died half-way (older than a claim can take)."""
        ...


class Admission:
    def __init__(self, backend: AdmissionBackend, *, max_running: int,
                 starts_per_minute: int, job_seconds: float) -> None:
        self._b, self._n, self._rate = backend, max_running, starts_per_minute
        self._job_seconds = job_seconds

    def admit(self, job_id: str) -> Decision:
        """Safe to call again for the same job (redelivery): a job holding a slot is
        admitted, a waiting one keeps its place and is not told again."""
        if self._b.slot_of(job_id) is not None:
            return Decision("admitted")
        newly = self._b.enqueue(job_id, datetime.now(UTC))
        admitted = self.pump(prefer=job_id)
        others = tuple(j for j in admitted if j != job_id)
        if job_id in admitted or self._b.slot_of(job_id) is not None:
            return Decision("admitted", others_admitted=others)
        position = max(1, self._b.position(job_id))
        return Decision("queued", newly_queued=newly, position=position,
                        eta_minutes=self.eta_minutes(position), others_admitted=others)

    def eta_minutes(self, position: int) -> int:
        """Rough: whole rounds of `max_running` jobs, or the start rate, whichever binds."""
        rounds = math.ceil(position / self._n) * self._job_seconds
        by_rate = position / self._rate * 60
        return max(1, math.ceil(max(rounds, by_rate) / 60))

    def pump(self, prefer: str | None = None) -> list[str]:
        """Admit waiters, oldest first, while slots and this minute's tokens last. Only
        the first `free` waiters are tried (none behind them goes first); a dispatcher
        tries its own job first, others from a random one, so concurrent pumps touch
        different documents rather than all contending on the head."""
        admitted: list[str] = []
        raced_rounds = 0
        while True:
            held = self._b.holders(self._n)
            free = [k for k in range(self._n) if k not in held]
            waiters = self._b.waiting(len(free)) if free else []
            if not waiters:
                return admitted
            start = random.randrange(len(waiters))  # noqa: S311 (spread, not secrecy)
            order = waiters[start:] + waiters[:start]
            if prefer in order:
                order.remove(prefer)
                order.insert(0, prefer)
            results: list[Claim] = []
            for job_id in order:
                results.append(self._claim(job_id, free))
                if results[-1] == "ok":
                    admitted.append(job_id)
                    break
            if "ok" in results:
                continue
            if "no" in results or raced_rounds >= RACED_ROUNDS:
                return admitted  # no start token left this minute
            # Every claim lost to another pump: a slot seen taken may have been another
            # claim's half-way seat, undone since, so it is free again and nobody may pump
            # after us. Look again.
            raced_rounds += 1
            time.sleep(random.uniform(0.01, 0.1))  # noqa: S311 (jitter, not secrecy)

    def _claim(self, job_id: str, free: list[int]) -> Claim:
        minute = datetime.now(UTC).strftime("%Y%m%d%H%M")
        slots = free[:]
        random.shuffle(slots)
        first = random.randrange(self._rate)  # noqa: S311 (spread, not secrecy)
        k = 0
        while slots and k < self._rate:
            token = f"{minute}-{(first + k) % self._rate}"
            match self._b.move_to_slot(job_id, slots[0], token):
                case "ok":
                    log.info("admission: admitted", extra={"job_id": job_id})
                    return "ok"
                case "slot_taken" | "busy":
                    slots.pop(0)
                case "token_used":
                    k += 1
                case "not_waiting":
                    return "raced"  # another pump admitted it meanwhile
        return "raced" if k < self._rate else "no"  # the slots went, or this minute's starts

    def release(self, job_id: str) -> list[str]:
        """The job ended: free its slot and admit the next. Returns who was admitted."""
        if self._b.release(job_id):
            log.info("admission: released", extra={"job_id": job_id})
        return self.pump()

    def reclaim(self, finished: dict[str, bool]) -> list[str]:
        """The sweeper: free the slots of jobs that ended or are gone, then admit."""
        if self._b.drop_orphans(self._n):
            log.warning("admission: freed slots of claims that died half-way")
        for job_id, done in finished.items():
            if done and self._b.release(job_id):
                log.warning("admission: reclaimed a slot", extra={"job_id": job_id})
        return self.pump()

    def holders(self) -> list[str]:
        return list(self._b.holders(self._n).values())

    def line(self, at: datetime | None = None) -> tuple[int, float]:
        """The line's length and its oldest wait in seconds (0 when nobody waits): what
        the operator's alerts watch (infra/monitoring.tf)."""
        length, oldest = self._b.line()
        waited = ((at or datetime.now(UTC)) - oldest).total_seconds() if oldest else 0.0
        return length, max(waited, 0.0)

    def is_waiting(self, job_id: str) -> bool:
        return self._b.is_waiting(job_id)


def publish_admitted(store: JobStore, publisher: EventPublisher, job_ids: Iterable[str]) -> int:
    """Each job a pump admitted gets its own onboarding-requested, for its current run and
    dispatch, so the dispatcher's claim starts it exactly once. Returns how many."""
    from jiwa.events import OnboardingRequested

    published = 0
    for job_id in job_ids:
        job = store.get(job_id)
        if job is not None:
            publisher.publish_requested(OnboardingRequested.for_run(job.id, job.run,
                                                                    job.dispatch))
            published += 1
    return published
