"""Provider quotas answered with backoff (README "Provider quotas"): each stand-in enforces
one quota, small and short, during an onboarding; our side waits as the answer says, and
the user receives the whole conversation and no failure message."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conversations import backbone, real_pipeline
from harness import Harness, new_phone
from integration.test_end_to_end import onboard
from stacks import harness_for, running_test_stack

from jiwa.dev.cloudrun_standin import CloudRunStandIn
from jiwa.launchers import STANDBY_VARIABLE, LocalProcessLauncher

REGION = "asia-southeast2"


def _refusals(h: Harness, provider: str) -> int:
    return len(h.http.get(h.state.url(provider) + "/_standin/quota_refusals").json())


@pytest.fixture
def quota(harness: Harness) -> Iterator[Callable[..., int]]:
    """Sets one quota on a stand-in (and other faults beside it); returns the refusals that
    stand-in had made before. Every quota and fault set is lifted after the test."""
    touched: dict[str, dict[str, Any]] = {}

    def set_quota(provider: str, name: str, rule: dict[str, float], **faults: Any) -> int:
        before = _refusals(harness, provider)
        touched.setdefault(provider, {}).update({k: 0 for k in faults})
        harness.http.post(harness.state.url(provider) + "/_standin/faults",
                          json={"quotas": {name: rule}, **faults})
        return before
    yield set_quota
    for provider, faults in touched.items():
        harness.http.post(harness.state.url(provider) + "/_standin/faults",
                          json={"quotas": {}, **faults})


def _completed_real(h: Harness, record, scenario: str, job_id: str, phone: str) -> None:
    texts = h.final_texts(job_id, phone, ("All 6", "Sorry"), timeout=120)
    expected = real_pipeline(h.store.checkpoints(job_id))
    record.job(scenario, h, job_id, expected, texts)
    assert h.store.require(job_id).status == "COMPLETED"
    assert h.store.require(job_id).attempt == 0  # waited out, not crashed and retried
    assert expected.problems(texts) == []


# RPM: 2 at once, then 2 a second: the scores of three images at once wait their turn.
# ITPM: room for the largest prompt, a score's (about 1,600 tokens: its 1024 x 1024 image
# is 1,398, width x height / 750), refilled at 1,000 a second: of three scores asked at
# once, the second and third find too little left and are told when to come back. (A
# bucket smaller than one prompt could never admit it: the row waited out its 120 s.)
CLAUDE_QUOTAS = [
    pytest.param("anthropic_requests", {"limit": 2, "per_seconds": 1},
                 "Claude RPM quota (429, retry-after)", id="requests_per_minute"),
    pytest.param("anthropic_input_tokens", {"limit": 2000, "per_seconds": 2},
                 "Claude ITPM quota (429, retry-after)", id="input_tokens_per_minute"),
]


@pytest.mark.parametrize(("name", "rule", "row"), CLAUDE_QUOTAS)
def test_claude_quota(harness: Harness, record, real, quota, name: str,
                      rule: dict[str, int], row: str) -> None:
    before = quota("anthropic", name, rule)
    phone = new_phone()
    job_id = real(phone)
    _completed_real(harness, record, row, job_id, phone)
    assert _refusals(harness, "anthropic") > before


def test_fal_concurrent_requests(harness: Harness, record, real, quota) -> None:
    # one generation at a time, 0.3 s each: of the three asked at once, two wait IN_QUEUE
    harness.http.post(harness.state.url("fal") + "/_standin/reset")
    quota("fal", "fal_concurrent", {"limit": 1}, latency_ms=300)
    phone = new_phone()
    job_id = real(phone)
    _completed_real(harness, record, "fal concurrency 1 (IN_QUEUE)", job_id, phone)
    seen = harness.http.get(harness.state.url("fal") + "/_standin/requests").json()
    assert any(r["queued"] for r in seen)
    assert len(seen) == 6 and not any(r["cancelled"] for r in seen)  # none timed out


def test_whatsapp_messages_per_second(harness: Harness, record, quota) -> None:
    # our number may send 2 messages at once, then 2 a second (Meta's default: 80)
    before = quota("meta", "whatsapp_throughput", {"limit": 2, "per_seconds": 1})
    phone = new_phone()
    job_id = onboard(harness, phone)
    texts = harness.final_texts(job_id, phone, "Done!", timeout=90)
    expected = backbone(login=True)
    record.job("WhatsApp throughput (130429)", harness, job_id, expected, texts)
    assert _refusals(harness, "meta") > before
    assert harness.store.require(job_id).status == "COMPLETED"
    assert expected.problems(texts) == []


# -- Cloud Run: the dispatcher calls RunJob on the gRPC stand-in, which runs the job -------

@pytest.fixture(scope="module")
def cloud_run(tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[tuple[Harness, CloudRunStandIn]]:
    """A stack whose dispatcher starts jobs through the Cloud Run Admin API stand-in; each
    execution it accepts runs the job as a local process, as Cloud Run would."""
    launcher: list[LocalProcessLauncher] = []
    standin = CloudRunStandIn(run=lambda env: launcher[0].launch(
        env["JOB_ID"], standby=env.get(STANDBY_VARIABLE) == "1"))
    endpoint = standin.start()
    stacks = running_test_stack(
        Path(tmp_path_factory.mktemp("cloudrun")),
        {"CLOUD_RUN_JOB_NAME": "jiwa-job", "CLOUD_RUN_REGION": REGION,
         "CLOUD_RUN_API_ENDPOINT": endpoint}, sweep_seconds=3600)
    stack = next(stacks)
    launcher.append(LocalProcessLauncher(stack.state.env))
    try:
        for h in harness_for(stack):
            yield h, standin
    finally:
        stacks.close()
        standin.stop()


def test_cloud_run_job_run_requests_per_minute(cloud_run, record) -> None:
    h, standin = cloud_run
    phone = new_phone()
    assert h.send_whatsapp(phone, "/register").status_code == 200
    link = h.login_link(phone)
    # one start per 4 s in the region, and someone else's start has just spent it
    standin.faults.update({"quotas": {"run_job": {"limit": 1, "per_seconds": 4}}})
    try:
        assert standin.faults.quota("run_job", REGION).allowed
        assert h.follow_login(link).status_code == 200  # the request reaches the dispatcher
        job_id = h.job_for(phone).id
        texts = h.final_texts(job_id, phone, ("Done!", "Sorry"), timeout=90)
    finally:
        standin.faults.reset()
    expected = backbone(login=True)
    record.job("Cloud Run RunJob quota (RESOURCE_EXHAUSTED)", h, job_id, expected, texts)
    assert standin.refused  # the first starts were refused …
    assert len(standin.requests) == 1  # … and exactly one was accepted
    assert h.store.require(job_id).status == "COMPLETED"
    assert expected.problems(texts) == []
