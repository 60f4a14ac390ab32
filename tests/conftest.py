"""Shared fixtures: the environment is restored after each test; one local stack (real
emulators, stand-ins and functions-framework processes) serves the integration tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def isolate_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
