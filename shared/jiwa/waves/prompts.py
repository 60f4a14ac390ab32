"""Wave 7: one Flux prompt per calendar post, from brand, influencer and product."""

from __future__ import annotations

from typing import Any

from jiwa.job.runner import WaveContext
from jiwa.waves.services import WaveServices


def flux_prompt(post: dict[str, Any], brand: dict[str, Any],
                persona: dict[str, Any] | None) -> str:
    who = f"{persona['look']}, " if persona else ""
    return (f"Instagram photo for a {post['pillar']} post: {who}featuring {post['product']}. "
            f"Style: {brand['visual_style']}. Colour palette {', '.join(brand['colors'])}. "
            f"Mood: {brand['voice']}. Square composition, natural light, no text, no logos.")


def work_item(index: int, post: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """Post `index` (from 1) as the images wave takes it; the calendar wave builds the
    same item from a post still streaming in, to start its image early."""
    personas = {m["name"]: m for m in outputs["influencers"]["matches"]}
    return {"index": index, "prompt": flux_prompt(post, outputs["brand"],
                                                  personas.get(post["influencer"])),
            "caption": post["caption"], "date": post["date"]}


def build_prompts(outputs: dict[str, Any]) -> list[dict[str, Any]]:
    return [work_item(i, post, outputs)
            for i, post in enumerate(outputs["calendar"]["posts"], 1)]


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    return {"prompts": build_prompts(ctx.outputs)}
