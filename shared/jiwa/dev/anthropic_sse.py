"""The Anthropic stand-in's streamed answers (`"stream": true`): the Messages API's
server-sent events, paced like a model writing (a development tool).

The events, in the order Anthropic's streaming docs (platform.claude.com/docs/en/
build-with-claude/streaming) give them and the installed SDK parses them:
`message_start` (the message with empty content and the input side of `usage`),
`content_block_start` / `content_block_delta` (`text_delta`) / `content_block_stop` per
block, `message_delta` (`stop_reason` and the cumulative `usage`), `message_stop`.
The SDK reads each SSE `event:`/`data:` pair (anthropic/_streaming.py: `ping` skipped,
`error` raised) and builds the message from them (anthropic/lib/streaming/_messages.py,
`accumulate_event`: a block is appended at `content_block_start`, a `text_delta`'s text
added to it, and at `message_delta` `output_tokens` and, when present, the input and
cache token counts replace the snapshot's, as cumulative totals).

Pacing: the call's whole latency is kept (so a streamed call takes as long as the same
call unstreamed), of which `first_token_share` passes before the first delta (the model
reading and thinking) and the rest is spread evenly over the text, a few tokens a delta.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

from jiwa.dev.anthropic_cache import CHARS_PER_TOKEN

TOKENS_PER_DELTA = 3  # the real API sends a delta every few tokens
FIRST_TOKEN_SHARE = 0.25  # an assumption: no source gives this split for our calls


def event(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


def stream(model: str, text: str, stop: str, usage: dict[str, int], output_tokens: int,
           latency_s: float, first_token_share: float,
           finished: Callable[[float, float], None]) -> Iterator[str]:
    """The answer's events, paced over `latency_s`; `finished(first_token_at, end_at)`
    records when the first delta left and when the stream ended."""
    start = time.monotonic()
    first = latency_s * min(max(first_token_share, 0.0), 1.0)
    message: dict[str, Any] = {
        "id": "msg_" + secrets.token_hex(8), "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {**usage, "output_tokens": 1}}
    _sleep_until(start + first)
    first_token_at = time.monotonic()
    yield event("message_start", {"message": message})
    width = TOKENS_PER_DELTA * CHARS_PER_TOKEN
    pieces = [text[i:i + width] for i in range(0, len(text), width)]
    if pieces:
        yield event("content_block_start", {"index": 0,
                                            "content_block": {"type": "text", "text": ""}})
        yield event("ping", {})
        step = (latency_s - first) / len(pieces)
        for n, piece in enumerate(pieces, 1):
            yield event("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                                      "text": piece}})
            _sleep_until(start + first + n * step)
        yield event("content_block_stop", {"index": 0})
    else:
        _sleep_until(start + latency_s)
    yield event("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {**usage, "output_tokens": output_tokens}})
    # Recorded before the last event leaves: a client that has read the whole answer may
    # ask for the timings before this generator is resumed once more, or never resume it.
    finished(first_token_at, time.monotonic())
    yield event("message_stop", {})


def _sleep_until(deadline: float) -> None:
    # against a deadline, not per piece, so that the many small sleeps do not add up
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)
