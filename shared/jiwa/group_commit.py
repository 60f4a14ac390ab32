"""Merge writes from concurrent requests of one process, committed together.

Delivery statuses are the most frequent webhook (about three per message sent): each is
one small merge write, and each write is a Firestore commit round trip. A process serving
many requests at once (functions-framework runs gunicorn with several threads) commits
the writes that are waiting together, in one batched write of up to 500 (Firestore's
limit for a batch). Every request still waits until the commit carrying its write has
succeeded before it answers, so an acknowledged status is stored; a failed commit fails
every request in it, and WhatsApp redelivers them (the merges are idempotent).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

MAX_BATCH = 500  # writes per batched write (Firestore's limit)


def _merged(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """`more` merged into `into`, maps within maps too: what two merge writes to one
    document leave (a batch writes each document once)."""
    out = dict(into)
    for key, value in more.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


class GroupCommitter:
    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._pending: list[tuple[Any, dict[str, Any], Future[None]]] = []
        self._leading = False

    def merge(self, ref: Any, fields: dict[str, Any]) -> None:
        """`ref.set(fields, merge=True)`, committed with the writes waiting beside it;
        returns once it is stored."""
        done: Future[None] = Future()
        with self._lock:
            self._pending.append((ref, fields, done))
            lead = not self._leading
            self._leading = self._leading or lead
        if lead:
            self._commit_waiting()
        done.result()

    def _commit_waiting(self) -> None:
        """The leader commits what is waiting, round after round, until nothing is; the
        writes that arrive during a commit go in the next one."""
        while True:
            with self._lock:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if not batch:
                    self._leading = False
                    return
            writes: dict[str, tuple[Any, dict[str, Any]]] = {}
            for ref, fields, _ in batch:
                path = ref.path
                writes[path] = (ref, _merged(writes[path][1], fields) if path in writes
                                else fields)
            try:  # one Commit call, as a single set() is
                write = self._client.batch()
                for ref, fields in writes.values():
                    write.set(ref, fields, merge=True)
                write.commit()
            except Exception as exc:  # handed to every request waiting on this commit
                for _, _, done in batch:
                    done.set_exception(exc)
            else:
                for _, _, done in batch:
                    done.set_result(None)
