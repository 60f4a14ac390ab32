"""functions/dispatcher and functions/notifier through functions-framework, with Pub/Sub
push envelopes (the emulator's raw form) and Eventarc CloudEvents (production's), and the
consumer-side dead-lettering (handlers/poison.py) in front of both."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import FakeClients, Function, eventarc, load, push_envelope
from flask.testing import FlaskClient

from jiwa.dead_letter_reasons import original_attributes, reason
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind, encode
from jiwa.launchers import LaunchQuotaError
from jiwa.messages import WAVE_TEXTS, render, text
from jiwa.store import Job, Status
from jiwa.topology import MAX_DELIVERY_ATTEMPTS

JOB = "job_0123456789abcdef"  # the job of the saved envelopes in tests/data
PHONE = "6281234567890"


def push(fn: FlaskClient, envelope: dict[str, Any]) -> int:
    """The emulator's push: the envelope as the body, no CloudEvent headers."""
    return fn.post("/", json=envelope).status_code


def deliver(fn: FlaskClient, envelope: dict[str, Any], topic: str) -> int:
    """Eventarc's delivery: a binary-mode CloudEvent."""
    headers, body = eventarc(envelope, topic)
    return fn.post("/", data=body, headers=headers).status_code


def queued(clients: FakeClients, **fields: Any) -> Job:
    return clients.fake_store.put(Job(id=JOB, phone=PHONE, status=Status.QUEUED, **fields))


def progress(kind: ProgressKind = ProgressKind.WAVE, seq: int = 300, message_id: str = "m1",
             **fields: Any) -> dict[str, Any]:
    event = ProgressEvent(event_id=ProgressEvent.make_id(JOB, 1, seq), job_id=JOB, seq=seq,
                          kind=kind, **fields)
    data, attributes = encode(event)
    return push_envelope(data, attributes, message_id, subscription="notifier-push",
                         ordering_key=JOB)


@pytest.fixture
def dispatcher(function: Function) -> FlaskClient:
    return function("dispatcher")


@pytest.fixture
def notifier(function: Function) -> FlaskClient:
    return function("notifier")


# -- dispatcher ---------------------------------------------------------------------------

def test_a_request_launches_the_job_once_and_records_the_execution(
        dispatcher: FlaskClient, clients: FakeClients) -> None:
    queued(clients)
    envelope = load("pubsub_push_onboarding_requested.json")
    assert push(dispatcher, envelope) == 200
    assert push(dispatcher, envelope) == 200  # redelivered: acknowledged, not launched again
    assert clients.launcher.launched == [JOB]
    job = clients.store.require(JOB)
    assert job.execution and job.execution.endswith("jiwa-job-00001")
    assert job.dispatched_key == "1.0"


def test_the_eventarc_cloudevent_form_launches_the_same_way(dispatcher: FlaskClient,
                                                            clients: FakeClients) -> None:
    queued(clients)
    envelope = load("pubsub_push_onboarding_requested.json")
    assert deliver(dispatcher, envelope, "onboarding-requested") == 200
    assert push(dispatcher, envelope) == 200
    assert clients.launcher.launched == [JOB]


def test_a_failed_launch_is_retried_by_redelivery(dispatcher: FlaskClient,
                                                  clients: FakeClients) -> None:
    queued(clients)
    clients.launcher.fail.append(RuntimeError("Cloud Run: 503"))
    envelope = load("pubsub_push_onboarding_requested.json")
    assert push(dispatcher, envelope) == 500  # Pub/Sub redelivers
    assert clients.store.require(JOB).dispatched_key is None  # the claim was released
    assert push(dispatcher, envelope) == 200
    assert clients.launcher.launched == [JOB]


