"""What the real Claude API does that a convenient stand-in would hide: answers cut off at
max_tokens, refusals, and a model retired under a running deployment."""

from __future__ import annotations

from harness import Harness, new_phone, wait_for


def _requests(harness: Harness) -> list[dict]:
    return harness.http.get(harness.state.url("anthropic") + "/_standin/requests").json()


def _title(request: dict) -> str:
    return request["output_config"]["format"]["schema"]["title"]


def test_answers_cut_off_by_thinking_are_asked_again_with_a_larger_budget(
        harness: Harness, real) -> None:
    harness.http.post(harness.state.url("anthropic") + "/_standin/reset")
    # Adaptive thinking spends 5000 tokens of every answer's budget: the brand (4096) and
    # the score (2048) answers are cut off, the calendar's (7696) is not.
    harness.http.post(harness.state.url("anthropic") + "/_standin/faults",
                      json={"thinking_tokens": 5000})
    job = harness.wait_status(real(new_phone()), "COMPLETED", "FAILED", timeout=90)
    assert job.status == "COMPLETED", job.error
    budgets: dict[str, list[int]] = {}
    for request in _requests(harness):
        budgets.setdefault(_title(request), []).append(request["max_tokens"])
    assert budgets["BrandProfile"] == [4096, 16384]
    assert budgets["ProductList"] == [4096, 16384]
    assert budgets["ContentCalendar"] == [7696]
    assert sorted(budgets["ImageScore"]) == [2048] * 6 + [8192] * 6  # scored concurrently


def _failure(harness: Harness, phone: str, job_id: str) -> tuple[str, dict, str]:
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    last = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith(("Sorry", "Maaf"))
                    and t[-1], 30, "the failure message")
    return job.status, job.error or {}, last


def test_a_refusal_fails_the_wave_with_its_own_reason(harness: Harness, real) -> None:
    harness.http.post(harness.state.url("anthropic") + "/_standin/faults",
                      json={"refuse": 2})  # the first attempt and Cloud Run's retry
    phone = new_phone()
    status, error, last = _failure(harness, phone, real(phone))
    assert status == "FAILED"
    assert error["code"] == "claude_refused"
    assert last == ("Sorry, something went wrong while analyzing your brand: our analysis "
                    "service declined this request. Send /register to try again.")


def test_a_retired_model_fails_as_unavailable_naming_the_setting(
        harness: Harness, real) -> None:
    harness.http.post(harness.state.url("anthropic") + "/_standin/faults",
                      json={"retired_models": ["claude-sonnet-5-5"]})
    phone = new_phone()
    status, error, last = _failure(harness, phone, real(phone, command="/daftar"))
    assert status == "FAILED"
    assert error["code"] == "claude_model_unavailable"
    assert "model claude-sonnet-5-5 is not available (404): set ANTHROPIC_MODEL" in \
        error["message"]
    assert last == ("Maaf, terjadi kendala saat menganalisis brand anda: layanan analisis "
                    "kami sedang tidak tersedia. Kirim /daftar untuk mencoba lagi.")
