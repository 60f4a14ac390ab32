"""The retry of jiwa.single_document, over a document whose writes can be made to lose."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists, FailedPrecondition, NotFound

from jiwa.single_document import ContentionError, read_modify_write


class _Snapshot:
    def __init__(self, data: dict[str, Any] | None, update_time: datetime) -> None:
        self._data, self.update_time = data, update_time
        self.exists = data is not None

    def to_dict(self) -> dict[str, Any] | None:
        return dict(self._data) if self._data is not None else None


class _Client:
    @staticmethod
    def write_option(**precondition: Any) -> dict[str, Any]:
        return precondition


class _Document:
    """A document that someone else writes first `lose` times (between our read and our
    write), the way a concurrent webhook would."""

    path = "test/doc"
    _client = _Client()

    def __init__(self, data: dict[str, Any] | None, lose: int) -> None:
        self.data, self.lose = data, lose
        self.version = datetime(2026, 1, 1, tzinfo=UTC)
        self.writes: list[tuple[str, dict[str, Any]]] = []

    def get(self) -> _Snapshot:
        return _Snapshot(self.data, self.version)

    def _race(self, error: type[Exception]) -> None:
        if self.lose:
            self.lose -= 1
            self.data = {**(self.data or {}), "count": (self.data or {}).get("count", 0) + 1}
            self.version = datetime.now(UTC)
            raise error("someone else wrote first")

    def create(self, fields: dict[str, Any]) -> None:
        self._race(AlreadyExists)
        self.writes.append(("create", fields))
        self.data = dict(fields)

    def update(self, fields: dict[str, Any], option: dict[str, Any]) -> None:
        assert option == {"last_update_time": self.version}  # the version we were read at
        self._race(FailedPrecondition)
        self.writes.append(("update", fields))
        self.data = {**(self.data or {}), **fields}


def _increment(record: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
    count = (record or {}).get("count", 0) + 1
    return {"count": count}, count


def test_a_lost_create_reads_again_and_updates_what_the_winner_wrote() -> None:
    doc = _Document(None, lose=1)
    assert read_modify_write(doc, _increment, sleep=lambda _: None) == 2
    assert doc.writes == [("update", {"count": 2})]


def test_a_lost_update_is_decided_again_on_the_new_value() -> None:
    doc = _Document({"count": 5}, lose=3)
    assert read_modify_write(doc, _increment, sleep=lambda _: None) == 9
    assert doc.writes == [("update", {"count": 9})]


def test_gives_up_after_its_attempts_naming_the_document() -> None:
    doc = _Document({"count": 0}, lose=10)
    waits: list[float] = []
    with pytest.raises(ContentionError, match="test/doc"):
        read_modify_write(doc, _increment, attempts=4, sleep=waits.append)
    assert len(waits) == 4 and doc.writes == []
    assert all(0 <= w <= 0.1 for w in waits)


def test_a_change_that_writes_nothing_writes_nothing() -> None:
    doc = _Document({"count": 1}, lose=0)
    assert read_modify_write(doc, lambda record: (None, "unchanged")) == "unchanged"
    assert doc.writes == []


class _Vanishing(_Document):
    """A document that a TTL policy deletes between our read and our update."""

    def update(self, fields: dict[str, Any], option: dict[str, Any]) -> None:
        self.data = None
        raise NotFound("no entity to update")


def test_a_document_deleted_under_us_is_created_again() -> None:
    doc = _Vanishing({"count": 3}, lose=0)
    assert read_modify_write(doc, _increment, sleep=lambda _: None) == 1
    assert doc.writes == [("create", {"count": 1})]