def test_a_start_refused_by_the_run_job_quota_waits_for_redelivery_uncounted(
        dispatcher: FlaskClient, clients: FakeClients) -> None:
    """Cloud Run's "Job run requests per minute" quota: the claim is released, nothing is
    said to the user, and the refusals (more than the dead-lettering threshold) are not
    counted as failures of the message: it launches once the quota lets it."""
    queued(clients)
    queued_at = clients.fake_store.docs[JOB]["queuedAt"] = datetime(2026, 1, 1, tzinfo=UTC)
    clients.launcher.fail += [LaunchQuotaError("RESOURCE_EXHAUSTED")] * MAX_DELIVERY_ATTEMPTS
    envelope = load("pubsub_push_onboarding_requested.json")
    assert push(dispatcher, envelope) == 500
    waiting = clients.fake_store.docs[JOB]["queuedAt"]  # not lost: the sweeper's clock restarts
    assert waiting > queued_at
    answers = [push(dispatcher, envelope) for _ in range(MAX_DELIVERY_ATTEMPTS)]
    assert answers == [500] * (MAX_DELIVERY_ATTEMPTS - 1) + [200]
    assert clients.launcher.launched == [JOB]
    assert clients.store.require(JOB).status == Status.QUEUED
    assert clients.pubsub.messages == []  # no dead letter, no progress event (no message)
    assert not clients.fake_firestore.data["deliveries"]  # no failure counted


def test_a_job_that_is_not_queued_or_another_run_is_not_launched(
        dispatcher: FlaskClient, clients: FakeClients) -> None:
    clients.fake_store.put(Job(id=JOB, phone=PHONE, status=Status.RUNNING))
    assert push(dispatcher, load("pubsub_push_onboarding_requested.json")) == 200
    clients.fake_store.put(Job(id=JOB, phone=PHONE, status=Status.QUEUED, run=2))
    assert push(dispatcher, load("pubsub_push_onboarding_requested.json")) == 200
    assert clients.launcher.launched == []


def test_a_sweeper_redispatch_is_a_new_claim(dispatcher: FlaskClient,
                                             clients: FakeClients) -> None:
    queued(clients, dispatch=1, dispatched_key="1.0")
    data, attributes = encode(OnboardingRequested.for_run(JOB, 1, dispatch=1))
    assert push(dispatcher, push_envelope(data, attributes, "m-d1")) == 200
    assert clients.launcher.launched == [JOB]


@pytest.mark.parametrize("data", [
    base64.b64encode(b"not json").decode(),
    base64.b64encode(json.dumps({"version": 2, "event_id": "e", "job_id": JOB}).encode())
    .decode(),
    base64.b64encode(json.dumps({"event_id": "e"}).encode()).decode(),
    "***not base64***",
])
def test_undecodable_requests_are_acknowledged_and_dropped(dispatcher: FlaskClient,
                                                           clients: FakeClients,
                                                           data: str) -> None:
    queued(clients)
    envelope = load("pubsub_push_onboarding_requested.json")
    envelope["message"]["data"] = data
    assert push(dispatcher, envelope) == 200
    assert clients.launcher.launched == []


def test_a_request_for_an_unknown_job_is_dropped(dispatcher: FlaskClient,
                                                 clients: FakeClients) -> None:
    assert push(dispatcher, load("pubsub_push_onboarding_requested.json")) == 200
    assert clients.launcher.launched == []


def test_a_push_that_is_not_pubsub_is_refused_by_the_framework(dispatcher: FlaskClient,
                                                               clients: FakeClients) -> None:
    assert dispatcher.post("/", json={"hello": "world"}).status_code == 400
    assert clients.launcher.launched == []


# -- notifier -----------------------------------------------------------------------------

def test_a_progress_event_is_sent_once_in_the_users_language(notifier: FlaskClient,
                                                             clients: FakeClients) -> None:
    queued(clients, language="en")
    fixture = load("eventarc_onboarding_progress.json")
    response = notifier.post("/", data=json.dumps(fixture["body"]), headers=fixture["headers"])
    assert response.status_code == 200
    assert push(notifier, fixture["body"]) == 200  # the same event again: not re-sent
    assert clients.meta.texts(PHONE) == [WAVE_TEXTS["brand"]["en"]]
    record = clients.guards["notifications"].records[f"{JOB}-r1-00300"]
    assert record["status"] == "sent" and record["wamid"] == "wamid.out1"


