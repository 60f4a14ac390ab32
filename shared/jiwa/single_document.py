"""Read-modify-write of one Firestore document, without a transaction.

Read the document, decide, then write only if nobody wrote it since: `create()` when it
did not exist (fails with AlreadyExists), else an update with a precondition on the update
time it was read at (Firestore's `Precondition.update_time`: "the stored version (...) does
not match the required base version (...)", FAILED_PRECONDITION, as quoted in
GoogleCloudPlatform/spring-cloud-gcp#2163). Whoever lost reads again and decides again;
so does whoever found the document gone (a TTL policy deletes idle users' records).

Why not a transaction, for one document: the server client libraries' transactions take
pessimistic locks (Firebase docs, "Transactions and batched writes"). Two that both read
the document and then both write wait on each other; Firestore breaks that by aborting
one, and the Firestore emulator only at its fixed 2-second lock timeout (firebase-tools
#6758, #2452), which is what five webhooks of one user arriving together met. A
transaction also costs three round trips (begin, read, commit) where this costs two, on
the webhook's path (docs/decisions/0016).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict, FailedPrecondition, NotFound

# The document as read (None: it does not exist) -> (the fields to write, or None to
# write nothing; what to return). Called again after a lost race: no side effects.
type Change[T] = Callable[[dict[str, Any] | None], tuple[dict[str, Any] | None, T]]

ATTEMPTS = 40


class ContentionError(RuntimeError):
    """Other writers won every attempt (the caller fails; its request is retried)."""


def read_modify_write[T](ref: Any, change: Change[T], *, attempts: int = ATTEMPTS,
                      sleep: Callable[[float], None] = time.sleep) -> T:
    """Apply `change` to the document at `ref` as one atomic step; its result."""
    for attempt in range(attempts):
        snap = ref.get()
        fields, result = change(snap.to_dict() if snap.exists else None)
        if fields is None:
            return result
        try:
            if snap.exists:
                ref.update(fields, option=ref._client.write_option(
                    last_update_time=snap.update_time))
            else:
                ref.create(fields)
            return result
        except (AlreadyExists, Conflict, FailedPrecondition, NotFound):
            # someone wrote between our read and our write; back off a little, at random,
            # so the writers who lost together do not collide again together
            sleep(random.uniform(0, min(0.002 * 2 ** attempt, 0.1)))  # noqa: S311 (jitter)
    raise ContentionError(f"{ref.path}: still contended after {attempts} attempts")
