"""The cost arithmetic (jiwa/prices.py) and the counts it reads (jiwa/usage.py)."""

from __future__ import annotations

import pytest

from jiwa import prices
from jiwa.usage import Usage, job_total, usage_key

SONNET, HAIKU, FLUX = "claude-sonnet-5-5", "claude-haiku-5-5", "fal-ai/flux/schnell"


def test_each_kind_of_token_is_priced_at_its_rate() -> None:
    usage = Usage()
    usage.add_message(SONNET, {"input_tokens": 1_000_000, "output_tokens": 1_000_000,
                               "cache_creation_input_tokens": 1_000_000,
                               "cache_read_input_tokens": 1_000_000})
    got = prices.cost(usage)
    p = prices.CLAUDE[SONNET]
    assert got.claude == pytest.approx(p.input + p.output + p.cache_write_5m + p.cache_read)
    assert got.claude_without_cache == pytest.approx(3 * p.input + p.output)
    assert got.images == 0 and got.unpriced == ()


def test_three_calls_sharing_a_cached_context_cost_less_than_uncached() -> None:
    # 2,000 shared tokens written once and read twice, 100 tokens of task each
    usage = Usage()
    usage.add_message(SONNET, {"input_tokens": 100, "output_tokens": 0,
                               "cache_creation_input_tokens": 2000})
    for _ in range(2):
        usage.add_message(SONNET, {"input_tokens": 100, "output_tokens": 0,
                                   "cache_read_input_tokens": 2000})
    got = prices.cost(usage)
    p = prices.CLAUDE[SONNET]
    assert got.claude == pytest.approx((300 * p.input + 2000 * p.cache_write_5m
                                        + 4000 * p.cache_read) / 1e6)
    assert got.claude_without_cache == pytest.approx(6300 * p.input / 1e6)
    assert got.claude_saving > 0.3


def test_images_are_priced_by_megapixel_and_unknown_models_are_named() -> None:
    usage = Usage()
    for _ in range(8):  # 6 images, 2 regenerated
        usage.add_image(FLUX)
    usage.add_message("claude-unknown-1", {"input_tokens": 10, "output_tokens": 10})
    got = prices.cost(usage)
    assert got.images == pytest.approx(8 * 1.048576 * 0.003)
    assert got.unpriced == ("claude-unknown-1",) and got.claude == 0


def test_a_retried_wave_counts_each_attempt_once() -> None:
    first, second = Usage(), Usage()
    first.add_message(HAIKU, {"input_tokens": 10, "output_tokens": 5})
    first.add_image(FLUX)
    second.add_message(HAIKU, {"input_tokens": 20, "output_tokens": 5})
    entries = {usage_key(1, 0, 0, 8): first.to_doc(), usage_key(1, 0, 1, 8): second.to_doc()}
    entries[usage_key(1, 0, 1, 8)] = second.to_doc()  # the same attempt written again
    total = job_total(entries)
    assert total.claude[HAIKU].input == 30 and total.claude[HAIKU].calls == 2
    assert total.images == {FLUX: 1}


def test_cloud_run_compute_is_priced_per_vcpu_second() -> None:
    assert prices.cloud_run_cost(100.0, 50.0) == pytest.approx(100 * 0.000018)


def test_the_cost_benchmark_averages_each_configurations_onboardings() -> None:
    from bench.cost import comparison_markdown, totals

    def run(score_model: str, cost: float) -> dict:
        return {"cost_usd": cost, "claude_usd": cost - image_usd, "images_usd": image_usd,
                "images": {FLUX: 6}, "claude": {score_model: {}},
                "quality": {"count": 6, "passed": 5}}

    image_usd = 6 * prices.IMAGE_MEGAPIXELS * prices.FAL_PER_MEGAPIXEL[FLUX]
    now = totals([run(HAIKU, image_usd + 0.01), run(HAIKU, image_usd + 0.02)])
    assert now["claude_usd"] == pytest.approx(0.015) and now["images_usd"] == image_usd
    assert (now["generated"], now["passed"], now["kept"]) == (12, 10, 12)
    then = totals([run(SONNET, image_usd + 0.04)])
    lines = comparison_markdown({"now": {"env": {}, "runs": {}, **now},
                                 "then": {"env": {"X": "y"}, "runs": {}, **then}})
    lower = 1 - (image_usd + 0.015) / (image_usd + 0.04)
    assert f"now cost {100 * lower:.1f} % less than then." in lines
