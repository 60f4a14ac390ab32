"""Wave 8: Flux images, streamed through the quality gate with bounded concurrency.

Each image runs generate -> score -> (regenerate) -> preview on its own; no image waits
for its siblings. Most are under way before this wave starts: the calendar wave starts
each post's image as soon as the post is written (jiwa/waves/image_work.py); this wave
waits for them and tells the user, in order after the calendar's summary. A finished
image is stored at once (our copy in Cloud Storage, then its record, keyed by its post),
so a retried job keeps it and never downloads or generates it again.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jiwa.events import ProgressKind
from jiwa.job.runner import WaveContext
from jiwa.waves import quality
from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves.images")
PREVIEW_STEP = 50


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    prompts = ctx.outputs["prompts"]["prompts"]
    if services.settings.image_schedule == "barrier":
        limit = asyncio.Semaphore(services.settings.image_concurrency)
        return {"images": await _barrier(ctx, services, prompts, limit)}
    total = len(prompts)

    async def one(item: dict[str, Any]) -> dict[str, Any]:
        index = item["index"]
        # under way since the calendar wave streamed its post, or started now
        work = await services.work.submit(ctx, item)
        if work.kept:
            log.info("image %d kept from an earlier attempt", index,
                     extra={"job_id": ctx.job.id})
        await work.started.wait()
        # Sent when the image holds a slot, and for a kept one too: its id is the same in
        # every attempt, so it is sent once, and before the preview, even when the attempt
        # that generated the image died before wave 8 could say so.
        await ctx.emit(ProgressKind.IMAGE_PROGRESS, index, image_index=index,
                       image_count=total)
        record = await work.task
        # the notifier sends our object when there is one; fal's url is only the fallback
        await ctx.emit(ProgressKind.IMAGE_READY, PREVIEW_STEP + index, image_index=index,
                       image_count=total, url=record["url"], caption=item["caption"][:200],
                       **({"object": record["object"], "content_type": record["content_type"]}
                          if "object" in record else {}))
        return record

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(item)) for item in prompts]
    except Exception:
        services.work.cancel()  # the generations nobody waits for any more
        # An image that failed for good ends the wave at once, and may do so before this
        # wave has announced its siblings: the calendar wave started them while it was
        # still writing. The user is told of every image that was made, in order, before
        # the failure; an announcement already sent has the same id and is not sent again.
        for index in services.work.started():
            await ctx.emit(ProgressKind.IMAGE_PROGRESS, index, image_index=index,
                           image_count=total)
        raise
    except BaseException:
        services.work.cancel()
        raise
    return {"images": [t.result() for t in tasks]}


async def _barrier(ctx: WaveContext, services: WaveServices, prompts: list[dict[str, Any]],
                   limit: asyncio.Semaphore) -> list[dict[str, Any]]:
    """The old schedule, kept only so the benchmark can compare: all images, then all
    scores, then all previews (JIWA_IMAGE_SCHEDULE=barrier). No regeneration."""
    total, brand = len(prompts), ctx.outputs["brand"]

    async def generate(item: dict[str, Any]) -> str:
        async with limit:
            await ctx.emit(ProgressKind.IMAGE_PROGRESS, item["index"],
                           image_index=item["index"], image_count=total)
            return await quality.generate(services, item["prompt"], item["index"] * 1000 + 1)

    async def score(item: dict[str, Any], url: str) -> dict[str, Any]:
        async with limit:
            result = await quality.score(services, url, item["prompt"], brand)
        return {"index": item["index"], "url": url, "score": result.score,
                "issues": result.issues, "prompt": item["prompt"], "date": item["date"],
                "attempts": 1, "passed": result.score >= services.settings.image_quality_threshold}

    urls = await asyncio.gather(*(generate(item) for item in prompts))
    records = await asyncio.gather(*(score(i, u) for i, u in zip(prompts, urls, strict=True)))
    for item, record in zip(prompts, records, strict=True):
        await ctx.emit(ProgressKind.IMAGE_READY, PREVIEW_STEP + item["index"],
                       image_index=item["index"], image_count=total, url=record["url"],
                       caption=item["caption"][:200])
    return list(records)
