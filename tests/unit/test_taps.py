"""Reply buttons: "Try again" under a failure reruns from the failed wave, once per
failure; "Show calendar" under a completion sends the calendar again (jiwa/buttons.py,
handlers/taps.py), through the webhook and notifier functions."""

from __future__ import annotations

import json

import pytest
from fakes import FakeClients, Function, sign
from flask.testing import FlaskClient

from jiwa import buttons
from jiwa.dev.simulate import tap_body
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.failures import COMPLETED_SEQ, FAILED_SEQ
from jiwa.messages import BUTTON_BODY_LIMIT, render, text
from jiwa.store import Job, Status

PHONE = "6281234567890"
JOB = "job_00112233aabbccdd"


def tap(webhook: FlaskClient, button_id: str, wamid: str, phone: str = PHONE) -> int:
    """The user taps a reply button: WhatsApp posts an interactive button_reply."""
    raw = json.dumps(tap_body(phone, button_id, wamid)).encode()
    return webhook.post("/", data=raw, headers={"X-Hub-Signature-256": sign(raw),
                                                "Content-Type": "application/json"}).status_code


@pytest.fixture
def webhook(function: Function) -> FlaskClient:
    return function("whatsapp_webhook")


def failed_job(clients: FakeClients, phone: str = PHONE) -> Job:
    job = clients.fake_store.put(Job(id=JOB, phone=phone, status=Status.FAILED, run=1,
                                     current_wave=3, language="id"))
    for wave in (1, 2, 3):
        clients.fake_store.save_checkpoint(JOB, wave, f"w{wave}", {"done": wave})
    return job


def requested(clients: FakeClients) -> list[OnboardingRequested]:
    return [OnboardingRequested.model_validate(m.body()) for m in clients.pubsub.messages
            if m.topic.endswith("onboarding-requested")]


def test_try_again_reruns_from_the_failed_wave_once(webhook: FlaskClient,
                                                    clients: FakeClients) -> None:
    failed_job(clients)
    button = buttons.retry_id(JOB, 1, 4)
    assert tap(webhook, button, "wamid.tap1") == 200
    job = clients.store.require(JOB)
    assert (job.status, job.run, job.current_wave) == (Status.QUEUED, 2, 3)
    assert sorted(clients.store.checkpoints(JOB)) == [1, 2, 3]  # waves before it kept
    assert [(r.job_id, r.run) for r in requested(clients)] == [(JOB, 2)]
    assert clients.meta.texts(PHONE) == [text("retry_started", "id")]
    # a double tap (a new message id), and the same tap redelivered: nothing more runs
    assert tap(webhook, button, "wamid.tap2") == 200
    assert tap(webhook, button, "wamid.tap1") == 200
    assert len(requested(clients)) == 1 and clients.store.require(JOB).run == 2
    assert clients.meta.texts(PHONE)[1:] == [text("retry_unavailable", "id")]


def test_a_button_of_someone_elses_job_does_nothing(webhook: FlaskClient,
                                                   clients: FakeClients) -> None:
    failed_job(clients, phone="6289999999999")
    assert tap(webhook, buttons.retry_id(JOB, 1, 4), "wamid.tap3") == 200
    assert requested(clients) == [] and clients.store.require(JOB).status == Status.FAILED
    assert clients.meta.texts(PHONE) == [text("retry_unavailable", "id")]


def test_show_calendar_sends_the_finished_calendar_again(webhook: FlaskClient,
                                                        clients: FakeClients) -> None:
    clients.fake_store.put(Job(id=JOB, phone=PHONE, status=Status.COMPLETED, language="en"))
    done = ProgressEvent(event_id=ProgressEvent.make_id(JOB, 1, COMPLETED_SEQ), job_id=JOB,
                         seq=COMPLETED_SEQ, kind=ProgressKind.COMPLETED,
                         payload={"images": "6", "calendar": "2026-12-12 · Harbolnas promo"})
    clients.fake_store.log_event(done)
    assert tap(webhook, buttons.calendar_id(JOB), "wamid.tap4") == 200
    [again] = clients.meta.texts(PHONE)
    assert again == render(done, "en").body and "Harbolnas promo" in again


def test_failures_in_a_wave_carry_a_retry_button_and_completions_a_calendar_button() -> None:
    failed = ProgressEvent(event_id=ProgressEvent.make_id(JOB, 2, FAILED_SEQ), job_id=JOB,
                           run=2, seq=FAILED_SEQ, kind=ProgressKind.FAILED, wave=5,
                           wave_name="influencers", payload={"reason": "x"})
    assert render(failed, "id").buttons == ((buttons.retry_id(JOB, 2, 5), "Coba lagi"),)
    assert buttons.parse(buttons.retry_id(JOB, 2, 5)) == buttons.Tap("retry", JOB, 2, 5)
    expired = failed.model_copy(update={"wave": 0, "wave_name": ""})
    assert render(expired, "id").buttons == ()  # the login expired: /daftar starts over
    done = ProgressEvent(event_id="e", job_id=JOB, seq=COMPLETED_SEQ,
                         kind=ProgressKind.COMPLETED, payload={"images": "6", "calendar": "c"})
    assert render(done, "en").buttons == ((buttons.calendar_id(JOB), "Show calendar"),)
    long = done.model_copy(update={"payload": {"images": "6",
                                               "calendar": "x" * BUTTON_BODY_LIMIT}})
    assert render(long, "en").buttons == ()  # a button body holds 1,024 characters
    assert buttons.parse("retry:job_x:r1:w4") is None and buttons.parse("/daftar") is None


def test_the_notifier_sends_a_failure_with_its_button(function: Function,
                                                      clients: FakeClients) -> None:
    from test_fn_pubsub import progress, push

    clients.fake_store.put(Job(id="job_0123456789abcdef", phone=PHONE, status=Status.FAILED))
    envelope = progress(ProgressKind.FAILED, seq=FAILED_SEQ, wave=4, wave_name="products",
                        payload={"reason": "x"})
    assert push(function("notifier"), envelope) == 200
    [sent] = clients.meta.to(PHONE)
    assert sent["type"] == "interactive" and sent["interactive"]["type"] == "button"
    [button] = sent["interactive"]["action"]["buttons"]
    assert button["reply"] == {"id": buttons.retry_id("job_0123456789abcdef", 1, 4),
                               "title": "Coba lagi"}
