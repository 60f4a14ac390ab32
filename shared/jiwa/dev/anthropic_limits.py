"""Anthropic's rate limits for the Claude stand-in (a development tool), off unless the
fault plan sets `quotas.anthropic_requests` and/or `quotas.anthropic_input_tokens`
({"limit": n, "per_seconds": 60}: requests or input tokens per minute, per API key).

What the real API does (platform.claude.com/docs/en/api/rate-limits and the support
article "Our approach to rate limits for the Claude API"): limits per organization on
requests (RPM), input tokens (ITPM) and output tokens (OTPM) a minute, each a token bucket
replenished continuously; over any of them, HTTP 429 `rate_limit_error` "describing which
rate limit was exceeded, along with a retry-after header" (seconds; "earlier retries will
fail"), and the `anthropic-ratelimit-{requests,input-tokens}-{limit,remaining,reset}`
headers (reset in RFC 3339). The message is the one users report, e.g. "This request would
exceed the rate limit for your organization (…) of 40,000 input tokens per minute. …"
(github.com/bhouston/mycoder/issues/62). Defaults: the old Tier 1 was 50 RPM and 30,000
ITPM for Sonnet 4.x (docs.anthropic.com/ja/api/rate-limits); the newest page names tiers
Start/Build/Scale without numbers in what we could read, so those stand as the assumption.
OTPM is not enforced here: our answers are short (README: max_tokens per task).

The anthropic SDK honours `retry-after` (`_calculate_retry_timeout` in
anthropic/_base_client.py: "If the API asks us to wait a certain amount of time, just do
what it says") for up to `max_retries` retries (JIWA_ANTHROPIC_MAX_RETRIES, 4).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify, request

from jiwa.dev.faults import FaultPlan
from jiwa.dev.quotas import Verdict


def install(app: Flask, faults: FaultPlan) -> None:
    """Checks each `POST /v1/messages` against the quotas before the stand-in answers,
    counting input tokens as the stand-in's `usage.input_tokens` does."""
    from jiwa.dev.anthropic_standin import CHARS_PER_TOKEN, _prompt_text

    @app.before_request
    def rate_limit() -> Any:
        if request.method != "POST" or request.path != "/v1/messages":
            return None
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "")
        body = request.get_json(force=True, silent=True) or {}
        requests = faults.quota("anthropic_requests", key)
        if not requests.allowed:
            return _limited(requests, "requests", "requests")
        tokens = faults.quota("anthropic_input_tokens", key,
                              max(1, len(_prompt_text(body)) // CHARS_PER_TOKEN))
        if not tokens.allowed:
            return _limited(tokens, "input tokens", "input-tokens")
        return None


def retry_after(verdict: Verdict) -> int:
    """The `retry-after` header for a refused call: whole seconds on the real API, rounded
    up so that a retry on time passes (bench/load.py answers its modelled calls with it)."""
    return max(1, math.ceil(verdict.retry_after))


def _limited(verdict: Verdict, what: str, header: str) -> Any:
    response = jsonify({"type": "error", "error": {
        "type": "rate_limit_error",
        "message": f"This request would exceed the rate limit for your organization "
                   f"(standin) of {verdict.limit:,} {what} per minute. For details, refer "
                   f"to: https://docs.claude.com/en/api/rate-limits. You can see the "
                   f"response headers for current usage. Please reduce the prompt length "
                   f"or the maximum tokens requested, or try again later."}})
    response.status_code = 429
    response.headers["retry-after"] = str(retry_after(verdict))
    reset = datetime.now(UTC) + timedelta(seconds=verdict.full_after)
    prefix = f"anthropic-ratelimit-{header}"
    response.headers[f"{prefix}-limit"] = str(verdict.limit)
    response.headers[f"{prefix}-remaining"] = str(verdict.remaining)
    response.headers[f"{prefix}-reset"] = reset.isoformat(timespec="seconds")
    return response

