"""jiwa.startup: a start's imports run with the cyclic collector paused, and what they
made is frozen out of later collections; the collector's state is left as it was."""

from __future__ import annotations

import gc
import importlib
import sys
import threading
from collections.abc import Iterator

import pytest

from jiwa.startup import bulk_imports


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    gc.enable() if enabled else gc.disable()


def test_the_block_runs_uncollected_and_its_objects_end_frozen() -> None:
    gc.unfreeze()
    gc.enable()
    seen: list[bool] = []
    sys.modules.pop("jiwa.dev.quotas", None)  # so the block imports it
    with bulk_imports():
        seen.append(gc.isenabled())
        importlib.import_module("jiwa.dev.quotas")
        made = [object() for _ in range(10)]
    assert seen == [False]
    assert gc.isenabled()
    # frozen: in no generation a collection walks (get_objects lists those)
    assert gc.get_freeze_count() > 1000
    assert not any(tracked is made for tracked in gc.get_objects())


def test_a_block_that_imports_nothing_freezes_nothing() -> None:
    gc.unfreeze()
    with bulk_imports():
        importlib.import_module("jiwa.startup")  # loaded already
        made = [object()]
    assert gc.get_freeze_count() == 0
    assert any(tracked is made for tracked in gc.get_objects())


def test_a_paused_collector_stays_paused() -> None:
    gc.disable()
    with bulk_imports():
        pass
    assert not gc.isenabled()


def test_the_collector_runs_again_when_the_block_fails() -> None:
    gc.enable()
    with pytest.raises(ImportError), bulk_imports():
        importlib.import_module("jiwa.no_such_module")
    assert gc.isenabled()


def test_blocks_that_overlap_in_two_threads_resume_the_collector_when_both_end() -> None:
    # The job's case: the Claude SDK's import in a thread starts while a wave's import
    # runs on the event loop, and the wave's ends first.
    gc.enable()
    sdk_opened, sdk_may_close = threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def sdk_import() -> None:
        with bulk_imports():
            sdk_opened.set()
            sdk_may_close.wait(5)
            seen["while the SDK still imports"] = gc.isenabled()

    thread = threading.Thread(target=sdk_import)
    with bulk_imports():
        thread.start()
        assert sdk_opened.wait(5)
    seen["after the wave's block"] = gc.isenabled()
    sdk_may_close.set()
    thread.join(5)
    assert seen == {"after the wave's block": False, "while the SDK still imports": False}
    assert gc.isenabled()
