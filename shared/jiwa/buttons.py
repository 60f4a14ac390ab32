"""The reply buttons under our messages, and reading a tap on one.

WhatsApp's interactive "button" message carries up to three reply buttons; a tap comes
back to the webhook as an `interactive.button_reply` whose `id` is the one we set (up to
256 characters; the title up to 20: Meta's Cloud API interactive reply buttons
reference). Our ids say what to do and to which job, so the webhook needs no other
state to answer a tap, and an old button can be told from a current one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RETRY = re.compile(r"retry:(job_[0-9a-f]{16}):r([0-9]{1,6}):w([1-9])")
_CALENDAR = re.compile(r"calendar:(job_[0-9a-f]{16})")


@dataclass(frozen=True)
class Tap:
    action: str  # "retry" | "calendar"
    job_id: str
    run: int = 0  # retry: the run that failed
    wave: int = 0  # retry: the wave it failed in


def retry_id(job_id: str, run: int, wave: int) -> str:
    """Retry run `run` of `job_id` from wave `wave`, where it failed."""
    return f"retry:{job_id}:r{run}:w{wave}"


def calendar_id(job_id: str) -> str:
    return f"calendar:{job_id}"


def parse(payload: str) -> Tap | None:
    """The tap a button id stands for; None for any other text."""
    if m := _RETRY.fullmatch(payload.strip()):
        return Tap("retry", m[1], int(m[2]), int(m[3]))
    if m := _CALENDAR.fullmatch(payload.strip()):
        return Tap("calendar", m[1])
    return None
