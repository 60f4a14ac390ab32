"""Failure and latency injection shared by the stand-ins (a development tool).

A plan is a JSON object posted to the stand-in's `/_standin/faults`, merged into the
current one; `/_standin/reset` clears it:
  {"latency_ms": 1500, "fail": [{"status": 529, "times": 3}], "fail_always": 500}
A plan's `quotas` are provider limits the stand-in enforces (jiwa.dev.quotas), e.g.
  {"quotas": {"anthropic_requests": {"limit": 5, "per_seconds": 2}}}
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request

from jiwa.dev.quotas import Quotas, Verdict


class FaultPlan:
    def __init__(self, latency_ms: float = 0.0) -> None:
        self._lock = threading.Lock()
        self.default_latency_ms = latency_ms
        self.quotas = Quotas()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.plan: dict[str, Any] = {"latency_ms": self.default_latency_ms}
        self.quotas.clear()

    def quota(self, name: str, key: str = "", cost: float = 1.0) -> Verdict:
        """Spend from quota `name` (the plan's `quotas[name]`; none set: no limit)."""
        return self.quotas.take(name, (self.get("quotas") or {}).get(name), key, cost)

    def update(self, plan: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.plan.update(plan)
            return dict(self.plan)

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self.plan.get(key, default)

    def delay(self, key: str = "latency_ms") -> None:
        ms = float(self.get(key, 0) or 0)
        if ms:
            time.sleep(ms / 1000)

    def next_failure(self, key: str = "fail") -> int | None:
        """The HTTP status to fail this call with, or None to answer normally."""
        fault = self.next_fault(key)
        return None if fault is None else int(fault.get("status", 500))

    def next_fault(self, key: str = "fail", to: str | None = None) -> dict[str, Any] | None:
        """The failure to answer this call with (`status`, maybe an error `code`), taken
        from the plan's `{key}_always` or the first entry of its `key` queue that applies
        (an entry with `to` applies only to calls for that recipient); None to answer."""
        with self._lock:
            if self.plan.get(f"{key}_always"):
                return {"status": int(self.plan[f"{key}_always"])}
            queue = self.plan.get(key) or []
            head = next((f for f in queue if f.get("to") in (None, to)), None)
            if head is None:
                return None
            head["times"] = int(head.get("times", 1)) - 1
            if head["times"] <= 0:
                queue.remove(head)
            return dict(head)

    def take(self, key: str) -> bool:
        """Consume one unit of a counter in the plan (e.g. low scores to hand out)."""
        with self._lock:
            left = int(self.plan.get(key, 0) or 0)
            if left <= 0:
                return False
            self.plan[key] = left - 1
            return True


def add_control_routes(app: Flask, faults: FaultPlan, clear: Callable[[], None]) -> None:
    """`POST /_standin/faults` (merge a plan), `POST /_standin/reset` (plan, quotas and
    records) and `GET /_standin/quota_refusals` (calls refused by a quota)."""

    @app.post("/_standin/faults")
    def set_faults() -> Any:
        return jsonify(faults.update(request.get_json(force=True)))

    @app.post("/_standin/reset")
    def reset() -> Any:
        faults.reset()
        clear()
        return jsonify({"ok": True})

    @app.get("/_standin/quota_refusals")
    def quota_refusals() -> Any:
        return jsonify(faults.quotas.refused())
