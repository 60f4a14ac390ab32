"""The two public HTTP functions: signatures, the handshake, and the login state."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from harness import Harness, new_phone, sign, wait_for, webhook_body

from jiwa.crypto import StateSigner
from jiwa.store import Status


def _callback(h: Harness, **params: str):
    return h.http.get(h.state.url("instagram_oauth") + "/?" + urlencode(params))


def _state_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["state"][0]


def test_verification_handshake(harness: Harness) -> None:
    url = harness.state.url("whatsapp_webhook") + "/"
    ok = harness.http.get(url, params={"hub.mode": "subscribe", "hub.challenge": "1158201444",
                                       "hub.verify_token": "local-verify-token"})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    for params in ({"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
                   {"hub.mode": "unsubscribe", "hub.verify_token": "local-verify-token"}):
        assert harness.http.get(url, params=params).status_code == 403


def test_unsigned_or_badly_signed_webhooks_are_refused(harness: Harness) -> None:
    phone = new_phone()
    raw = json.dumps(webhook_body(phone, "/daftar")).encode()
    assert harness.post_webhook(raw, None).status_code == 401
    assert harness.post_webhook(raw, sign("not-the-secret", raw)).status_code == 403
    assert harness.post_webhook(raw, "sha256=").status_code == 403
    tampered = raw.replace(b"/daftar", b"/status")
    good_sig = sign(harness.env["WHATSAPP_APP_SECRET"], raw)
    assert harness.post_webhook(tampered, good_sig).status_code == 403
    # The webhook answers a message within its request, so a refused request has done all
    # it will do. A signed /status from the same phone now gets the only answer: no
    # onboarding, so the refused /daftar opened none.
    assert harness.send_whatsapp(phone, "/status").status_code == 200
    assert harness.texts(phone) == ["Belum ada onboarding. Kirim /daftar untuk mulai."]
    assert harness.store.latest_job_for(phone) is None


def test_redelivered_webhook_is_answered_once(harness: Harness) -> None:
    phone = new_phone()
    wamid = "wamid.same-one-" + phone
    for _ in range(3):
        assert harness.send_whatsapp(phone, "/daftar", wamid=wamid).status_code == 200
    # Each request returned after answering (or finding the message answered): the
    # message's record says answered, so no copy is still being handled.
    assert harness.statuses("inboundMessages", [wamid]) == {wamid: "sent"}
    assert [m["type"] for m in harness.conversation(phone)] == ["interactive"]


def test_status_callbacks_are_acknowledged(harness: Harness) -> None:
    raw = (Path(__file__).parents[1] / "data/webhook_status_and_image.json").read_bytes()
    response = harness.post_webhook(raw, sign(harness.env["WHATSAPP_APP_SECRET"], raw))
    assert response.status_code == 200


def test_reused_login_link_does_nothing_the_second_time(harness: Harness) -> None:
    phone = new_phone()
    harness.send_whatsapp(phone, "/register")
    link = harness.login_link(phone)
    assert harness.follow_login(link).status_code == 200
    job = harness.job_for(phone)
    replay = harness.follow_login(link)
    assert replay.status_code == 409 and "already used" in replay.text
    harness.wait_status(job.id, "COMPLETED", timeout=60)
    assert len(harness.job_processes(job.id)) == 1


def test_forged_state_is_refused(harness: Harness) -> None:
    page = _callback(harness, code="abc", state="eyJqIjoiam9iXzEifQ.forged")
    assert page.status_code == 400 and "not valid" in page.text
    other = StateSigner("some-other-secret-of-length").issue("job_x", "62811")
    assert _callback(harness, code="abc", state=other).status_code == 400
    # a state with non-ASCII text used to crash the signature check (500: redelivered)
    assert _callback(harness, code="abc", state="é.ü").status_code == 400


def test_the_callback_page_sends_security_headers(harness: Harness) -> None:
    page = _callback(harness, code="abc", state="x.y")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_expired_state_fails_the_job_and_tells_the_user(harness: Harness) -> None:
    phone = new_phone()
    harness.send_whatsapp(phone, "/register")
    job = harness.job_for(phone)
    signer = StateSigner(harness.env["OAUTH_STATE_SECRET"], ttl_seconds=60)
    expired = signer.issue(job.id, phone, now=time.time() - 3600)
    page = _callback(harness, code="abc", state=expired)
    assert page.status_code == 400 and "expired" in page.text
    assert harness.store.require(job.id).status == Status.FAILED
    texts = wait_for(lambda: len(t := harness.texts(phone)) >= 2 and t, 5)
    assert texts[1] == ("The Instagram login did not complete (the link expired). Send "
                        "/register to try again.")


def test_state_for_one_phone_cannot_attach_to_another_phones_job(harness: Harness) -> None:
    victim, attacker = new_phone(), new_phone()
    harness.send_whatsapp(victim, "/register")
    job = harness.job_for(victim)
    signer = StateSigner(harness.env["OAUTH_STATE_SECRET"])
    page = _callback(harness, code="abc", state=signer.issue(job.id, attacker))
    assert page.status_code == 403
    assert harness.store.require(job.id).status == Status.AWAITING_AUTH


@pytest.fixture
def deny_logins(harness: Harness):
    harness.standin_faults(instagram_deny=True)
    yield
    harness.standin_faults(instagram_deny=False)


def test_denied_login_closes_the_job_and_tells_the_user(harness: Harness, deny_logins) -> None:
    phone = new_phone()
    harness.send_whatsapp(phone, "/daftar")
    page = harness.follow_login(harness.login_link(phone))
    assert page.status_code == 200 and "Login dibatalkan" in page.text  # the user's language
    assert "cancelled" not in page.text
    job = harness.job_for(phone)
    assert job.status == Status.FAILED and job.error and job.error["code"] == "login_denied"
    texts = wait_for(lambda: len(t := harness.texts(phone)) >= 2 and t, 5)
    assert texts[1].startswith("Login Instagram tidak selesai (login dibatalkan)")
    assert harness.store.require(job.id).error["message"] == "Instagram: user_denied"
    # the user can start again
    harness.send_whatsapp(phone, "/daftar")
    assert harness.job_for(phone).id != job.id


def test_code_exchange_failure_is_reported(harness: Harness) -> None:
    phone = new_phone()
    harness.send_whatsapp(phone, "/register")
    link = harness.login_link(phone)
    page = _callback(harness, code="not-a-real-code", state=_state_of(link))
    assert page.status_code == 502 and "could not finish" in page.text
    assert harness.job_for(phone).status == Status.FAILED
    wait_for(lambda: any("did not complete" in t for t in harness.texts(phone)), 5)


def test_a_double_tap_on_the_login_link_keeps_the_login(harness: Harness) -> None:
    from concurrent.futures import ThreadPoolExecutor

    phone = new_phone()
    harness.send_whatsapp(phone, "/register")
    approved = harness.http.get(harness.login_link(phone), follow_redirects=False)
    callback = approved.headers["location"]  # the same code and state, twice at once
    with ThreadPoolExecutor(2) as pool:
        pages = list(pool.map(lambda _: harness.http.get(callback), range(2)))
    assert sorted(p.status_code for p in pages) == [200, 409]
    job = harness.job_for(phone)
    assert harness.wait_status(job.id, "COMPLETED", "FAILED", timeout=60).status == "COMPLETED"
    texts = harness.texts(phone)
    assert sum("connected! We're on it" in t for t in texts) == 1
    assert not any("did not complete" in t for t in texts)
