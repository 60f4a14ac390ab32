"""Claude's streamed answers, through the real anthropic SDK against the stand-in served
in this process: the stand-in speaks the Messages API's server-sent events, the SDK
builds the same message from them as from an unstreamed answer (usage and cache counts
included), and the calendar's posts reach the caller before the answer ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from jiwa.ai import Claude, TextSink
from jiwa.dev import anthropic_standin
from jiwa.dev.standins import serve
from jiwa.json_stream import ArrayItems
from jiwa.usage import Usage
from jiwa.waves.calendar import ContentCalendar

MODEL = "claude-sonnet-5-5"
TASK = ("Business name: Kopi Senja\nProducts to feature:\n- product: Kopi Susu | price "
        "Rp25.000\n- product: Roti Bakar\nInfluencer personas:\n- persona: Rara | coffee\n"
        "Plan exactly 6 posts over the next two weeks, from 2026-12-01 to 2026-12-14. "
        "Captions and summary in English.")


@pytest.fixture
def standin() -> Iterator[str]:
    server = serve(anthropic_standin.create_app(), 0, poll_interval=0.02)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def _claude(url: str, usage: Usage) -> Claude:
    return Claude(lambda: anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0),
                  {"ANTHROPIC_MODEL": MODEL}, usage=usage)


def _ask(url: str, *, stream: bool, usage: Usage | None = None
         ) -> tuple[ContentCalendar, list[tuple[float, dict[str, Any]]], float]:
    """The answer, each post with when it arrived, and when the answer was whole."""
    seen: list[tuple[float, dict[str, Any]]] = []

    def listen() -> TextSink:
        posts = ArrayItems("posts")
        return lambda delta: seen.extend((time.monotonic(), p) for p in posts.feed(delta))

    async def go() -> tuple[ContentCalendar, float]:
        claude = _claude(url, usage or Usage())
        answer = await claude.structured(
            ContentCalendar, system="s", max_tokens=8000, context="Business name: Kopi Senja",
            content=[{"type": "text", "text": TASK}], listen=listen if stream else None)
        return answer, time.monotonic()

    answer, done = asyncio.run(go())
    return answer, seen, done


def test_a_streamed_answer_is_the_unstreamed_one_and_its_posts_come_early(standin: str
                                                                           ) -> None:
    plain, _, _ = _ask(standin, stream=False)
    httpx.post(standin + "/_standin/faults", json={"latency_ms": 1200,
                                                   "first_token_share": 0.25})
    streamed, seen, _ = _ask(standin, stream=True)
    assert streamed == plain
    assert [p for _, p in seen] == [p.model_dump() for p in streamed.posts]
    timing = httpx.get(standin + "/_standin/timings").json()[-1]
    assert timing["task"] == "ContentCalendar" and timing["stream"] is True
    # Orderings and lower bounds only (a sleep is never shorter; a loaded machine can
    # make anything longer): the first token waits its share of the latency, the whole
    # answer all of it, and the first post was in our hands before the answer ended.
    assert timing["first_token"] - timing["received"] >= 0.3
    assert timing["finished"] - timing["received"] >= 1.2
    assert timing["first_token"] < seen[0][0] < timing["finished"]


def test_a_streamed_answer_reports_usage_with_the_cache(standin: str) -> None:
    plain, streamed = Usage(), Usage()
    _ask(standin, stream=False, usage=plain)
    httpx.post(standin + "/_standin/reset")  # the second call writes the cache again
    _ask(standin, stream=True, usage=streamed)
    assert streamed.to_doc() == plain.to_doc()
    tokens = streamed.claude[MODEL]
    assert tokens.output > 0 and tokens.input > 0 and tokens.calls == 1


def test_a_streamed_answer_cut_off_is_asked_again_and_streamed_again(standin: str) -> None:
    httpx.post(standin + "/_standin/faults", json={"cut_off": 1})
    answer, seen, _ = _ask(standin, stream=True)
    assert len(answer.posts) == 6
    # the cut-off answer's first posts, then all six again from the second answer
    assert len(seen) > 6 and [p for _, p in seen[-6:]] == [p.model_dump()
                                                            for p in answer.posts]
    assert [r.get("stream") for r in
            httpx.get(standin + "/_standin/requests").json()] == [True, True]


def test_a_streamed_refusal_is_a_refusal(standin: str) -> None:
    from jiwa.failures import WaveFailedError

    httpx.post(standin + "/_standin/faults", json={"refuse": 1})
    with pytest.raises(WaveFailedError) as raised:
        _ask(standin, stream=True)
    assert raised.value.code == "claude_refused"
