"""At-least-once delivery, crashes and failures, through the real stack.

"Once" is read after a barrier (Harness.settle / Harness.barrier) that proves every
delivery has been handled, never after a pause."""

from __future__ import annotations

from conversations import ACCEPTED, DONE_EN, backbone
from harness import Harness, new_phone, wait_for

from integration.test_end_to_end import WAVE_TEXTS_EN, expected_conversation
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.messages import text


def test_redelivered_requested_message_launches_one_run(harness: Harness) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    publisher = harness.publisher()
    request = OnboardingRequested(event_id=f"{job.id}-r1-requested", job_id=job.id)
    for _ in range(3):
        publisher.publish_requested(request)
    texts = harness.final_texts(job.id, phone, "Done!")
    # The dispatcher logs one outcome per delivery it handled: with all three in, a second
    # run would have been launched by now, and would be in the list.
    outcomes = wait_for(lambda: len(o := harness.dispatcher_outcomes(request.event_id)) >= 3
                        and o, 30, "the dispatcher to handle the three deliveries")
    assert [o.split(" ", 2)[1] for o in outcomes].count("launched") == 1
    assert len(harness.job_processes(job.id)) == 1
    assert texts == backbone(accepted=False).texts


def test_redelivered_progress_event_sends_one_message(harness: Harness) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    event = ProgressEvent(event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id, seq=0,
                          kind=ProgressKind.ACCEPTED, payload={"handle": "kopisenja.id"})
    publisher = harness.publisher()
    for _ in range(3):
        publisher.publish_progress(event)
    harness.barrier(job.id)  # all three copies have been handled
    assert harness.texts(phone) == [ACCEPTED["en"]]
    assert harness.send_status(event.event_id) == "sent"


def test_killed_job_resumes_after_its_last_finished_wave(harness: Harness) -> None:
    phone = new_phone()
    harness.control(phone, kill_at_wave=5)  # SIGKILL while wave 5 runs: waves 1-4 are done
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(
        OnboardingRequested(event_id=f"{job.id}-r1-requested", job_id=job.id))
    texts = harness.final_texts(job.id, phone, ("Done!", "Sorry"))
    finished = harness.store.require(job.id)
    assert finished.status == "COMPLETED" and finished.attempt == 1
    assert sorted(p["attempt"] for p in harness.job_processes(job.id)) == [0, 1]
    waves = harness.store.checkpoints(job.id)
    assert [waves[n]["attempt"] for n in range(1, 10)] == [0] * 4 + [1] * 5
    assert texts == backbone(accepted=False).texts


def test_job_failing_on_its_last_attempt_tells_the_user_once(harness: Harness) -> None:
    phone = new_phone()
    harness.control(phone, fail_at_wave=4)
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(
        OnboardingRequested(event_id=f"{job.id}-r1-requested", job_id=job.id))
    texts = harness.final_texts(job.id, phone, "Sorry")
    failed = harness.store.require(job.id)
    assert failed.status == "FAILED"
    assert failed.error and failed.error["code"] == "test_failure"
    assert failed.current_wave == 4
    # waves 1-4 and the brand summary, then the failure, once
    assert texts == backbone(accepted=False, failed_in=4, failure=(
        "Sorry, something went wrong while preparing your products: the test said so. "
        "Send /register to try again.")).texts
    assert len(harness.job_processes(job.id)) == 2  # Cloud Run's retry, then FAILED

    # The failure message carries "Try again": once the cause is gone, a tap reruns the job
    # from the wave that failed, and the rest of the onboarding arrives.
    harness.control(phone)
    [button] = harness.buttons(phone)
    assert harness.tap(phone, button).status_code == 200
    after = harness.final_texts(job.id, phone, "Done!")[len(texts):]
    rest = expected_conversation()[expected_conversation().index(WAVE_TEXTS_EN[3]):]
    assert sorted(after) == sorted([text("retry_started", "en"), *rest, DONE_EN])
    assert after[-1] == DONE_EN and harness.store.require(job.id).run == 2
    assert harness.tap(phone, button).status_code == 200  # that failure was retried already
    wait_for(lambda: harness.texts(phone)[-1] == text("retry_unavailable", "en") or None, 10)
