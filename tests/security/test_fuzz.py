"""Generated payloads against the webhook parser and the Pub/Sub event decoder:
thousands of inputs, no exception other than the documented BadEventError."""

from __future__ import annotations

import base64
import contextlib
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiwa.events import BadEventError, OnboardingRequested, ProgressEvent, decode_pubsub_data
from jiwa.whatsapp import inbound_messages

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4), max_leaves=30)

KEYS = st.sampled_from(["object", "entry", "changes", "value", "messages", "statuses",
                        "contacts", "from", "id", "type", "text", "body", "profile", "wa_id"])
shaped = st.recursive(
    st.none() | st.text(max_size=20) | st.integers() | st.just("whatsapp_business_account")
    | st.just("text"),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(KEYS, children, max_size=5), max_leaves=40)

COUNTS = {"parser": 0, "decoder": 0}


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(json_values, shaped,
                 shaped.map(lambda v: {"object": "whatsapp_business_account", "entry": v})))
def test_webhook_parser_never_raises(body) -> None:
    COUNTS["parser"] += 1
    texts, skipped = inbound_messages(body)
    assert skipped >= 0
    assert all(isinstance(t.text, str) and isinstance(t.sender, str) for t in texts)


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(json_values, st.sampled_from([OnboardingRequested, ProgressEvent]), st.booleans())
def test_event_decoder_raises_only_bad_event(payload, model, as_json) -> None:
    COUNTS["decoder"] += 1
    data = (base64.b64encode(json.dumps(payload).encode()).decode() if as_json
            else payload)
    with contextlib.suppress(BadEventError):
        decode_pubsub_data({"message": {"data": data}}, model)
    with contextlib.suppress(BadEventError):
        decode_pubsub_data(payload, model)


def test_fuzz_counts_reported() -> None:
    print(f"\nfuzz inputs: parser {COUNTS['parser']}, decoder {COUNTS['decoder']}")
