"""JSON-line logs that Cloud Logging reads as structured entries.

Fields: `severity`, `message`, `jobId`, `eventId`, and the trace field, so one filter
(`jsonPayload.jobId="…"`) shows a job's whole life across functions and the job.
Callers pass identifiers through `extra=`; phone numbers only ever masked.

An error logged with its exception carries the whole Python traceback in `stack_trace`,
which Error Reporting reads to group the errors. Every text field goes through `redact`
first: the configured secrets and the credentials that URLs and headers carry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_CONTEXT_FIELDS = {"job_id": "jobId", "event_id": "eventId", "wave": "wave",
                   "attempt": "attempt", "phone": "phone", "component": "component",
                   # what infra/monitoring.tf's log-based metrics count and measure
                   "outcome": "outcome", "code": "code", "queue_length": "queueLength",
                   "oldest_wait_seconds": "oldestWaitSeconds"}
TRACE_FIELD = "logging.googleapis.com/trace"
REDACTED = "[redacted]"
# Credentials an exception's text can quote: httpx's errors name the URL, and Instagram
# takes its token in the query string (?access_token=…); a header dump shows "Bearer …".
_CREDENTIALS = re.compile(r"([?&](?:access_token|client_secret|code|key|token)=|Bearer\s+)"
                          r"[^\s&'\"]+", re.IGNORECASE)


def trace_id(key: str) -> str:
    """A job's trace id: Cloud Trace ids are 32 hex digits, so derive one from the job id."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class JsonFormatter(logging.Formatter):
    def __init__(self, project: str = "", secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._project = project
        # Longest first: a secret that contains another is blanked whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _CREDENTIALS.sub(lambda m: m.group(1) + REDACTED, text)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": self.redact(record.getMessage()),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        for attr, key in _CONTEXT_FIELDS.items():
            value = getattr(record, attr, None)
            if value is not None:
                entry[key] = value
        trace = getattr(record, "trace", None) or getattr(record, "job_id", None)
        if trace and self._project:
            entry[TRACE_FIELD] = f"projects/{self._project}/traces/{trace_id(trace)}"
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = self.redact(f"{record.exc_info[0].__name__}: {record.exc_info[1]}")
            # Error Reporting groups an entry whose jsonPayload has a `stack_trace` holding
            # the traceback in Python's own format (it reads stack_trace, then exception,
            # then message): "Format a log entry to report error events",
            # https://cloud.google.com/error-reporting/docs/formatting-error-messages.
            # ERROR and above only: it takes any entry with a trace, and a warning (a
            # retry, a handled failure) must not open an error group. No `serviceContext`:
            # with one, the entry reads as a ReportedErrorEvent, whose trace is in `message`.
            if record.levelno >= logging.ERROR:
                entry["stack_trace"] = self.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(project: str = "", level: str = "INFO", secrets: Iterable[str] = ()) -> None:
    """Idempotent: functions call it on every cold start, the job once. `secrets`: the
    values never to write (Settings.secret_values())."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(project, secrets))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "google", "grpc"):
        logging.getLogger(noisy).setLevel("WARNING")
