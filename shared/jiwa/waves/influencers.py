"""Wave 5: rank the AI influencer personas of our catalog against the brand."""

from __future__ import annotations

import asyncio
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from jiwa.job.runner import WaveContext
from jiwa.waves.services import WaveServices


@cache
def catalog() -> list[dict[str, Any]]:
    text = resources.files("jiwa").joinpath("data/personas.json").read_text(encoding="utf-8")
    return list(json.loads(text)["personas"])


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 2}


def rank(brand: dict[str, Any], products: list[dict[str, Any]],
         personas: list[dict[str, Any]], top: int = 3) -> list[dict[str, Any]]:
    """Score = overlap of the persona's tags and niche with the brand's words."""
    brand_words = _words(" ".join([brand["voice"], brand["audience"], brand["visual_style"],
                                   " ".join(brand["values"]),
                                   " ".join(p["name"] + " " + p.get("description", "")
                                            for p in products)]))
    scored = []
    for persona in personas:
        tags = {t.lower() for t in persona["tags"]}
        matched = sorted(t for t in tags if _words(t) & brand_words)
        niche = _words(persona["niche"] + " " + persona["style"]) & brand_words
        score = 2 * len(matched) + len(niche)
        reason = ", ".join(matched + sorted(niche - set(matched))) or "general lifestyle fit"
        scored.append({**persona, "score": score, "reason": f"shares: {reason}"})
    scored.sort(key=lambda p: (-p["score"], p["id"]))
    return scored[:top]


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    matches = rank(ctx.outputs["brand"], ctx.outputs["products"]["products"], catalog())
    await asyncio.to_thread(services.store.save_business, ctx.job.id,
                            ctx.outputs["profile"]["business_id"], {"influencers": matches})
    return {"matches": matches}
