"""jiwa.standby's state on the job document, on the real Firestore emulator: each step is
taken once, a standby that is not alive is passed over, and a hand-over and a give-up
racing each other end one way only."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from google.cloud import firestore

from jiwa.crypto import PhoneDigest
from jiwa.standby import STALE_SECONDS, START_GRACE_SECONDS, Standbys
from jiwa.store import Job, JobStore, Status, now


@pytest.fixture
def store(harness) -> JobStore:
    return JobStore(firestore.Client(project=f"standby-{secrets.token_hex(4)}"),
                    phones=PhoneDigest("standby-test-phone-key"))


def _job(store: JobStore, status: Status = Status.AWAITING_AUTH) -> str:
    job = Job(id=f"job_{secrets.token_hex(4)}", phone="62811", status=status, created_at=now())
    store.document(job.id).set(job.to_doc())
    return job.id


def _state(store: JobStore, job_id: str) -> dict:
    return store.require(job_id).extra.get("standby") or {}


def test_a_standby_starts_once_per_login_and_only_for_a_login(store) -> None:
    standbys, job_id = Standbys(store), _job(store)
    assert standbys.claim_start(job_id)
    assert not standbys.claim_start(job_id)  # a replayed request, a second /daftar
    standbys.started(job_id, "executions/e1")
    assert _state(store, job_id)["state"] == "waiting"
    assert not standbys.claim_start(_job(store, Status.QUEUED))
    assert not standbys.claim_start("job_missing")


def test_a_failed_start_lets_the_next_request_try_again(store) -> None:
    standbys, job_id = Standbys(store), _job(store)
    assert standbys.claim_start(job_id)
    standbys.start_failed(job_id)
    assert _state(store, job_id)["state"] == "ended"
    assert standbys.claim_start(job_id)


def test_the_run_goes_to_a_standby_that_waits_alive_once(store) -> None:
    standbys, job_id = Standbys(store), _job(store)
    standbys.claim_start(job_id)
    standbys.started(job_id, "executions/e1")
    standbys.beat(job_id)
    assert standbys.hand_over(job_id) == "executions/e1"
    assert standbys.hand_over(job_id) is None  # a redelivered request starts nothing more
    assert not standbys.give_up(job_id)  # handed: the standby runs it
    assert standbys.look(job_id) == (Status.AWAITING_AUTH, "handed")


@pytest.mark.parametrize(("field", "age"), [("beatAt", STALE_SECONDS + 1),
                                            ("since", START_GRACE_SECONDS + 1)])
def test_a_standby_that_is_not_alive_is_passed_over(store, field, age) -> None:
    standbys, job_id = Standbys(store), _job(store)
    standbys.claim_start(job_id)
    standbys.started(job_id, "executions/e1")
    state = {**_state(store, job_id), field: now() - timedelta(seconds=age)}
    if field == "since":
        state.pop("beatAt", None)
    store.document(job_id).update({"standby": state})
    assert standbys.hand_over(job_id) is None
    assert _state(store, job_id)["state"] == "ended"  # it exits on its next look


def test_a_hand_over_racing_a_give_up_ends_one_way(store) -> None:
    for _ in range(5):
        standbys, job_id = Standbys(store), _job(store)
        standbys.claim_start(job_id)
        standbys.started(job_id, "executions/e1")
        standbys.beat(job_id)
        with ThreadPoolExecutor(2) as pool:
            handed = pool.submit(standbys.hand_over, job_id)
            gave_up = pool.submit(standbys.give_up, job_id)
            # exactly one wins: handed (and the standby runs it) or ended (and it exits)
            assert (handed.result() is not None) != gave_up.result()
        assert _state(store, job_id)["state"] == ("handed" if handed.result() else "ended")
