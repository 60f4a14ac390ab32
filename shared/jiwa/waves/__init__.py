"""The nine waves of an onboarding, wired to the real clients (DESIGN.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from jiwa.clients import Clients
from jiwa.job.runner import Wave, WaveContext
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
            return await fn(ctx, services)
        return bound

    return [Wave(n, name, bind(fn), announce=announce)
            for n, (name, fn, announce) in enumerate(MODULES, 1)]
