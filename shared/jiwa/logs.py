"""JSON-line logs that Cloud Logging reads as structured entries.

Fields: `severity`, `message`, `jobId`, `eventId`, and the trace field, so one filter
(`jsonPayload.jobId="…"`) shows a job's whole life across functions and the job.
Callers pass identifiers through `extra=`; phone numbers only ever masked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_CONTEXT_FIELDS = {"job_id": "jobId", "event_id": "eventId", "wave": "wave",
                   "attempt": "attempt", "phone": "phone", "component": "component"}
TRACE_FIELD = "logging.googleapis.com/trace"


def trace_id(key: str) -> str:
    """A job's trace id: Cloud Trace ids are 32 hex digits, so derive one from the job id."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class JsonFormatter(logging.Formatter):
    def __init__(self, project: str = "") -> None:
        super().__init__()
        self._project = project

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
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
            entry["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}"
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(project: str = "", level: str = "INFO") -> None:
    """Idempotent: functions call it on every cold start, the job once."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(project))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "urllib3", "google", "grpc"):
        logging.getLogger(noisy).setLevel("WARNING")
