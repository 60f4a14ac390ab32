"""Wave 3: Claude's brand analysis, as a validated structure; the user gets the summary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from jiwa.job.runner import WaveContext
from jiwa.waves import context, preload
from jiwa.waves.services import WaveServices

# The answer is ~300 tokens; the rest is room for adaptive thinking (on by default on
# current models), which spends from the same budget. A cut-off answer is retried at 4x.
MAX_TOKENS = 4096
SYSTEM = context.SYSTEM


class BrandProfile(BaseModel):
    voice: str = Field(description="the brand's tone of voice")
    audience: str = Field(description="who buys from it")
    values: list[str] = Field(min_length=1, max_length=6)
    visual_style: str = Field(description="photography and design style to use")
    colors: list[str] = Field(min_length=1, max_length=6, description="hex colours")
    summary: str = Field(min_length=10, max_length=600,
                         description="2-3 sentences for the owner, in plain words")


def brand_task(language: str) -> str:
    return ("Task: analyse this business's brand. Write the summary in "
            + ("Indonesian." if language == "id" else "English."))


def brand_prompt(outputs: dict[str, Any], language: str) -> str:
    """The whole prompt as Claude reads it: the shared context, then the task."""
    return context.business_context(outputs) + "\n" + brand_task(language)


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    # The later waves' loading, in a thread while Claude writes: only once the Claude SDK
    # has loaded (wave 1 started that), not to delay this call's start by competing with it
    await services.claude.connected()
    preload.later_waves_in_background(ctx.job.created_at)
    brand = await services.claude.structured(
        BrandProfile, system=SYSTEM, max_tokens=MAX_TOKENS,
        context=context.business_context(ctx.outputs),
        content=[{"type": "text", "text": brand_task(ctx.job.language)}])
    output = brand.model_dump()
    await services.keep_and_summarize(ctx, {"brand": output}, brand.summary)
    return output
