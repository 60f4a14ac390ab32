"""A poison message ends in the dead-letter subscription and can be redriven; SIGTERM
leaves the job resumable."""

from __future__ import annotations

import json

from conversations import backbone
from harness import Harness, new_phone, wait_for
from integration.test_cli import jiwa, jiwa_json

from jiwa.deadletters import DeadLetters
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind


def test_poison_progress_event_is_dead_lettered_then_redriven(harness: Harness,
                                                             record) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    letters = DeadLetters(harness.state.project)
    harness.standin_faults(whatsapp=[{"status": 503, "code": 131000, "times": 1000}])
    try:
        event = ProgressEvent(event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id,
                              seq=0, kind=ProgressKind.ACCEPTED,
                              payload={"handle": "kopisenja.id"})
        harness.publisher().publish_progress(event)
        found = wait_for(lambda: [m for m in letters.peek("onboarding-progress")
                                  if m.job_id == job.id], 90, "the dead letter")
    finally:
        harness.standin_faults(whatsapp=[])
    assert found[0].attributes["eventId"] == event.event_id
    assert harness.conversation(phone) == []
    # why it died, where dead letters are read: the consumer's last error (WhatsApp's
    # 503/131000 on every try) and the attempts, from `jiwa dlq` and a topic replay
    listed = [r for r in jiwa_json(harness, "dlq", "list", "--topic", "onboarding-progress")
              if r["job_id"] == job.id]
    assert listed[0]["reason"].startswith("died after 5 deliveries on notifier-push: ")
    assert "131000" in listed[0]["reason"]
    replayed = jiwa(harness, "pubsub", "replay", "--topic", "onboarding-progress-dead-letter",
                    "--start", "now-10m", "--job", job.id, "--json")
    dead = [json.loads(line) for line in replayed.stdout.splitlines()]
    assert dead and dead[0]["dead_letter"]["attempts"] == 5
    assert "131000" in dead[0]["dead_letter"]["last_error"]
    assert [m.job_id for m in letters.peek("onboarding-progress")].count(job.id) == 1
    redriven = letters.redrive("onboarding-progress", {found[0].message_id})
    assert [m.message_id for m in redriven] == [found[0].message_id]
    wait_for(lambda: harness.texts(phone), 30, "the redriven message")
    harness.barrier(job.id)  # the redriven message was handled: nothing else of it comes
    assert harness.texts(phone) == ["Instagram @kopisenja.id connected! We're on it…"]
    assert all(m.job_id != job.id for m in letters.peek("onboarding-progress"))
    # The job itself carries on as usual once WhatsApp is back.
    harness.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                              job_id=job.id))
    texts = harness.final_texts(job.id, phone, ("Done!", "Sorry"))
    expected = backbone()
    record.job("poison event: dead letter, redrive, job runs", harness, job.id, expected,
               texts)
    assert harness.store.require(job.id).status == "COMPLETED"
    assert texts == expected.texts


def test_sigterm_leaves_a_resumable_checkpoint(harness: Harness, record) -> None:
    phone = new_phone()
    harness.control(phone, sigterm_at_wave=5)
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                              job_id=job.id))
    texts = harness.final_texts(job.id, phone, ("Done!", "Sorry"))
    done = harness.store.require(job.id)
    waves = harness.store.checkpoints(job.id)
    expected = backbone(accepted=False)
    record.job("SIGTERM during wave 5", harness, job.id, expected, texts)
    assert done.status == "COMPLETED" and done.attempt == 1
    assert [waves[n]["attempt"] for n in range(1, 10)] == [0] * 4 + [1] * 5
    assert texts == expected.texts
