"""Accepted is not delivered: WhatsApp's statuses reach the send records (the failures
after acceptance are fault rows: tests/faults/test_whatsapp_delivery.py)."""

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
