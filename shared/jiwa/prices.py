"""List prices (USD) of what an onboarding spends, and the cost of a job's counts
(jiwa/usage.py). List prices only: no free tier, no committed-use or batch discount.
Each price names its source and the date it was read; a price we could not find is None
and says so, rather than a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

from jiwa.usage import Usage

MILLION = 1_000_000


@dataclass(frozen=True)
class ClaudePrice:
    """USD per million tokens."""

    input: float
    output: float
    cache_write_5m: float
    cache_read: float


CLAUDE: dict[str, ClaudePrice] = {
    # platform.claude.com/docs/en/models/sonnet-5-5/overview ("Pricing"), read 2026-11:
    # $2 input, $10 output, $2.50 5-minute cache write, $0.20 cache read. Three price
    # trackers' release notes (PromptFuel v1.0.23, claudit v1.9.2, token-stats 0.3.2)
    # report a cut of cache reads to $0.10 from 2026-10-07, which we could not confirm on
    # an Anthropic page: with it, the cached cost below is a little high.
    "claude-sonnet-5-5": ClaudePrice(2.00, 10.00, 2.50, 0.20),
    # platform.claude.com/docs/en/models/haiku-5-5/overview ("Pricing"), read 2026-11,
    # for prompts up to 100,000 tokens (ours are far below): $0.10 input, $0.50 output,
    # $0.125 5-minute cache write; the cache read, $0.01, is from the same trackers and
    # Apidog's Haiku 5.5 guide (the page's text we read stops before that row).
    "claude-haiku-5-5": ClaudePrice(0.10, 0.50, 0.125, 0.01),
}

# fal-ai/flux/schnell: $0.003 per megapixel (fal's pricing as quoted by workflowlab.dev,
# verified 2026-05-11, and a fal model table; we did not read fal's own page). We ask for
# square_hd, 1024 x 1024 = 1.048576 MP; whether fal rounds megapixels up is not stated
# consistently, so this charges the exact area.
FAL_PER_MEGAPIXEL = {"fal-ai/flux/schnell": 0.003}
IMAGE_MEGAPIXELS = 1024 * 1024 / MILLION

# Cloud Run jobs, Tier 1 regions: $0.000018 per vCPU-second (cloud.google.com/run/pricing,
# read 2026-11). The job runs in asia-southeast2 (Jakarta), a Tier 2 region, whose price
# we did not find; and the memory price per GiB-second was cut off in the page we read:
# None, so the cost leaves memory out and the report shows the GiB-seconds alone.
CLOUD_RUN_VCPU_SECOND: float | None = 0.000018
CLOUD_RUN_GIB_SECOND: float | None = None
PRICES_READ = "2026-11"


@dataclass(frozen=True)
class Cost:
    claude: float
    claude_without_cache: float  # every cache token priced as plain input
    images: float
    unpriced: tuple[str, ...]  # models in the counts with no price here

    @property
    def total(self) -> float:
        return self.claude + self.images

    @property
    def total_without_cache(self) -> float:
        return self.claude_without_cache + self.images

    @property
    def claude_saving(self) -> float:
        """The share of Claude's cost that caching saved (0.3 = 30 % lower)."""
        base = self.claude_without_cache
        return (base - self.claude) / base if base else 0.0


def cost(usage: Usage) -> Cost:
    """The list-price cost of `usage`, and what the same calls would cost uncached."""
    claude = plain = images = 0.0
    unpriced: list[str] = []
    for model, t in usage.claude.items():
        price = CLAUDE.get(model)
        if price is None:
            unpriced.append(model)
            continue
        output = t.output * price.output
        claude += (t.input * price.input + t.cache_creation * price.cache_write_5m
                   + t.cache_read * price.cache_read + output) / MILLION
        plain += ((t.input + t.cache_creation + t.cache_read) * price.input + output) / MILLION
    for model, count in usage.images.items():
        per_mp = FAL_PER_MEGAPIXEL.get(model)
        if per_mp is None:
            unpriced.append(model)
            continue
        images += count * IMAGE_MEGAPIXELS * per_mp
    return Cost(claude, plain, images, tuple(unpriced))


def cloud_run_cost(vcpu_seconds: float, gib_seconds: float) -> float | None:
    """The job's compute at list price, the parts we have a price for (None: none)."""
    if CLOUD_RUN_VCPU_SECOND is None:
        return None
    return vcpu_seconds * CLOUD_RUN_VCPU_SECOND + gib_seconds * (CLOUD_RUN_GIB_SECOND or 0.0)
