"""The job's process as a standby (jiwa.standby, decision 0019): load what the waves will
need, then wait, beating, until the dispatcher hands it the run, or give up."""

from __future__ import annotations

import asyncio
import importlib
import logging
import time

from jiwa.standby import BEAT_SECONDS, HANDED, STARTING, WAITING, Standbys
from jiwa.startup import bulk_imports
from jiwa.store import Status

log = logging.getLogger("jiwa.job")

POLL_SECONDS = 0.2  # how often the standby reads its job: the hand-over's added wait
# A page with what the site reader looks for (JSON-LD, Open Graph, a price in the text),
# read once so that its parsers and their data (trafilatura's, extruct's) are loaded.
SAMPLE_PAGE = ("<html><head><meta property='og:title' content='Kopi'>"
               "<script type='application/ld+json'>{\"@type\": \"Product\", \"name\": "
               "\"Kopi susu\"}</script></head><body><main><h1>Kopi</h1><p>Kopi susu gula "
               "aren Rp25.000, dibuat setiap pagi.</p></main></body></html>")


def load_the_waves() -> None:
    """Everything the waves import on the way to the first preview: the Claude SDK, the
    site reader, each wave's module and the later waves' data (jiwa.waves.preload)."""
    with bulk_imports():
        import anthropic  # noqa: F401

        from jiwa.reading.extract import read_html
        from jiwa.waves import MODULES
        from jiwa.waves.preload import later_waves

        for name, _ in MODULES:
            importlib.import_module(f"jiwa.waves.{name}")
        read_html(SAMPLE_PAGE, "https://standby.invalid/")
        later_waves(None)


async def stand_by(standbys: Standbys, job_id: str, seconds: float) -> bool:
    """True when the run was handed to this process (run it), False to exit: the wait
    ended without a login, or the run went elsewhere."""
    # not awaited: a run handed over before the loading ends waits only for what it needs
    asyncio.get_running_loop().run_in_executor(None, _load_quietly)
    deadline, next_beat = time.monotonic() + seconds, 0.0
    while True:
        status, state = await asyncio.to_thread(standbys.look, job_id)
        if state == HANDED:
            log.info("job: standby handed the run", extra={"job_id": job_id})
            return True
        if state not in (STARTING, WAITING) or status not in (Status.AWAITING_AUTH,
                                                              Status.QUEUED):
            log.info("job: standby not needed (%s, %s)", status, state,
                     extra={"job_id": job_id})
            return False
        if time.monotonic() >= next_beat:
            await asyncio.to_thread(standbys.beat, job_id)
            next_beat = time.monotonic() + BEAT_SECONDS
        if time.monotonic() >= deadline:
            if await asyncio.to_thread(standbys.give_up, job_id):
                log.info("job: standby ended: no login in %.0f s", seconds,
                         extra={"job_id": job_id})
                return False
            continue  # handed over just before: the next look sees it
        await asyncio.sleep(POLL_SECONDS)


def _load_quietly() -> None:
    try:
        load_the_waves()
    except Exception:  # the wave that needs a module loads it, and raises, itself
        log.warning("job: standby could not load the waves", exc_info=True)
