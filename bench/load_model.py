"""The load scenario's arithmetic (bench/load.py), kept pure so that tests/unit can fail it:
the providers' quotas, one onboarding's demand on each, what each quota allows, Pub/Sub's
redelivery backoff, percentiles and the busiest window of a quota's use."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Quotas:
    """The providers' defaults, each with its source (README "Provider quotas")."""

    # Cloud Run Admin API "Job run requests per minute per region": not in the copies of
    # cloud.google.com/run/quotas we could read; projects cite 180 (jiwa.dev.cloudrun_standin:
    # our assumption, check the console's Quotas page)
    cloud_run_per_minute: int = 180
    # Anthropic, old Tier 1 for Sonnet 4.x (jiwa.dev.anthropic_limits): 50 requests and
    # 30,000 input tokens a minute, each model its own (the docs: "applied separately for
    # each model"); our assumption: the same numbers for Haiku, the scores' model
    anthropic_rpm: int = 50
    anthropic_itpm: int = 30_000
    # fal: 2 requests of an account in progress at once for a new account, up to 40 with
    # credits (docs.fal.ai "Concurrency limits" and FAQ; jiwa.dev.fal_standin)
    fal_concurrent: int = 2
    # WhatsApp Cloud API, per business number: 80 messages a second (Meta, "Throughput";
    # jiwa.dev.meta_standin)
    whatsapp_per_second: int = 80


@dataclass(frozen=True)
class Demand:
    """One onboarding's use of each provider (modelled; bench/load.py says from what)."""

    # per model (each has its own limits): requests, and the input tokens the limits
    # count (uncached input and cache writes; jiwa.dev.anthropic_limits), images included
    claude: dict[str, tuple[int, int]]  # "sonnet": brand, products, calendar; "haiku": scores
    images: int
    fal_seconds: float  # one image's time IN_PROGRESS at fal
    messages: int  # WhatsApp messages the notifier sends for one onboarding
    run_requests: int = 1  # Cloud Run RunJob, once at admission


def allowances(q: Quotas, d: Demand) -> dict[str, float]:
    """Onboardings a minute each quota allows, were it the only limit."""
    claude = {}
    for model, (calls, tokens) in d.claude.items():
        claude[f"anthropic_requests_{model}"] = q.anthropic_rpm / calls
        claude[f"anthropic_input_tokens_{model}"] = q.anthropic_itpm / tokens
    return {
        "cloud_run_run_requests": q.cloud_run_per_minute / d.run_requests, **claude,
        "fal_concurrent": q.fal_concurrent * 60 / (d.images * d.fal_seconds),
        "whatsapp_throughput": q.whatsapp_per_second * 60 / d.messages,
    }


def needed(per_minute: float, d: Demand) -> dict[str, float]:
    """Each quota's limit (in its own unit) that `per_minute` onboardings would need."""
    return {
        "cloud_run_per_minute": per_minute * d.run_requests,
        # the model that needs the most sets what each model's limit must be
        "anthropic_rpm": per_minute * max(calls for calls, _ in d.claude.values()),
        "anthropic_itpm": per_minute * max(tokens for _, tokens in d.claude.values()),
        "fal_concurrent": per_minute / 60 * d.images * d.fal_seconds,
        "whatsapp_per_second": per_minute / 60 * d.messages,
    }


def binding(allowed: dict[str, float]) -> tuple[str, float]:
    """The tightest quota and its onboardings a minute."""
    name = min(allowed, key=lambda k: allowed[k])
    return name, allowed[name]


def suggested_max_running(per_minute: float, job_seconds: float, headroom: float) -> int:
    """Little's law: onboardings running at once to sustain `per_minute` when one takes
    `job_seconds` unhindered, times `headroom` for the time each spends waiting on quotas."""
    return max(1, math.ceil(per_minute / 60 * job_seconds * headroom))


def redelivery_delay(attempt: int, minimum: float, maximum: float) -> float:
    """Pub/Sub's wait before redelivering a push it got an error for, after `attempt`
    failed deliveries (1 = the first): "exponential backoff" between the subscription's
    minimum and maximum (cloud.google.com/pubsub/docs/handling-failures); Google does not
    publish the factor, so doubling is our assumption."""
    return float(min(maximum, minimum * 2 ** max(0, attempt - 1)))


def pubsub_backoff() -> tuple[float, float]:
    """The retry policy infra/ deploys (minimum_backoff, maximum_backoff in seconds), read
    from infra/pubsub.tf so that this scenario follows it."""
    text = (ROOT / "infra" / "pubsub.tf").read_text()
    found = [re.search(rf'{k}\s*=\s*"([0-9.]+)s"', text) for k in ("minimum_backoff",
                                                                   "maximum_backoff")]
    if not all(found):
        raise ValueError("infra/pubsub.tf: no retry_policy backoff found")
    return float(found[0].group(1)), float(found[1].group(1))  # type: ignore[union-attr]


def pct(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..1); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def window_peak(events: Sequence[tuple[float, float]], window: float) -> float:
    """The most `(time, amount)` events add up to within any `window` seconds (a window
    starting at each event), e.g. a quota's busiest minute."""
    ordered = sorted(events)
    best = total = 0.0
    start = 0
    for t, amount in ordered:
        total += amount
        while ordered[start][0] <= t - window:
            total -= ordered[start][1]
            start += 1
        best = max(best, total)
    return best


def time_average(samples: Sequence[tuple[float, float]], until: float) -> float:
    """The time-weighted mean of a level that changes at `(time, level)` samples and
    holds until the next one (the last until `until`)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    span = until - ordered[0][0]
    if span <= 0:
        return float(ordered[-1][1])
    area = sum(level * ((ordered[i + 1][0] if i + 1 < len(ordered) else until) - t)
               for i, (t, level) in enumerate(ordered))
    return area / span
