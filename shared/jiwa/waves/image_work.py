"""Each post's image, started as soon as the post exists (issue #17: the first preview).

The calendar wave streams Claude's answer and submits each post's image here the moment
the post is complete, while the rest of the calendar is still being written; the images
wave (8) submits every post again, which finds the work already under way (or starts
it, when the calendar came from an earlier attempt's checkpoint), and turns each into
messages. One object per job process (WaveServices.work), so work started in wave 6 is
awaited in wave 8; one concurrency limit over both.

Kept images are keyed by their post. A job that dies after an image was stored but
before its calendar was checkpointed asks Claude for the calendar again, and the new
post k need not be the old one: an image is reused only when the post it was made for
(its prompt, caption and date: `post_key`) is the post it would be made for now;
otherwise it is made again and its record replaced. The stale copy's object keeps its
own name (the key is in it), so the conditional write of the new one cannot be refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jiwa.image_store import ImageBytes  # its module loads httpx: not before wave 1
    from jiwa.job.runner import WaveContext
    from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves.images")


def post_key(item: dict[str, Any]) -> str:
    """What an image was made for: its prompt (what it shows) and the post it goes with."""
    post = {k: item[k] for k in ("prompt", "caption", "date")}
    return hashlib.sha256(json.dumps(post, sort_keys=True).encode()).hexdigest()[:16]


def made_for(record: dict[str, Any], item: dict[str, Any]) -> bool:
    """Whether a kept image belongs to this post. Records from before the key (a job
    under way at the deploy) were made after their calendar was checkpointed, so their
    prompt and date are enough."""
    if "post" in record:
        return bool(record["post"] == post_key(item))
    return bool(record.get("prompt") == item["prompt"] and record.get("date") == item["date"])


@dataclass
class Work:
    item: dict[str, Any]
    key: str
    kept: bool  # stored by an earlier attempt: nothing to generate
    task: asyncio.Task[dict[str, Any]]
    started: asyncio.Event = field(default_factory=asyncio.Event)  # it holds a slot


class ImageWork:
    def __init__(self, services: WaveServices) -> None:
        self._services = services
        self._limit = asyncio.Semaphore(services.settings.image_concurrency)
        self._kept: dict[int, dict[str, Any]] | None = None  # this attempt's start
        self._work: dict[int, Work] = {}

    async def submit(self, ctx: WaveContext, item: dict[str, Any]) -> Work:
        """The work for this post's image: the one under way when it is for the same post,
        else a new one (a kept image made for it, or a generation)."""
        index, key = item["index"], post_key(item)
        current = self._work.get(index)
        if current is not None and current.key == key:
            return current
        if current is not None:  # post k changed (a cut-off answer asked again)
            log.info("image %d: its post changed; made again", index,
                     extra={"job_id": ctx.job.id})
            current.task.cancel()
        if self._kept is None:
            self._kept = await asyncio.to_thread(self._services.store.images, ctx.job.id)
        record = self._kept.get(index)
        if record is not None and not made_for(record, item):
            log.info("image %d kept from an earlier attempt belongs to another post; made "
                     "again", index, extra={"job_id": ctx.job.id})
            record = None
        if record is not None:
            work = Work(item, key, True, asyncio.create_task(_ready(record)))
            work.started.set()
        else:
            started = asyncio.Event()
            work = Work(item, key, False,
                        asyncio.create_task(self._make(ctx, item, key, started)), started)
        self._work[index] = work
        return work

    def started(self) -> list[int]:
        """The posts whose image held a slot (or was kept), in order."""
        return sorted(i for i, work in self._work.items() if work.started.is_set())

    def cancel(self) -> None:
        """Stop every generation under way (the wave that owns them failed)."""
        for work in self._work.values():
            work.task.cancel()

    async def _make(self, ctx: WaveContext, item: dict[str, Any], key: str,
                    started: asyncio.Event) -> dict[str, Any]:
        from jiwa.waves import quality  # here: quality imports services, which holds this

        services, index = self._services, item["index"]
        business_id = ctx.outputs["profile"]["business_id"]

        async def keep(image: ImageBytes) -> dict[str, Any]:
            """Our copy in Cloud Storage, written before the record that names it."""
            assert services.images is not None
            return await asyncio.to_thread(services.images.put, business_id, ctx.job.id,
                                           index, image, key)

        async with self._limit:
            started.set()
            record = await quality.best_image(services, item, ctx.outputs["brand"],
                                              keep if services.images else None)
        record["post"] = key
        await asyncio.to_thread(services.store.save_image, ctx.job.id, index, record)
        return record


async def _ready(record: dict[str, Any]) -> dict[str, Any]:
    return record
