"""Wave 4: the products or services to feature, from the website and the posts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from jiwa.job.runner import WaveContext
from jiwa.waves import context
from jiwa.waves.services import WaveServices

# Up to 6 products of ~100 tokens each, plus room for thinking; retried at 4x if cut off.
MAX_TOKENS = 4096
SYSTEM = context.SYSTEM


class Product(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(max_length=400)
    price: str = Field(default="", max_length=40)


class ProductList(BaseModel):
    products: list[Product] = Field(min_length=1, max_length=6)


def products_task(outputs: dict[str, Any]) -> str:
    return (f"Brand: {outputs['brand']['summary']}\n"
            "Task: choose up to 4 products for this business's next posts. Keep each "
            "price exactly as the business writes it.")


def products_prompt(outputs: dict[str, Any]) -> str:
    """The whole prompt as Claude reads it: the shared context, then the task."""
    return context.business_context(outputs) + "\n" + products_task(outputs)


def summary_line(products: list[Product]) -> str:
    return "\n".join(f"• {p.name}" + (f" ({p.price})" if p.price else "") for p in products)


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    result = await services.claude.structured(
        ProductList, system=SYSTEM, max_tokens=MAX_TOKENS,
        context=context.business_context(ctx.outputs),
        content=[{"type": "text", "text": products_task(ctx.outputs)}])
    output = result.model_dump()
    await services.keep_and_summarize(ctx, {"products": output["products"]},
                                      summary_line(result.products))
    return output
