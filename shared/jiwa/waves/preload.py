"""What the waves after the brand need, loaded while Claude writes the brand (#17).

The calendar wave built Indonesia's holidays (the `holidays` package, about 0.3 s of CPU
here) and the images wave imported fal's client, the image checks and Pillow's decoders,
each on the event loop, between one Claude answer and the next call or the first image.
Done in a thread during the brand call, that time comes off the path to the first
preview. Nothing depends on it: a wave that finds something not loaded loads it itself,
and an error here only costs that time back.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from datetime import datetime

from jiwa.startup import bulk_imports

log = logging.getLogger("jiwa.waves")

LATER = ("jiwa.waves.influencers", "jiwa.waves.calendar", "jiwa.waves.prompts",
         "jiwa.waves.images", "jiwa.waves.quality")


def later_waves(created: datetime | None) -> None:
    with bulk_imports():
        from jiwa.commerce_dates import dates_between, planning_window

        for name in LATER:
            importlib.import_module(name)
        from PIL import Image

        Image.preinit()  # the PNG and JPEG decoders the image checks open
        dates_between(*planning_window(created))  # the window's holidays, cached per year


def later_waves_in_background(created: datetime | None) -> asyncio.Future[None]:
    """Start `later_waves` in a thread; the caller need not wait for it."""
    return asyncio.get_running_loop().run_in_executor(None, _quietly, created)


def _quietly(created: datetime | None) -> None:
    try:
        later_waves(created)
    except Exception:  # the wave that needs it will load it, and raise, itself
        log.warning("preload of the later waves failed", exc_info=True)
