"""One document read, changed and written by many at once (jiwa.single_document), on the
Firestore emulator: no update is lost, and the rate limiter built on it admits exactly
its limit when one user's messages all arrive together."""

from __future__ import annotations

import concurrent.futures
import secrets
from typing import Any

from harness import Harness

from jiwa.guards import RateLimiter
from jiwa.single_document import read_modify_write


def test_concurrent_increments_are_all_kept(harness: Harness) -> None:
    ref = harness.db.collection("singleDocumentTest").document(secrets.token_hex(8))

    def increment(record: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
        count = (record or {}).get("count", 0) + 1
        return {"count": count}, count

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        seen = list(pool.map(lambda _: read_modify_write(ref, increment), range(64)))
    assert ref.get().to_dict() == {"count": 64}
    # each writer won with its own value: nobody read a count another also wrote
    assert sorted(seen) == list(range(1, 65))


def test_nothing_is_written_when_the_change_says_so(harness: Harness) -> None:
    ref = harness.db.collection("singleDocumentTest").document(secrets.token_hex(8))
    assert read_modify_write(ref, lambda record: (None, record)) is None
    assert not ref.get().exists


def test_one_users_burst_is_limited_to_exactly_the_limit(harness: Harness) -> None:
    limiter = RateLimiter(harness.db, limit=6)
    key = f"burst-{secrets.token_hex(6)}"
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: limiter.hit(key), range(12)))
    assert sum(allowed for allowed, _ in answers) == 6
    assert sum(tell for _, tell in answers) == 1  # "too many" said once, not six times
