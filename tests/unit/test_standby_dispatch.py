"""jiwa.standby from the functions' side: the webhook asks for a standby with each login
link when the setting is on; the dispatcher starts it once, never lets its failure
become a redelivery, and hands the run to it when one waits alive. The standby state
itself runs on the Firestore emulator (tests/integration/test_standby_state.py); here it is
a simple fake passed to the dispatcher."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fakes import (
    FakeClients,
    FakeJobStore,
    FakeLauncher,
    Function,
    load,
    push_envelope,
    sign,
)
from fakes import settings as unit_settings
from flask.testing import FlaskClient

from jiwa import app
from jiwa.events import OnboardingRequested, encode
from jiwa.handlers.dispatcher import Dispatcher
from jiwa.launchers import LaunchQuotaError
from jiwa.store import Job, Status

JOB, PHONE = "job_0123456789abcdef", "6281234567890"


class FakeStandbys:
    """jiwa.standby.Standbys's interface, as a record of what the dispatcher asked."""

    def __init__(self, claim: bool = True, handed: str | None = None) -> None:
        self.claim, self.handed = claim, handed
        self.calls: list[tuple[str, ...]] = []

    def claim_start(self, job_id: str) -> bool:
        self.calls.append(("claim_start", job_id))
        return self.claim

    def started(self, job_id: str, execution: str) -> None:
        self.calls.append(("started", job_id, execution))

    def start_failed(self, job_id: str) -> None:
        self.calls.append(("start_failed", job_id))

    def hand_over(self, job_id: str) -> str | None:
        self.calls.append(("hand_over", job_id))
        return self.handed


def _dispatcher(standbys: FakeStandbys, status: Status = Status.AWAITING_AUTH
                ) -> tuple[Dispatcher, FakeJobStore, FakeLauncher]:
    store, launcher = FakeJobStore(), FakeLauncher()
    store.put(Job(id=JOB, phone=PHONE, status=status))
    return Dispatcher(store, launcher, standbys=standbys), store, launcher  # type: ignore[arg-type]


def _handle(dispatcher: Dispatcher, message: OnboardingRequested) -> str:
    data, attributes = encode(message)
    return dispatcher.handle(push_envelope(data, attributes, "m1"))


def test_a_standby_request_starts_the_jobs_process_once() -> None:
    standbys = FakeStandbys()
    dispatcher, _, launcher = _dispatcher(standbys)
    assert _handle(dispatcher, OnboardingRequested.for_standby(JOB)) == "standby"
    assert launcher.standbys == [JOB] and launcher.launched == []
    assert standbys.calls[-1][0] == "started" and standbys.calls[-1][2].endswith("-00001")
    standbys.claim = False  # the state says it was started: a replay starts nothing
    assert _handle(dispatcher, OnboardingRequested.for_standby(JOB)) == "duplicate"
    assert launcher.standbys == [JOB]


@pytest.mark.parametrize("error", [LaunchQuotaError("Job run requests"), RuntimeError("down")])
def test_a_standby_that_cannot_start_is_given_up_not_redelivered(error: Exception) -> None:
    standbys = FakeStandbys()
    dispatcher, _, launcher = _dispatcher(standbys)
    launcher.fail.append(error)
    assert _handle(dispatcher, OnboardingRequested.for_standby(JOB)) == "standby_failed"
    assert standbys.calls[-1] == ("start_failed", JOB)


def test_the_run_goes_to_a_waiting_standby_instead_of_a_new_process() -> None:
    standbys = FakeStandbys(handed="executions/standby-1")
    dispatcher, store, launcher = _dispatcher(standbys, Status.QUEUED)
    assert _handle(dispatcher, OnboardingRequested.for_run(JOB, 1)) == "handed"
    assert launcher.launched == [] and store.require(JOB).execution == "executions/standby-1"
    # a redelivery of the same request: the claim is taken, nothing is handed twice
    assert _handle(dispatcher, OnboardingRequested.for_run(JOB, 1)) == "duplicate"
    assert standbys.calls.count(("hand_over", JOB)) == 1


def test_without_a_standby_the_run_starts_a_new_process() -> None:
    dispatcher, store, launcher = _dispatcher(FakeStandbys(handed=None), Status.QUEUED)
    assert _handle(dispatcher, OnboardingRequested.for_run(JOB, 1)) == "launched"
    assert launcher.launched == [JOB] and store.require(JOB).execution


@pytest.fixture
def standby_clients(function: Function) -> Iterator[FakeClients]:
    """Fakes with JIWA_STANDBY_SECONDS set, installed over the `clients` fixture's."""
    fakes = FakeClients(unit_settings(standby_seconds=300))
    app.install(fakes, fakes.launcher)
    yield fakes
    fakes.http.close()


def _daftar(function: Function) -> None:
    webhook: FlaskClient = function("whatsapp_webhook")
    raw = json.dumps(load("webhook_text.json")).encode()
    response = webhook.post("/", data=raw, headers={"X-Hub-Signature-256": sign(raw),
                                                    "Content-Type": "application/json"})
    assert response.status_code == 200


def test_each_login_link_asks_for_the_jobs_standby(function: Function,
                                                   standby_clients: FakeClients) -> None:
    _daftar(function)
    job = standby_clients.store.latest_job_for(PHONE)
    assert job is not None and job.status == Status.AWAITING_AUTH
    [asked] = [m.body() for m in standby_clients.pubsub.on("onboarding-requested")]
    assert (asked["event_id"], asked["job_id"], asked["standby"]) == (
        f"{job.id}-standby", job.id, True)


def test_without_the_setting_a_login_link_asks_for_nothing(function: Function,
                                                           clients: FakeClients) -> None:
    _daftar(function)
    assert clients.store.latest_job_for(PHONE) is not None
    assert clients.pubsub.on("onboarding-requested") == []
