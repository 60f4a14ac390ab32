"""The dispatcher's Cloud Run path, against a local gRPC stand-in of the Admin API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness import Harness, new_phone, push_envelope, wait_for

from jiwa.dev.cloudrun_standin import CloudRunStandIn
from jiwa.dev.processes import free_port, stop_group
from jiwa.events import OnboardingRequested

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cloud_run_dispatcher(harness: Harness, tmp_path: Path):
    standin = CloudRunStandIn()
    endpoint = standin.start()
    port = free_port()
    env = {**harness.env, "CLOUD_RUN_JOB_NAME": "jiwa-job", "CLOUD_RUN_REGION": "asia-southeast2",
           "CLOUD_RUN_API_ENDPOINT": endpoint}
    with open(tmp_path / "dispatcher.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "functions_framework", "--target", "handle",
             "--signature-type", "cloudevent", "--source",
             str(ROOT / "functions/dispatcher/main.py"), "--host", "127.0.0.1",
             "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def up() -> bool:
        try:
            harness.http.get(url, timeout=1)
            return True
        except Exception:
            return False
    wait_for(up, 30, "the Cloud Run dispatcher")
    yield url, standin
    stop_group(process.pid)
    standin.stop()


def test_cloud_run_path_sends_the_right_run_job_request(harness: Harness,
                                                        cloud_run_dispatcher) -> None:
    url, standin = cloud_run_dispatcher
    job = harness.queued_job(new_phone())
    body = push_envelope(OnboardingRequested(event_id="e1", job_id=job.id)
                         .model_dump(mode="json"))
    for _ in range(2):  # a redelivery must not start a second execution
        assert harness.http.post(url, json=body).status_code == 200
    assert len(standin.requests) == 1
    request = standin.requests[0]
    assert request.name == "projects/jiwa-test/locations/asia-southeast2/jobs/jiwa-job"
    overrides = request.overrides
    assert overrides.task_count == 1
    assert [(e.name, e.value) for e in overrides.container_overrides[0].env] == \
        [("JOB_ID", job.id)]
    execution = harness.store.require(job.id).execution
    assert execution and execution.startswith(request.name + "/executions/jiwa-job-")
    assert execution in standin.executions


def test_bad_requested_message_is_acknowledged_not_retried(harness: Harness,
                                                           cloud_run_dispatcher) -> None:
    url, standin = cloud_run_dispatcher
    for body in (push_envelope({"nonsense": True}),
                 push_envelope(OnboardingRequested(event_id="e", job_id="job_missing")
                               .model_dump(mode="json"))):
        assert harness.http.post(url, json=body).status_code == 200
    assert standin.requests == []
