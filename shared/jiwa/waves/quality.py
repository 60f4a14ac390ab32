"""Wave 9 and the quality gate: Claude scores each image on a stated rubric; a low score
is regenerated up to a limit, keeping the best."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import fal_client
import httpx
from pydantic import BaseModel, Field

from jiwa.ai import FLUX_DOWN
from jiwa.image_store import ImageBytes, ImageRejectedError, download
from jiwa.job.runner import WaveContext
from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves.quality")

# A score is ~60 tokens; the rest is room for thinking; retried at 4x if cut off.
SCORE_MAX_TOKENS = 2048
RUBRIC = ("Score the image from 0 to 10 for an Instagram post of this brand. 10 = on-brand "
          "colours and mood, shows the product clearly, matches the prompt, no artefacts, "
          "no text or watermarks. Deduct for off-brand colours, distorted people or "
          "products, unreadable composition, or anything unsafe.")


class ImageScore(BaseModel):
    score: int = Field(ge=0, le=10)
    brand_fit: int = Field(ge=0, le=10)
    prompt_fit: int = Field(ge=0, le=10)
    issues: list[str] = Field(default_factory=list, max_length=10)


async def generate(services: WaveServices, prompt: str, seed: int) -> str:
    """One image; the wave owns retrying a failed generation (backoff 0.5 s, 1 s, …)."""
    attempts = services.settings.fal_attempts
    for attempt in range(attempts):
        try:
            return await services.flux.generate(prompt, seed)
        except (fal_client.client.FalClientError, httpx.HTTPError, TimeoutError,
                RuntimeError) as exc:
            log.warning("fal attempt %d/%d failed: %s", attempt + 1, attempts,
                        type(exc).__name__)
            if attempt + 1 < attempts:
                await asyncio.sleep(0.5 * 2**attempt)
    raise FLUX_DOWN


async def score(services: WaveServices, url: str, prompt: str,
                brand: dict[str, Any], image: ImageBytes | None = None) -> ImageScore:
    """Claude scores our downloaded copy (base64) when there is one and it is within
    Claude's size limit, else fal's URL."""
    block = image.claude_block() if image and image.fits_claude() else {
        "type": "image", "source": {"type": "url", "url": url}}
    # The rubric and the brand are the same for every image of the job: they go first,
    # marked for the prompt cache; the image and its prompt after them.
    return await services.claude.structured(
        ImageScore, system=RUBRIC, max_tokens=SCORE_MAX_TOKENS,
        model=services.settings.anthropic_score_model,
        context=f"Brand style: {brand['visual_style']}; colours {', '.join(brand['colors'])}.",
        content=[block, {"type": "text", "text": f"Prompt: {prompt}"}])


Keep = Callable[[ImageBytes], Awaitable[dict[str, Any]]]


async def best_image(services: WaveServices, item: dict[str, Any],
                     brand: dict[str, Any], keep: Keep | None = None) -> dict[str, Any]:
    """Generate, score, regenerate; with `keep`, each generation is downloaded once, the
    gate scores that copy, and `keep` stores the best one (its object joins the record)."""
    threshold, tries = (services.settings.image_quality_threshold,
                        services.settings.image_max_tries)
    best: dict[str, Any] | None = None
    best_copy: ImageBytes | None = None
    for attempt in range(1, tries + 1):
        url = await generate(services, item["prompt"], seed=item["index"] * 1000 + attempt)
        copy = None
        if keep is not None and services.image_http is not None:
            try:
                copy = await download(services.image_http, url)
            except (ImageRejectedError, httpx.HTTPError) as exc:
                log.warning("image %d try %d not kept: %s", item["index"], attempt, exc)
                continue
        result = await score(services, url, item["prompt"], brand, copy)
        if best is None or result.score > best["score"]:
            best = {"index": item["index"], "url": url, "score": result.score,
                    "issues": result.issues, "prompt": item["prompt"], "date": item["date"]}
            best_copy = copy
        best["attempts"] = attempt
        if result.score >= threshold:
            break
    if best is None:  # every generation was unusable
        raise FLUX_DOWN
    best["passed"] = best["score"] >= threshold
    if keep is not None and best_copy is not None:
        best.update(await keep(best_copy))
    return best


def report(images: list[dict[str, Any]]) -> dict[str, Any]:
    scores = [i["score"] for i in images]
    return {"count": len(images), "passed": sum(1 for i in images if i["passed"]),
            "regenerated": sum(1 for i in images if i["attempts"] > 1),
            "mean_score": round(sum(scores) / len(scores), 2) if scores else 0}


def calendar_lines(posts: list[dict[str, Any]]) -> str:
    return "\n".join(f"{p['date']} · {p['product']}" for p in posts)


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    images = ctx.outputs["images"]["images"]
    summary = report(images)
    await asyncio.to_thread(services.store.save_business, ctx.job.id,
                            ctx.outputs["profile"]["business_id"],
                            {"images": images, "quality": summary})
    return {"images": images, "report": summary,
            "completion": {"images": str(len(images)),
                           "calendar": calendar_lines(ctx.outputs["calendar"]["posts"])}}
