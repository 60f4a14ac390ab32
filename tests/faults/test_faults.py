"""Duplicates, crashes and outages, on the real emulators. Every row: 0 lost, 0
duplicated, no job left non-terminal.

Each test compares the whole conversation with the one its scenario requires
(tests/conversations.py), read after a barrier (Harness.settle): the job is over, its
processes have exited and everything published for it has been handled, so a message sent
twice, or late, is in what the test reads."""

from __future__ import annotations

import concurrent.futures
import json
import secrets
import ssl
from collections import Counter
from datetime import timedelta

import httpx
import pytest
from conversations import LOGIN_LINK, Expected, backbone, duplicates, real_pipeline
from harness import Harness, new_phone, sign, wait_for, webhook_body
from integration.test_end_to_end import onboard

from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.failures import FAILED_SEQ
from jiwa.store import now
from jiwa.waves.image_work import post_key

from .conftest import Row

EXPIRED_ID = ("Maaf, terjadi kendala saat menyiapkan onboarding: tautan login sudah "
              "kedaluwarsa. Kirim /daftar untuk mencoba lagi.")
N = 6


def test_every_message_delivered_three_times(harness: Harness, record) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    publisher = harness.publisher()
    accepted = ProgressEvent(event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id,
                             seq=0, kind=ProgressKind.ACCEPTED,
                             payload={"handle": "kopisenja.id"})
    request = OnboardingRequested(event_id=f"{job.id}-req", job_id=job.id)
    for _ in range(3):
        publisher.publish_progress(accepted)
        publisher.publish_requested(request)
    for _ in range(3):
        harness.send_whatsapp(phone, "/status", wamid=f"wamid.status-{phone}")
    texts = harness.final_texts(job.id, phone, "Done!")
    # The dispatcher logs one outcome per delivery it handled: once all three are in,
    # a second launch would be among them.
    outcomes = wait_for(lambda: len(o := harness.dispatcher_outcomes(request.event_id)) >= 3
                        and o, 30, "the dispatcher to handle the three deliveries")
    status_replies = [t for t in texts if t.startswith("Onboarding status")]
    progress = [t for t in texts if t not in status_replies]
    expected = backbone()
    record.job("each message delivered 3 times", harness, job.id, expected, progress)
    assert len(status_replies) == 1
    assert progress == expected.texts
    assert [o.split(" ", 2)[1] for o in outcomes].count("launched") == 1
    assert len(harness.job_processes(job.id)) == 1