def test_an_image_event_sends_the_image_with_its_caption(notifier: FlaskClient,
                                                         clients: FakeClients) -> None:
    queued(clients)
    envelope = progress(ProgressKind.IMAGE_READY, seq=850, wave=9, wave_name="quality",
                        image_index=2, image_count=6,
                        payload={"url": "https://cdn.example/2.png", "caption": "Es Kopi"})
    assert push(notifier, envelope) == 200
    [sent] = clients.meta.to(PHONE)
    expected = render(ProgressEvent.model_validate(json.loads(base64.b64decode(
        envelope["message"]["data"]))), "id")
    assert sent["type"] == "image"
    assert sent["image"] == {"link": "https://cdn.example/2.png", "caption": expected.body}


def test_whatsapp_throttling_is_redelivered_then_sent_once(notifier: FlaskClient,
                                                           clients: FakeClients) -> None:
    queued(clients)
    clients.meta.whatsapp_errors += [(429, 130429), (400, 131056), (500, 131000)]
    envelope = progress()
    assert [push(notifier, envelope) for _ in range(4)] == [500, 500, 500, 200]
    assert push(notifier, envelope) == 200
    assert len(clients.meta.to(PHONE)) == 1


def test_whatsapp_throughput_limit_is_redelivered_uncounted(notifier: FlaskClient,
                                                            clients: FakeClients) -> None:
    """130429 (our number's messages per second) says nothing about this message: more
    redeliveries than the dead-lettering threshold, then it is sent, once."""
    queued(clients)
    clients.meta.whatsapp_errors += [(400, 130429)] * MAX_DELIVERY_ATTEMPTS
    envelope = progress(message_id="busy-1")
    answers = [push(notifier, envelope) for _ in range(MAX_DELIVERY_ATTEMPTS + 1)]
    assert answers == [500] * MAX_DELIVERY_ATTEMPTS + [200]
    assert len(clients.meta.to(PHONE)) == 1
    assert clients.pubsub.on("onboarding-progress-dead-letter") == []


def test_a_recipient_whatsapp_refuses_is_acknowledged_not_retried(notifier: FlaskClient,
                                                                   clients: FakeClients) -> None:
    queued(clients)
    clients.meta.whatsapp_errors.append((400, 131026))  # undeliverable
    assert push(notifier, progress()) == 200
    assert push(notifier, progress(message_id="m2")) == 200
    record = clients.guards["notifications"].records[f"{JOB}-r1-00300"]
    assert record["status"] == "rejected" and record["code"] == "131026"
    assert clients.meta.sent == []


def test_an_expired_token_keeps_the_message_for_the_redrive(notifier: FlaskClient,
                                                             clients: FakeClients) -> None:
    """OAuthException 190 (WIRE.md; Graph API "Handling Errors": get a new token) refuses
    every send alike: the message is not "rejected" but redelivered, dead-lettered, and
    sent by the operator's redrive once the token is fixed."""
    queued(clients)
    clients.meta.whatsapp_errors += [(401, 190)] * MAX_DELIVERY_ATTEMPTS
    envelope = progress(message_id="token-1")
    answers = [push(notifier, envelope) for _ in range(MAX_DELIVERY_ATTEMPTS)]
    assert answers == [500] * (MAX_DELIVERY_ATTEMPTS - 1) + [200]
    [dead] = clients.pubsub.on("onboarding-progress-dead-letter")
    assert clients.guards["notifications"].status(f"{JOB}-r1-00300") is None  # released
    assert clients.meta.sent == []
    # the token is fixed; the redrive publishes the dead letter again: sent, once
    redriven = {"message": {**envelope["message"], "messageId": "redrive-1"},
                "subscription": envelope.get("subscription", "")}
    assert base64.b64decode(redriven["message"]["data"]) == dead.data
    assert push(notifier, redriven) == 200
    assert push(notifier, redriven) == 200
    assert len(clients.meta.to(PHONE)) == 1


def test_an_event_being_sent_by_another_delivery_is_retried_later(notifier: FlaskClient,
                                                                  clients: FakeClients) -> None:
    queued(clients)
    clients.guard("notifications").claim(f"{JOB}-r1-00300")  # a concurrent delivery
    assert push(notifier, progress()) == 500
    assert clients.meta.sent == []


