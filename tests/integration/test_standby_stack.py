"""Standby through the real functions and job processes (jiwa.standby, decision 0019): a
/register starts the job's process while the user logs in and the run is handed to it;
a standby left without a login gives up, and the login then starts the job as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from harness import Harness, new_phone, process_running, wait_for
from stacks import harness_for, running_test_stack

from integration.test_cli import jiwa, jiwa_json
from jiwa.dev.stack import Stack

WAIT_SECONDS = 6  # the standbys' wait for a login, short so that the give-up shows here


@pytest.fixture(scope="module")
def standby(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    stacks = running_test_stack(tmp_path_factory.mktemp("standby"),
                                {"JIWA_STANDBY_SECONDS": str(WAIT_SECONDS)}, sweep_seconds=3600)
    stack: Stack = next(stacks)
    try:
        yield from harness_for(stack)
    finally:
        stacks.close()


def _standby_of(h: Harness, job_id: str, state: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = h.store.require(job_id).extra.get("standby") or {}
        return found if found.get("state") == state else None
    return wait_for(probe, 20, f"job {job_id}'s standby to be {state}")


def test_the_run_is_handed_to_the_process_started_at_register(standby: Harness) -> None:
    h, phone = standby, new_phone()
    assert h.send_whatsapp(phone, "/register").status_code == 200
    job_id = h.job_for(phone).id
    waiting = _standby_of(h, job_id, "waiting")
    wait_for(lambda: (h.store.require(job_id).extra.get("standby") or {}).get("beatAt"),
             20, "the standby's first beat")
    pid = int(waiting["execution"].rsplit("/", 1)[-1])
    assert process_running(pid)  # loaded and waiting, before the login
    page = h.follow_login(h.login_link(phone))
    assert page.status_code == 200, page.text
    job = h.wait_status(job_id, "COMPLETED", "FAILED", timeout=60)
    assert job.status == "COMPLETED"
    assert job.execution == waiting["execution"]  # no other process was started for it
    assert _standby_of(h, job_id, "handed")
    shown = jiwa_json(h, "jobs", "show", job_id)["standby"]
    assert shown == {"state": "handed", "execution": waiting["execution"]}
    assert f"standby handed execution {waiting['execution']}" in \
        jiwa(h, "jobs", "show", job_id).stdout
    assert any("handed to its standby" in o for o in
               h.dispatcher_outcomes(f"{job_id}-r1-requested"))
    texts = wait_for(lambda: (t := h.texts(phone)) and "Done!" in t[-1] and t, 20,
                     "the completion message")
    assert texts[1].startswith("Instagram @")  # the conversation as without a standby


def test_a_standby_without_a_login_gives_up_and_the_login_starts_the_job(
        standby: Harness) -> None:
    h, phone = standby, new_phone()
    assert h.send_whatsapp(phone, "/register").status_code == 200
    job_id = h.job_for(phone).id
    waiting = _standby_of(h, job_id, "waiting")
    ended = _standby_of(h, job_id, "ended")
    assert ended["why"] == "no login in time"
    assert "standby ended (no login in time)" in jiwa(h, "jobs", "show", job_id).stdout
    pid = int(waiting["execution"].rsplit("/", 1)[-1])
    wait_for(lambda: not process_running(pid), 20, "the standby's process to exit")
    page = h.follow_login(h.login_link(phone))
    assert page.status_code == 200, page.text
    job = h.wait_status(job_id, "COMPLETED", "FAILED", timeout=60)
    assert job.status == "COMPLETED"
    assert job.execution and job.execution != waiting["execution"]
