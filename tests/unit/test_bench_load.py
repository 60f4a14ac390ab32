"""The load scenario's arithmetic (bench/load_model.py) and its simulated clock
(bench/load_providers.py): what each quota allows, which binds, the sizing, Pub/Sub's
backoff, percentiles, a quota's busiest window, and a clock that skips idle time."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bench.load_jobs import Work
from bench.load_model import (
    Demand,
    Quotas,
    allowances,
    binding,
    needed,
    pct,
    pubsub_backoff,
    redelivery_delay,
    suggested_max_running,
    time_average,
    window_peak,
)
from bench.load_providers import Clock, Fal, VirtualLoop

DEMAND = Demand(claude={"sonnet": (3, 1_800), "haiku": (6, 9_348)}, images=6,
                fal_seconds=6.0, messages=25)


def test_each_quota_allows_its_share_and_the_tightest_binds() -> None:
    allowed = allowances(Quotas(), DEMAND)
    assert allowed["cloud_run_run_requests"] == 180
    # each model against its own limits (Anthropic: "applied separately for each model")
    assert allowed["anthropic_requests_sonnet"] == pytest.approx(50 / 3)
    assert allowed["anthropic_requests_haiku"] == pytest.approx(50 / 6)
    assert allowed["anthropic_input_tokens_sonnet"] == pytest.approx(30_000 / 1_800)
    assert allowed["anthropic_input_tokens_haiku"] == pytest.approx(30_000 / 9_348)
    assert allowed["fal_concurrent"] == pytest.approx(2 * 60 / 36)  # 2 slots, 36 s a job
    assert allowed["whatsapp_throughput"] == pytest.approx(80 * 60 / 25)
    assert binding(allowed) == ("anthropic_input_tokens_haiku",
                                pytest.approx(3.209, abs=1e-3))
    # fewer tokens per score: fal's new account limit of 2 binds instead
    cheap = Demand(claude={"sonnet": (3, 1_800), "haiku": (6, 3_000)}, images=6,
                   fal_seconds=6.0, messages=25)
    assert binding(allowances(Quotas(), cheap))[0] == "fal_concurrent"


def test_what_an_arrival_rate_needs_of_each_quota() -> None:
    need = needed(1000 / 60, DEMAND)  # a thousand an hour
    assert need["anthropic_itpm"] == pytest.approx(155_800)  # Haiku's, the larger
    assert need["anthropic_rpm"] == pytest.approx(100)
    assert need["fal_concurrent"] == pytest.approx(10)  # 36 s of fal each, 16.7 a minute
    assert need["whatsapp_per_second"] == pytest.approx(6.94, abs=0.01)
    assert need["cloud_run_per_minute"] == pytest.approx(16.67, abs=0.01)


def test_max_running_follows_littles_law() -> None:
    # 2.7 a minute of 45 s jobs: 2.03 running on average; 1.25 of headroom -> 3
    assert suggested_max_running(2.7, 45.0, 1.25) == 3
    assert suggested_max_running(0.01, 45.0, 1.25) == 1


def test_the_job_model_counts_its_calls_tokens_and_unhindered_time() -> None:
    w = Work(start_s=1.0, local_s=2.0, claude_s=8.0, fal_s=6.0, score_s=3.0,
             sonnet_tokens=600, score_tokens=1_558, images=6, image_concurrency=3,
             fal_attempts=3, messages=25)
    assert w.claude() == {"sonnet": (3, 3 * 600), "haiku": (6, 6 * 1_558)}
    assert w.unhindered_s() == 1 + 2 + 24 + 2 * (6 + 3)  # two rounds of three images


def test_redelivery_doubles_up_to_the_maximum() -> None:
    assert [redelivery_delay(n, 1, 60) for n in (1, 2, 3, 7, 8)] == [1, 2, 4, 60, 60]
    assert pubsub_backoff() == (1.0, 60.0)  # what infra/pubsub.tf deploys


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert pct(values, 0.5) == 50 and pct(values, 0.95) == 95 and pct(values, 1.0) == 100
    assert pct([], 0.5) == 0.0 and pct([7.0], 0.95) == 7.0


def test_the_busiest_window_and_the_time_average() -> None:
    events = [(0.0, 10.0), (30.0, 10.0), (59.0, 5.0), (60.0, 20.0), (200.0, 1.0)]
    assert window_peak(events, 60) == 35  # 30, 59 and 60: (0, 60] excludes 0 at 60
    assert window_peak([], 60) == 0
    # 2 for 10 s, then 4 for 30 s: (20 + 120) / 40
    assert time_average([(0.0, 2.0), (10.0, 4.0)], 40.0) == pytest.approx(3.5)


def test_the_virtual_clock_skips_idle_time_and_stands_still_for_threads() -> None:
    loop = VirtualLoop()
    clock = Clock(loop)

    async def scenario() -> tuple[float, float]:
        await clock.sleep(3600)  # an hour passes at once
        hour = clock.now()
        with ThreadPoolExecutor(1) as pool:
            await clock.in_thread(pool, time.sleep, 0.05)  # real work: the clock waits
        return hour, clock.now()

    started = time.monotonic()
    try:
        hour, after = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert hour == pytest.approx(3600) and after == pytest.approx(3600)
    assert time.monotonic() - started < 5


def test_fal_runs_its_limit_at_once_and_the_rest_wait_in_order() -> None:
    loop = VirtualLoop()
    clock = Clock(loop)
    fal = Fal(clock, limit=2, queue_timeout=600)

    async def scenario() -> list[bool]:
        return list(await asyncio.gather(*(fal.generate(6.0) for _ in range(5))))

    try:
        assert loop.run_until_complete(scenario()) == [True] * 5
    finally:
        loop.close()
    assert fal.peak == 2 and fal.queued == 3 and sorted(fal.waits) == [0, 0, 6, 6, 12]
    assert clock.now() == pytest.approx(18)  # three rounds of 6 s
