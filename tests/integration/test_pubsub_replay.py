"""`jiwa pubsub replay|snapshot|seek` on the emulators: a window of a job's progress events
read back from Pub/Sub itself, republished into a second project, pushed to the notifier
again (never a second message without --force), and a snapshot sought back to."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from google.cloud import firestore, pubsub_v1  # type: ignore[attr-defined]
from harness import Harness, new_phone, wait_for

from integration.test_cli import _run, jiwa, jiwa_json
from jiwa.events import ProgressEvent, ProgressKind
from jiwa.pubsub_replay import SeekReplay

TOPIC = "onboarding-progress"


def _lines(h: Harness, *args: str) -> list[dict]:
    result = jiwa(h, "pubsub", "replay", *args, "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    return [json.loads(line) for line in result.stdout.splitlines() if line]


def _leftovers(h: Harness) -> list[str]:
    return SeekReplay(h.env["GOOGLE_CLOUD_PROJECT"]).leftovers()


def test_a_window_of_one_job_to_stdout_leaves_no_subscription(harness: Harness) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    other = harness.queued_job(new_phone())
    harness.publisher().publish_progress(ProgressEvent(
        event_id=ProgressEvent.make_id(other.id, 1, 0), job_id=other.id, seq=0,
        kind=ProgressKind.ACCEPTED, payload={"handle": "kopisenja.id"}))
    job = _run(harness, new_phone(), "COMPLETED")
    harness.barrier(job.id)
    garbage = pubsub_v1.PublisherClient()
    garbage.publish(garbage.topic_path(harness.env["GOOGLE_CLOUD_PROJECT"], TOPIC),
                    b"\xffnot json", jobId=job.id).result(30)
    logged = [e["event_id"] for e in harness.store.events(job.id)]
    window = _lines(harness, "--topic", TOPIC, "--start", start.isoformat(), "--job", job.id)
    assert {m["event"]["job_id"] for m in window if m["event"]} == {job.id}
    assert other.id not in json.dumps(window)
    decoded = [m["event"]["event_id"] for m in window if m["event"]]
    # what the log holds, and what it does not (the harness's barriers went through too)
    assert set(logged) <= set(decoded) and any("barrier" in e for e in decoded)
    assert all(m["ordering_key"] == job.id and m["message_id"] for m in window
               if m["event"])
    undecodable = [m for m in window if m["undecodable"]]
    assert len(undecodable) == 1 and undecodable[0]["undecodable"] == "not UTF-8"
    # the middle of the job: from its third event to its last (excluded)
    events = harness.store.events(job.id)
    middle = _lines(harness, "--topic", TOPIC, "--start", events[2]["created_at"],
                    "--end", events[-1]["created_at"], "--job", job.id)
    assert [m["event"]["event_id"] for m in middle
            if m["event"]["event_id"] in logged] == logged[2:-1]
    human = jiwa(harness, "pubsub", "replay", "--topic", TOPIC, "--start",
                 start.isoformat(), "--job", job.id)
    assert "UNDECODABLE (not UTF-8)" in human.stdout and logged[0] in human.stdout
    dead = jiwa(harness, "pubsub", "replay", "--topic", f"{TOPIC}-dead-letter", "--start",
                start.isoformat(), "--job", job.id)  # the dead-letter topic reads the same way
    assert dead.returncode == 0 and dead.stdout == "", dead.stderr
    assert _leftovers(harness) == []


def test_consumers_local_project_and_a_snapshot_sought_back(harness: Harness) -> None:
    project = harness.env["GOOGLE_CLOUD_PROJECT"]
    start = datetime.now(UTC) - timedelta(seconds=1)
    # before the "deploy": the dispatcher's push subscription as it stands
    made = jiwa_json(harness, "pubsub", "snapshot", "create", "pre-deploy",
                     "--subscription", "dispatcher-push")
    assert made["topic"] == "onboarding-requested" and made["expire_time"]
    phone = new_phone()
    job = _run(harness, phone, "COMPLETED")
    texts = harness.final_texts(job.id, phone, "Done!")
    window = ("--topic", TOPIC, "--start", start.isoformat(), "--job", job.id)

    dry = jiwa_json(harness, "pubsub", "replay", *window, "--to", "notifier", "--dry-run")
    assert dry["dry_run"] and {s["why"] for s in dry["skipped"]} >= {"already sent"}
    sent = jiwa_json(harness, "pubsub", "replay", *window, "--to", "notifier")
    assert sent["event_ids"] == dry["event_ids"]  # nothing the guard recorded as sent
    harness.barrier(job.id)
    assert harness.texts(phone) == texts

    # the new consumer "mishandled" the request: seek back, and it is delivered again
    sought = jiwa_json(harness, "pubsub", "seek", "--subscription", "dispatcher-push",
                       "--snapshot", "pre-deploy")
    assert sought["snapshot"] == "pre-deploy"
    request_id = f"{job.id}-req"
    outcomes = wait_for(lambda: (o := harness.dispatcher_outcomes(request_id))
                        and len(o) >= 2 and o, 30, "the request delivered again")
    assert sum("launched" in o for o in outcomes) == 1, outcomes
    assert harness.settle(job.id).run == 1 and harness.texts(phone) == texts
    listed = jiwa_json(harness, "pubsub", "snapshot", "list")
    assert "pre-deploy" in [s["name"] for s in listed]
    jiwa_json(harness, "pubsub", "snapshot", "delete", "pre-deploy")
    assert "pre-deploy" not in [s["name"] for s in jiwa_json(harness, "pubsub", "snapshot",
                                                              "list")]

    # production -> local: the same window into a second project's topics
    local = f"{project}-local"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic = publisher.create_topic(name=publisher.topic_path(local, TOPIC)).name
    inbox = subscriber.create_subscription(request={
        "name": subscriber.subscription_path(local, "inbox"), "topic": topic}).name
    copied = jiwa_json(harness, "pubsub", "replay", *window, "--to", "local",
                       "--local-project", local,
                       "--local-emulator", harness.env["PUBSUB_EMULATOR_HOST"],
                       "--local-firestore", harness.env["FIRESTORE_EMULATOR_HOST"])
    received = subscriber.pull(request={"subscription": inbox, "max_messages": 500},
                               timeout=30).received_messages
    assert len(received) == copied["sent"] > 0
    # progress events only: the job's record is there for a notifier, as it ended, tokenless
    assert [(j["job_id"], j["status"]) for j in copied["jobs"]] == [(job.id, "COMPLETED")]
    record = firestore.Client(project=local).collection("onboardingJobs").document(
        job.id).get().to_dict()
    assert record["phone"] == phone and record["instagramToken"] is None
    ids = {ProgressEvent.model_validate_json(r.message.data).event_id for r in received}
    assert set(e["event_id"] for e in harness.store.events(job.id)) <= ids
    assert {r.message.attributes["jobId"] for r in received} == {job.id}
    assert jiwa(harness, "pubsub", "replay", *window, "--to", "dispatcher",
                "--force").returncode == 2
    assert _leftovers(harness) == []
