"""An emulator dies mid-job and comes back: the job completes (or fails cleanly), every
message arrives once and in order, and nothing is left RUNNING.

These tests run on a stack of their own, so an outage cannot disturb the other tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conversations import backbone
from harness import SENT, Harness, new_phone, wait_for
from integration.test_end_to_end import onboard
from stacks import harness_for, running_test_stack

from jiwa.dev.stack import Stack
from jiwa.events import ProgressEvent
from jiwa.store import Status

OUTAGE_SECONDS = 3.0
# Meant to keep both tests on one worker, sharing the module's stack (--dist loadgroup,
# emulator.sh). pytest-xdist 3.8 no longer groups on pytest 9.2 (it renames the node id
# pytest no longer reads: pytest-dev/pytest-xdist#1386), so each test may start the
# stack on a worker of its own: one stack start more, and no test depends on sharing it.
pytestmark = pytest.mark.xdist_group("restartable_stack")


@pytest.fixture(scope="module")
def restartable_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from running_test_stack(tmp_path_factory.mktemp("restartable"))


@pytest.fixture
def own_harness(restartable_stack: Stack) -> Iterator[Harness]:
    yield from harness_for(restartable_stack)


@pytest.mark.parametrize("emulator", ["firestore", "pubsub"])
def test_emulator_restarted_mid_job(restartable_stack: Stack, own_harness: Harness, record,
                                    emulator: str, tmp_path: Path) -> None:
    h, phone, release = own_harness, new_phone(), tmp_path / "release"
    h.control(phone, hold_at_wave=3, release_file=str(release))
    job_id = onboard(h, phone)
    # Wave 3 has started and its message is sent and recorded: the notifier has nothing in
    # flight, and the job waits, when the emulator dies (see Stack.outage).
    wave_3 = ProgressEvent.make_id(job_id, 1, 300)
    wait_for(lambda: h.send_status(wave_3) in SENT, 30, "wave 3's message sent")
    with restartable_stack.outage(emulator):
        release.touch()  # the job writes and publishes into the outage
        time.sleep(OUTAGE_SECONDS)
    back = time.monotonic()
    wait_for(lambda: "Brand analysis\nsummary of wave 3" in h.texts(phone), 60,
             "the message the job sent into the outage")
    print(f"\n{emulator}: the job's next message arrived {time.monotonic() - back:.1f}s "
          "after the emulator was back")
    texts = h.final_texts(job_id, phone, ("Done!", "Sorry"), timeout=120)
    expected = backbone(login=True)
    record.job(f"{emulator} emulator restarted mid-job", h, job_id, expected, texts)
    assert h.store.require(job_id).status == "COMPLETED"
    assert texts == expected.texts
    assert [j.id for j in h.store.list_jobs(Status.RUNNING)] == []
