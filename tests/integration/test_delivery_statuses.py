"""Accepted is not delivered: WhatsApp's statuses reach the send records, and a message
that fails afterwards is sent again once (transient) or recorded (permanent)."""

from __future__ import annotations

import json
import subprocess

from harness import Harness, new_phone, wait_for

from jiwa.deliveries import DeliveryLog


def _deliveries(harness: Harness, job_id: str) -> list[dict]:
    return DeliveryLog(harness.db).for_job(job_id)


def _settled(harness: Harness, job_id: str, expected: int) -> list[dict]:
    """The job's messages once each has its final status (no sleep: the records say)."""
    def probe() -> list[dict] | None:
        rows = _deliveries(harness, job_id)
        done = [r for r in rows if r["status"] in ("delivered", "failed")]
        return rows if len(rows) >= expected and len(done) == len(rows) else None
    return wait_for(probe, 60, f"{expected} messages with a final status")


def test_every_message_of_an_onboarding_ends_delivered(harness: Harness) -> None:
    from integration.test_end_to_end import onboard

    phone = new_phone()
    job_id = onboard(harness, phone)
    harness.wait_status(job_id, "COMPLETED", timeout=60)
    events = [e for e in harness.store.events(job_id)]
    rows = _settled(harness, job_id, len(events))
    assert {r["eventId"] for r in rows} == {e["event_id"] for e in events}
    assert {r["status"] for r in rows} == {"delivered"}
    shown = subprocess.run([".venv/bin/jiwa", "jobs", "show", job_id, "--json"],
                           capture_output=True, text=True, check=True,
                           env=harness.env).stdout
    messages = json.loads(shown)["messages"]
    assert len(messages) == len(events) and {m["status"] for m in messages} == {"delivered"}


def _onboard_failing_first_progress_message(harness: Harness, code: int) -> str:
    """An onboarding whose first progress message (after the login link) fails after
    WhatsApp accepted it, with `code`."""
    phone = new_phone()
    assert harness.send_whatsapp(phone, "/register").status_code == 200
    link = harness.login_link(phone)
    harness.standin_faults(whatsapp_async_fail=[{"code": code, "times": 1, "to": phone}])
    assert harness.follow_login(link).status_code == 200
    return harness.job_for(phone).id


def test_a_message_failing_after_acceptance_is_sent_again_once(harness: Harness) -> None:
    job_id = _onboard_failing_first_progress_message(harness, 131056)  # pair rate limit
    harness.wait_status(job_id, "COMPLETED", timeout=60)
    events = harness.store.events(job_id)
    rows = _settled(harness, job_id, len(events) + 1)
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"]["code"] == 131056
    again = [r for r in rows if r["eventId"] == failed[0]["eventId"] and r is not failed[0]]
    assert [r["status"] for r in again] == ["delivered"]  # sent again, exactly once
    delivered = {r["eventId"] for r in rows if r["status"] == "delivered"}
    assert delivered == {e["event_id"] for e in events}  # nothing lost


def test_a_permanent_failure_is_recorded_not_resent(harness: Harness) -> None:
    job_id = _onboard_failing_first_progress_message(harness, 131026)  # undeliverable
    harness.wait_status(job_id, "COMPLETED", timeout=60)
    events = harness.store.events(job_id)
    rows = _settled(harness, job_id, len(events))
    assert [r["error"]["code"] for r in rows if r["status"] == "failed"] == [131026]
    assert len(rows) == len(events)  # no second try for an undeliverable message
