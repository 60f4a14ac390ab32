"""`jiwa pubsub replay --to local`'s copy of the jobs: which jobs the messages name, what a
copy carries and drops (never the production token), that the local dispatcher claims it,
and the refusal of any target that is not a local emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from fakes import FakeFirestore, FakeJobStore, settings

from jiwa.cli import build_parser, pubsub
from jiwa.crypto import PhoneDigest
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind, encode
from jiwa.pubsub_replay import Replayed
from jiwa.replay_local import (
    KEPT,
    LocalTarget,
    TargetRefused,
    copy_jobs,
    emulator_host,
    local_record,
    local_target,
    local_url,
    named_jobs,
)
from jiwa.sealed_tokens import TokenOpener, TokenSealer, generate_keypair
from jiwa.store import JOBS, Job

T0 = datetime(2026, 11, 28, 6, 40, tzinfo=UTC)
PRODUCTION_PRIVATE, PRODUCTION_PUBLIC = generate_keypair()
LOCAL_PRIVATE, LOCAL_PUBLIC = generate_keypair()
DIGEST_KEY = "local-phone-key-0123456789"


def _message(event: OnboardingRequested | ProgressEvent, n: int) -> Replayed:
    data, attributes = encode(event)
    topic = "onboarding-requested" if isinstance(event, OnboardingRequested) \
        else "onboarding-progress"
    return Replayed(topic, f"m{n}", T0 + timedelta(seconds=n), data, attributes)


def _progress(job: str, seq: int) -> ProgressEvent:
    return ProgressEvent(event_id=ProgressEvent.make_id(job, 1, seq), job_id=job, seq=seq,
                         kind=ProgressKind.WAVE, wave=1)


def _production_doc(job_id: str, status: str = "FAILED") -> dict:
    """A job as production leaves it: run 1 re-dispatched once, failed at wave 4."""
    return {"id": job_id, "phone": "6281234567890", "language": "en", "status": status,
            "instagramHandle": "kopisenja.id", "createdAt": T0 - timedelta(minutes=1),
            "instagramToken": TokenSealer(PRODUCTION_PUBLIC).encrypt("IGlong-real", job_id),
            "currentWave": 4, "attempt": 1, "run": 1, "dispatch": 1,
            "dispatchedKey": "1.1", "execution": "projects/p/executions/x1",
            "error": {"code": "claude_unavailable", "message": "busy"},
            "heartbeatAt": T0, "startedAt": T0, "completedAt": T0, "queuedAt": T0,
            "businessId": "biz_1", "usage": {"w4.a1": {"usd": 0.01}}, "redispatches": 1}


def test_the_jobs_named_and_the_earliest_request_of_each() -> None:
    first = OnboardingRequested.for_run("job_a", 1, 0)
    messages = [_message(_progress("job_b", 0), 0), _message(first, 1),
                _message(OnboardingRequested.for_run("job_a", 1, 1), 2),
                _message(_progress("job_a", 1), 3),
                Replayed("onboarding-progress", "m4", T0, b"\xff", {"jobId": "job_c"}),
                Replayed("onboarding-progress", "m5", T0, b"\xff", {})]
    named = named_jobs(messages)
    assert list(named) == ["job_b", "job_a", "job_c"]  # no job id: names no job
    assert named["job_a"] == first and named["job_b"] is None and named["job_c"] is None


def test_a_requested_job_is_reset_to_what_the_dispatcher_claims() -> None:
    source = _production_doc("job_a")
    request = OnboardingRequested.for_run("job_a", 1, 1)
    record = local_record(source, request, source_project="prod", at=T0, token="v2:local")
    assert {k: record[k] for k in KEPT} == {k: source[k] for k in KEPT}
    assert record["status"] == "QUEUED" and (record["run"], record["dispatch"]) == (1, 1)
    assert record["dispatchedKey"] is None and record["queuedAt"] == T0
    assert record["instagramToken"] == "v2:local"
    for gone in ("execution", "error", "heartbeatAt", "startedAt", "completedAt",
                 "businessId", "usage"):
        assert gone not in record, gone
    assert (record["currentWave"], record["attempt"], record["redispatches"]) == (0, 0, 0)
    # what the debugger wants of the source, where nothing local acts on it
    assert record["replayOf"]["project"] == "prod"
    assert record["replayOf"]["status"] == "FAILED" and record["replayOf"]["currentWave"] == 4
    assert record["replayOf"]["error"]["code"] == "claude_unavailable"
    assert "instagramToken" not in record["replayOf"]
    # the dispatcher's claim (JobStore.claim_for_dispatch's rule) takes it, once
    store = FakeJobStore()
    store.put(Job.from_doc(record))
    assert store.claim_for_dispatch("job_a", 1, 1) and not store.claim_for_dispatch("job_a", 1, 1)


def test_a_job_named_only_by_progress_events_never_runs_locally() -> None:
    done = local_record(_production_doc("job_b", "COMPLETED"), None, source_project="prod",
                        at=T0, token=None)
    assert done["status"] == "COMPLETED" and done["instagramToken"] is None
    running = local_record(_production_doc("job_c", "RUNNING"), None, source_project="prod",
                           at=T0, token=None)
    # QUEUED or RUNNING would be re-dispatched by the local sweeper
    assert running["status"] == "FAILED" and running["error"]["code"] == "not_run_here"
    assert running["replayOf"]["status"] == "RUNNING"


@pytest.mark.parametrize("host", ["127.0.0.1:8085", "localhost:8681", "[::1]:8080",
                                  "127.0.0.2:9000"])
def test_an_emulator_on_this_machine_is_a_target(host: str) -> None:
    assert emulator_host(host, "--local-firestore") == host


@pytest.mark.parametrize("host", ["firestore.googleapis.com:443", "pubsub.googleapis.com",
                                  "10.0.0.5:8080", "emulator:8085", "127.0.0.1:port", "", None])
def test_anything_else_is_refused(host: str | None) -> None:
    with pytest.raises(TargetRefused):
        emulator_host(host, "--local-firestore")
    with pytest.raises(TargetRefused, match="not on this machine"):
        local_url("https://api.instagram.com", "INSTAGRAM_API_URL")


def test_the_target_from_the_local_stack_state_and_its_overrides(tmp_path: Path) -> None:
    env = {"PUBSUB_EMULATOR_HOST": "127.0.0.1:1001", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:1002",
           "TOKEN_PUBLIC_KEY": LOCAL_PUBLIC}
    (tmp_path / "stack.json").write_text(json.dumps({"project": "jiwa-local", "env": env}))
    target = local_target(str(tmp_path), None, None, None)
    assert (target.project, target.pubsub, target.firestore) == (
        "jiwa-local", "127.0.0.1:1001", "127.0.0.1:1002")
    assert target.public_key == LOCAL_PUBLIC
    other = local_target(str(tmp_path), "other", None, "localhost:1003")
    assert (other.project, other.firestore) == ("other", "localhost:1003")
    with pytest.raises(TargetRefused, match="not a local emulator"):
        local_target(str(tmp_path), None, "pubsub.googleapis.com:443", None)
    with pytest.raises(TargetRefused, match="missing"):
        local_target(str(tmp_path / "none"), None, None, None)
    with pytest.raises(TargetRefused, match="--local-stack DIR or --local-project"):
        local_target(None, None, "127.0.0.1:1", "127.0.0.1:2")


def _source(*docs: dict) -> FakeFirestore:
    db = FakeFirestore()
    for doc in docs:
        db.collection(JOBS).document(doc["id"]).set(doc)
    return db


def test_the_copy_seals_a_stand_in_token_to_the_local_key_only() -> None:
    older = {**_production_doc("job_b", "COMPLETED"), "createdAt": T0 - timedelta(days=1)}
    source = _source(_production_doc("job_a"), older)
    local = FakeFirestore()
    target = LocalTarget("jiwa-local", "127.0.0.1:1", "127.0.0.1:2",
                         {"TOKEN_PUBLIC_KEY": LOCAL_PUBLIC, "PHONE_DIGEST_KEY": DIGEST_KEY})
    jobs = {"job_a": OnboardingRequested.for_run("job_a", 1, 0), "job_b": None,
            "job_gone": None}
    dry = copy_jobs(jobs, source, "prod", target, at=T0, dry_run=True, local_db=local,
                    mint=lambda env: pytest.fail("a dry run mints nothing"))
    assert local.data[JOBS] == {}  # a dry run writes nothing
    assert [r["found"] for r in dry] == [True, True, False]
    assert "instagramToken" in dry[0]["not_carried"] and dry[0]["status"] == "QUEUED"
    rows = copy_jobs(jobs, source, "prod", target, at=T0, dry_run=False, local_db=local,
                     mint=lambda env: "IGlong-standin")
    assert rows == dry
    copied = local.data[JOBS]["job_a"]
    assert TokenOpener(LOCAL_PRIVATE).decrypt(copied["instagramToken"], "job_a") == \
        "IGlong-standin"
    with pytest.raises(InvalidTag):  # the production key opens nothing sealed locally
        TokenOpener(PRODUCTION_PRIVATE).decrypt(copied["instagramToken"], "job_a")
    assert local.data[JOBS]["job_b"]["instagramToken"] is None and "job_gone" not in \
        local.data[JOBS]
    # the phone's lock, under the local key, points at its newest job: the one to run
    assert local.data["activePhones"] == {
        PhoneDigest(DIGEST_KEY)("6281234567890"): {"jobId": "job_a", "updatedAt": T0}}
    with pytest.raises(TargetRefused, match="already has job_a, job_b"):
        copy_jobs(jobs, source, "prod", target, at=T0, dry_run=False, local_db=local)
    keyless = LocalTarget("jiwa-local", "127.0.0.1:1", "127.0.0.1:2", {})
    with pytest.raises(TargetRefused, match="TOKEN_PUBLIC_KEY"):
        copy_jobs(jobs, source, "prod", keyless, at=T0, dry_run=True)


@pytest.mark.parametrize("target", [
    ["--local-project", "my-project", "--local-emulator", "pubsub.googleapis.com:443",
     "--local-firestore", "127.0.0.1:8080"],
    ["--local-project", "my-project", "--local-emulator", "127.0.0.1:8085"],
])
def test_the_command_refuses_a_bad_target_before_reading_anything(
        target: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def no_read(*args: object) -> None:
        pytest.fail("the source was read before the target was checked")

    monkeypatch.setattr(pubsub, "SeekReplay", no_read)
    args = build_parser().parse_args(["pubsub", "replay", "--topic", "onboarding-requested",
                                      "--start", "now-1h", "--to", "local", *target])
    with pytest.raises(pubsub.ReplayRefused, match="--local-"):
        pubsub.run(args, settings(), None)
