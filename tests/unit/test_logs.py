"""The JSON lines: an error logged with its exception carries the Python traceback in
`stack_trace` (what Error Reporting groups by), warnings do not, and no secret or URL
credential reaches a line, tracebacks included."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from jiwa import logs

SECRET = "sk-live-0123456789abcdef"


def _record(level: int, message: str, *args: Any, exc: BaseException | None = None,
            **extra: Any) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    record = logging.LogRecord("jiwa.test", level, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def _line(record: logging.LogRecord, **kw: Any) -> dict[str, Any]:
    text = logs.JsonFormatter(**kw).format(record)
    assert "\n" not in text  # one entry per line, whatever the traceback
    entry: dict[str, Any] = json.loads(text)
    return entry


def _raise_in_a_wave() -> None:
    raise ValueError("the wave broke")


def _caught(fn: Any) -> BaseException:
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("did not raise")


def test_an_error_with_an_exception_keeps_the_python_traceback() -> None:
    entry = _line(_record(logging.ERROR, "job: attempt %s failed", 2,
                          exc=_caught(_raise_in_a_wave), job_id="job_1"),
                  project="p")
    assert (entry["severity"], entry["message"]) == ("ERROR", "job: attempt 2 failed")
    assert entry["error"] == "ValueError: the wave broke"
    trace = entry["stack_trace"]
    # Python's own format, which Error Reporting parses: header, frames, last line.
    assert trace.startswith("Traceback (most recent call last):\n  File ")
    assert "in _raise_in_a_wave" in trace and __file__ in trace
    assert trace.endswith("ValueError: the wave broke")
    assert entry["jobId"] == "job_1" and entry[logs.TRACE_FIELD].startswith("projects/p/")


def test_the_cause_of_an_error_is_in_its_traceback() -> None:
    def wrapped() -> None:
        try:
            _raise_in_a_wave()
        except ValueError as exc:
            raise RuntimeError("job failed") from exc

    trace = _line(_record(logging.CRITICAL, "boom", exc=_caught(wrapped)))["stack_trace"]
    assert "ValueError: the wave broke" in trace and trace.endswith("RuntimeError: job failed")


def test_a_warning_with_an_exception_names_it_without_a_trace() -> None:
    # Error Reporting takes any entry with a trace: a handled failure must not open a group.
    entry = _line(_record(logging.WARNING, "heartbeat failed", exc=_caught(_raise_in_a_wave)))
    assert entry["error"] == "ValueError: the wave broke" and "stack_trace" not in entry


def test_a_line_without_an_exception_has_no_error_fields() -> None:
    entry = _line(_record(logging.ERROR, "plain"))
    assert "error" not in entry and "stack_trace" not in entry


def test_secrets_and_url_credentials_are_blanked_everywhere() -> None:
    def leaky() -> None:
        try:
            raise OSError(f"GET https://graph.instagram.com/me?fields=id&access_token=IGlong "
                          f"with key {SECRET}")
        except OSError as exc:
            raise RuntimeError(f"Authorization: Bearer EAAtoken; {SECRET}") from exc

    text = logs.JsonFormatter(secrets=[SECRET, ""]).format(
        _record(logging.ERROR, "calling with %s", SECRET, exc=_caught(leaky)))
    for leaked in (SECRET, "IGlong", "EAAtoken"):
        assert leaked not in text
    entry = json.loads(text)
    assert entry["message"] == f"calling with {logs.REDACTED}"
    assert f"access_token={logs.REDACTED}" in entry["stack_trace"]
    assert "fields=id" in entry["stack_trace"]  # only the credential goes


def test_a_secret_containing_another_is_blanked_whole() -> None:
    formatter = logs.JsonFormatter(secrets=["abc123", "abc123-long-secret"])
    assert formatter.redact("x abc123-long-secret y") == f"x {logs.REDACTED} y"


@pytest.fixture
def root_handlers() -> Iterator[list[logging.Handler]]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield root.handlers
    root.handlers[:] = before
    root.setLevel(level)


def test_configure_installs_one_json_handler_with_the_secrets(
        root_handlers: list[logging.Handler], capsys: pytest.CaptureFixture[str]) -> None:
    root_handlers[:] = []
    logs.configure("p", "INFO", [SECRET])
    logs.configure("p", "DEBUG", [])  # a second cold-start call changes nothing
    assert len(root_handlers) == 1 and logging.getLogger().level == logging.INFO
    handler = root_handlers[0]
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout
    handler.handle(_record(logging.ERROR, "key %s", SECRET))
    out = capsys.readouterr().out
    assert SECRET not in out and json.loads(out)["message"] == f"key {logs.REDACTED}"
