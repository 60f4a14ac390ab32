"""The functions served in process by functions-framework's own app, over in-memory fakes
(fakes.py) installed with `jiwa.app.install`; no emulator, no network, no process."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import functions_framework
import pytest
from fakes import ROOT, FakeClients
from flask.testing import FlaskClient

from jiwa import app

SIGNATURES = {"whatsapp_webhook": "http", "instagram_oauth": "http", "sweeper": "http",
              "dispatcher": "cloudevent", "notifier": "cloudevent"}


@pytest.fixture
def clients() -> Iterator[FakeClients]:
    """Fresh fakes, installed as the process's clients for the test's duration."""
    fakes = FakeClients()
    app.install(fakes, fakes.launcher)
    yield fakes
    app.install(None)
    fakes.http.close()


@pytest.fixture
def function(clients: FakeClients) -> Iterator[Callable[[str], FlaskClient]]:
    """`function("notifier")`: a test client of `functions/notifier/main.py`'s `handle`,
    loaded as the framework loads it (which adds the function's folder to sys.path)."""
    def serve(name: str) -> FlaskClient:
        source = ROOT / "functions" / name / "main.py"
        return functions_framework.create_app("handle", str(source),
                                              SIGNATURES[name]).test_client()
    path = list(sys.path)
    yield serve
    sys.path[:] = path
