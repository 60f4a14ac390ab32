"""Generated payloads against the webhook parser and the Pub/Sub event decoder:
thousands of inputs, no exception other than the documented BadEventError.

Random JSON alone almost never gets past the first checks (of 3000 such inputs, not one
parsed to a message), so many inputs are real payloads with parts replaced or removed at
random. Each test then checks that its inputs reached both outcomes, accepted and
refused, so the property was tried where it matters."""

from __future__ import annotations

import base64
import copy
import json
from collections import Counter
from typing import Any

from harness import webhook_body
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jiwa.events import (
    BadEventError,
    OnboardingRequested,
    ProgressEvent,
    ProgressKind,
    decode_pubsub_data,
)
from jiwa.whatsapp import MEDIA_KINDS, inbound_messages

EXAMPLES = 3000
FUZZ = settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow],
                deadline=None)

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


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every part of `value` (keys and list indexes), itself included."""
    found = [prefix]
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        found += _paths(child, (*prefix, key))
    return found


def near(value: Any) -> st.SearchStrategy[Any]:
    """`value` with up to three of its parts replaced by random JSON or text, removed, or
    (in a list) repeated."""
    paths = st.sampled_from(_paths(value))
    actions = st.sampled_from(["replace", "remove", "text", "repeat"])

    @st.composite
    def altered(draw: st.DrawFn) -> Any:
        body = copy.deepcopy(value)
        for _ in range(draw(st.integers(0, 3))):
            path, action = draw(paths), draw(actions)
            if not path:
                if action == "replace":
                    return draw(json_values)
                continue
            parent = body
            try:
                for key in path[:-1]:
                    parent = parent[key]
                parent[path[-1]]
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed it
            if not isinstance(parent, dict | list):
                continue
            key = path[-1]
            if action == "replace":
                parent[key] = draw(json_values)
            elif action == "remove":
                del parent[key]
            elif action == "text":
                parent[key] = draw(st.text(max_size=30))
            elif isinstance(parent, list):
                parent.append(copy.deepcopy(parent[key]))
        return body

    return altered()


REAL_WEBHOOK = webhook_body("6281234567890", "/daftar", "wamid.fuzz")
REAL_EVENTS = {
    OnboardingRequested: OnboardingRequested(event_id="job_1-r1-requested", job_id="job_1"),
    ProgressEvent: ProgressEvent(event_id="job_1-r1-00300", job_id="job_1", seq=300,
                                 kind=ProgressKind.WAVE, wave=3, wave_name="brand",
                                 payload={"summary": "ok"}),
}
MODELS = st.sampled_from([OnboardingRequested, ProgressEvent])
# (the model to decode as, a payload): random JSON, or the model's real body, altered
# Each model's altered bodies are one strategy, built once: a strategy built per example
# (a flatmap) made Hypothesis read and parse this file's source to describe each new one,
# two thirds of the test's time.
EVENTS = st.one_of(
    st.tuples(MODELS, json_values),
    *(st.tuples(st.just(m), near(event.model_dump(mode="json")))
      for m, event in REAL_EVENTS.items()))


def test_webhook_parser_never_raises() -> None:
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(st.one_of(json_values, shaped,
                     shaped.map(lambda v: {"object": "whatsapp_business_account", "entry": v}),
                     near(REAL_WEBHOOK)))
    def parse(body: Any) -> None:
        texts, skipped = inbound_messages(body)
        assert skipped >= 0
        # a command, or a media message (photo, voice note…), which carries none
        assert all(isinstance(t.text, str) and (t.text or t.kind in MEDIA_KINDS)
                   and isinstance(t.sender, str) and t.sender
                   and isinstance(t.message_id, str) for t in texts)
        outcomes["messages" if texts else "nothing"] += 1

    parse()
    assert sum(outcomes.values()) >= EXAMPLES
    # Both sides of the parser were tried (about 240 and 2750 times; random JSON alone
    # parsed to a message 0 times in 3000).
    assert outcomes["messages"] >= EXAMPLES // 50, outcomes
    assert outcomes["nothing"] >= EXAMPLES // 20, outcomes


def test_event_decoder_raises_only_bad_event() -> None:
    outcomes: Counter[str] = Counter()

    def decode(data: Any, model: type[OnboardingRequested | ProgressEvent]) -> None:
        try:
            decoded = decode_pubsub_data(data, model)
        except BadEventError:  # anything else fails the test
            outcomes["refused"] += 1
        else:
            assert isinstance(decoded, model)
            outcomes["decoded"] += 1

    @FUZZ
    @given(EVENTS, st.booleans())
    def check(event: tuple[type[OnboardingRequested | ProgressEvent], Any],
              as_json: bool) -> None:
        model, payload = event
        data = (base64.b64encode(json.dumps(payload).encode()).decode() if as_json
                else payload)
        decode({"message": {"data": data}}, model)
        decode(payload, model)

    check()
    assert outcomes.total() >= 2 * EXAMPLES
    # Both outcomes (about 170 and 5800 times; random JSON alone decoded 0 times)
    assert outcomes["decoded"] >= EXAMPLES // 50, outcomes
    assert outcomes["refused"] >= EXAMPLES // 20, outcomes
