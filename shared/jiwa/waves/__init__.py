"""The nine waves of an onboarding, wired to the real clients (DESIGN.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from jiwa.clients import Clients
from jiwa.job.runner import Wave, WaveContext
from jiwa.usage import usage_key
from jiwa.waves import (
    brand,
    calendar,
    images,
    influencers,
    products,
    profile,
    prompts,
    quality,
    website,
)
from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves")

WaveFn = Callable[[WaveContext, WaveServices], Awaitable[dict[str, Any]]]
MODULES: list[tuple[str, WaveFn, bool]] = [
    ("profile", profile.run, True),
    ("website", website.run, False),
    ("brand", brand.run, True),
    ("products", products.run, True),
    ("influencers", influencers.run, False),
    ("calendar", calendar.run, False),
    ("prompts", prompts.run, False),
    ("images", images.run, False),
    ("quality", quality.run, False),
]


def build_pipeline(clients: Clients) -> list[Wave]:
    services = WaveServices.from_clients(clients)

    def bind(fn: WaveFn) -> Callable[[WaveContext], Awaitable[dict[str, Any]]]:
        async def bound(ctx: WaveContext) -> dict[str, Any]:
            services.usage.take()  # nothing spent outside a wave is this wave's
            try:
                return await fn(ctx, services)
            finally:  # a failed wave's calls were billed too
                await _record(ctx, services)
        return bound

    return [Wave(n, name, bind(fn), announce=announce)
            for n, (name, fn, announce) in enumerate(MODULES, 1)]


async def _record(ctx: WaveContext, services: WaveServices) -> None:
    """This wave attempt's spend on the job document (jiwa/usage.py: one key per attempt,
    so a retried job never counts a call twice)."""
    spent = services.usage.take()
    if spent.empty():
        return
    job = ctx.job
    key = usage_key(job.run, job.dispatch, job.attempt, ctx.wave.number)
    try:
        await asyncio.to_thread(services.store.record_usage, job.id, key, spent.to_doc())
    except Exception:  # counting must never fail an onboarding, nor hide the wave's error
        log.warning("usage of wave %d not recorded", ctx.wave.number, exc_info=True,
                    extra={"job_id": job.id})
