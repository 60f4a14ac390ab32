"""The 24-hour window: a rerun a day after the user last wrote sends one template, holds
its messages, and delivers them in order when the user replies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harness import Harness, new_phone, wait_for

from jiwa.events import OnboardingRequested, ProgressEvent
from jiwa.messages import render, text


def _conversation_record(harness: Harness, phone: str) -> dict:
    snap = harness.db.collection("conversations").document(harness.phones(phone)).get()
    return snap.to_dict() or {}


def _expected(harness: Harness, job_id: str, run: int, language: str) -> list[str]:
    """What run `run` must say, rendered from its own event log (not from what arrived)."""
    events = [ProgressEvent.model_validate(e) for e in harness.store.events(job_id)
              if e["run"] == run]
    return [("[image] " if (o := render(e, language)).image_url else "") + o.body
            for e in events]


def _onboarded(harness: Harness) -> tuple[str, str]:
    from integration.test_end_to_end import onboard

    phone = new_phone()
    job_id = onboard(harness, phone)
    harness.wait_status(job_id, "COMPLETED", timeout=60)
    harness.settle(job_id)
    return phone, job_id


def test_a_rerun_outside_the_window_waits_for_the_users_reply(harness: Harness) -> None:
    phone, job_id = _onboarded(harness)
    before = len(harness.texts(phone))
    harness.db.collection("conversations").document(harness.phones(phone)).set(
        {"lastInboundAt": datetime.now(UTC) - timedelta(hours=25)}, merge=True)
    queued = harness.store.rerun_from(job_id, 7)
    harness.publisher().publish_requested(OnboardingRequested.for_run(job_id, queued.run))
    harness.wait_status(job_id, "COMPLETED", timeout=60)
    expected = _expected(harness, job_id, queued.run, "en")
    held = wait_for(lambda: len(r := _conversation_record(harness, phone).get("held") or [])
                    == len(expected) and r, 30, "every message of the rerun held")
    assert [h["eventId"] for h in held] == [e["event_id"] for e in harness.store.events(job_id)
                                            if e["run"] == queued.run]
    assert harness.texts(phone)[before:] == ["[template jiwa_reengage]"]  # one, no text

    assert harness.send_whatsapp(phone, "ok").status_code == 200  # the user replies
    after = wait_for(lambda: len(t := harness.texts(phone)[before + 1:]) >= len(expected) + 1
                     and t, 30, "the held messages")
    help_reply, released = after[0], after[1:]
    assert help_reply == text("help", "id")  # "ok" says no language: the default
    assert released == expected  # in order, each once
    assert _conversation_record(harness, phone)["held"] == []
    assert harness.texts(phone).count("[template jiwa_reengage]") == 1


def test_the_window_counts_from_the_newest_message_seen(harness: Harness) -> None:
    """ConversationWindow.touch on the emulator: a message Meta redelivers late never moves
    the window back, and one older than 24 h does not open it."""
    from jiwa.window import ConversationWindow

    window, phone, now = ConversationWindow(harness.db, harness.phones), new_phone(), \
        datetime.now(UTC)
    assert window.touch(phone, now - timedelta(hours=26)) is False  # a day-old message
    assert not window.is_open(phone)
    assert window.touch(phone, now - timedelta(hours=1)) is True
    assert window.touch(phone, now - timedelta(hours=30)) is False  # older: ignored
    last = _conversation_record(harness, phone)["lastInboundAt"]
    assert abs((last - (now - timedelta(hours=1))).total_seconds()) < 1
    assert window.is_open(phone)
