"""Admission through the real functions and job processes: with one slot, a second
onboarding waits in line, its user is told once, and it starts as soon as the first job
ends (the job frees its own slot: the sweeper here runs only once an hour)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Harness, new_phone, wait_for
from stacks import harness_for, running_test_stack

from integration.test_cli import jiwa, jiwa_json
from integration.test_end_to_end import onboard
from jiwa.dev.stack import Stack
from jiwa.messages import TEXTS


@pytest.fixture(scope="module")
def one_slot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    stacks = running_test_stack(tmp_path_factory.mktemp("admission"),
                                {"JIWA_ADMISSION_MAX_RUNNING": "1"}, sweep_seconds=3600)
    stack: Stack = next(stacks)
    try:
        yield from harness_for(stack)
    finally:
        stacks.close()


def test_the_next_in_line_starts_when_the_running_job_ends(one_slot: Harness,
                                                          tmp_path: Path) -> None:
    h = one_slot
    release = tmp_path / "release-first"
    first, second = new_phone(), new_phone()
    h.control(first, hold_at_wave=2, release_file=str(release))
    first_job = onboard(h, first)
    h.wait_status(first_job, "RUNNING", timeout=30)
    second_job = onboard(h, second)
    told = TEXTS["queued"]["en"].split(";")[0]  # "… You are number {position} in line"
    in_line = wait_for(lambda: [t for t in h.texts(second) if t.startswith(told[:30])],
                       30, "the in-line message")
    assert "number 1 in line" in in_line[0]
    assert h.job_for(second).status == "QUEUED"  # held back while the slot is taken
    queued = {j["id"]: j for j in jiwa_json(h, "jobs", "list", "--status", "QUEUED")}
    assert queued[second_job]["queuePosition"] == 1  # what the operator sees
    table = jiwa(h, "jobs", "list", "--status", "QUEUED").stdout
    assert "#1 in line" in table
    release.write_text("go")
    assert h.wait_status(first_job, "COMPLETED", timeout=60).status == "COMPLETED"
    # no sweep runs in this hour: only the first job's end can have started the second
    assert h.wait_status(second_job, "COMPLETED", timeout=60).status == "COMPLETED"
    assert sum(t.startswith(told[:30]) for t in h.texts(second)) == 1  # told once
