"""The job store on the real Firestore emulator, each test in its own project id."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from google.cloud import firestore

from jiwa.crypto import PhoneDigest, phone_digest
from jiwa.events import ProgressEvent, ProgressKind
from jiwa.store import (
    ALLOWED,
    IllegalTransitionError,
    Job,
    JobStore,
    StateAlreadyUsedError,
    Status,
    now,
)


@pytest.fixture
def store(harness) -> JobStore:
    return JobStore(firestore.Client(project=f"store-{secrets.token_hex(4)}"),
                    phones=PhoneDigest("store-test-phone-key"))


def _job_in(store: JobStore, status: Status) -> Job:
    job = Job(id=f"job_{secrets.token_hex(4)}", phone="62811", status=status, created_at=now())
    store._ref(job.id).set(job.to_doc())
    return job


ILLEGAL = [(s, t) for s in Status for t in Status if t not in ALLOWED[s]]


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
def test_every_illegal_transition_raises_and_changes_nothing(store, current, target) -> None:
    job = _job_in(store, current)
    with pytest.raises(IllegalTransitionError):
        store.transition(job.id, target)
    assert store.require(job.id).status == current


# The transitions DESIGN.md and the README allow, written out here rather than read from
# ALLOWED, each with the part that makes it.
DESIGNED = {
    (Status.AWAITING_AUTH, Status.QUEUED),  # the login finished
    (Status.AWAITING_AUTH, Status.FAILED),  # the login was denied, failed or expired
    (Status.QUEUED, Status.RUNNING),  # the job started
    (Status.QUEUED, Status.QUEUED),  # the sweeper re-dispatches a run that never started
    (Status.QUEUED, Status.FAILED),  # … or gives it up
    (Status.RUNNING, Status.RUNNING),  # Cloud Run's retry resumes the job
    (Status.RUNNING, Status.QUEUED),  # the sweeper re-dispatches a lost run
    (Status.RUNNING, Status.COMPLETED),
    (Status.RUNNING, Status.FAILED),  # the last attempt failed, or the sweeper gave up
    (Status.COMPLETED, Status.QUEUED),  # `jiwa rerun`
    (Status.FAILED, Status.QUEUED),  # `jiwa rerun`
}


def test_illegal_list_covers_the_design() -> None:
    assert (Status.AWAITING_AUTH, Status.RUNNING) in ILLEGAL
    assert (Status.QUEUED, Status.COMPLETED) in ILLEGAL
    assert (Status.COMPLETED, Status.FAILED) in ILLEGAL
    assert (Status.FAILED, Status.COMPLETED) in ILLEGAL
    assert {(s, t) for s in Status for t in Status} - set(ILLEGAL) == DESIGNED


@pytest.mark.parametrize(("current", "target"), sorted(DESIGNED))
def test_every_designed_transition_is_made(store, current, target) -> None:
    job = _job_in(store, current)
    assert store.transition(job.id, target).status == target
    assert store.require(job.id).status == target


def test_one_active_job_per_phone_and_expiry_of_stale_logins(store) -> None:
    first, created = store.open_for_phone("62812", "id")
    again, created_again = store.open_for_phone("62812", "en")
    assert created and not created_again and again.id == first.id
    store._ref(first.id).update({"createdAt": now() - timedelta(hours=1)})
    fresh, created_fresh = store.open_for_phone("62812", "id")
    assert created_fresh and fresh.id != first.id
    old = store.require(first.id)
    assert old.status == Status.FAILED and old.error and old.error["code"] == "login_expired"


def test_a_phone_becomes_a_keyed_document_id(store) -> None:
    """`activePhones` ids are keyed: the unkeyed digest of a 12-digit number was found by
    hashing every candidate (about a million a second)."""
    phone = "628123456789"
    store.open_for_phone(phone, "id")
    ids = {d.id for d in store._db.collection("activePhones").stream()}
    assert PhoneDigest("store-test-phone-key")(phone) in ids
    assert phone_digest(phone) not in ids and phone not in ids
    assert PhoneDigest("another-phone-key")(phone) != PhoneDigest("store-test-phone-key")(phone)
    with pytest.raises(ValueError, match="16 characters"):
        PhoneDigest("short")


def test_login_state_is_consumed_once(store) -> None:
    job, _ = store.open_for_phone("62813", "id")
    store.queue_after_login(job.id, "nonce-1", instagram_token="v1:x", instagram_handle="h")
    with pytest.raises(StateAlreadyUsedError):
        store.queue_after_login(job.id, "nonce-1", instagram_token="v1:y", instagram_handle="h")
    assert store.require(job.id).instagram_token == "v1:x"


def test_dispatch_is_claimed_once_per_run(store) -> None:
    job = _job_in(store, Status.QUEUED)
    assert [store.claim_for_dispatch(job.id, 1) for _ in range(3)] == [True, False, False]
    store.release_dispatch(job.id)
    assert store.claim_for_dispatch(job.id, 1)
    assert not store.claim_for_dispatch(job.id, 1, dispatch=1)  # not re-dispatched yet
    store._ref(job.id).update({"dispatch": 1})
    assert store.claim_for_dispatch(job.id, 1, dispatch=1)


def test_checkpoints_and_event_log(store) -> None:
    job = _job_in(store, Status.RUNNING)
    for n in (1, 2, 3):
        store.save_checkpoint(job.id, n, f"w{n}", {"n": n})
    store.clear_checkpoints(job.id, 3)
    assert store.checkpoints(job.id) == {1: {"n": 1}, 2: {"n": 2}}
    for seq in (300, 100, 1000):
        store.log_event(ProgressEvent(event_id=ProgressEvent.make_id(job.id, 1, seq),
                                      job_id=job.id, seq=seq, kind=ProgressKind.WAVE))
    assert [e["seq"] for e in store.events(job.id)] == [100, 300, 1000]


def test_onboardings_created_in_the_last_minute_are_counted(store) -> None:
    # the global brake's count() aggregation on the real emulator (its own project)
    before = now() - timedelta(seconds=1)
    for i in range(3):
        store.open_for_phone(f"62812555000{i:02d}", "id")
    assert store.count_created_since(before) == 3
    assert store.count_created_since(now() + timedelta(seconds=5)) == 0
