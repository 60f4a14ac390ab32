"""Anthropic's rate limits for the Claude stand-in (a development tool), off unless the
fault plan sets `quotas.anthropic_requests` and/or `quotas.anthropic_input_tokens`
({"limit": n, "per_seconds": 60}: requests or input tokens per minute, per API key and
model).

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

Two rules from the same page (docs.anthropic.com/{es,fr,it}/api/rate-limits, read
2026-11-29) that the stand-in follows: "rate limits are applied separately for each
model", so our Sonnet calls and our Haiku scores fill buckets of their own (the page
combines some versions into one class, e.g. Sonnet 4.6 and 4.5; we key by model id); and
ITPM counts `input_tokens` and `cache_creation_input_tokens`, not
`cache_read_input_tokens` (but for a few older models, marked there), so a prompt read
from the cache costs only its uncached rest.

The anthropic SDK honours `retry-after` (`_calculate_retry_timeout` in
anthropic/_base_client.py: "If the API asks us to wait a certain amount of time, just do
what it says") for up to `max_retries` retries (JIWA_ANTHROPIC_MAX_RETRIES, 4).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, jsonify, request

from jiwa.dev.anthropic_cache import ImageUnreadableError, PromptCache, TooManyBreakpointsError
from jiwa.dev.faults import FaultPlan
from jiwa.dev.quotas import Verdict


def install(app: Flask, faults: FaultPlan, cache: PromptCache) -> None:
    """Checks each `POST /v1/messages` against the quotas before the stand-in answers,
    counting input tokens as its `usage` will (`cache` is the stand-in's prompt cache)."""

    @app.before_request
    def rate_limit() -> Any:
        if request.method != "POST" or request.path != "/v1/messages":
            return None
        body = request.get_json(force=True, silent=True) or {}
        model = str(body.get("model", ""))
        key = (request.headers.get("x-api-key") or request.headers.get("authorization", "")
               ) + f"|{model}"
        requests = faults.quota("anthropic_requests", key)
        if not requests.allowed:
            return _limited(requests, "requests", "requests")
        try:
            usage = cache.peek(model, body)
        except (TooManyBreakpointsError, ImageUnreadableError):
            return None  # the stand-in answers that 400 itself
        counted = usage["input_tokens"] + usage["cache_creation_input_tokens"]
        tokens = faults.quota("anthropic_input_tokens", key, max(1, counted))
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

