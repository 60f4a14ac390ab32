"""The image quality loop (waves/quality.py) with fake Flux and Claude passed in."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fakes import FakeJobStore, settings
from pydantic import BaseModel

from jiwa.failures import WaveFailedError
from jiwa.waves import quality
from jiwa.waves.quality import ImageScore
from jiwa.waves.services import WaveServices

BRAND = {"visual_style": "warm film photos", "colors": ["#6b3e26", "#f4e1c1"]}
ITEM: dict[str, Any] = {"index": 2, "prompt": "iced palm-sugar coffee on a wooden table",
                        "date": "2026-01-14"}


class FakeFlux:
    """Flux.generate: each call takes the next outcome (an exception is raised)."""

    def __init__(self, *outcomes: str | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, int]] = []

    async def generate(self, prompt: str, seed: int) -> str:
        self.calls.append((prompt, seed))
        outcome = self.outcomes.pop(0) if self.outcomes else f"https://fal.media/{seed}.png"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeClaude:
    """Claude.structured for scores: the score of each image by its URL."""

    def __init__(self, scores: dict[str, int]) -> None:
        self.scores = scores
        self.calls: list[dict[str, Any]] = []

    async def structured(self, schema: type[BaseModel], **kwargs: Any) -> BaseModel:
        self.calls.append({"schema": schema, **kwargs})
        url = kwargs["content"][0]["source"]["url"]
        score = self.scores[url]
        return schema.model_validate({"score": score, "brand_fit": score, "prompt_fit": score,
                                      "issues": [] if score >= 7 else ["blurry cup"]})


def services(flux: FakeFlux, claude: FakeClaude, **overrides: Any) -> WaveServices:
    s = settings(**overrides)
    return WaveServices(settings=s, store=FakeJobStore(), instagram=None,  # type: ignore[arg-type]
                        cipher=None, fetcher=None, claude=claude, flux=flux)  # type: ignore[arg-type]


def url(attempt: int) -> str:
    return f"https://fal.media/{ITEM['index'] * 1000 + attempt}.png"


def test_a_first_image_that_passes_is_kept() -> None:
    flux, claude = FakeFlux(), FakeClaude({url(1): 8})
    best = asyncio.run(quality.best_image(services(flux, claude), ITEM, BRAND))
    assert best == {"index": 2, "url": url(1), "score": 8, "issues": [],
                    "prompt": ITEM["prompt"], "date": "2026-01-14", "attempts": 1,
                    "passed": True}
    assert flux.calls == [(ITEM["prompt"], 2001)]  # the seed is stable per image and try


def test_a_low_score_is_regenerated_until_one_passes() -> None:
    flux, claude = FakeFlux(), FakeClaude({url(1): 4, url(2): 9})
    best = asyncio.run(quality.best_image(services(flux, claude), ITEM, BRAND))
    assert (best["url"], best["score"], best["attempts"], best["passed"]) == (url(2), 9, 2,
                                                                              True)
    assert [seed for _, seed in flux.calls] == [2001, 2002]


def test_when_none_passes_the_best_is_kept_and_marked() -> None:
    flux, claude = FakeFlux(), FakeClaude({url(1): 5, url(2): 6, url(3): 3})
    best = asyncio.run(quality.best_image(services(flux, claude, image_max_tries=3), ITEM,
                                          BRAND))
    assert (best["url"], best["score"], best["attempts"], best["passed"]) == (url(2), 6, 3,
                                                                              False)
    assert best["issues"] == ["blurry cup"]
    assert len(flux.calls) == 3


def test_the_threshold_and_tries_come_from_settings() -> None:
    flux, claude = FakeFlux(), FakeClaude({url(1): 5})
    best = asyncio.run(quality.best_image(
        services(flux, claude, image_quality_threshold=5, image_max_tries=1), ITEM, BRAND))
    assert best["passed"] and best["attempts"] == 1


def test_claude_is_asked_with_the_rubric_the_image_and_the_brand() -> None:
    flux, claude = FakeFlux(), FakeClaude({url(1): 8})
    s = services(flux, claude)
    asyncio.run(quality.best_image(s, ITEM, BRAND))
    [call] = claude.calls
    assert call["schema"] is ImageScore and call["system"] == quality.RUBRIC
    assert call["model"] == s.settings.anthropic_score_model
    assert call["max_tokens"] == quality.SCORE_MAX_TOKENS
    image, prompt = call["content"]
    assert image == {"type": "image", "source": {"type": "url", "url": url(1)}}
    # the brand, the same for every image of the job, is the cached context before them
    assert "warm film photos" in call["context"] and "#6b3e26, #f4e1c1" in call["context"]
    assert ITEM["prompt"] in prompt["text"]


def test_a_failed_generation_is_retried() -> None:
    flux = FakeFlux(httpx.ConnectError("reset"), "https://fal.media/ok.png")
    got = asyncio.run(quality.generate(services(flux, FakeClaude({}), fal_attempts=2),
                                       "p", 7))
    assert got == "https://fal.media/ok.png" and flux.calls == [("p", 7), ("p", 7)]


@pytest.mark.parametrize("error", [RuntimeError("fal returned no image"), TimeoutError(),
                                   httpx.ReadTimeout("slow")])
def test_generations_failing_every_try_fail_the_wave_with_its_reason(error: Exception) -> None:
    flux = FakeFlux(error)
    with pytest.raises(WaveFailedError) as failed:
        asyncio.run(quality.generate(services(flux, FakeClaude({}), fal_attempts=1), "p", 1))
    assert failed.value.code == "images_unavailable"


def test_a_bug_is_not_retried_as_an_outage() -> None:
    flux = FakeFlux(KeyError("images"))
    with pytest.raises(KeyError):
        asyncio.run(quality.generate(services(flux, FakeClaude({}), fal_attempts=3), "p", 1))
    assert len(flux.calls) == 1


def test_the_report_counts_passes_regenerations_and_the_mean() -> None:
    images = [{"score": 8, "passed": True, "attempts": 1},
              {"score": 6, "passed": False, "attempts": 3},
              {"score": 9, "passed": True, "attempts": 2}]
    assert quality.report(images) == {"count": 3, "passed": 2, "regenerated": 2,
                                      "mean_score": 7.67}
    assert quality.report([])["mean_score"] == 0


def test_a_copy_over_claudes_limit_is_scored_by_its_url_and_the_standin_refuses_it() -> None:
    """Claude's 5 MB per image counts the base64 text (jiwa.image_store): a 4.5 MB file,
    which WhatsApp takes, is 6 MB as base64."""
    from jiwa.dev import anthropic_standin
    from jiwa.image_store import CLAUDE_MAX_BASE64, ImageBytes

    small = ImageBytes(b"x" * (CLAUDE_MAX_BASE64 // 4 * 3), "image/png", 1024, 1024)
    large = ImageBytes(b"x" * (CLAUDE_MAX_BASE64 // 4 * 3 + 1), "image/png", 1200, 1200)
    assert small.fits_claude() and not large.fits_claude()
    claude = FakeClaude({url(1): 8})
    asyncio.run(quality.score(services(FakeFlux(), claude), url(1), "p", BRAND, large))
    assert claude.calls[0]["content"][0] == {"type": "image",
                                             "source": {"type": "url", "url": url(1)}}
    # what the API answers for the base64 block we no longer send
    app = anthropic_standin.create_app().test_client()
    answer = app.post("/v1/messages", headers={"x-api-key": "k"}, json={
        "model": "claude-haiku-5-5", "max_tokens": 10, "messages": [
            {"role": "user", "content": [large.claude_block()]}]})
    assert answer.status_code == 400
    assert answer.json["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    assert "exceeds 5 MB maximum" in answer.json["error"]["message"]  # type: ignore[index]
