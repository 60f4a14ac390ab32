"""One onboarding on the emulators records what it spent on its job document: Claude's
tokens by kind and model, as the Anthropic stand-in reports them with prompt caching, and
the images generated (jiwa/usage.py, jiwa/prices.py)."""

from __future__ import annotations

from harness import Harness, new_phone

from jiwa.cli.commands import usage_summary
from jiwa.dev import website_standin

SONNET, HAIKU = "claude-sonnet-5-5", "claude-haiku-5-5"


def test_an_onboarding_records_its_tokens_and_reads_the_cached_context(harness: Harness,
                                                                       real) -> None:
    business = website_standin.golden_set()["nasi-bakar-mak-ijah"]
    ig = business["instagram"]
    # A business that writes long captions: its context (about 1,300 tokens at the
    # stand-in's 4 characters a token) passes Sonnet's 1,024-token minimum, so the brand
    # call writes it and the products and calendar calls read it.
    story = (" Kami masak pakai beras pulen, bumbu rempah ulekan sendiri dan daun pisang "
             "segar dari kebun tetangga, dibakar pelan di atas arang sampai harum.") * 3
    posts = [caption + story for caption in ig["posts"]] * 2
    meta = harness.state.url("meta") + "/_standin/faults"
    harness.http.post(meta, json={"instagram_account": website_standin.instagram_account(
        business, "17841400000000778", posts)})
    try:
        job_id = real(new_phone(), "/daftar")
    finally:
        harness.http.post(meta, json={"instagram_account": None})
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    assert job.status == "COMPLETED", job.error

    entries = harness.store.require(job_id).extra["usage"]
    # the waves that spend: brand, products, calendar; the images are counted in the wave
    # during which they were made, from the calendar's (which starts them) to wave 8
    waves = {key[-2:] for key in entries}
    assert {"w3", "w4", "w6"} <= waves <= {"w3", "w4", "w6", "w7", "w8"}
    summary = usage_summary(entries)
    sonnet, haiku = summary["claude"][SONNET], summary["claude"][HAIKU]
    assert sonnet["calls"] == 3 and sonnet["cache_creation"] > 1024
    assert sonnet["cache_read"] == 2 * sonnet["cache_creation"]  # products and calendar
    assert sonnet["input"] > 0 and sonnet["output"] > 0
    # a score's brand context is far under Haiku's minimum: plain input, never cached
    assert haiku["calls"] >= 6 and haiku["cache_read"] == haiku["cache_creation"] == 0
    # each score reads its image, fal's square_hd JPEG: 1024 x 1024 / 750 tokens, as billed
    assert haiku["input"] >= haiku["calls"] * (1024 * 1024 // 750)
    assert summary["images"]["fal-ai/flux/schnell"] == haiku["calls"]  # one score each
    assert 0 < summary["cost_usd"] < summary["cost_without_cache_usd"]
    assert summary["unpriced"] == []
