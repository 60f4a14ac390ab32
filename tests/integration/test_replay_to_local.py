"""Production -> local on two whole local stacks: stack A stands for production, stack B for
the operator's local stack (its own emulators, stand-ins, functions and project). A job
completes in A; `jiwa pubsub replay --to local` over A's onboarding-requested window of
that job copies its record into B and republishes the request there; B's dispatcher starts
it, it runs to the end and B's WhatsApp stand-in gets the conversation, while A gets no
new message and keeps no replay subscription.

Two stacks, not two projects on one set of emulators: a stack starts its own emulators
(jiwa.dev.stack), and the stand-ins (WhatsApp, Instagram) are per stack too, which is what
keeps B's conversation apart from A's. Both start at once, in threads."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from harness import Harness, new_phone
from stacks import running_test_stack

from integration.test_cli import jiwa, jiwa_json
from integration.test_end_to_end import onboard
from jiwa.dev.stack import Stack
from jiwa.pubsub_replay import SeekReplay, Window
from jiwa.sealed_tokens import TokenOpener

EMULATORS = ("GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST")


def _use(stack: Stack) -> None:
    """This process's Google clients, built from now on, talk to `stack`'s emulators."""
    for key in EMULATORS:
        os.environ[key] = stack.state.env[key]


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, Harness]]:
    runs = [running_test_stack(tmp_path_factory.mktemp(name), project=project)
            for name, project in (("production", "jiwa-prod"), ("local", "jiwa-local"))]
    with ThreadPoolExecutor(2) as pool:
        started = [pool.submit(next, run) for run in runs]
    try:
        a, b = (s.result() for s in started)
        # each harness's Firestore and Pub/Sub clients keep the emulators they were built for
        _use(b)
        local = Harness(b.state)
        local.publisher()
        _use(a)
        production = Harness(a.state)
        production.publisher()
        yield production, local
        production.http.close()
        local.http.close()
    finally:
        for run in runs:
            run.close()


def test_a_production_job_replayed_into_a_second_stack_runs_there(
        two: tuple[Harness, Harness]) -> None:
    a, b = two
    _use_harness(a)
    start = datetime.now(UTC) - timedelta(seconds=1)
    phone = new_phone()
    job_id = onboard(a, phone)
    a_texts = a.final_texts(job_id, phone, "Done!")
    assert a_texts[1].startswith("Instagram @kopisenja.id connected!")
    a_before = a.db.collection("onboardingJobs").document(job_id).get().to_dict()
    window = ("--topic", "onboarding-requested", "--start", start.isoformat(),
              "--job", job_id, "--to", "local", "--local-stack", str(Path(b.state.log_dir).parent))

    dry = jiwa_json(a, "pubsub", "replay", *window, "--dry-run")
    assert dry["dry_run"] and dry["sent"] == 1 and dry["project"] == "jiwa-local"
    [plan] = dry["jobs"]
    assert (plan["job_id"], plan["source_status"], plan["status"]) == (
        job_id, "COMPLETED", "QUEUED")
    assert "instagramToken" in plan["not_carried"] and "stand-in" in plan["token"]
    assert b.store.get(job_id) is None  # a dry run copies nothing

    replayed_at = datetime.now(UTC)
    human = jiwa(a, "pubsub", "replay", *window)
    assert human.returncode == 0, human.stderr + human.stdout
    assert "1 of 1 message(s) sent to local" in human.stdout
    assert f"copied {job_id} (COMPLETED there) as QUEUED run 1 dispatch 0" in human.stdout
    assert "production token dropped" in human.stdout

    # B runs it: dispatched by B's dispatcher, its waves' messages on B's stand-in
    b_texts = b.final_texts(job_id, phone, "Done!")
    # everything after the login, which happened in A (the link, "connected")
    assert b_texts == a_texts[2:]
    local = b.store.require(job_id)
    assert local.status == "COMPLETED" and local.run == 1 and local.extra["replayOf"][
        "project"] == "jiwa-prod"
    found = b.store.latest_job_for(phone)  # the phone's lock, under B's digest key
    assert found is not None and found.id == job_id
    assert b.dispatcher_outcomes(f"{job_id}-r1-requested")[0].startswith("dispatcher: launched")
    # the token: opened by B's job key, not A's, and one B's Instagram stand-in answers
    token = TokenOpener(b.env["TOKEN_PRIVATE_KEY"]).decrypt(local.instagram_token or "",
                                                            job_id)
    me = b.http.get(b.state.url("meta") + "/v21.0/me", params={"access_token": token})
    assert me.status_code == 200, me.text
    assert token != TokenOpener(a.env["TOKEN_PRIVATE_KEY"]).decrypt(
        a_before["instagramToken"], job_id)

    # A untouched: nothing new on its topics or its phone, its job as it was
    since = Window(replayed_at, datetime.now(UTC))
    for topic in ("onboarding-requested", "onboarding-progress"):
        assert SeekReplay(a.state.project).read(topic, since, via="tap") == [], topic
    assert a.texts(phone) == a_texts
    assert a.db.collection("onboardingJobs").document(job_id).get().to_dict() == a_before
    assert SeekReplay(a.state.project).leftovers() == []


def _use_harness(h: Harness) -> None:
    for key in EMULATORS:
        os.environ[key] = h.env[key]
