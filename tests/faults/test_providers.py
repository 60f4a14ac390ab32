"""Provider outages: Claude and fal failing (or fal timing out) for a while, retried by
their one owner, and for good (a clean FAILED, the user told in their language)."""

from __future__ import annotations

import pytest
from harness import Harness, new_phone, wait_for

from .test_faults import _dups

N = 6


def _faults(h: Harness, provider: str, **plan) -> None:
    h.http.post(h.state.url(provider) + "/_standin/faults", json=plan)


def _row(record, scenario: str, h: Harness, job_id: str, texts: list[str]) -> None:
    from faults.conftest import Row

    job = h.store.require(job_id)
    record.append(Row(scenario, len(h.job_processes(job_id)), len(texts), len(texts),
                      _dups(texts), str(job.status)))


def test_claude_overloaded_for_a_while_completes(harness: Harness, record, real) -> None:
    _faults(harness, "anthropic", fail=[{"status": 529, "times": 2}, {"status": 429, "times": 1}])
    phone = new_phone()
    job = harness.wait_status(real(phone), "COMPLETED", "FAILED", timeout=90)
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("All 6") and t, 30)
    _row(record, "Claude 529/429 for a while", harness, job.id, texts)
    assert job.status == "COMPLETED" and job.attempt == 0  # the SDK's retries sufficed


def test_claude_failing_for_good_fails_cleanly(harness: Harness, record, real) -> None:
    _faults(harness, "anthropic", fail_always=500)
    phone = new_phone()
    job = harness.wait_status(real(phone), "FAILED", timeout=120)
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("Sorry") and t, 30)
    _row(record, "Claude 500 for good", harness, job.id, texts)
    assert job.error and job.error["code"] == "claude_unavailable" and job.current_wave == 3
    assert texts[-1] == ("Sorry, something went wrong while analyzing your brand: our analysis "
                         "service is busy. Send /register to try again.")


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
    job = harness.wait_status(real(phone), "COMPLETED", "FAILED", timeout=120)
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("All 6") and t, 30)
    _row(record, scenario, harness, job.id, texts)
    assert job.status == "COMPLETED" and job.attempt == 0
    submitted = harness.http.get(harness.state.url("fal") + "/_standin/requests").json()
    assert len(submitted) == N + 2
    assert sum(r["cancelled"] for r in submitted) == cancelled
    assert sum(t.startswith("[image]") for t in texts) == N


def test_fal_failing_for_good_fails_cleanly(harness: Harness, record, real) -> None:
    _faults(harness, "fal", fail_always=500)
    phone = new_phone()
    job = harness.wait_status(real(phone, "/daftar"), "FAILED", timeout=120)
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("Maaf") and t, 30)
    _row(record, "fal 500 for good", harness, job.id, texts)
    assert job.error and job.error["code"] == "images_unavailable"
    assert texts[-1] == ("Maaf, terjadi kendala saat membuat gambar: layanan gambar kami tidak "
                         "merespons. Kirim /daftar untuk mencoba lagi.")
