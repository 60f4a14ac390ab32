"""Wave 3: Claude's brand analysis, as a validated structure; the user gets the summary."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from jiwa.events import ProgressKind
from jiwa.job.runner import WaveContext
from jiwa.waves.services import WaveServices

# The answer is ~300 tokens; the rest is room for adaptive thinking (on by default on
# current models), which spends from the same budget. A cut-off answer is retried at 4x.
MAX_TOKENS = 4096
SYSTEM = ("You are a brand strategist for Indonesian small businesses. Analyse the business "
          "from its Instagram profile, posts and website. Be concrete and kind.")


class BrandProfile(BaseModel):
    voice: str = Field(description="the brand's tone of voice")
    audience: str = Field(description="who buys from it")
    values: list[str] = Field(min_length=1, max_length=6)
    visual_style: str = Field(description="photography and design style to use")
    colors: list[str] = Field(min_length=1, max_length=6, description="hex colours")
    summary: str = Field(min_length=10, max_length=600,
                         description="2-3 sentences for the owner, in plain words")


def brand_prompt(outputs: dict[str, Any], language: str) -> str:
    profile = outputs["profile"]["profile"]
    site = outputs.get("website", {})
    lines = [f"Business name: {profile.get('name') or profile.get('username')}",
             f"Instagram: @{profile.get('username')} ({profile.get('followers_count')} "
             f"followers)", f"Bio: {profile.get('biography') or ''}", "Recent captions:"]
    lines += [f"- {p['caption']}" for p in outputs["profile"]["posts"] if p["caption"]]
    if site.get("available"):
        lines += [f"Website title: {site['title']}", f"Website description: "
                  f"{site['description']}", f"Website text: {site['text'][:1500]}"]
    lines.append("Write the summary in " + ("Indonesian." if language == "id" else "English."))
    return "\n".join(lines)


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    brand = await services.claude.structured(
        BrandProfile, system=SYSTEM, max_tokens=MAX_TOKENS,
        content=[{"type": "text", "text": brand_prompt(ctx.outputs, ctx.job.language)}])
    output = brand.model_dump()
    await asyncio.to_thread(services.store.save_business, ctx.job.id,
                            ctx.outputs["profile"]["business_id"], {"brand": output})
    await ctx.emit(ProgressKind.SUMMARY, 50, summary=brand.summary)
    return output
