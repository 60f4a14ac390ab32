"""Per-user pacing of WhatsApp messages: the pair rate limit (error 131056).

Meta limits how often one business number may message one user: about one message every
6 seconds sustained, with bursts allowed that borrow from the time after them (Meta's
Cloud API throughput docs, "pair rate limits"; WIRE.md). Meta does not publish the burst
size as a contract, so ours stays well inside the commonly cited 45 in 6 seconds: a
budget of `burst` messages at once, refilled one per `interval` seconds. A whole
onboarding (about 25 messages over minutes) rarely waits; the burst of "creating image i
of 6" messages and their previews never trips the limit.

The budget is a GCRA ("virtual scheduling") record per recipient in Firestore
(`pacing/{phone digest}`): one field, the time the next message would be due at the sustained rate.
One atomic read-modify-write per message; the notifier's ordered subscription already sends one
message per job at a time, so contention on a recipient's record is rare.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore

from jiwa.crypto import PhoneDigest
from jiwa.single_document import read_modify_write


@dataclass(frozen=True)
class PairRate:
    interval: float = 6.0  # seconds per message, sustained
    burst: int = 10  # messages that may go out back to back

    def admit(self, due: float, now: float) -> tuple[float, float]:
        """(seconds to wait before sending, the record's next due time once this message is
        sent then). `due` is the stored due time (0 for a recipient never messaged)."""
        start = max(due, now)
        tolerance = (self.burst - 1) * self.interval
        wait = max(0.0, start - tolerance - now)
        return wait, start + self.interval


class PairPacer:
    """Reserves each message's turn against the recipient's budget.

    `reserve` returns 0 when the message may go now, a short wait (at most `max_wait`
    seconds, reserved: the caller sleeps it, then sends), or None when the turn is further
    away than that: nothing is reserved and the caller asks Pub/Sub to deliver again
    later (the ordered subscription holds the messages behind it, so order is kept and no
    instance waits long)."""

    def __init__(self, client: firestore.Client, rate: PairRate, phones: PhoneDigest,
                 max_wait: float = 10.0,
                 clock: Callable[[], float] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self.rate, self.max_wait = rate, max_wait
        self._phones = phones
        self._clock = clock or (lambda: datetime.now(UTC).timestamp())
        self._sleep = sleep

    def take_turn(self, recipient: str) -> bool:
        """Waits for the recipient's turn when it is near (True: send now); False when it
        is further than `max_wait`, with nothing reserved."""
        wait = self.reserve(recipient)
        if wait is None:
            return False
        if wait > 0:
            self._sleep(wait)
        return True

    def reserve(self, recipient: str) -> float | None:
        now = self._clock()

        def decide(due: float) -> tuple[float | None, float | None]:
            wait, next_due = self.rate.admit(due, now)
            return (None, None) if wait > self.max_wait else (wait, next_due)

        return self._update(self._phones(recipient), decide)

    def _update(self, key: str, decide: Callable[[float], tuple[float | None, float | None]]
                ) -> float | None:
        """Reads the recipient's due time, and writes the new one `decide` returns (None:
        nothing), as one atomic step (jiwa.single_document)."""

        def turn(record: dict[str, Any] | None) -> tuple[dict[str, Any] | None, float | None]:
            result, next_due = decide(float((record or {}).get("due", 0.0)))
            if next_due is None:
                return None, result
            # expireAt: the Firestore TTL policy (infra/) drops records of idle users
            return {"due": next_due,
                    "expireAt": datetime.fromtimestamp(next_due + 86400, UTC)}, result

        return read_modify_write(self._client.collection("pacing").document(key), turn)
