"""GroupCommitter: concurrent merge writes of one process share commits, each caller
returns only once its write is stored, and a failed commit fails every write in it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fakes import FakeFirestore

from jiwa.group_commit import GroupCommitter


class SlowFirestore(FakeFirestore):
    """Commits that take a moment, long enough for other writes to queue behind them."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def batch(self):  # type: ignore[no-untyped-def]
        batch = super().batch()
        commit = batch.commit

        def slow() -> None:
            self.gate.wait(5)
            commit()
        batch.commit = slow  # type: ignore[method-assign]
        return batch


def test_concurrent_writes_share_commits_and_are_all_stored() -> None:
    db = FakeFirestore()
    col = db.collection("deliveries")
    writes = GroupCommitter(db)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: writes.merge(col.document(f"w{i % 20}"),
                                             {"statusAt": {f"s{i}": i}}), range(200)))
    stored = {d.id: d.to_dict() for d in col.stream()}
    assert len(stored) == 20
    assert all(len(doc["statusAt"]) == 10 for doc in stored.values())  # nothing lost


def test_writes_waiting_behind_a_commit_go_together_in_the_next() -> None:
    db = SlowFirestore()
    col = db.collection("deliveries")
    writes = GroupCommitter(db)
    with ThreadPoolExecutor(9) as pool:
        # two writes to one document make the first commit a batch
        first = [pool.submit(writes.merge, col.document("a"), {"x": {"1": 1}})]
        first.append(pool.submit(writes.merge, col.document("a"), {"x": {"2": 2}}))
        others = [pool.submit(writes.merge, col.document(f"b{i}"), {"y": i}) for i in range(7)]
        db.gate.set()
        for f in first + others:
            f.result(timeout=5)
    assert db.commits <= 3  # one per round (9 if each write were its own commit)
    assert col.document("a").get().to_dict() == {"x": {"1": 1, "2": 2}}


def test_a_failed_commit_fails_each_write_in_it() -> None:

    failing = [True]

    class Flaky(FakeFirestore):
        def batch(self):  # type: ignore[no-untyped-def]
            if failing.pop(0) if failing else False:
                raise RuntimeError("unavailable")
            return super().batch()

    db = Flaky()
    col = db.collection("deliveries")
    writes = GroupCommitter(db)
    with pytest.raises(RuntimeError, match="unavailable"):
        writes.merge(col.document("lost"), {"x": 1})
    writes.merge(col.document("ok"), {"x": 1})  # the next commit is not affected
    assert col.document("ok").get().to_dict() == {"x": 1}
