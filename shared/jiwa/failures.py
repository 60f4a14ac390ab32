"""What a failure tells the user, and the one place its progress event is built.

A bottom module (it imports only events and messages), so the clients, the waves, the
runner and the sweeper can all raise and report failures without importing each other.
"""

from __future__ import annotations

from jiwa.events import ProgressEvent, ProgressKind
from jiwa.messages import FAILURE_REASONS, WAVE_NAMES

# The sequence numbers of a run's last event; the same failure always has the same id,
# so a user already told (by the job or by the sweeper) is not told twice.
COMPLETED_SEQ = 1000
FAILED_SEQ = 1001


class WaveFailedError(RuntimeError):
    """A failure with a reason fit for the user, in both languages; `detail` is for the
    operator (the job record's `error`), never shown to the user."""

    def __init__(self, code: str, reason_en: str, reason_id: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail or reason_en}")
        self.code, self.reason_en, self.reason_id, self.detail = (code, reason_en, reason_id,
                                                                  detail)

    @classmethod
    def of(cls, code: str, detail: str = "") -> WaveFailedError:
        """The failure `code` with its texts from messages.FAILURE_REASONS."""
        texts = FAILURE_REASONS[code]
        return cls(code, texts["en"], texts["id"], detail)


GENERIC_FAILURE = WaveFailedError.of("internal")


def user_facing(exc: BaseException) -> WaveFailedError:
    """The failure to tell the user: the first WaveFailedError, also inside a TaskGroup's
    ExceptionGroup (concurrent work), else a generic one that leaks no internals."""
    if isinstance(exc, WaveFailedError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = user_facing(inner)
            if found is not GENERIC_FAILURE:
                return found
    return GENERIC_FAILURE


def failure_event(job_id: str, run: int, wave: int, failure: WaveFailedError,
                  wave_name: str | None = None) -> ProgressEvent:
    """The FAILED event of run `run`, failed during `wave` (0: before any wave); the wave's
    name is DESIGN.md's unless the pipeline names it otherwise."""
    if wave_name is None:
        wave_name = WAVE_NAMES[wave - 1] if 1 <= wave <= len(WAVE_NAMES) else ""
    return ProgressEvent(
        event_id=ProgressEvent.make_id(job_id, run, FAILED_SEQ), job_id=job_id, run=run,
        seq=FAILED_SEQ, kind=ProgressKind.FAILED, wave=wave, wave_name=wave_name,
        payload={"code": failure.code, "reason_en": failure.reason_en,
                 "reason_id": failure.reason_id})
