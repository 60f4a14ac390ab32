"""The in-memory fakes keep up with the interfaces they stand in for: a new Firestore-
reaching method on JobStore, SendGuard or RateLimiter fails here, by name, rather than as
an obscure error inside a handler test."""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta

import pytest
from fakes import (
    FakeClients,
    FakeConversationWindow,
    FakeFirestore,
    FakeJobStore,
    FakeRateLimiter,
    FakeSendGuard,
)
from google.api_core.exceptions import AlreadyExists, NotFound
from google.cloud import firestore

from jiwa import app
from jiwa.guards import Claim, RateLimiter, SendGuard
from jiwa.store import IllegalTransitionError, Job, JobStore, Status
from jiwa.window import ConversationWindow

# Operator tools (jiwa.cli), which no function or the runner calls.
NOT_FAKED = {"rerun_from", "wave_timeline"}
FIRESTORE = ("self._db", "self._ref(", "self._col", "self._select(")


def reaching_firestore(cls: type) -> set[str]:
    return {name for name, fn in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_") and any(m in inspect.getsource(fn) for m in FIRESTORE)}


@pytest.mark.parametrize(("real", "fake"), [(JobStore, FakeJobStore),
                                            (SendGuard, FakeSendGuard),
                                            (RateLimiter, FakeRateLimiter),
                                            (ConversationWindow, FakeConversationWindow)])
def test_every_method_reaching_firestore_has_a_fake(real: type, fake: type) -> None:
    missing = {name for name in reaching_firestore(real) - NOT_FAKED
               if name not in fake.__dict__}
    assert not missing, f"add {sorted(missing)} to {fake.__name__} in tests/unit/fakes.py"


def test_an_unfaked_method_says_which() -> None:
    store = FakeJobStore()
    store.put(Job(id="job_x", phone="6281", status=Status.COMPLETED))
    with pytest.raises(NotImplementedError, match=r"JobStore\.wave_timeline"):
        store.wave_timeline("job_x")


def test_the_fake_store_keeps_the_transition_table() -> None:
    store = FakeJobStore()
    job, created = store.open_for_phone("6281", "id")
    assert created and store.open_for_phone("6281", "en") == (job, False)
    with pytest.raises(IllegalTransitionError):
        store.transition(job.id, Status.COMPLETED)
    with pytest.raises(IllegalTransitionError):
        store.start_attempt(job.id, 0)  # not queued yet
    store.queue_after_login(job.id, "nonce", instagram_token="t", instagram_handle="h")
    assert store.claim_for_dispatch(job.id, 1) and not store.claim_for_dispatch(job.id, 1)
    assert store.start_attempt(job.id, 0).status == Status.RUNNING
    assert store.complete(job.id).current_wave == 9
    assert store.open_for_phone("6281", "id")[1]  # the phone is free again


def test_the_fake_send_guard_takes_over_a_stale_claim_only() -> None:
    guard = FakeSendGuard(lease=timedelta(seconds=60))
    assert guard.claim("e1") is Claim.GRANTED and guard.claim("e1") is Claim.BUSY
    guard.records["e1"]["claimedAt"] -= timedelta(seconds=61)  # the sender crashed
    assert guard.claim("e1") is Claim.GRANTED
    guard.finish("e1")
    assert guard.claim("e1") is Claim.DONE and guard.status("e1") == "sent"


def test_the_fake_firestore_merges_maps_and_applies_transforms() -> None:
    doc = FakeFirestore().collection("c").document("d")
    doc.set({"n": firestore.Increment(2), "at": {"accepted": 1}}, merge=True)
    doc.set({"n": firestore.Increment(1), "at": {"sent": 2}, "t": firestore.SERVER_TIMESTAMP},
            merge=True)
    data = doc.get().to_dict()
    assert data is not None and data["n"] == 3 and data["at"] == {"accepted": 1, "sent": 2}
    assert isinstance(data["t"], datetime)
    doc.set({"only": True})
    assert doc.get().to_dict() == {"only": True}
    with pytest.raises(AlreadyExists):
        doc.create({})
    doc.delete()
    with pytest.raises(NotFound):
        doc.update({"x": 1})


def test_install_serves_the_handlers_from_the_clients_installed_last() -> None:
    first, second = FakeClients(), FakeClients()
    try:
        app.install(first, first.launcher)
        built = app.notifier()
        assert app.notifier() is built and app.launcher() is first.launcher
        app.install(second, second.launcher)
        assert app.notifier() is not built and app.launcher() is second.launcher
        assert app._clients() is second
    finally:
        app.install(None)
    assert app._installed is None
