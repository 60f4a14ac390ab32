"""Duplicates, crashes and outages, on the real emulators. Every row: 0 lost, 0
duplicated, no job left non-terminal."""

from __future__ import annotations

import concurrent.futures
import json
import secrets
import time
from collections import Counter
from datetime import timedelta

import pytest
from harness import Harness, new_phone, sign, wait_for, webhook_body
from integration.test_end_to_end import expected_conversation, onboard

from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.store import now

DONE_EN = "Done! Your brand analysis, content calendar and 0 images are ready."
EXPIRED_ID = ("Maaf, terjadi kendala saat menyiapkan onboarding: tautan login sudah "
              "kedaluwarsa. Kirim /daftar untuk mencoba lagi.")
N = 6


def _final_conversation(h: Harness, phone: str, prefixes: tuple[str, ...],
                        timeout: float = 60) -> list[str]:
    texts = wait_for(lambda: (t := h.texts(phone)) and t[-1].startswith(prefixes) and t,
                     timeout, f"a final message {prefixes}")
    time.sleep(0.5)  # anything sent twice would arrive now
    return h.texts(phone) or texts


def _dups(texts: list[str]) -> int:
    return sum(c - 1 for c in Counter(texts).values() if c > 1)


def _row(record, scenario: str, h: Harness, job_id: str, expected: list[str],
         texts: list[str]) -> None:
    from faults.conftest import Row

    job = h.store.require(job_id)
    delivered = sum(1 for t in expected if t in texts)
    record.append(Row(scenario, len(h.job_processes(job_id)), len(expected), delivered,
                      _dups(texts), str(job.status)))


def test_every_message_delivered_three_times(harness: Harness, record) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    publisher = harness.publisher()
    accepted = ProgressEvent(event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id,
                             seq=0, kind=ProgressKind.ACCEPTED,
                             payload={"handle": "kopisenja.id"})
    for _ in range(3):
        publisher.publish_progress(accepted)
        publisher.publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                        job_id=job.id))
    for _ in range(3):
        harness.send_whatsapp(phone, "/status", wamid=f"wamid.status-{phone}")
    harness.wait_status(job.id, "COMPLETED", timeout=60)
    texts = _final_conversation(harness, phone, ("Done!",))
    status_replies = [t for t in texts if t.startswith("Onboarding status")]
    expected = ["Instagram @kopisenja.id connected! We're on it…",
                *expected_conversation(), DONE_EN]
    _row(record, "each message delivered 3 times", harness, job.id, expected,
         [t for t in texts if t not in status_replies])
    assert len(status_replies) == 1
    assert [t for t in texts if t not in status_replies] == expected
    assert len(harness.job_processes(job.id)) == 1


@pytest.mark.parametrize("wave", range(1, 10))
def test_killed_during_each_wave_resumes_there(harness: Harness, record, wave: int) -> None:
    phone = new_phone()
    harness.control(phone, pipeline="real", kill_at_wave=wave)
    job_id = onboard(harness, phone)
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    texts = _final_conversation(harness, phone, ("All 6",))
    waves = harness.store.checkpoints(job_id)
    _row(record, f"SIGKILL during wave {wave}", harness, job_id, texts[1:], texts[1:])
    assert job.status == "COMPLETED" and job.attempt == 1
    assert _dups(texts) == 0
    assert len([t for t in texts if t.startswith("[image]")]) == N
    assert sorted(waves) == list(range(1, 10))


def test_killed_mid_images_keeps_the_images_it_had(harness: Harness, record) -> None:
    harness.http.post(harness.state.url("fal") + "/_standin/reset")
    phone = new_phone()
    harness.control(phone, pipeline="real", kill_after_images=2)
    job_id = onboard(harness, phone)
    kept = wait_for(lambda: len(i := harness.store.images(job_id)) >= 2 and i, 60)
    kept = {k: v["url"] for k, v in kept.items()}
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    texts = _final_conversation(harness, phone, ("All 6",))
    final = {i["index"]: i["url"]
             for i in harness.store.business(job.business_id or "")["images"]}
    _row(record, "SIGKILL after 2 images stored", harness, job_id, texts[1:], texts[1:])
    assert job.status == "COMPLETED"
    assert all(final[k] == url for k, url in kept.items())  # none generated again
    fal = harness.http.get(harness.state.url("fal") + "/_standin/requests").json()
    assert len({r["arguments"]["prompt"] for r in fal}) <= N
    assert _dups(texts) == 0


def test_killed_on_every_attempt_is_failed_by_the_sweeper_once(harness: Harness,
                                                                record) -> None:
    phone = new_phone()
    harness.control(phone, kill_at_wave=4, kill_attempts=2)  # every attempt, every dispatch
    job_id = onboard(harness, phone)
    job = harness.wait_status(job_id, "FAILED", timeout=60)
    texts = _final_conversation(harness, phone, ("Sorry",))
    _row(record, "killed on every attempt (sweeper)", harness, job_id, texts[1:], texts[1:])
    assert job.error and job.error["code"] == "job_lost" and job.redispatches == 1
    assert sum(t.startswith("Sorry") for t in texts) == 1
    assert texts[-1] == ("Sorry, something went wrong while preparing your products: the work "
                         "stopped unexpectedly. Send /register to try again.")
    assert len(harness.job_processes(job_id)) == 4  # 2 attempts x (dispatch + re-dispatch)


