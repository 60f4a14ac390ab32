"""Which kept image belongs to which post (jiwa/waves/image_work.py), and what wave 8
says when one fails."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from jiwa.events import ProgressKind
from jiwa.waves import images
from jiwa.waves.image_work import made_for, post_key

ITEM = {"index": 1, "prompt": "Instagram photo of kopi", "caption": "Kopi susu!",
        "date": "2026-12-01"}


def test_an_image_belongs_to_the_post_it_was_made_for_only() -> None:
    record = {"url": "u", "prompt": ITEM["prompt"], "date": ITEM["date"],
              "post": post_key(ITEM)}
    assert made_for(record, ITEM)
    for change in ({"caption": "Kopi susu! (v2)"}, {"date": "2026-12-02"},
                   {"prompt": "Instagram photo of roti"}):
        assert not made_for(record, {**ITEM, **change}), change
    assert made_for(record, {**ITEM, "index": 4})  # the post, not its place, is the key


def test_a_record_from_before_the_key_is_matched_by_prompt_and_date() -> None:
    legacy = {"url": "u", "prompt": ITEM["prompt"], "date": ITEM["date"]}
    assert made_for(legacy, ITEM)
    assert not made_for(legacy, {**ITEM, "date": "2026-12-02"})


class _Work:
    """One post's image as wave 8 sees it: holding a slot (`started`) and its task."""

    def __init__(self, task: asyncio.Task[dict[str, Any]], started: bool) -> None:
        self.kept, self.task, self.started = False, task, asyncio.Event()
        if started:
            self.started.set()


class _ImageWork:
    """Images 1-3 started by the calendar wave (concurrency 3); image 1 has already failed
    for good, 2 and 3 are still generating, 4-6 wait for a slot."""

    def __init__(self) -> None:
        self.works: dict[int, _Work] = {}
        self.cancelled = False

    async def submit(self, ctx: Any, item: dict[str, Any]) -> _Work:
        index = item["index"]
        if index not in self.works:
            task = asyncio.create_task(self._outcome(index))
            self.works[index] = _Work(task, started=index <= 3)
        return self.works[index]

    @staticmethod
    async def _outcome(index: int) -> dict[str, Any]:
        if index == 1:
            raise RuntimeError("fal: 500 after every retry")
        await asyncio.sleep(60)
        return {}

    def started(self) -> list[int]:
        return sorted(i for i, w in self.works.items() if w.started.is_set())

    def cancel(self) -> None:
        self.cancelled = True
        for work in self.works.values():
            work.task.cancel()


class _Context:
    def __init__(self) -> None:
        self.job = SimpleNamespace(id="job-1")
        self.outputs = {"prompts": {"prompts": [
            {**ITEM, "index": i} for i in range(1, 7)]}}
        self.emitted: list[tuple[ProgressKind, int]] = []

    async def emit(self, kind: ProgressKind, step: int, **_: Any) -> None:
        await asyncio.sleep(0.01 * step)  # publishes take a while: image 1's ends first
        self.emitted.append((kind, step))


def test_an_image_failing_for_good_still_leaves_every_started_image_announced() -> None:
    """The race CI found: image 1 had failed before wave 8 began, which ended the wave
    while images 2 and 3 (started by the calendar wave) were still being announced."""
    ctx, work = _Context(), _ImageWork()
    services = SimpleNamespace(settings=SimpleNamespace(image_schedule="stream"), work=work)

    async def scenario() -> None:
        for i in range(1, 7):  # the calendar wave submitted every post
            await work.submit(ctx, {**ITEM, "index": i})
        await asyncio.sleep(0)  # image 1's task has failed by now
        with pytest.raises(ExceptionGroup):
            await images.run(ctx, services)  # type: ignore[arg-type]

    asyncio.run(scenario())
    announced = [step for kind, step in ctx.emitted if kind is ProgressKind.IMAGE_PROGRESS]
    assert sorted(set(announced)) == [1, 2, 3]
    assert work.cancelled
