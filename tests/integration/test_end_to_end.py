"""A WhatsApp user's /daftar through every real part of the backbone."""

from __future__ import annotations

import secrets

from harness import Harness, new_phone, wait_for

from jiwa.sealed_tokens import TokenOpener

WAVE_TEXTS_EN = ["Learning about your business…", "Reading your website…",
                 "Analyzing your brand…", "Preparing your products…", "Matching AI influencers…",
                 "Planning your content calendar…", "Designing your images…", "Creating images…",
                 "Checking image quality…"]


def expected_conversation() -> list[str]:
    texts = []
    for n, wave_text in enumerate(WAVE_TEXTS_EN, 1):
        texts.append(wave_text)
        if n == 3:
            texts.append("Brand analysis\nsummary of wave 3")
        if n == 6:
            texts.append("Calendar ready!\nsummary of wave 6")
    return texts


def onboard(h: Harness, phone: str, command: str = "/register") -> str:
    assert h.send_whatsapp(phone, command).status_code == 200
    page = h.follow_login(h.login_link(phone))
    assert page.status_code == 200, page.text
    # the page speaks the user's language, which the command chose
    assert ("Instagram terhubung" if command == "/daftar" else "Instagram connected") in page.text
    return h.job_for(phone).id


def test_register_to_completed_conversation(harness: Harness) -> None:
    phone = new_phone()
    job_id = onboard(harness, phone)
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=60)
    assert job.status == "COMPLETED"
    assert job.current_wave == 9
    assert job.instagram_handle == "kopisenja.id"
    assert job.instagram_token and job.instagram_token.startswith("v2:")
    assert "IGlong" not in job.instagram_token
    cipher = TokenOpener(harness.env["TOKEN_PRIVATE_KEY"])  # the job's half only
    assert cipher.decrypt(job.instagram_token, job_id).startswith("IGlong")
    texts = wait_for(lambda: (t := harness.texts(phone)) and "Done!" in t[-1] and t,
                     20, "the completion message")
    assert texts[0].startswith("Hi Sari! To get started, connect your Instagram")
    assert texts[1] == "Instagram @kopisenja.id connected! We're on it…"
    assert texts[2:-1] == expected_conversation()
    assert texts[-1].startswith("Done!")
    events = harness.store.events(job_id)
    assert [e["kind"] for e in events][-1] == "completed"
    # every message after the login link is a logged event, the "connected" one included
    assert len({e["event_id"] for e in events}) == len(events) == len(texts) - 1
    assert events[0]["kind"] == "accepted"


def test_indonesian_user_gets_indonesian_messages(harness: Harness) -> None:
    phone = new_phone()
    job_id = onboard(harness, phone, "/daftar")
    harness.wait_status(job_id, "COMPLETED", timeout=60)
    texts = wait_for(lambda: (t := harness.texts(phone)) and "Selesai!" in t[-1] and t, 20)
    assert texts[0].startswith("Halo Sari! Untuk mulai")
    assert texts[1].startswith("Instagram @kopisenja.id terhubung!")
    assert texts[2] == "Mempelajari bisnis Anda…"


def test_status_and_help_commands(harness: Harness) -> None:
    phone = new_phone()
    assert harness.send_whatsapp(phone, "/status").status_code == 200
    assert harness.send_whatsapp(phone, "apa kabar?").status_code == 200
    assert harness.send_whatsapp(phone, "/daftar").status_code == 200
    assert harness.send_whatsapp(phone, "/status").status_code == 200
    texts = wait_for(lambda: len(t := harness.texts(phone)) >= 4 and t, 10)
    assert texts[0].startswith("Belum ada onboarding")
    assert texts[1].startswith("Perintah: /daftar")
    assert texts[3] == "Status onboarding: AWAITING_AUTH, tahap 0 dari 9."


def test_a_user_known_only_by_user_id_is_onboarded(harness: Harness) -> None:
    """A user who adopted a WhatsApp username: webhooks carry `from_user_id`, no number,
    and every message to them names the user id as `recipient`."""
    user_id = f"ID.{secrets.randbelow(10**15):015d}"
    job_id = onboard(harness, user_id)
    texts = harness.final_texts(job_id, user_id, "Done!")
    assert texts[0].startswith("Hi Sari! To get started, connect your Instagram")
    assert texts[1] == "Instagram @kopisenja.id connected! We're on it…"
    assert texts[2:-1] == expected_conversation() and texts[-1].startswith("Done!")
    sent = [m["body"] for m in harness.conversation(user_id)]
    assert all(m.get("recipient") == user_id and "to" not in m for m in sent)
