"""functions/sweeper through functions-framework: stuck jobs are re-dispatched once, then
failed with the user told once; logins past their window expire."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from fakes import FakeClients, Function
from flask.testing import FlaskClient

from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.failures import FAILED_SEQ
from jiwa.store import Job, Status, now

PHONE = "6281234567890"


@pytest.fixture
def sweeper(function: Function) -> FlaskClient:
    return function("sweeper")


def sweep(sweeper: FlaskClient) -> dict[str, int]:
    response = sweeper.post("/")
    assert response.status_code == 200 and response.content_type == "application/json"
    return dict(json.loads(response.get_data()))


def ago(seconds: float) -> datetime:
    return now() - timedelta(seconds=seconds)


def failures(clients: FakeClients) -> list[ProgressEvent]:
    events = [ProgressEvent.model_validate(m.body())
              for m in clients.pubsub.on("onboarding-progress")]
    return [e for e in events if e.kind == ProgressKind.FAILED]


def test_nothing_to_do(sweeper: FlaskClient, clients: FakeClients) -> None:
    clients.fake_store.put(Job(id="job_fresh", phone=PHONE, status=Status.RUNNING,
                               heartbeat_at=ago(1)))
    assert sweep(sweeper) == {}
    assert clients.pubsub.messages == []


def test_only_post_is_allowed(sweeper: FlaskClient) -> None:
    response = sweeper.get("/")
    assert response.status_code == 405 and response.headers["Allow"] == "POST"


def test_a_login_past_its_window_expires_and_the_user_is_told(sweeper: FlaskClient,
                                                              clients: FakeClients) -> None:
    window = clients.settings.oauth_state_ttl_seconds
    clients.fake_store.put(Job(id="job_old", phone=PHONE, status=Status.AWAITING_AUTH,
                               created_at=ago(window + 5)))
    clients.fake_store.put(Job(id="job_new", phone="6280000000001",
                               status=Status.AWAITING_AUTH, created_at=ago(window - 60)))
    assert sweep(sweeper) == {"expired": 1}
    assert clients.store.require("job_old").status == Status.FAILED
    assert clients.store.require("job_new").status == Status.AWAITING_AUTH
    [failed] = failures(clients)
    assert failed.job_id == "job_old" and failed.payload["code"] == "login_expired"
    assert failed.event_id == ProgressEvent.make_id("job_old", 1, FAILED_SEQ)
    assert sweep(sweeper) == {}  # told once


def test_a_lost_run_is_redispatched_once_then_failed(sweeper: FlaskClient,
                                                     clients: FakeClients,
                                                     function: Function) -> None:
    stale = clients.settings.stale_heartbeat_seconds
    clients.fake_store.put(Job(id="job_lost", phone=PHONE, status=Status.RUNNING,
                               current_wave=5, execution="projects/p/executions/gone",
                               dispatched_key="1.0", heartbeat_at=ago(stale + 1)))
    assert sweep(sweeper) == {"redispatched": 1}
    job = clients.store.require("job_lost")
    assert (job.status, job.dispatch, job.redispatches, job.execution) == (
        Status.QUEUED, 1, 1, None)
    [request] = clients.pubsub.on("onboarding-requested")
    assert OnboardingRequested.model_validate(request.body()).dispatch == 1
    # The re-dispatch reaches the dispatcher, which launches the job again.
    assert function("dispatcher").post("/", json=request.push()).status_code == 200
    assert clients.launcher.launched == ["job_lost"]

    # Launched but lost again: no second re-dispatch; the user is told, once.
    clients.launcher.running.clear()
    clients.store.start_attempt("job_lost", 0)
    clients.fake_store.docs["job_lost"]["heartbeatAt"] = ago(stale + 1)
    assert sweep(sweeper) == {"failed": 1}
    assert clients.store.require("job_lost").status == Status.FAILED
    [failed] = failures(clients)
    assert (failed.wave, failed.payload["code"]) == (5, "job_lost")
    assert sweep(sweeper) == {}
    assert len(clients.pubsub.on("onboarding-requested")) == 1


def test_a_job_whose_execution_still_runs_is_left_alone(sweeper: FlaskClient,
                                                        clients: FakeClients) -> None:
    execution = clients.launcher.launch("job_slow")
    clients.fake_store.put(Job(id="job_slow", phone=PHONE, status=Status.RUNNING,
                               execution=execution, heartbeat_at=ago(3600)))
    assert sweep(sweeper) == {"still_running": 1}
    assert clients.store.require("job_slow").status == Status.RUNNING
    assert clients.pubsub.messages == []


def test_a_request_lost_before_the_dispatcher_is_sent_again(sweeper: FlaskClient,
                                                            clients: FakeClients) -> None:
    queued_timeout = clients.settings.queued_timeout_seconds
    clients.fake_store.put(Job(id="job_q", phone=PHONE, status=Status.QUEUED),
                           queuedAt=ago(queued_timeout + 1))
    assert sweep(sweeper) == {"redispatched": 1}
    assert clients.store.require("job_q").dispatch == 1
