"""Wave 4: the products or services to feature, from the website and the posts."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from jiwa.events import ProgressKind
from jiwa.job.runner import WaveContext
from jiwa.waves.services import WaveServices

# Up to 6 products of ~100 tokens each, plus room for thinking; retried at 4x if cut off.
MAX_TOKENS = 4096
SYSTEM = "You pick the products a small business should feature in its next posts."


class Product(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(max_length=400)
    price: str = Field(default="", max_length=40)


class ProductList(BaseModel):
    products: list[Product] = Field(min_length=1, max_length=6)


def products_prompt(outputs: dict[str, Any]) -> str:
    profile = outputs["profile"]["profile"]
    lines = [f"Business name: {profile.get('name') or profile.get('username')}",
             f"Brand: {outputs['brand']['summary']}", "Known products:"]
    site = outputs.get("website", {})
    # The price as the business writes it ("Rp 25.000,-", "25rb"), so the answer keeps it.
    lines += [f"- product: {p['name']}" + (f" | price {p['price_text']}"
                                           if p.get("price_text") else "")
              for p in site.get("products", [])]
    shops = sorted({c["kind"] for c in site.get("channels", []) if c.get("shop")})
    if shops:
        lines.append(f"Sells through: {', '.join(shops)}")
    lines.append("Captions:")
    lines += [f"- {p['caption']}" for p in outputs["profile"]["posts"] if p["caption"]]
    lines.append("Choose up to 4 products to feature. Keep each price exactly as the "
                 "business writes it.")
    return "\n".join(lines)


def summary_line(products: list[Product]) -> str:
    return "\n".join(f"• {p.name}" + (f" ({p.price})" if p.price else "") for p in products)


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    result = await services.claude.structured(
        ProductList, system=SYSTEM, max_tokens=MAX_TOKENS,
        content=[{"type": "text", "text": products_prompt(ctx.outputs)}])
    output = result.model_dump()
    await asyncio.to_thread(services.store.save_business, ctx.job.id,
                            ctx.outputs["profile"]["business_id"], {"products": output["products"]})
    await ctx.emit(ProgressKind.SUMMARY, 50, summary=summary_line(result.products))
    return output
