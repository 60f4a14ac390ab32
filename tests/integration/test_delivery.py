"""At-least-once delivery, crashes and failures, through the real stack."""

from __future__ import annotations

import time

from harness import Harness, new_phone, wait_for

from integration.test_end_to_end import expected_conversation
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind

DONE_EN = "Done! Your brand analysis, content calendar and 0 images are ready."


def _conversation_when(h: Harness, phone: str, last_prefix: str) -> list[str]:
    return wait_for(lambda: (t := h.texts(phone)) and t[-1].startswith(last_prefix) and t,
                    30, f"a conversation ending with {last_prefix!r}")


def test_redelivered_requested_message_launches_one_run(harness: Harness) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    publisher = harness.publisher()
    request = OnboardingRequested(event_id=f"{job.id}-r1-requested", job_id=job.id)
    for _ in range(3):
        publisher.publish_requested(request)
    harness.wait_status(job.id, "COMPLETED", timeout=60)
    _conversation_when(harness, phone, "Done!")
    time.sleep(1.0)  # room for a wrongly launched second run to show up
    assert len(harness.job_processes(job.id)) == 1
    assert harness.texts(phone) == [*expected_conversation(), DONE_EN]


def test_redelivered_progress_event_sends_one_message(harness: Harness) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    event = ProgressEvent(event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id, seq=0,
                          kind=ProgressKind.ACCEPTED, payload={"handle": "kopisenja.id"})
    publisher = harness.publisher()
    for _ in range(3):
        publisher.publish_progress(event)
    wait_for(lambda: harness.texts(phone), 10)
    time.sleep(1.0)
    assert harness.texts(phone) == ["Instagram @kopisenja.id connected! We're on it…"]


def test_killed_job_resumes_after_its_last_finished_wave(harness: Harness) -> None:
    phone = new_phone()
    harness.control(phone, kill_at_wave=5)  # SIGKILL while wave 5 runs: waves 1-4 are done
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(
        OnboardingRequested(event_id=f"{job.id}-r1-requested", job_id=job.id))
    finished = harness.wait_status(job.id, "COMPLETED", "FAILED", timeout=60)
    assert finished.status == "COMPLETED" and finished.attempt == 1
    assert sorted(p["attempt"] for p in harness.job_processes(job.id)) == [0, 1]
    waves = harness.store.checkpoints(job.id)
    assert [waves[n]["attempt"] for n in range(1, 10)] == [0] * 4 + [1] * 5
    _conversation_when(harness, phone, "Done!")
    assert harness.texts(phone) == [*expected_conversation(), DONE_EN]


def test_job_failing_on_its_last_attempt_tells_the_user_once(harness: Harness) -> None:
    phone = new_phone()
    harness.control(phone, fail_at_wave=4)
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(
        OnboardingRequested(event_id=f"{job.id}-r1-requested", job_id=job.id))
    failed = harness.wait_status(job.id, "FAILED", timeout=60)
    assert failed.error and failed.error["code"] == "test_failure"
    assert failed.current_wave == 4
    texts = _conversation_when(harness, phone, "Sorry")
    time.sleep(1.0)
    assert harness.texts(phone) == texts
    assert texts[-1] == ("Sorry, something went wrong while preparing your products: the "
                         "test said so. Send /register to try again.")
    assert texts[:-1] == expected_conversation()[:5]  # waves 1-4 and the brand summary
    assert len(harness.job_processes(job.id)) == 2  # Cloud Run's retry, then FAILED
