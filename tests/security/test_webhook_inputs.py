"""Bad input at the public webhook: a clean 2xx or 4xx, never a 500 (WhatsApp would
redeliver a 500 for days). Each category prints one line of a results table."""

from __future__ import annotations

import json
import random
import string

import pytest
from harness import Harness, new_phone, sign, wait_for, webhook_body

from jiwa.handlers.webhook import MAX_BODY_BYTES

RESULTS: list[tuple[str, int, int, int]] = []


def _post(h: Harness, raw: bytes) -> int:
    return h.post_webhook(raw, sign(h.env["WHATSAPP_APP_SECRET"], raw)).status_code


def _cases(phone: str) -> dict[str, list[tuple[bytes, set[int]]]]:
    rng = random.Random(7)
    junk = ["".join(rng.choices(string.printable, k=rng.randint(1, 200))) for _ in range(40)]
    base = webhook_body(phone, "hi")
    value = base["entry"][0]["changes"][0]["value"]
    other_types = ["image", "audio", "video", "document", "sticker", "location", "contacts",
                   "interactive", "button", "reaction", "unsupported", "nonsense"]
    return {
        "malformed json": [*[(j.encode(), {400}) for j in junk if not _is_json(j)][:30],
                           (b"{", {400}), (b"\xff\xfe\x00", {400})],
        "unknown objects": [(json.dumps({"object": o, "entry": []}).encode(), {200})
                            for o in ("page", "instagram", None, 3, [])],
        "missing fields": [(json.dumps(b).encode(), {200}) for b in (
            {}, {"object": "whatsapp_business_account"},
            {"object": "whatsapp_business_account", "entry": [{}]},
            {"object": "whatsapp_business_account", "entry": [{"changes": [{}]}]},
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
                "messages": [{"type": "text", "text": {}}]}}]}]},
            {"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
                "messages": [{"type": "text", "from": 628, "id": 1, "text": {"body": 5}}]}}]}]},
            [], "x", 42, None)],
        "unknown message types": [
            (json.dumps({**base, "entry": [{"changes": [{"value": {**value, "messages": [
                {**value["messages"][0], "type": t, "text": None}]}}]}]}).encode(), {200})
            for t in other_types],
        "huge text": [(json.dumps(webhook_body(phone, "a" * 200_000)).encode(), {200})],
        "emoji and right-to-left": [(json.dumps(webhook_body(phone, t)).encode(), {200})
                                    for t in ("🙂🚀 /daftar ☕", "مرحبا بالعالم", "\u202e/daftar",
                                              "\x00\x01", " ", "/STATUS")],
        "oversized body": [(b'{"object":"' + b"x" * MAX_BODY_BYTES + b'"}', {413})],
        "nested past recursion": [(b"[" * 100_000 + b"]" * 100_000, {400})],
        "message id no document may have": [
            (json.dumps(webhook_body(new_phone(), "/status", wamid=w)).encode(), {200})
            for w in ("a/b", "..", "__x__", "w" * 1600)],
    }


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def test_bad_inputs_get_clean_answers(harness: Harness) -> None:
    phone = new_phone()
    unexpected_500s = 0
    for category, cases in _cases(phone).items():
        ok = 0
        for raw, expected in cases:
            status = _post(harness, raw)
            unexpected_500s += status >= 500
            ok += status in expected
        RESULTS.append((category, len(cases), ok, unexpected_500s))
        assert ok == len(cases), category
    print("\ncategory                 tried  as-expected  5xx")
    for category, tried, ok, errors in RESULTS:
        print(f"{category:24} {tried:5} {ok:12} {errors:4}")
    assert unexpected_500s == 0


def test_commands_are_rate_limited_per_phone(harness: Harness) -> None:
    spammer, bystander = new_phone(), new_phone()
    for _ in range(12):
        harness.send_whatsapp(spammer, "/daftar")
    harness.send_whatsapp(bystander, "/daftar")
    wait_for(lambda: harness.conversation(bystander), 5)
    texts = harness.texts(spammer)
    assert texts.count("Terlalu banyak permintaan. Coba lagi sebentar lagi.") == 1
    assert len(texts) == 7  # 6 answered commands, then one "too many", then silence
    assert harness.texts(bystander)[0].startswith("Halo Sari!")


@pytest.mark.parametrize("path", ["onboardingJobs/x", "businesses/y", "notifications/z"])
def test_firestore_rules_deny_every_client(harness: Harness, path: str) -> None:
    host = harness.env["FIRESTORE_EMULATOR_HOST"]
    base = f"http://{host}/v1/projects/{harness.state.project}/databases/(default)/documents"
    read = harness.http.get(f"{base}/{path}")
    write = harness.http.patch(f"{base}/{path}", json={"fields": {"a": {"stringValue": "b"}}})
    assert read.status_code == 403 and write.status_code == 403