def test_vanished_job_is_redispatched_and_completes(harness: Harness, record) -> None:
    phone = new_phone()
    harness.control(phone, kill_at_wave=6, kill_attempts=2, kill_dispatches=1)
    job_id = onboard(harness, phone)
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=60)
    texts = _final_conversation(harness, phone, ("Done!",))
    expected = [texts[0], "Instagram @kopisenja.id connected! We're on it…",
                *expected_conversation(), DONE_EN]
    _row(record, "job vanished, sweeper re-dispatched", harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.redispatches == 1
    assert texts == expected


@pytest.fixture
def whatsapp_faults(harness: Harness):
    yield lambda **faults: harness.standin_faults(**faults)
    harness.standin_faults(whatsapp=[], whatsapp_invalid=[])


def test_whatsapp_outage_delays_but_loses_nothing(harness: Harness, record,
                                                  whatsapp_faults) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    whatsapp_faults(whatsapp=[{"status": 500, "code": 131000, "times": 2},
                              {"status": 429, "code": 130429, "times": 2}])
    harness.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                              job_id=job.id))
    harness.wait_status(job.id, "COMPLETED", timeout=60)
    started = time.monotonic()
    texts = _final_conversation(harness, phone, ("Done!",), timeout=180)
    print(f"\nlast message {time.monotonic() - started:.1f}s after the job completed")
    expected = [*expected_conversation(), DONE_EN]
    _row(record, "WhatsApp 5xx/130429 for a while", harness, job.id, expected, texts)
    assert texts == expected  # late, but all, in order, once


def test_invalid_recipient_is_acknowledged_not_retried(harness: Harness, record,
                                                       whatsapp_faults) -> None:
    phone = new_phone()
    whatsapp_faults(whatsapp_invalid=[phone])
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                              job_id=job.id))
    harness.wait_status(job.id, "COMPLETED", timeout=60)
    events = harness.store.events(job.id)

    def all_rejected() -> list[str | None] | None:
        found = [harness.send_status(e["event_id"]) for e in events]
        return found if all(s == "rejected" for s in found) else None

    statuses = wait_for(all_rejected, 30, "every event rejected once")
    _row(record, "invalid recipient", harness, job.id, [], [])
    assert len(statuses) == len(events) and harness.conversation(phone) == []


def test_burst_of_1000_webhooks_from_200_phones(harness: Harness, record) -> None:
    phones = [new_phone() for _ in range(200)]
    secret = harness.env["WHATSAPP_APP_SECRET"]
    bodies = []
    for phone in phones:
        wamid = f"wamid.burst-{secrets.token_hex(6)}"
        daftar = json.dumps(webhook_body(phone, "/daftar", wamid)).encode()
        bodies += [daftar, daftar, daftar]  # WhatsApp redeliveries of the same message
        for text in ("/status", "halo"):
            bodies.append(json.dumps(webhook_body(phone, text)).encode())
    url = harness.state.url("whatsapp_webhook") + "/"

    def post(raw: bytes) -> int:
        import httpx
        return httpx.post(url, content=raw, timeout=60,
                          headers={"X-Hub-Signature-256": sign(secret, raw)}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(post, bodies))
    retried = [b for b, c in zip(bodies, codes, strict=True) if c != 200]
    for raw in retried:  # what WhatsApp would do with a non-2xx answer
        assert post(raw) == 200
    time.sleep(1.0)
    links = 0
    for phone in phones:
        sent = harness.conversation(phone)
        links += sum(m["type"] == "interactive" for m in sent)
        assert sum(m["type"] == "interactive" for m in sent) == 1, phone
        assert len(sent) == 3, (phone, sent)
        assert harness.store.latest_job_for(phone).status == "AWAITING_AUTH"
    assert links == 200

    # Nobody logs in: past the login window the sweeper expires every job, telling each
    # user once, so no job is left waiting.
    jobs = [harness.store.latest_job_for(phone) for phone in phones]
    batch = harness.db.batch()
    for job in jobs:
        batch.update(harness.store._ref(job.id), {"createdAt": now() - timedelta(hours=1)})
    batch.commit()
    wait_for(lambda: all(harness.store.require(j.id).status == "FAILED" for j in jobs), 120,
             "every unfinished login expired")
    wait_for(lambda: all(len(harness.conversation(p)) >= 4 for p in phones), 120,
             "every expiry message")
    time.sleep(1.0)  # anything sent twice would arrive now
    conversations = [harness.texts(phone) for phone in phones]
    from faults.conftest import Row
    record.append(Row(f"1000 webhooks, 200 phones ({len(retried)} retried), expired", 0, 800,
                      sum(len(c) for c in conversations), sum(map(_dups, conversations)),
                      "FAILED x200 (login expired)"))
    assert all(len(c) == 4 and c[-1] == EXPIRED_ID for c in conversations)


def test_unfinished_login_is_expired_by_the_sweeper(harness: Harness, record) -> None:
    from faults.conftest import Row

    phone = new_phone()
    harness.send_whatsapp(phone, "/daftar")
    job = harness.job_for(phone)
    harness.store._ref(job.id).update({"createdAt": now() - timedelta(hours=1)})
    expired = harness.wait_status(job.id, "FAILED", timeout=30)  # the scheduler ticks every 2 s
    texts = _final_conversation(harness, phone, ("Maaf",))
    record.append(Row("login never finished (sweeper)", 0, 2, len(texts), _dups(texts),
                      str(expired.status)))
    assert expired.error and expired.error["code"] == "login_expired"
    assert texts[-1] == EXPIRED_ID
    assert len(texts) == 2
