"""functions/instagram_oauth through functions-framework: the login redirect."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from fakes import FakeClients, Function, load, sign
from flask.testing import FlaskClient

from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.messages import LOGIN_FAILURES, text
from jiwa.store import Job, Status

PHONE = "6281234567890"


@pytest.fixture
def oauth(function: Function) -> FlaskClient:
    return function("instagram_oauth")


def awaiting(clients: FakeClients, language: str = "id") -> tuple[Job, str]:
    """A job waiting for its login, and the state its link carries (as the webhook makes)."""
    job, _ = clients.store.open_for_phone(PHONE, language)
    return job, clients.signer.issue(job.id, PHONE)


def redirect(oauth: FlaskClient, **args: str) -> tuple[int, str]:
    response = oauth.get("/", query_string=args)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.content_type == "text/html; charset=utf-8"
    return response.status_code, response.get_data(as_text=True)


def test_a_login_queues_the_job_with_its_token_encrypted_and_asks_for_the_run(
        oauth: FlaskClient, clients: FakeClients) -> None:
    job, state = awaiting(clients)
    status, page = redirect(oauth, code="AQBx-code#_", state=state)
    assert status == 200 and "Instagram terhubung" in page

    queued = clients.store.require(job.id)
    assert queued.status == Status.QUEUED and queued.instagram_handle == "kopisenja"
    assert queued.instagram_token and "IGlong" not in queued.instagram_token
    assert clients.token_opener.decrypt(queued.instagram_token, job.id) == "IGlong-token"
    # The code went to Instagram without WhatsApp's "#_" suffix, with our app's identity.
    exchange = next(r for r in clients.meta.requests if r.url.path == "/oauth/access_token")
    form = parse_qs(exchange.content.decode())
    assert form["code"] == ["AQBx-code"] and form["client_secret"] == ["unit-ig-secret"]
    assert form["redirect_uri"] == ["https://jiwa.example/oauth"]

    [accepted] = clients.pubsub.on("onboarding-progress")
    event = ProgressEvent.model_validate(accepted.body())
    assert (event.kind, event.seq, event.payload) == (ProgressKind.ACCEPTED, 0,
                                                      {"handle": "kopisenja"})
    assert accepted.ordering_key == job.id and accepted.attributes["eventId"] == event.event_id
    [requested] = clients.pubsub.on("onboarding-requested")
    assert OnboardingRequested.model_validate(requested.body()).job_id == job.id
    # The user hears about it through the notifier, not from here.
    assert clients.meta.sent == []


def test_the_same_link_twice_queues_once(oauth: FlaskClient, clients: FakeClients) -> None:
    _, state = awaiting(clients)
    assert redirect(oauth, code="c1", state=state)[0] == 200
    assert redirect(oauth, code="c2", state=state)[0] == 409
    assert len(clients.pubsub.on("onboarding-requested")) == 1


def test_a_denied_login_fails_the_job_tells_the_user_and_frees_the_phone(
        oauth: FlaskClient, clients: FakeClients) -> None:
    job, state = awaiting(clients, "en")
    status, page = redirect(oauth, error="access_denied", error_reason="user_denied",
                            error_description="Permissions error", state=state)
    assert status == 200 and "Login cancelled" in page
    failed = clients.store.require(job.id)
    assert failed.status == Status.FAILED and failed.error["code"] == "login_denied"  # type: ignore[index]
    assert clients.meta.texts(PHONE) == [
        text("login_failed", "en", reason=LOGIN_FAILURES["login_denied"]["en"])]
    assert clients.pubsub.messages == []
    again, created = clients.store.open_for_phone(PHONE, "en")
    assert created and again.id != job.id
    # Denying twice (a reload) tells the user once.
    assert redirect(oauth, error="access_denied", state=state)[0] == 409
    assert len(clients.meta.sent) == 1


def test_instagram_refusing_the_code_fails_the_job_and_tells_the_user(
        oauth: FlaskClient, clients: FakeClients) -> None:
    clients.meta.instagram_error = (400, "This authorization code has been used")
    job, state = awaiting(clients)
    status, _ = redirect(oauth, code="used", state=state)
    assert status == 502
    assert clients.store.require(job.id).status == Status.FAILED
    assert clients.meta.texts(PHONE) == [
        text("login_failed", "id", reason=LOGIN_FAILURES["login_failed"]["id"])]
    assert clients.pubsub.messages == []


@pytest.mark.parametrize("state", ["", "garbage", "a.b", "x" * 5000])
def test_a_forged_state_changes_nothing(oauth: FlaskClient, clients: FakeClients,
                                        state: str) -> None:
    job, _ = awaiting(clients)
    assert redirect(oauth, code="c", state=state)[0] == 400
    assert clients.store.require(job.id).status == Status.AWAITING_AUTH
    assert clients.meta.sent == [] and clients.pubsub.messages == []


def test_a_state_for_another_phone_is_refused(oauth: FlaskClient, clients: FakeClients) -> None:
    job, _ = awaiting(clients)
    assert redirect(oauth, code="c", state=clients.signer.issue(job.id, "6280000000000"))[0] \
        == 403
    assert clients.store.require(job.id).status == Status.AWAITING_AUTH


def test_an_expired_link_fails_the_waiting_job_and_tells_the_user_once(
        oauth: FlaskClient, clients: FakeClients) -> None:
    job, _ = awaiting(clients)
    old = clients.signer.issue(job.id, PHONE, now=time.time() - 3600)
    status, page = redirect(oauth, code="c", state=old)
    assert status == 400 and "Tautan kedaluwarsa" in page
    assert clients.store.require(job.id).status == Status.FAILED
    assert redirect(oauth, code="c", state=old)[0] == 400
    assert clients.meta.texts(PHONE) == [
        text("login_failed", "id", reason=LOGIN_FAILURES["login_expired"]["id"])]


def test_an_old_expired_link_leaves_an_onboarding_under_way_alone(
        oauth: FlaskClient, clients: FakeClients) -> None:
    job, _ = awaiting(clients)
    first_link = clients.signer.issue(job.id, PHONE, now=time.time() - 3600)  # 1st /daftar
    second_link = clients.signer.issue(job.id, PHONE)  # 2nd /daftar, the one used
    assert redirect(oauth, code="c", state=second_link)[0] == 200
    clients.store.start_attempt(job.id, 0)

    redirect(oauth, code="c", state=first_link)
    assert clients.store.require(job.id).status == Status.RUNNING
    assert clients.meta.sent == []


def test_only_get_is_allowed(oauth: FlaskClient) -> None:
    response = oauth.post("/", data={"code": "c"})
    assert response.status_code == 405 and response.headers["Allow"] == "GET"


def test_the_link_from_the_webhook_completes_the_login(function: Function,
                                                       clients: FakeClients) -> None:
    """The two HTTP functions together: /daftar's button URL, followed, queues the job."""
    raw = json.dumps(load("webhook_text.json")).encode()
    webhook = function("whatsapp_webhook")
    assert webhook.post("/", data=raw, headers={"X-Hub-Signature-256": sign(raw)}) \
        .status_code == 200
    [link] = clients.meta.to(PHONE)
    url = urlsplit(link["interactive"]["action"]["parameters"]["url"])
    state = parse_qs(url.query)["state"][0]
    # Instagram redirects to our redirect_uri with the code and the state unchanged.
    assert redirect(function("instagram_oauth"), code="AQB#_", state=state)[0] == 200
    assert clients.store.latest_job_for(PHONE).status == Status.QUEUED  # type: ignore[union-attr]
