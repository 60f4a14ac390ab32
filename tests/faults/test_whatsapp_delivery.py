"""WhatsApp after the 200: failures that arrive later as statuses, the closed window, and
the pair rate (WIRE.md "Accepted is not delivered"; jiwa/deliveries.py, window.py,
pacing.py). Each row's expected conversation comes from its scenario; `texts` is what
reached the phone (a message reported failed never did)."""

from __future__ import annotations

from conversations import ACCEPTED, Expected, backbone, duplicates, real_pipeline
from harness import Harness, new_phone, wait_for
from integration.test_end_to_end import onboard

from jiwa.deliveries import DeliveryLog
from jiwa.messages import text

TEMPLATE = "[template jiwa_reengage]"


def _onboard_failing_first_progress_message(harness: Harness, code: int) -> tuple[str, str]:
    """/register, and WhatsApp accepts the first progress message after the login link
    ("we're on it"), then reports it failed with `code`."""
    phone = new_phone()
    assert harness.send_whatsapp(phone, "/register").status_code == 200
    link = harness.login_link(phone)
    harness.standin_faults(whatsapp_async_fail=[{"code": code, "times": 1, "to": phone}])
    assert harness.follow_login(link).status_code == 200
    return phone, harness.job_for(phone).id


def _deliveries_final(harness: Harness, job_id: str, count: int) -> list[dict]:
    """The job's send records once `count` exist and each has its final status (the
    statuses arrive after the job ends; no sleep: the records say)."""
    def probe() -> list[dict] | None:
        rows = [r for r in DeliveryLog(harness.db).for_job(job_id)
                if "-barrier-" not in r.get("eventId", "")]  # Harness.barrier's own
        final = [r for r in rows if r["status"] in ("delivered", "failed")]
        return rows if len(rows) >= count and len(final) == len(rows) else None
    return wait_for(probe, 60, f"{count} messages of {job_id} with a final status")


def test_a_message_failing_with_131056_after_acceptance_arrives_once(
        harness: Harness, record) -> None:
    phone, job_id = _onboard_failing_first_progress_message(harness, 131056)
    harness.final_texts(job_id, phone, "Done!")
    events = harness.store.events(job_id)
    rows = _deliveries_final(harness, job_id, len(events) + 1)  # one of them sent twice
    texts = harness.texts(phone)
    expected = backbone(login=True)
    record.job("WhatsApp 131056 after the 200", harness, job_id, expected, texts)
    assert [r["error"]["code"] for r in rows if r["status"] == "failed"] == [131056]
    assert expected.delivered(texts) == len(expected.texts) and duplicates(texts) == 0


def test_an_undeliverable_message_is_recorded_and_the_rest_arrive(harness: Harness,
                                                                   record) -> None:
    phone, job_id = _onboard_failing_first_progress_message(harness, 131026)
    harness.final_texts(job_id, phone, "Done!")
    events = harness.store.events(job_id)
    rows = _deliveries_final(harness, job_id, len(events))
    texts = harness.texts(phone)
    full = backbone(login=True)  # all of it but the message WhatsApp could not deliver
    expected = Expected(tuple(t for t in full.head if t != ACCEPTED["en"]), tail=full.tail)
    record.job("WhatsApp 131026 after the 200", harness, job_id, expected, texts)
    assert [r["error"]["code"] for r in rows if r["status"] == "failed"] == [131026]
    assert len(rows) == len(events)  # not sent again: nothing would help
    assert texts == expected.texts


def test_a_closed_window_holds_the_message_until_the_user_replies(harness: Harness,
                                                                  record) -> None:
    phone, job_id = _onboard_failing_first_progress_message(harness, 131047)
    harness.final_texts(job_id, phone, "Done!")
    wait_for(lambda: TEMPLATE in harness.texts(phone), 30, "the re-engagement template")
    assert ACCEPTED["en"] not in harness.texts(phone)  # held, not lost, not sent blindly
    assert harness.send_whatsapp(phone, "ok").status_code == 200  # the user replies
    wait_for(lambda: ACCEPTED["en"] in harness.texts(phone), 30, "the held message")
    harness.settle(job_id)
    texts = harness.texts(phone)
    expected = backbone(login=True)
    record.job("WhatsApp 131047 after the 200, user replies", harness, job_id, expected,
               texts)
    assert expected.delivered(texts) == len(expected.texts) and duplicates(texts) == 0
    # besides the conversation: one template, and the help answer to "ok"
    assert sorted(set(texts) - set(expected.texts)) == sorted({TEMPLATE, text("help", "id")})


def test_a_burst_of_messages_stays_under_the_pair_rate(harness: Harness, record) -> None:
    # WhatsApp's pair rate with its timescale shrunk to the test stack's pacing (6 s per
    # message -> 0.25 s; burst: our budget of 10 and two more, far tighter than Meta's 45:
    # the two cover the time between our reservation and the send reaching WhatsApp,
    # which under load made an exact match trip once). A budget above the limit trips it:
    # with a burst of 3 here, this row fails.
    harness.standin_faults(whatsapp_pair_rate={"interval_ms": 250, "burst": 12})
    try:
        phone = new_phone()
        harness.control(phone, pipeline="real")
        job_id = onboard(harness, phone)
        texts = harness.final_texts(job_id, phone, "All 6", timeout=90)
    finally:
        harness.standin_faults(whatsapp_pair_rate=None)
    expected = real_pipeline(harness.store.checkpoints(job_id))
    record.job("a burst of 20+ messages under the pair rate", harness, job_id, expected,
               texts)
    assert [r for r in harness.refusals() if r["to"] == phone] == []  # never 131056
    assert expected.problems(texts) == []