@pytest.mark.parametrize("wave", range(1, 10))
def test_killed_during_each_wave_resumes_there(harness: Harness, record, wave: int) -> None:
    phone = new_phone()
    harness.control(phone, pipeline="real", kill_at_wave=wave)
    job_id = onboard(harness, phone)
    texts = harness.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=90)
    job = harness.store.require(job_id)
    waves = harness.store.checkpoints(job_id)
    expected = real_pipeline(waves)
    record.job(f"SIGKILL during wave {wave}", harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.attempt == 1
    assert expected.problems(texts) == []
    assert sorted(waves) == list(range(1, 10))


def test_killed_mid_images_keeps_the_images_it_had(harness: Harness, record) -> None:
    harness.http.post(harness.state.url("fal") + "/_standin/reset")
    phone = new_phone()
    harness.control(phone, pipeline="real", kill_after_images=2)
    job_id = onboard(harness, phone)
    kept = wait_for(lambda: len(i := harness.store.images(job_id)) >= 2 and i, 60)
    kept = {k: v["url"] for k, v in kept.items()}
    texts = harness.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=90)
    job = harness.store.require(job_id)
    final = {i["index"]: i["url"]
             for i in harness.store.business(job.business_id or "")["images"]}
    expected = real_pipeline(harness.store.checkpoints(job_id))
    record.job("SIGKILL after 2 images stored", harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.attempt == 1
    assert all(final[k] == url for k, url in kept.items())  # none generated again
    fal = harness.http.get(harness.state.url("fal") + "/_standin/requests").json()
    assert len({r["arguments"]["prompt"] for r in fal}) <= N
    assert expected.problems(texts) == []


def test_killed_after_an_image_before_its_calendar_ended_keeps_no_stale_image(
        harness: Harness, record) -> None:
    anthropic = harness.state.url("anthropic")
    harness.http.post(anthropic + "/_standin/reset")
    # The calendar takes 4 s to write, so post 1's image is stored (and the job killed)
    # while it is still being written; the retry's calendar differs from the first in
    # every caption, as a real model's second answer would.
    harness.http.post(anthropic + "/_standin/faults", json={
        "latency_ms_by_schema": {"ContentCalendar": 4000},
        "calendar_variants": [{"suffix": "", "times": 1}, {"suffix": " (v2)", "times": 9}]})
    try:
        phone = new_phone()
        harness.control(phone, pipeline="real", kill_after_images=1)
        job_id = onboard(harness, phone)
        early = wait_for(lambda: (i := harness.store.images(job_id)) and i, 60)
        texts = harness.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=90)
    finally:
        harness.http.post(anthropic + "/_standin/reset")
    job = harness.store.require(job_id)
    checkpoints = harness.store.checkpoints(job_id)
    expected = real_pipeline(checkpoints)
    record.job("SIGKILL after image 1, calendar unfinished", harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.attempt == 1
    # the calendar kept is the retry's: the first attempt died before checkpointing its own
    assert all(p["caption"].endswith(" (v2)") for p in checkpoints[6]["posts"])
    items = {p["index"]: p for p in checkpoints[7]["prompts"]}
    stale = {i for i, r in early.items() if r["post"] != post_key(items[i])}
    assert stale  # made for the first calendar's post …
    final = {i["index"]: i for i in harness.store.business(job.business_id or "")["images"]}
    kept = harness.store.images(job_id)
    for index, item in items.items():  # … and none of those kept: each image is its post's
        assert final[index]["post"] == kept[index]["post"] == post_key(item)
    assert all(final[i]["url"] != early[i]["url"] for i in stale)
    assert expected.problems(texts) == []


def test_killed_on_every_attempt_is_failed_by_the_sweeper_once(harness: Harness,
                                                                record) -> None:
    phone = new_phone()
    harness.control(phone, kill_at_wave=4, kill_attempts=2)  # every attempt, every dispatch
    job_id = onboard(harness, phone)
    texts = harness.final_texts(job_id, phone, "Sorry", timeout=60)
    job = harness.store.require(job_id)
    expected = backbone(login=True, failed_in=4, failure=(
        "Sorry, something went wrong while preparing your products: the work stopped "
        "unexpectedly. Send /register to try again."))
    record.job("killed on every attempt (sweeper)", harness, job_id, expected, texts)
    assert job.error and job.error["code"] == "job_lost" and job.redispatches == 1
    assert texts == expected.texts
    assert len(harness.job_processes(job_id)) == 4  # 2 attempts x (dispatch + re-dispatch)


def test_vanished_job_is_redispatched_and_completes(harness: Harness, record) -> None:
    phone = new_phone()
    harness.control(phone, kill_at_wave=6, kill_attempts=2, kill_dispatches=1)
    job_id = onboard(harness, phone)
    texts = harness.final_texts(job_id, phone, ("Done!", "Sorry"), timeout=60)
    job = harness.store.require(job_id)
    expected = backbone(login=True)
    record.job("job vanished, sweeper re-dispatched", harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.redispatches == 1
    assert texts == expected.texts


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
    texts = harness.final_texts(job.id, phone, "Done!", timeout=180)
    expected = backbone(accepted=False)
    record.job("WhatsApp 5xx/130429 for a while", harness, job.id, expected, texts)
    assert texts == expected.texts  # late, but all, in order, once


def test_invalid_recipient_is_acknowledged_not_retried(harness: Harness, record,
                                                       whatsapp_faults) -> None:
    phone = new_phone()
    whatsapp_faults(whatsapp_invalid=[phone])
    job = harness.queued_job(phone)
    harness.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                              job_id=job.id))
    done = harness.settle(job.id)  # the barrier event is rejected too, after all the others
    events = [e["event_id"] for e in harness.store.events(job.id)]
    statuses = harness.statuses("notifications", events)
    sent = harness.texts(phone)
    record.add(Row("invalid recipient", len(harness.job_processes(job.id)), 0, len(sent),
                   duplicates(sent), str(done.status)))
    assert done.status == "COMPLETED"
    assert len(events) == len(backbone(accepted=False).texts)  # every step was published …
    assert set(statuses.values()) == {"rejected"}  # … and each refused once, for good
    assert sent == []


