"""A job's process started at /daftar, to load while its owner logs in (decision 0019).

The job's cold start (a Cloud Run execution's start, then about 2.5 s of CPU here for the
Google clients, the Claude SDK, the HTML readers and the later waves' modules) used to
begin when the login ended, in front of everything the user waits for. With
JIWA_STANDBY_SECONDS set, the webhook that sends the login link also asks the dispatcher
to start the job's process at once (`OnboardingRequested.for_standby`); that process
loads everything and waits, beating, for the login. When the job is queued and admitted,
the dispatcher hands the run to it instead of starting a new one; a standby that is not
alive (never beat, or stopped beating) is passed over and a new process started as
before. A standby not handed its run within the setting gives up and exits.

The state lives on the job's document, `standby`, written with a compare-and-set on the
document (jiwa.single_document): one writer wins each step.

    starting  (the dispatcher claimed the start)  -> waiting (started: its execution)
    waiting   -> handed (the dispatcher gave it the run) | ended (gave up, passed over)
    starting  -> ended (the start failed)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jiwa.single_document import read_modify_write
from jiwa.store import JobStore, Status, now

STARTING, WAITING, HANDED, ENDED = "starting", "waiting", "handed", "ended"
# A standby beats every BEAT_SECONDS; one silent for STALE_SECONDS is taken for dead.
BEAT_SECONDS = 5.0
STALE_SECONDS = 20.0
# A standby that has not beaten yet is still starting: Cloud Run's start of an execution
# takes seconds to tens of seconds (image pull, container start); after this long without
# a beat, it is taken for a start that failed.
START_GRACE_SECONDS = 120.0


class Standbys:
    """The standby state of jobs, on their documents."""

    def __init__(self, store: JobStore) -> None:
        self._store = store

    def _change(self, job_id: str, step: Any) -> Any:
        """Apply `step(status, standby) -> (new standby or None, result)` atomically."""
        def change(doc: dict[str, Any] | None) -> tuple[dict[str, Any] | None, Any]:
            if doc is None:
                return None, step(None, {})[1]
            updated, result = step(Status(doc["status"]), dict(doc.get("standby") or {}))
            return ({"standby": updated} if updated is not None else None), result

        return read_modify_write(self._store.document(job_id), change)

    def claim_start(self, job_id: str) -> bool:
        """True once per login: the job awaits it and has no standby that may be alive."""
        def step(status: Status | None, standby: dict[str, Any]) -> tuple[Any, bool]:
            if status != Status.AWAITING_AUTH or standby.get("state") not in (None, ENDED):
                return None, False
            return {"state": STARTING, "since": now()}, True
        return bool(self._change(job_id, step))

    def started(self, job_id: str, execution: str) -> None:
        def step(status: Status | None, standby: dict[str, Any]) -> tuple[Any, None]:
            if standby.get("state") != STARTING:
                return None, None
            return {**standby, "state": WAITING, "execution": execution}, None
        self._change(job_id, step)

    def start_failed(self, job_id: str) -> None:
        self._end(job_id, {STARTING}, "start failed")

    def hand_over(self, job_id: str) -> str | None:
        """The execution of the job's standby, now handed the run, if one waits alive;
        else None (a standby that is not alive is passed over: it exits on its next look)."""
        def step(status: Status | None, standby: dict[str, Any]) -> tuple[Any, str | None]:
            if standby.get("state") != WAITING:
                return None, None
            if not alive(standby, now()):
                return {**standby, "state": ENDED, "why": "passed over"}, None
            return {**standby, "state": HANDED, "handedAt": now()}, str(standby["execution"])
        result: str | None = self._change(job_id, step)
        return result

    def beat(self, job_id: str) -> None:
        def step(status: Status | None, standby: dict[str, Any]) -> tuple[Any, None]:
            if standby.get("state") not in (STARTING, WAITING):
                return None, None
            return {**standby, "beatAt": now()}, None
        self._change(job_id, step)

    def give_up(self, job_id: str) -> bool:
        """End the wait; False if the run was handed over first (then run it)."""
        return self._end(job_id, {STARTING, WAITING}, "no login in time")

    def _end(self, job_id: str, states: set[str], why: str) -> bool:
        def step(status: Status | None, standby: dict[str, Any]) -> tuple[Any, bool]:
            if standby.get("state") == HANDED:
                return None, False
            if standby.get("state") not in states:
                return None, True
            return {**standby, "state": ENDED, "why": why}, True
        return bool(self._change(job_id, step))

    def look(self, job_id: str) -> tuple[Status | None, str | None]:
        """The job's status and its standby's state (None, None: no such job)."""
        job = self._store.get(job_id)
        if job is None:
            return None, None
        return job.status, (job.extra.get("standby") or {}).get("state")


def alive(standby: dict[str, Any], at: datetime) -> bool:
    beat = standby.get("beatAt")
    if beat is not None:
        return bool(at - beat < timedelta(seconds=STALE_SECONDS))
    since = standby.get("since")
    return since is not None and bool(at - since < timedelta(seconds=START_GRACE_SECONDS))
