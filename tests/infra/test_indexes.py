"""Every query the store runs has its composite index declared in infra/, in the right
direction. The emulator serves any query; production Firestore does not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from indexes import declared_indexes, unserved

from jiwa.queries import ASCENDING, DESCENDING, QueryLog, QueryShape, read_log
from jiwa.store import JobStore, Status

STALE = QueryShape("onboardingJobs", ("status",), ("createdAt",))


class _Recorder:
    """A Firestore client that records the query chain and returns nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def collection(self, name: str) -> _Recorder:
        self.calls.append(("collection", name))
        return self

    def where(self, *, filter: Any) -> _Recorder:
        self.calls.append(("where", (filter.field_path, filter.op_string)))
        return self

    def order_by(self, field: str, direction: str) -> _Recorder:
        self.calls.append(("order_by", (field, direction)))
        return self

    def limit(self, n: int) -> _Recorder:
        return self

    def stream(self) -> list[Any]:
        return []


def _store_queries() -> list[QueryShape]:
    """What the store's query methods run, every one of them, with their shapes."""
    shapes: list[QueryShape] = []
    store = JobStore(_Recorder(), on_query=shapes.append)  # type: ignore[arg-type]
    t = datetime.now(UTC)
    store.stale(Status.AWAITING_AUTH, "createdAt", t)
    store.stale(Status.RUNNING, "heartbeatAt", t)
    store.stale(Status.QUEUED, "queuedAt", t)
    store.list_jobs()
    store.list_jobs(Status.FAILED)
    return shapes


def test_the_sweeper_query_orders_its_timestamp_ascending() -> None:
    assert STALE.ordered_fields() == (("createdAt", ASCENDING),)
    assert STALE.served_by((("status", ASCENDING), ("createdAt", ASCENDING)))
    assert not STALE.served_by((("status", ASCENDING), ("createdAt", DESCENDING)))


def test_a_missing_or_wrong_direction_index_is_reported() -> None:
    wrong = {"onboardingJobs": [(("status", ASCENDING), ("createdAt", DESCENDING))]}
    assert len(unserved([STALE], wrong)) == 1
    assert len(unserved([STALE], {})) == 1
    assert unserved([STALE], {"onboardingJobs": [(("status", ASCENDING),
                                                   ("createdAt", ASCENDING))]}) == []


def test_single_field_and_equality_only_queries_need_no_composite_index() -> None:
    assert not QueryShape("c", (), (), (("createdAt", DESCENDING),)).needs_composite_index()
    assert not QueryShape("c", ("a", "b")).needs_composite_index()
    assert not QueryShape("c", (), ("t",), (("t", DESCENDING),)).needs_composite_index()
    assert QueryShape("c", ("a",), (), (("t", DESCENDING),)).needs_composite_index()


def test_the_store_records_what_it_runs() -> None:
    shapes = _store_queries()
    assert shapes[0] == STALE
    assert shapes[-1] == QueryShape("onboardingJobs", ("status",), (),
                                    (("createdAt", DESCENDING),))


def test_every_store_query_has_a_declared_index() -> None:
    declared = declared_indexes()
    assert declared, "no google_firestore_index found in infra/"
    assert unserved(_store_queries(), declared) == []


def test_the_query_log_round_trips(tmp_path: pytest.TempPathFactory) -> None:
    path = str(tmp_path) + "/queries.jsonl"  # type: ignore[operator]
    log = QueryLog(path)
    for shape in _store_queries() * 2:
        log(shape)
    assert read_log(path) == list(dict.fromkeys(_store_queries()))
