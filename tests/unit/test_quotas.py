"""Provider quotas: the stand-ins' token buckets (jiwa/dev/quotas.py); our Claude client
against Anthropic's 429 with retry-after, and our Flux client against fal's queue when
the account's concurrency limit is reached (jiwa/ai.py)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import fal_client
import httpx
import pytest
from pydantic import BaseModel

from jiwa.ai import Claude, FalClient, Flux
from jiwa.dev import anthropic_standin, fal_standin
from jiwa.dev.faults import FaultPlan
from jiwa.dev.processes import free_port
from jiwa.dev.quotas import Quotas
from jiwa.dev.standins import serve

RULE = {"limit": 3, "per_seconds": 0.3}  # 3 at once, then one every 0.1 s


def test_no_rule_no_limit() -> None:
    quotas = Quotas()
    assert all(quotas.take("q", None).allowed for _ in range(1000))
    assert quotas.refusals == []


def test_a_burst_of_the_limit_then_a_refusal_saying_when_then_a_refill() -> None:
    quotas = Quotas()
    assert [quotas.take("q", RULE).allowed for _ in range(4)] == [True, True, True, False]
    refused = quotas.take("q", RULE)
    assert not refused.allowed and 0 < refused.retry_after <= 0.1 and refused.limit == 3
    time.sleep(refused.retry_after + 0.02)
    assert quotas.take("q", RULE).allowed
    assert len(quotas.refusals) == 2


def test_buckets_are_per_key_and_cost_counts() -> None:
    quotas = Quotas()
    tokens = {"limit": 100, "per_seconds": 60}
    assert quotas.take("t", tokens, "key-a", cost=80).allowed
    assert not quotas.take("t", tokens, "key-a", cost=30).allowed
    assert quotas.take("t", tokens, "key-b", cost=30).allowed
    over = quotas.take("t", tokens, "key-b", cost=500)  # more than the whole limit
    assert not over.allowed and over.retry_after == pytest.approx(over.full_after, abs=1)


def test_a_changed_rule_and_a_reset_start_afresh() -> None:
    plan = FaultPlan()
    plan.update({"quotas": {"q": {"limit": 1, "per_seconds": 60}}})
    assert plan.quota("q").allowed and not plan.quota("q").allowed
    plan.update({"quotas": {"q": {"limit": 2, "per_seconds": 60}}})
    assert plan.quota("q").allowed
    plan.reset()
    assert plan.quotas.refusals == [] and all(plan.quota("q").allowed for _ in range(10))


def test_concurrent_takers_get_exactly_the_limit() -> None:
    quotas, allowed = Quotas(), []
    rule = {"limit": 5, "per_seconds": 3600}
    start = threading.Barrier(20)

    def take() -> None:
        start.wait()
        allowed.append(quotas.take("q", rule).allowed)
    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


# -- fal: over the concurrency limit a request waits IN_QUEUE; Flux waits its turn --------

@pytest.fixture
def fal() -> Iterator[tuple[str, FaultPlan]]:
    plan = FaultPlan()
    port = free_port()
    server = serve(fal_standin.create_app(plan, key="k"), port)
    yield f"http://127.0.0.1:{port}", plan
    server.shutdown()


def _flux(url: str, **kwargs: float) -> Flux:
    return Flux(FalClient(key="k", base_url=url), "fal-ai/flux/schnell", **kwargs)


def test_flux_waits_in_fals_queue_without_spending_its_generation_timeout(fal) -> None:
    url, plan = fal
    # one at a time, 0.3 s each: the third waits 0.6 s in line, more than the 0.5 s a
    # generation may take; only the generation is timed, so all three finish
    plan.update({"latency_ms": 300, "quotas": {"fal_concurrent": {"limit": 1}}})
    flux = _flux(url, timeout=0.5)

    async def three() -> list[str]:
        return await asyncio.gather(*(flux.generate(f"p{i}", i) for i in range(3)))
    urls = asyncio.run(three())
    assert len(set(urls)) == 3
    seen = httpx.get(f"{url}/_standin/requests").json()
    assert sum(r["queued"] for r in seen) >= 1 and not any(r["cancelled"] for r in seen)


def test_flux_reaches_the_stand_in_through_fal_clients_own_transport(fal) -> None:
    # FalClient makes its HTTP client as fal-client does (its User-Agent, its backup-domain
    # transport), only routed to the stand-in below that transport and on our TLS context
    url, _ = fal
    client = FalClient(key="k", base_url=url)
    asyncio.run(Flux(client, "fal-ai/flux/schnell").generate("p", 1))
    seen = httpx.get(f"{url}/_standin/requests").json()
    assert [r["user_agent"] for r in seen] == [fal_client.client.USER_AGENT]
    assert isinstance(asyncio.run(_http_client(client))._transport,
                      fal_client.client.AsyncBackupDomainTransport)


async def _http_client(client: FalClient) -> httpx.AsyncClient:
    return await client._client


def test_flux_gives_up_a_turn_that_never_comes_and_cancels_it(fal) -> None:
    url, plan = fal
    plan.update({"hang": 1, "quotas": {"fal_concurrent": {"limit": 1}}})
    stuck = httpx.post(f"{url}/fal-ai/flux/schnell", json={"prompt": "x"},
                       headers={"Authorization": "Key k"}).json()  # holds the one slot
    with pytest.raises(fal_client.client.FalClientTimeoutError):
        asyncio.run(_flux(url, timeout=5, queue_timeout=0.3).generate("p", 1))
    seen = {r["request_id"]: r for r in httpx.get(f"{url}/_standin/requests").json()}
    ours = next(r for k, r in seen.items() if k != stuck["request_id"])
    assert ours["queued"] and ours["cancelled"]


# -- Anthropic: 429 rate_limit_error with retry-after; Claude waits as it is told ---------

MODEL = "claude-haiku-5-5"


class Empty(BaseModel):
    pass


@pytest.fixture
def anthropic_url() -> Iterator[tuple[str, FaultPlan]]:
    plan = FaultPlan()
    port = free_port()
    server = serve(anthropic_standin.create_app(plan), port)
    yield f"http://127.0.0.1:{port}", plan
    server.shutdown()


def _claude(url: str) -> Claude:
    def connect() -> object:
        import anthropic

        # no SDK retries: what is left to see is our own wait
        return anthropic.AsyncAnthropic(api_key="k", base_url=url, max_retries=0)
    return Claude(connect, {"ANTHROPIC_MODEL": MODEL})  # type: ignore[arg-type]


def _ask(claude: Claude) -> Empty:
    return asyncio.run(claude.structured(Empty, system="s", max_tokens=100,
                                         content=[{"type": "text", "text": "q"}]))


def test_the_standin_answers_over_a_quota_as_anthropic_does(anthropic_url) -> None:
    url, plan = anthropic_url
    plan.update({"quotas": {"anthropic_input_tokens": {"limit": 50, "per_seconds": 60}}})
    body = {"model": MODEL, "max_tokens": 10,
            "messages": [{"role": "user", "content": "x" * 400}]}  # 100 input tokens
    answer = httpx.post(f"{url}/v1/messages", json=body, headers={"x-api-key": "k"})
    assert answer.status_code == 429
    assert answer.json()["error"]["type"] == "rate_limit_error"
    assert "50 input tokens per minute" in answer.json()["error"]["message"]
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.headers["anthropic-ratelimit-input-tokens-limit"] == "50"
    assert "anthropic-ratelimit-input-tokens-reset" in answer.headers


def test_the_standin_limits_each_model_apart_and_counts_no_cache_reads(anthropic_url) -> None:
    # docs.anthropic.com/{es,fr,it}/api/rate-limits: "applied separately for each model";
    # ITPM counts input and cache writes, not cache reads (jiwa.dev.anthropic_limits)
    url, plan = anthropic_url
    plan.update({"quotas": {"anthropic_input_tokens": {"limit": 1_200, "per_seconds": 600}}})
    context = {"type": "text", "text": "c" * 4_400, "cache_control": {"type": "ephemeral"}}

    def ask(model: str, question: str) -> httpx.Response:
        body = {"model": model, "max_tokens": 10, "messages": [
            {"role": "user", "content": [context, {"type": "text", "text": question}]}]}
        return httpx.post(f"{url}/v1/messages", json=body, headers={"x-api-key": "k"})

    sonnet = "claude-sonnet-5-5"
    first = ask(sonnet, "q" * 40)  # writes 1,100 cached tokens, 10 more: 1,110 of 1,200
    assert first.status_code == 200
    assert first.json()["usage"]["cache_creation_input_tokens"] == 1_100
    again = ask(sonnet, "r" * 40)  # reads the 1,100 (free), pays 10: 1,120 of 1,200
    assert again.status_code == 200 and again.json()["usage"]["cache_read_input_tokens"]
    assert ask(MODEL, "s" * 40).status_code == 200  # Haiku's own bucket: 1,110 of 1,200
    # what a single bucket over every token, cache reads included, would have refused:
    # the three together are 3,330 tokens of a 1,200 limit
    uncached = ask(sonnet, "t" * 400)  # 100 more tokens than the bucket has left
    assert uncached.status_code == 429


def test_claude_waits_out_a_rate_limit_as_retry_after_says(anthropic_url) -> None:
    url, plan = anthropic_url
    plan.update({"quotas": {"anthropic_requests": {"limit": 1, "per_seconds": 1}}})
    claude = _claude(url)
    _ask(claude)
    started = time.monotonic()
    _ask(claude)  # 429, retry-after: 1; then answered
    assert time.monotonic() - started >= 0.9
    assert len(httpx.get(f"{url}/_standin/quota_refusals").json()) == 1


def test_claude_gives_up_a_rate_limit_past_its_budget(anthropic_url) -> None:
    from jiwa.failures import WaveFailedError

    url, plan = anthropic_url
    plan.update({"quotas": {"anthropic_requests": {"limit": 1, "per_seconds": 60}}})
    claude = _claude(url)
    claude.rate_limit_wait = 5  # the quota frees its next request in 60 s
    _ask(claude)
    with pytest.raises(WaveFailedError, match="claude_unavailable"):
        _ask(claude)


def test_a_rate_limited_call_comes_back_spread_never_before_retry_after() -> None:
    from jiwa.ai import spread

    assert spread(1.0, lambda: 0.0) == 1.0  # never earlier than asked
    assert spread(1.0, lambda: 1.0) == 1.5  # half a second of room on a short wait
    assert spread(20.0, lambda: 1.0) == 25.0  # a quarter on a long one
    waits = {spread(4.0) for _ in range(50)}  # the calls one limit refused, apart
    assert len(waits) > 40 and min(waits) >= 4.0 and max(waits) <= 5.0
