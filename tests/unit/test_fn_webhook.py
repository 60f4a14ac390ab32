"""functions/whatsapp_webhook through functions-framework, on saved WhatsApp payloads."""

from __future__ import annotations

import copy
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import functions_framework
import pytest
from fakes import ROOT, VERIFY_TOKEN, FakeClients, Function, load, sign
from fakes import settings as unit_settings
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiwa import app
from jiwa.handlers.webhook import MAX_BODY_BYTES
from jiwa.messages import text
from jiwa.store import Job, Status

PHONE = "6281234567890"  # the sender in tests/data/webhook_text.json


def body(command: str = "/daftar", wamid: str = "wamid.unit1", phone: str = PHONE) -> bytes:
    """tests/data/webhook_text.json with another text, message id or sender."""
    envelope = load("webhook_text.json")
    value = envelope["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = phone
    value["messages"][0].update({"from": phone, "id": wamid, "text": {"body": command}})
    return json.dumps(envelope).encode()


def post(fn: FlaskClient, raw: bytes, signature: str | None = "sign") -> tuple[int, str]:
    headers = {"Content-Type": "application/json"}
    if signature:
        headers["X-Hub-Signature-256"] = sign(raw) if signature == "sign" else signature
    response = fn.post("/", data=raw, headers=headers)
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def webhook(function: Function) -> FlaskClient:
    return function("whatsapp_webhook")


def test_the_verification_handshake_echoes_the_challenge_only_for_our_token(
        webhook: FlaskClient) -> None:
    ok = webhook.get("/", query_string={"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                        "hub.verify_token": VERIFY_TOKEN})
    assert (ok.status_code, ok.get_data(as_text=True)) == (200, "1158201444")
    for args in ({"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope"},
                 {"hub.mode": "unsubscribe", "hub.challenge": "1",
                  "hub.verify_token": VERIFY_TOKEN}, {}):
        assert webhook.get("/", query_string=args).status_code == 403


def test_daftar_opens_a_job_and_sends_a_signed_single_use_login_link(
        webhook: FlaskClient, clients: FakeClients) -> None:
    raw = json.dumps(load("webhook_text.json")).encode()
    assert post(webhook, raw) == (200, "ok")

    job = clients.store.latest_job_for(PHONE)
    assert job is not None and job.status == Status.AWAITING_AUTH and job.language == "id"
    [sent] = clients.meta.to(PHONE)
    assert sent["type"] == "interactive" and sent["messaging_product"] == "whatsapp"
    assert sent["interactive"]["body"]["text"] == text("login_link", "id", name=" Sari")
    params = sent["interactive"]["action"]["parameters"]
    assert params["display_text"] == text("login_button", "id")
    url = urlsplit(params["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "www.instagram.com", "/oauth/authorize")
    query = parse_qs(url.query)
    assert query["client_id"] == ["1234567890"]
    assert query["redirect_uri"] == ["https://jiwa.example/oauth"]
    state = clients.signer.verify(query["state"][0])
    assert state.job_id == job.id and clients.signer.matches_phone(state, PHONE)
    wamid = load("webhook_text.json")["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert clients.guards["inboundMessages"].records[wamid]["outcome"] == "login_link"


def test_a_redelivered_webhook_is_answered_once(webhook: FlaskClient,
                                                clients: FakeClients) -> None:
    raw = body(wamid="wamid.redelivered")
    assert post(webhook, raw) == (200, "ok")
    assert post(webhook, raw) == (200, "ok")
    assert len(clients.meta.to(PHONE)) == 1
    assert len(clients.fake_store.docs) == 1


def test_a_second_daftar_sends_a_new_link_for_the_same_job(webhook: FlaskClient,
                                                           clients: FakeClients) -> None:
    post(webhook, body(wamid="wamid.a"))
    post(webhook, body(wamid="wamid.b"))
    first, second = clients.meta.to(PHONE)
    states = [parse_qs(urlsplit(m["interactive"]["action"]["parameters"]["url"]).query)
              ["state"][0] for m in (first, second)]
    decoded = [clients.signer.verify(s) for s in states]
    assert decoded[0].job_id == decoded[1].job_id and decoded[0].nonce != decoded[1].nonce
    assert clients.guards["inboundMessages"].records["wamid.b"]["outcome"] == "login_link_again"


def test_a_status_is_not_answered_and_a_photo_gets_a_hint(webhook: FlaskClient,
                                                           clients: FakeClients) -> None:
    raw = json.dumps(load("webhook_status_and_image.json")).encode()
    assert post(webhook, raw) == (200, "ok")
    assert clients.meta.texts("6281234567890") == [text("media_hint", "id")]
    assert clients.fake_store.docs == {}  # no job for a photo


def test_a_voice_note_during_an_onboarding_gets_its_status(webhook: FlaskClient,
                                                           clients: FakeClients) -> None:
    assert post(webhook, body("/daftar", "wamid.start"))[0] == 200
    envelope = json.loads(body("", "wamid.voice"))
    envelope["entry"][0]["changes"][0]["value"]["messages"][0].update(
        {"type": "audio", "audio": {"id": "1", "mime_type": "audio/ogg"}})
    envelope["entry"][0]["changes"][0]["value"]["messages"][0].pop("text")
    assert post(webhook, json.dumps(envelope).encode()) == (200, "ok")
    assert clients.meta.texts(PHONE)[-1] == text("status", "id", status="AWAITING_AUTH",
                                                  wave=0)


@pytest.mark.parametrize(("raw", "signature", "expected"), [
    (b'{"object": "whatsapp_business_account"}', None, 401),
    (b'{"object": "whatsapp_business_account"}', "sha256=" + "0" * 64, 403),
    (b'{"object": "whatsapp_business_account"}', "sha1=abc", 403),
    (b"{not json", "sign", 400),
    (b"\xff\xfe\x00", "sign", 400),
    (b'{"object": "' + b"x" * MAX_BODY_BYTES + b'"}', "sign", 413),
])
def test_bad_requests_get_a_clean_4xx(webhook: FlaskClient, clients: FakeClients, raw: bytes,
                                      signature: str | None, expected: int) -> None:
    assert post(webhook, raw, signature)[0] == expected
    assert clients.meta.sent == []


def test_a_signature_over_another_body_is_refused(webhook: FlaskClient) -> None:
    response = webhook.post("/", data=body("/daftar"),
                            headers={"X-Hub-Signature-256": sign(body("/status"))})
    assert response.status_code == 403


def test_other_methods_are_not_allowed(webhook: FlaskClient) -> None:
    response = webhook.put("/", data=b"{}")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, POST"


def test_whatsapp_down_answers_503_and_the_redelivery_answers_once(
        webhook: FlaskClient, clients: FakeClients) -> None:
    raw = body(wamid="wamid.retry")
    clients.meta.whatsapp_errors.append((503, 131000))
    assert post(webhook, raw) == (503, "retry")  # WhatsApp redelivers a non-2xx
    assert clients.guards["inboundMessages"].status("wamid.retry") is None  # released
    assert post(webhook, raw) == (200, "ok")
    assert post(webhook, raw) == (200, "ok")
    assert len(clients.meta.to(PHONE)) == 1


def test_an_expired_whatsapp_token_asks_for_redelivery_not_rejected(
        webhook: FlaskClient, clients: FakeClients) -> None:
    raw = body(wamid="wamid.token")
    clients.meta.whatsapp_errors.append((401, 190))  # OAuthException: the token expired
    assert post(webhook, raw)[0] >= 500  # Meta redelivers for days
    assert clients.guards["inboundMessages"].status("wamid.token") is None
    assert post(webhook, raw) == (200, "ok")  # a new token: the redelivery is answered
    assert len(clients.meta.to(PHONE)) == 1


def test_a_late_redelivery_of_an_old_message_opens_no_window(
        webhook: FlaskClient, clients: FakeClients) -> None:
    """Meta redelivers an unanswered webhook for days (WIRE.md): the window counts from
    the message's own `timestamp`, so a day-old message neither reopens it nor releases
    what was held for the user's next message (it would fail as 131047 again)."""
    from datetime import UTC, datetime, timedelta

    from jiwa.window import Held

    window, now = clients.fake_window, datetime.now(UTC)
    window.last[PHONE] = now - timedelta(hours=30)
    window.held[PHONE] = [Held("job_held", "job_held-r1-00300")]

    def sent_at(moment: datetime, wamid: str) -> bytes:
        envelope = json.loads(body("halo", wamid))
        envelope["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = \
            str(int(moment.timestamp()))
        return json.dumps(envelope).encode()

    late = now - timedelta(hours=26)
    assert post(webhook, sent_at(late, "wamid.late"))[0] == 200
    assert window.held[PHONE] == [Held("job_held", "job_held-r1-00300")]  # still held
    assert window.last[PHONE] == late.replace(microsecond=0)  # forward, not to "now"
    assert post(webhook, sent_at(now - timedelta(hours=27), "wamid.older"))[0] == 200
    assert window.last[PHONE] == late.replace(microsecond=0)  # never moved back
    assert post(webhook, sent_at(now, "wamid.fresh"))[0] == 200
    assert PHONE not in window.held  # the user really wrote: released


def test_english_command_answers_in_english(webhook: FlaskClient, clients: FakeClients) -> None:
    post(webhook, body("/register"))
    [sent] = clients.meta.to(PHONE)
    assert sent["interactive"]["body"]["text"] == text("login_link", "en", name=" Sari")
    assert clients.store.latest_job_for(PHONE).language == "en"  # type: ignore[union-attr]


def test_daftar_while_running_says_so_and_status_reports_the_wave(
        webhook: FlaskClient, clients: FakeClients) -> None:
    clients.fake_store.put(Job(id="job_running", phone=PHONE, status=Status.RUNNING,
                               language="en", current_wave=4))
    post(webhook, body("/daftar", "wamid.1"))
    post(webhook, body("/status", "wamid.2"))
    post(webhook, body("what is this?", "wamid.3"))
    assert clients.meta.texts(PHONE) == [
        text("already_running", "en", status="RUNNING", wave=4),
        text("status", "en", status="RUNNING", wave=4),
        text("help", "id")]
    assert len(clients.fake_store.docs) == 1


def test_status_without_a_job(webhook: FlaskClient, clients: FakeClients) -> None:
    post(webhook, body("/status"))
    assert clients.meta.texts(PHONE) == [text("status_none", "id")]


def test_commands_past_the_limit_are_told_once_then_ignored(webhook: FlaskClient,
                                                            clients: FakeClients) -> None:
    limit = clients.settings.commands_per_minute
    for i in range(limit + 3):
        assert post(webhook, body("/status", f"wamid.spam{i}"))[0] == 200
    post(webhook, body("/status", "wamid.other", phone="6289999999999"))
    texts = clients.meta.texts(PHONE)
    assert texts == [text("status_none", "id")] * limit + [text("rate_limited", "id")]
    assert clients.meta.texts("6289999999999") == [text("status_none", "id")]


def test_several_messages_in_one_post_are_each_answered(webhook: FlaskClient,
                                                        clients: FakeClients) -> None:
    envelope = json.loads(body("/status", "wamid.m1"))
    change = copy.deepcopy(envelope["entry"][0]["changes"][0])
    change["value"]["messages"][0].update({"id": "wamid.m2", "from": "6280000000001"})
    change["value"]["contacts"][0]["wa_id"] = "6280000000001"
    envelope["entry"][0]["changes"].append(change)
    assert post(webhook, json.dumps(envelope).encode()) == (200, "ok")
    assert len(clients.meta.to(PHONE)) == 1 and len(clients.meta.to("6280000000001")) == 1


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12)
_messages = st.fixed_dictionaries({
    "from": st.sampled_from([PHONE, "6280000000001", ""]) | _scalars,
    "id": st.text(min_size=1, max_size=60) | _scalars,
    "type": st.sampled_from(["text", "image", "interactive", "reaction"]) | _scalars,
    "text": st.fixed_dictionaries({"body": st.sampled_from(
        ["/daftar", "/register", "/status", "DAFTAR", "halo"]) | st.text(max_size=80)})
    | _values})
_envelopes = st.fixed_dictionaries({
    "object": st.just("whatsapp_business_account") | _scalars,
    "entry": st.lists(st.fixed_dictionaries({"changes": st.lists(st.fixed_dictionaries({
        "value": st.fixed_dictionaries({"messages": st.lists(_messages, max_size=3),
                                        "contacts": _values, "statuses": _values})
        | _values}), max_size=2) | _values}), max_size=2) | _values})


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(envelope=_envelopes)
def test_generated_signed_bodies_never_get_a_5xx(webhook: FlaskClient, envelope: Any) -> None:
    """A 5xx makes WhatsApp redeliver for days: any signed body gets 200 or 400. (The
    security suite fuzzes the parser alone with far more inputs.)"""
    status, _ = post(webhook, json.dumps(envelope).encode())
    assert status in (200, 400)


USER_ID = "ID.1502576394655843"  # a business-scoped user id (Meta's documented form)


def test_a_user_with_a_username_and_no_number_is_onboarded_by_user_id(
        webhook: FlaskClient, clients: FakeClients) -> None:
    from jiwa.dev.simulate import webhook_body

    envelope = webhook_body(USER_ID, "/daftar", "wamid.username1")
    assert "from" not in envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    assert post(webhook, json.dumps(envelope).encode()) == (200, "ok")
    job = clients.store.latest_job_for(USER_ID)
    assert job is not None and job.status == Status.AWAITING_AUTH
    [sent] = clients.meta.sent
    assert sent["recipient"] == USER_ID and "to" not in sent  # how Meta addresses them
    assert sent["interactive"]["body"]["text"] == text("login_link", "id", name=" Sari")


def test_the_phone_number_is_kept_when_whatsapp_gives_both(webhook: FlaskClient,
                                                           clients: FakeClients) -> None:
    envelope = json.loads(body())
    value = envelope["entry"][0]["changes"][0]["value"]
    value["messages"][0]["from_user_id"] = USER_ID
    value["contacts"][0]["user_id"] = USER_ID
    assert post(webhook, json.dumps(envelope).encode()) == (200, "ok")
    assert clients.store.latest_job_for(PHONE) is not None  # earlier jobs stay theirs
    assert [m["to"] for m in clients.meta.sent] == [PHONE]


def test_the_global_brake_holds_new_onboardings_and_says_so() -> None:
    """JIWA_NEW_JOBS_PER_MINUTE: past it, a /daftar that would open an onboarding gets a
    polite reply and no job; a user already under way is answered as before; the brake
    is counted in the logs (outcome "braked")."""
    fakes = FakeClients(unit_settings(new_jobs_per_minute=3))
    app.install(fakes, fakes.launcher)
    try:
        webhook = functions_framework.create_app(
            "handle", str(ROOT / "functions" / "whatsapp_webhook" / "main.py"),
            "http").test_client()
        phones = [f"62811000000{i:02d}" for i in range(5)]
        for i, phone in enumerate(phones):
            assert post(webhook, body("/daftar", f"wamid.brake{i}", phone=phone))[0] == 200
        assert len(fakes.fake_store.docs) == 3  # the first three opened an onboarding
        assert fakes.meta.texts(phones[3]) == [text("busy_new_jobs", "id")]
        assert fakes.meta.texts(phones[4]) == [text("busy_new_jobs", "id")]
        # one of the three, sending /daftar again: its own onboarding, not the brake
        post(webhook, body("/daftar", "wamid.again", phone=phones[0]))
        assert fakes.meta.texts(phones[0])[-1] != text("busy_new_jobs", "id")
        assert len(fakes.fake_store.docs) == 3
    finally:
        app.install(None)
        fakes.http.close()
