from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import Harness

from jiwa.dev.stack import Stack

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("stack"), project="jiwa-test",
                  extra_env={"JIWA_PIPELINE": "pipelines:build", "PYTHONPATH": str(TESTS),
                             "JIWA_HEARTBEAT_SECONDS": "1", "JIWA_STALE_HEARTBEAT_SECONDS": "5",
                             "JIWA_QUEUED_TIMEOUT_SECONDS": "30"},
                  retry_min_seconds=0.5, sweep_seconds=2)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def harness(stack: Stack) -> Iterator[Harness]:
    env = stack.state.env
    for key in ("GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):
        os.environ[key] = env[key]
    h = Harness(stack.state)
    yield h
    h.http.close()
