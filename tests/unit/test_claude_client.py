"""Claude makes its SDK client once, on first use or when warmed up, off the event loop."""

from __future__ import annotations

import asyncio
import threading
from types import SimpleNamespace
from typing import Any

from pydantic import BaseModel

from jiwa.ai import Claude


class Answer(BaseModel):
    word: str


class _FakeMessages:
    async def create(self, **request: Any) -> Any:
        assert request["output_config"]["format"]["schema"]["title"] == "Answer"
        return SimpleNamespace(stop_reason="end_turn",
                               content=[SimpleNamespace(type="text", text='{"word": "kopi"}')])


class _Connector:
    """Counts connections and records the thread each was made on."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def __call__(self) -> Any:
        self.threads.append(threading.get_ident())
        return SimpleNamespace(messages=_FakeMessages())


async def _ask(claude: Claude) -> Answer:
    return await claude.structured(Answer, system="s", max_tokens=100,
                                   content=[{"type": "text", "text": "q"}])


def test_concurrent_first_calls_connect_once_off_the_event_loop() -> None:
    connect = _Connector()

    async def main() -> list[Answer]:
        claude = Claude(connect, {"ANTHROPIC_MODEL": "claude-test"})
        return list(await asyncio.gather(*(_ask(claude) for _ in range(5))))

    answers = asyncio.run(main())
    assert [a.word for a in answers] == ["kopi"] * 5
    assert len(connect.threads) == 1
    assert connect.threads[0] != threading.get_ident()  # not on the loop's thread


def test_warm_up_connects_before_the_first_call_and_only_once() -> None:
    connect = _Connector()

    async def main() -> None:
        claude = Claude(connect, {"ANTHROPIC_MODEL": "claude-test"})
        claude.warm_up()
        claude.warm_up()
        for _ in range(20):  # the connection is made without anyone asking Claude
            if connect.threads:
                break
            await asyncio.sleep(0.01)
        assert len(connect.threads) == 1
        assert (await _ask(claude)).word == "kopi"

    asyncio.run(main())
    assert len(connect.threads) == 1
