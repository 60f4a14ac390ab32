"""Provider quotas for the stand-ins (a development tool): off unless a test sets one.

A quota is a rule in a stand-in's fault plan, `"quotas": {NAME: {"limit": n,
"per_seconds": s}}`, enforced per key (an API key, a phone number id, a region) as a
token bucket: `limit` units, refilled continuously at `limit / per_seconds` a second.
That is how Anthropic describes its own limits ("token bucket algorithm": capacity
replenished continuously, not reset at fixed intervals; platform.claude.com/docs/en/api/
rate-limits), and a fair model of a per-minute quota elsewhere: a full bucket lets a
burst of `limit` through, then one more every `per_seconds / limit`. Tests use small
limits and short windows so that a quota is hit and lifts within a second or two.
`/_standin/reset` (FaultPlan.reset) clears the rules and the buckets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int  # whole units left after this call
    retry_after: float  # seconds until this call's cost would fit (0 when allowed)
    full_after: float  # seconds until the bucket is full again


ALLOWED = Verdict(True, 0, 0, 0.0, 0.0)


class Quotas:
    """Token buckets by (quota name, key), each under the rule it was made for (a changed
    rule starts a fresh, full bucket). Thread-safe: Flask serves requests in threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """`clock`: seconds, for the buckets' refill (bench/load.py runs them on its
        simulated clock)."""
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str, float, float], tuple[float, float]] = {}
        self.refusals: list[dict[str, Any]] = []

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()
            self.refusals.clear()

    def refused(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.refusals)

    def take(self, name: str, rule: dict[str, Any] | None, key: str = "",
             cost: float = 1.0) -> Verdict:
        """Spend `cost` units of quota `name` for `key` if they are there. No rule: no
        limit. A call costing more than the whole limit is refused with the time to a
        full bucket (it can never pass; the real APIs answer such a call with 429 too)."""
        if not rule:
            return ALLOWED
        limit, per = float(rule["limit"]), float(rule.get("per_seconds", 60))
        rate = limit / per
        with self._lock:
            now = self._clock()
            bucket = (name, key, limit, per)
            tokens, at = self._buckets.get(bucket, (limit, now))
            tokens = min(limit, tokens + (now - at) * rate)
            allowed = tokens >= cost
            if allowed:
                tokens -= cost
            else:
                self.refusals.append({"quota": name, "key": key, "cost": cost,
                                      "at": time.time()})
            self._buckets[bucket] = (tokens, now)
        wait = 0.0 if allowed else (min(cost, limit) - tokens) / rate
        return Verdict(allowed, int(limit), int(tokens), wait, (limit - tokens) / rate)