HELP_ID = "Perintah: /daftar untuk mulai onboarding, /status untuk melihat progres."
# /status races the /daftar sent at the same moment: either answer is right, once.
STATUS_ID = ("Belum ada onboarding. Kirim /daftar untuk mulai.",
             "Status onboarding: AWAITING_AUTH, tahap 0 dari 9.")


def _burst_problems(texts: list[str]) -> tuple[int, int, list[str]]:
    """Of one phone's four required messages (the login link, the help and one /status
    answer in any order, then the expiry): how many arrived, how many repeats, and what
    is wrong."""
    answers = sum(t in STATUS_ID for t in texts)
    delivered = ((LOGIN_LINK["id"] in texts) + (HELP_ID in texts) + (answers > 0)
                 + (EXPIRED_ID in texts))
    repeats = duplicates(texts) + max(answers - 1, 0)
    wrong = []
    if len(texts) != 4 or texts[-1] != EXPIRED_ID:
        wrong.append(f"not 3 answers then the expiry: {texts!r}")
    elif Counter(t if t not in STATUS_ID else STATUS_ID for t in texts[:3]) != \
            Counter([LOGIN_LINK["id"], HELP_ID, STATUS_ID]):
        wrong.append(f"not the login link, the help and a status answer: {texts[:3]!r}")
    return delivered, repeats, wrong


def test_burst_of_1000_webhooks_from_200_phones(harness: Harness, record) -> None:
    phones = [new_phone() for _ in range(200)]
    secret = harness.env["WHATSAPP_APP_SECRET"]
    bodies, wamids = [], []
    for phone in phones:
        for text in ("/daftar", "/status", "halo"):
            wamid = f"wamid.burst-{secrets.token_hex(6)}"
            raw = json.dumps(webhook_body(phone, text, wamid)).encode()
            wamids.append(wamid)
            # WhatsApp redelivers the same /daftar twice more
            bodies += [raw] * (3 if text == "/daftar" else 1)
    url = harness.state.url("whatsapp_webhook") + "/"
    # Each delivery on a connection of its own, as Meta's are; one TLS context for all of
    # them (plain http here): building httpx's default one loads the CA bundle, 47 ms of
    # CPU a client, about a minute of the test's 1,227 posts on this 2-core machine.
    tls = ssl.create_default_context()

    def post(raw: bytes) -> int:
        return httpx.post(url, content=raw, timeout=60, verify=tls,
                          headers={"X-Hub-Signature-256": sign(secret, raw)}).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(post, bodies))
        retried = [b for b, c in zip(bodies, codes, strict=True) if c != 200]
        # what WhatsApp does with a non-2xx answer: deliver it again later, each user's
        # redeliveries alongside everyone else's
        assert set(pool.map(post, retried)) <= {200}
    # The webhook answers within the request, and marks a message answered only after
    # its answer is sent: with every message marked, every answer is in the stand-in.
    assert set(harness.statuses("inboundMessages", wamids).values()) == {"sent"}
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
    # The expiry is each job's only progress event. Once its send record is final, the
    # notifier will never send it again (a redelivery finds it sent): nothing more comes.
    failures = [ProgressEvent.make_id(job.id, job.run, FAILED_SEQ) for job in jobs]
    wait_for(lambda: set(harness.statuses("notifications", failures).values()) == {"sent"},
             120, "every expiry message sent")
    assert all(harness.store.require(j.id).status == "FAILED" for j in jobs)
    results = [_burst_problems(harness.texts(phone)) for phone in phones]
    record.add(Row(f"1000 webhooks, 200 phones ({len(retried)} retried), expired", 0,
                   4 * len(phones), sum(r[0] for r in results), sum(r[1] for r in results),
                   "FAILED x200 (login expired)"))
    assert [wrong for _, _, wrong in results if wrong] == []


def test_unfinished_login_is_expired_by_the_sweeper(harness: Harness, record) -> None:
    phone = new_phone()
    harness.send_whatsapp(phone, "/daftar")
    job = harness.job_for(phone)
    harness.store._ref(job.id).update({"createdAt": now() - timedelta(hours=1)})
    # the scheduler ticks every 2 s
    texts = harness.final_texts(job.id, phone, "Maaf", timeout=30)
    expired = harness.store.require(job.id)
    expected = Expected((LOGIN_LINK["id"], EXPIRED_ID))
    record.job("login never finished (sweeper)", harness, job.id, expected, texts)
    assert expired.status == "FAILED"
    assert expired.error and expired.error["code"] == "login_expired"
    assert texts == expected.texts
