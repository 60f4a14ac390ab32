"""The nine waves, in order, bound to their services (jiwa.job.runner runs them)."""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from jiwa.clients import Clients
from jiwa.job.runner import Wave, WaveContext
from jiwa.startup import bulk_imports
from jiwa.usage import usage_key
from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves")

WaveFn = Callable[[WaveContext, WaveServices], Awaitable[dict[str, Any]]]
# Each wave's module (jiwa.waves.<name>, with a `run(ctx, services)`), in order, and whether
# the wave announces itself. Names only: the modules and the SDKs they need (Claude, fal,
# the HTML readers, Cloud Storage) load when wave 1 runs, so the job's first progress event,
# wave 1's announcement, does not wait for them (#17 item 5, bench/start.py).
MODULES: list[tuple[str, bool]] = [
    ("profile", True),
    ("website", False),
    ("brand", True),
    ("products", True),
    ("influencers", False),
    ("calendar", False),
    ("prompts", False),
    ("images", False),
    ("quality", False),
]


def build_pipeline(clients: Clients) -> list[Wave]:
    # A missing key still stops the job here, before it starts and tells the user anything.
    clients.settings.require(*WaveServices.REQUIRED)
    clients.token_opener  # noqa: B018 (built now: neither token key set stops the job here)
    built: list[WaveServices] = []

    def services() -> WaveServices:
        if not built:
            built.append(WaveServices.from_clients(clients))
        return built[0]

    def bind(name: str) -> Callable[[WaveContext], Awaitable[dict[str, Any]]]:
        async def bound(ctx: WaveContext) -> dict[str, Any]:
            with bulk_imports():  # the wave's module and, at the first, its clients' SDKs
                fn: WaveFn = importlib.import_module(f"jiwa.waves.{name}").run
                wave_services = services()
            # Not emptied here: what was spent since the last wave's record (images the
            # calendar wave started, finishing while the runner checkpointed) was billed
            # too, and counts in this wave's entry.
            try:
                return await fn(ctx, wave_services)
            finally:  # a failed wave's calls were billed too
                await _record(ctx, wave_services)
        return bound

    return [Wave(n, name, bind(name), announce=announce)
            for n, (name, announce) in enumerate(MODULES, 1)]


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