def test_events_of_unknown_jobs_and_bad_events_are_dropped(notifier: FlaskClient,
                                                           clients: FakeClients) -> None:
    assert push(notifier, progress()) == 200
    bad = progress()
    bad["message"]["data"] = base64.b64encode(b'{"kind": "nonsense"}').decode()
    assert push(notifier, bad) == 200
    assert clients.meta.sent == []


# -- dead letters (handlers/poison.py) ----------------------------------------------------

def test_a_message_failing_every_delivery_is_dead_lettered_unchanged(
        notifier: FlaskClient, clients: FakeClients) -> None:
    queued(clients)
    clients.meta.whatsapp_errors += [(503, 131000)] * (MAX_DELIVERY_ATTEMPTS + 5)
    envelope = progress(message_id="poison-1")
    answers = [push(notifier, envelope) for _ in range(MAX_DELIVERY_ATTEMPTS)]
    assert answers == [500] * (MAX_DELIVERY_ATTEMPTS - 1) + [200]
    [dead] = clients.pubsub.on("onboarding-progress-dead-letter")
    assert dead.data == base64.b64decode(envelope["message"]["data"])
    # the original attributes, and what Pub/Sub's own forwarding adds (plus our key)
    assert original_attributes(dead.attributes) == envelope["message"]["attributes"]
    assert dead.attributes["CloudPubSubDeadLetterSourceDeliveryCount"] == \
        str(MAX_DELIVERY_ATTEMPTS)
    assert dead.attributes["CloudPubSubDeadLetterSourceSubscription"] == "notifier-push"
    assert dead.attributes["jiwaDeadLetterSourceMessageId"] == "poison-1"
    counter = clients.fake_firestore.data["deliveries"]["notifier-push:poison-1"]
    assert counter["failures"] == MAX_DELIVERY_ATTEMPTS
    assert counter["lastError"].startswith("WhatsAppError") or "131000" in counter["lastError"]
    died = reason(dead.attributes,
                  lambda key: clients.fake_firestore.data["deliveries"].get(key))
    assert died is not None and died.attempts == MAX_DELIVERY_ATTEMPTS
    assert died.text().startswith(f"died after {MAX_DELIVERY_ATTEMPTS} deliveries on "
                                  "notifier-push: ")
    assert died.last_error == counter["lastError"]


def test_failures_are_counted_per_message_and_per_subscription(
        dispatcher: FlaskClient, clients: FakeClients) -> None:
    queued(clients)
    clients.launcher.fail += [RuntimeError("down")] * 3
    envelope = load("pubsub_push_onboarding_requested.json")
    assert push(dispatcher, envelope) == 500
    assert deliver(dispatcher, envelope, "onboarding-requested") == 500
    other = dict(envelope, message=dict(envelope["message"], messageId="other"))
    assert push(dispatcher, other) == 500
    deliveries = clients.fake_firestore.data["deliveries"]
    assert deliveries["dispatcher-push:13526348937264511"]["failures"] == 2
    assert deliveries["dispatcher-push:other"]["failures"] == 1
    assert clients.pubsub.messages == []


def test_the_flow_from_login_to_the_first_message(function: Function,
                                                  clients: FakeClients) -> None:
    """What the login publishes, pushed on: the job is launched once and the user hears
    "connected" once, whatever Pub/Sub redelivers."""
    job, _ = clients.store.open_for_phone(PHONE, "en")
    state = clients.signer.issue(job.id, PHONE)
    assert function("instagram_oauth").get("/", query_string={"code": "c", "state": state}) \
        .status_code == 200
    dispatcher, notifier = function("dispatcher"), function("notifier")
    for _ in range(2):
        for message in clients.pubsub.on("onboarding-requested"):
            assert push(dispatcher, message.push("dispatcher-push")) == 200
        for message in clients.pubsub.on("onboarding-progress"):
            assert push(notifier, message.push("notifier-push")) == 200
    assert clients.launcher.launched == [job.id]
    assert clients.meta.texts(PHONE) == [text("accepted", "en", handle="kopisenja")]
