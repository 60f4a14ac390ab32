"""Wave 6: Claude writes the content calendar; the user gets its summary.

The answer is streamed (JIWA_CALENDAR_STREAM, on by default): each post is handed to the
images (jiwa/waves/image_work.py) as soon as its closing brace arrives, so the first
image is being made while Claude still writes the rest (docs/decisions/0013). The posts
and summary kept, saved and shown are those of the whole answer, validated at the end.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from jiwa.ai import TextSink
from jiwa.commerce_dates import dates_between, planning_window
from jiwa.events import ProgressKind
from jiwa.failures import WaveFailedError
from jiwa.job.runner import WaveContext
from jiwa.json_stream import ArrayItems
from jiwa.waves import context, prompts
from jiwa.waves.services import WaveServices


def max_tokens(posts: int) -> int:
    """An Indonesian post with caption and hashtags runs to ~400 tokens; a budget of
    600 per post plus 4096 for thinking; a cut-off answer is retried at 4x."""
    return 4096 + 600 * posts


SYSTEM = context.SYSTEM


class Post(BaseModel):
    date: str = Field(description="YYYY-MM-DD")
    pillar: str
    caption: str = Field(max_length=2200)
    hashtags: list[str] = Field(max_length=30)
    influencer: str
    product: str


class ContentCalendar(BaseModel):
    posts: list[Post] = Field(min_length=1, max_length=30)
    summary: str = Field(min_length=5, max_length=600)


def calendar_prompt(outputs: dict[str, Any], count: int, language: str,
                    created: datetime | None = None) -> str:
    """The whole prompt as Claude reads it: the shared context, then the task."""
    return (context.business_context(outputs) + "\n"
            + calendar_task(outputs, count, language, created))


def calendar_task(outputs: dict[str, Any], count: int, language: str,
                  created: datetime | None = None) -> str:
    brand = outputs["brand"]
    lines = [f"Voice: {brand['voice']}", f"Audience: {brand['audience']}",
             f"Values: {', '.join(brand['values'])}", "Products to feature:"]
    lines += [f"- product: {p['name']}" + (f" | price {p['price']}" if p.get("price") else "")
              for p in outputs["products"]["products"]]
    lines.append("Influencer personas:")
    lines += [f"- persona: {m['name']} | {m['niche']}" for m in outputs["influencers"]["matches"]]
    first, last = planning_window(created)
    lines.append(f"Plan exactly {count} posts over the next two weeks, from {first} to {last} "
                 "(dates in Asia/Jakarta). Captions and summary in "
                 + ("Indonesian." if language == "id" else "English."))
    # Indonesian commerce dates in the window (jiwa.commerce_dates), for Claude to use.
    moments = dates_between(first, last)
    if moments:
        lines.append("Dates that matter in this window (use them where they fit):")
        lines += [f"- date: {m.day} | {m.name(language)}" for m in moments]
    return "\n".join(lines)


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    count = services.settings.image_count
    early = (services.settings.calendar_stream == "on"
             and services.settings.image_schedule == "stream")
    submitted: list[asyncio.Task[Any]] = []

    def listen() -> TextSink:
        """One attempt's answer, delta by delta: each finished post starts its image."""
        posts = ArrayItems("posts")

        def sink(delta: str) -> None:
            for raw in posts.feed(delta):
                index = posts.count
                if index > count:
                    continue
                try:
                    post = Post.model_validate(raw).model_dump()
                except ValidationError:
                    continue  # the whole answer's validation reports it, or a retry fixes it
                item = prompts.work_item(index, post, ctx.outputs)
                submitted.append(asyncio.create_task(services.work.submit(ctx, item)))
        return sink

    try:
        calendar = await services.claude.structured(
            ContentCalendar, system=SYSTEM, max_tokens=max_tokens(count),
            context=context.business_context(ctx.outputs),
            content=[{"type": "text", "text": calendar_task(
                ctx.outputs, count, ctx.job.language, ctx.job.created_at)}],
            listen=listen if early else None)
        await asyncio.gather(*submitted)
        if len(calendar.posts) < count:
            raise WaveFailedError.of("calendar_short",
                                     f"{len(calendar.posts)} of {count} posts")
    except BaseException:
        for task in submitted:
            task.cancel()
        services.work.cancel()  # images of a calendar that will be asked for again
        raise
    output = {"posts": [p.model_dump() for p in calendar.posts[:count]],
              "summary": calendar.summary}
    await asyncio.to_thread(services.store.save_business, ctx.job.id,
                            ctx.outputs["profile"]["business_id"], {"calendar": output})
    await ctx.emit(ProgressKind.SUMMARY, 50, summary=calendar.summary)
    return output
