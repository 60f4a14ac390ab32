from __future__ import annotations

import json
from pathlib import Path

from jiwa.whatsapp import inbound_messages

FIXTURES = Path(__file__).parents[1] / "data"


def test_text_message_is_parsed_with_the_contact_name() -> None:
    body = json.loads((FIXTURES / "webhook_text.json").read_text())
    texts, skipped = inbound_messages(body)
    assert skipped == 0
    assert [(t.sender, t.text, t.name) for t in texts] == [("6281234567890", "/daftar", "Sari")]


def test_status_callbacks_are_skipped_and_media_is_answered() -> None:
    body = json.loads((FIXTURES / "webhook_status_and_image.json").read_text())
    texts, skipped = inbound_messages(body)
    assert [(t.kind, t.text) for t in texts] == [("image", "")] and skipped == 1


def _one(message: dict) -> list:
    return inbound_messages({"object": "whatsapp_business_account", "entry": [{"changes": [
        {"value": {"messages": [{"from": "628", "id": "wamid.x", **message}]}}]}]})[0]


def test_button_taps_carry_their_payload_and_reactions_get_nothing() -> None:
    tapped = _one({"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": "/status", "title": "Status"}}})
    assert [(t.kind, t.text) for t in tapped] == [("interactive", "/status")]
    template = _one({"type": "button", "button": {"payload": "/daftar", "text": "Mulai"}})
    assert [t.text for t in template] == ["/daftar"]
    assert _one({"type": "reaction", "reaction": {"message_id": "wamid.y", "emoji": "👍"}}) == []
    assert _one({"type": "unsupported"}) == []
    for kind in ("audio", "sticker", "location", "document", "video", "contacts"):
        assert [t.kind for t in _one({"type": kind, kind: {}})] == [kind]


def test_odd_shapes_never_raise() -> None:
    for body in [None, [], "x", {"object": "page"}, {"object": "whatsapp_business_account",
                 "entry": [{"changes": [{"value": {"messages": [{"type": "text"}]}}]}]},
                 {"object": "whatsapp_business_account", "entry": "nope"}]:
        texts, _ = inbound_messages(body)
        assert texts == []
