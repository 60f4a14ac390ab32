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


def test_status_callbacks_and_media_are_skipped() -> None:
    body = json.loads((FIXTURES / "webhook_status_and_image.json").read_text())
    texts, skipped = inbound_messages(body)
    assert texts == [] and skipped == 2


def test_odd_shapes_never_raise() -> None:
    for body in [None, [], "x", {"object": "page"}, {"object": "whatsapp_business_account",
                 "entry": [{"changes": [{"value": {"messages": [{"type": "text"}]}}]}]},
                 {"object": "whatsapp_business_account", "entry": "nope"}]:
        texts, _ = inbound_messages(body)
        assert texts == []
