"""Provider outages: Claude and fal failing (or fal timing out) for a while, retried by
their one owner, and for good (a clean FAILED, the user told in their language)."""

from __future__ import annotations

import pytest
from conversations import real_pipeline
from harness import Harness, new_phone

N = 6


def _faults(h: Harness, provider: str, **plan) -> None:
    h.http.post(h.state.url(provider) + "/_standin/faults", json=plan)


def test_claude_overloaded_for_a_while_completes(harness: Harness, record, real) -> None:
    _faults(harness, "anthropic", fail=[{"status": 529, "times": 2}, {"status": 429, "times": 1}])
    phone = new_phone()
    job_id = real(phone)
    texts = harness.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=90)
    job = harness.store.require(job_id)
    expected = real_pipeline(harness.store.checkpoints(job_id))
    record.job("Claude 529/429 for a while", harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.attempt == 0  # the SDK's retries sufficed
    assert expected.problems(texts) == []


def test_claude_failing_for_good_fails_cleanly(harness: Harness, record, real) -> None:
    _faults(harness, "anthropic", fail_always=500)
    phone = new_phone()
    job_id = real(phone)
    texts = harness.final_texts(job_id, phone, "Sorry", timeout=120)
    job = harness.store.require(job_id)
    expected = real_pipeline({}, failed_in=3, failure=(
        "Sorry, something went wrong while analyzing your brand: our analysis service is "
        "busy. Send /register to try again."))
    record.job("Claude 500 for good", harness, job_id, expected, texts)
    assert job.status == "FAILED"
    assert job.error and job.error["code"] == "claude_unavailable" and job.current_wave == 3
    assert texts == expected.texts


@pytest.mark.parametrize(("plan", "scenario", "cancelled"), [
    ({"fail": [{"status": 500, "times": 2}]}, "fal fails 2 generations", 0),
    # Two generations never finish: the client gives up after 5 s and cancels them.
    ({"hang": 2}, "fal times out on 2 generations", 2),
])
def test_fal_failing_for_some_images_is_retried(harness: Harness, record, real,
                                                plan: dict, scenario: str,
                                                cancelled: int) -> None:
    harness.http.post(harness.state.url("fal") + "/_standin/reset")
    _faults(harness, "fal", **plan)
    phone = new_phone()
    job_id = real(phone)
    texts = harness.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=120)
    job = harness.store.require(job_id)
    expected = real_pipeline(harness.store.checkpoints(job_id))
    record.job(scenario, harness, job_id, expected, texts)
    assert job.status == "COMPLETED" and job.attempt == 0
    submitted = harness.http.get(harness.state.url("fal") + "/_standin/requests").json()
    assert len(submitted) == N + 2
    assert sum(r["cancelled"] for r in submitted) == cancelled
    assert expected.problems(texts) == []


def test_fal_failing_for_good_fails_cleanly(harness: Harness, record, real) -> None:
    _faults(harness, "fal", fail_always=500)
    phone = new_phone()
    job_id = real(phone, "/daftar")
    texts = harness.final_texts(job_id, phone, "Maaf", timeout=120)
    job = harness.store.require(job_id)
    expected = real_pipeline(harness.store.checkpoints(job_id), "id", failed_in=8, failure=(
        "Maaf, terjadi kendala saat membuat gambar: layanan gambar kami tidak merespons. "
        "Kirim /daftar untuk mencoba lagi."))
    record.job("fal 500 for good", harness, job_id, expected, texts)
    assert job.status == "FAILED"
    assert job.error and job.error["code"] == "images_unavailable"
    assert expected.problems(texts) == []
