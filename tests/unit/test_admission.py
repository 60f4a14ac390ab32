"""Admission (jiwa.admission): slots, order, start rate, told once, reclaimed slots."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from admission_memory import MemoryAdmission
from fakes import FakeJobStore, FakeLauncher, FakePubSub

from jiwa.admission import Admission, publish_admitted
from jiwa.events import EventPublisher, OnboardingRequested, ProgressEvent
from jiwa.handlers.dispatcher import QUEUED_SEQ, Dispatcher
from jiwa.handlers.sweeper import Sweeper
from jiwa.messages import render
from jiwa.store import Job, Status, now


def admission(backend: MemoryAdmission, running: int = 2, rate: int = 100) -> Admission:
    return Admission(backend, max_running=running, starts_per_minute=rate, job_seconds=300)


def test_concurrent_dispatches_admit_up_to_the_limit_and_the_rest_start_in_order() -> None:
    backend = MemoryAdmission()
    gate = admission(backend, running=3)
    jobs = [f"job_{i:02d}" for i in range(30)]
    with ThreadPoolExecutor(8) as pool:
        decisions = dict(zip(jobs, pool.map(gate.admit, jobs), strict=True))
    running = {j for j, d in decisions.items() if d.outcome == "admitted"}
    running |= {j for d in decisions.values() for j in d.others_admitted}  # by other pumps
    assert len(running) == 3 and set(backend.slots.values()) == running
    line = backend.waiting(100)
    assert len(line) == 27
    assert all(decisions[j].newly_queued and decisions[j].position >= 1 for j in line)
    started: list[str] = []
    while backend.slots:  # each ending job lets exactly the next one in, oldest first
        done = next(iter(backend.slots.values()))
        admitted = gate.release(done)
        assert len(admitted) <= 1
        started += admitted
    assert started == line


def test_a_redelivered_dispatch_keeps_its_place_and_is_told_once() -> None:
    backend = MemoryAdmission()
    gate = admission(backend, running=1)
    assert gate.admit("job_a").outcome == "admitted"
    first = gate.admit("job_b")
    again = gate.admit("job_b")
    assert (first.outcome, first.newly_queued, first.position) == ("queued", True, 1)
    assert (again.outcome, again.newly_queued, again.position) == ("queued", False, 1)
    assert gate.admit("job_a").outcome == "admitted"  # a holder's redelivery
    assert len(backend.slots) == 1


def test_the_start_rate_holds_waiters_back_within_a_minute() -> None:
    backend = MemoryAdmission()
    gate = admission(backend, running=10, rate=2)
    outcomes = [gate.admit(f"job_{i}").outcome for i in range(5)]
    assert outcomes == ["admitted", "admitted", "queued", "queued", "queued"]
    assert gate.pump() == []  # slots are free, but this minute's starts are used


def test_the_eta_follows_what_binds() -> None:
    gate = admission(MemoryAdmission(), running=10, rate=100)
    assert gate.eta_minutes(1) == 5 and gate.eta_minutes(25) == 15  # rounds of 10 x 5 min
    slow = admission(MemoryAdmission(), running=1000, rate=2)
    assert slow.eta_minutes(60) == 30  # 2 starts a minute


def _dispatcher(store: FakeJobStore, gate: Admission, pubsub: FakePubSub
                ) -> tuple[Dispatcher, EventPublisher]:
    publisher = EventPublisher("p", "onboarding-requested", "onboarding-progress",
                               client=pubsub)
    return Dispatcher(store, FakeLauncher(), gate, publisher), publisher


def _request(pubsub: FakePubSub, publisher: EventPublisher, job_id: str) -> dict[str, object]:
    publisher.publish_requested(OnboardingRequested.for_run(job_id, 1))
    return pubsub.on("onboarding-requested")[-1].push()


def test_the_dispatcher_tells_a_waiting_user_once_in_their_language() -> None:
    store, pubsub, backend = FakeJobStore(), FakePubSub(), MemoryAdmission()
    dispatcher, publisher = _dispatcher(store, admission(backend, running=1), pubsub)
    for i, phone in enumerate(("6281100000001", "6281100000002")):
        store.put(Job(id=f"job_{i}", phone=phone, status=Status.QUEUED), queuedAt=now())
    assert dispatcher.handle(_request(pubsub, publisher, "job_0")) == "launched"
    envelope = _request(pubsub, publisher, "job_1")
    assert dispatcher.handle(envelope) == "queued"
    assert dispatcher.handle(envelope) == "queued"  # Pub/Sub redelivers
    told = [ProgressEvent.model_validate(m.body()) for m in pubsub.on("onboarding-progress")]
    assert [(e.job_id, e.seq) for e in told] == [("job_1", QUEUED_SEQ)]
    assert "antrean nomor 1" in render(told[0], "id").body
    assert "number 1 in line" in render(told[0], "en").body
    assert store.require("job_1").dispatched_key is None  # free for its admitted request


def test_the_sweeper_logs_the_line_for_the_operators_alerts(caplog) -> None:
    store, pubsub, backend = FakeJobStore(), FakePubSub(), MemoryAdmission()
    gate = admission(backend, running=1, rate=1)
    _, publisher = _dispatcher(store, gate, pubsub)
    waited = now() - timedelta(minutes=7)
    for i in range(3):
        backend.enqueue(f"job_{i}", waited + timedelta(seconds=i))
    backend.slots[0] = "job_busy"  # every slot taken: nobody leaves the line
    backend.holds["job_busy"] = 0
    store.put(Job(id="job_busy", phone="6281100000009", status=Status.RUNNING,
                  heartbeat_at=now()))
    sweeper = Sweeper(store, publisher, FakeLauncher(), stale_heartbeat=timedelta(minutes=2),
                      queued_timeout=timedelta(minutes=5),
                      login_window=timedelta(minutes=15), admission=gate)
    with caplog.at_level("INFO", logger="jiwa.sweeper"):
        sweeper.sweep()
    summary = [r for r in caplog.records if r.name == "jiwa.sweeper"][-1]
    assert summary.queue_length == 3  # type: ignore[attr-defined]
    assert 419 <= summary.oldest_wait_seconds <= 480  # type: ignore[attr-defined]


def test_a_dead_jobs_slot_is_reclaimed_by_the_sweeper_and_the_next_starts() -> None:
    store, pubsub, backend = FakeJobStore(), FakePubSub(), MemoryAdmission()
    gate = admission(backend, running=1)
    dispatcher, publisher = _dispatcher(store, gate, pubsub)
    old = now() - timedelta(hours=1)
    store.put(Job(id="job_dead", phone="6281100000001", status=Status.RUNNING,
                  heartbeat_at=old, redispatches=1, execution="local/job_dead/1"))
    store.put(Job(id="job_next", phone="6281100000002", status=Status.QUEUED), queuedAt=old)
    assert gate.admit("job_dead").outcome == "admitted"
    assert dispatcher.handle(_request(pubsub, publisher, "job_next")) == "queued"
    sweeper = Sweeper(store, publisher, FakeLauncher(), stale_heartbeat=timedelta(minutes=2),
                      queued_timeout=timedelta(minutes=5),
                      login_window=timedelta(minutes=15), admission=gate)
    counts = sweeper.sweep()
    # the waiting job is not "lost"; the dead one fails, its slot goes to the next
    assert counts == {"in_line": 1, "failed": 1, "slots_reclaimed": 1, "admitted": 1}
    assert backend.slots == {0: "job_next"} and not backend.queue
    request = pubsub.on("onboarding-requested")[-1]
    assert request.body()["job_id"] == "job_next"
    assert dispatcher.handle(request.push()) == "launched"


def test_a_job_that_ends_frees_its_slot_and_starts_the_next_at_once() -> None:
    store, pubsub, backend = FakeJobStore(), FakePubSub(), MemoryAdmission()
    gate = admission(backend, running=1)
    dispatcher, publisher = _dispatcher(store, gate, pubsub)
    store.put(Job(id="job_first", phone="6281100000001", status=Status.QUEUED))
    store.put(Job(id="job_second", phone="6281100000002", status=Status.QUEUED))
    assert dispatcher.handle(_request(pubsub, publisher, "job_first")) == "launched"
    assert dispatcher.handle(_request(pubsub, publisher, "job_second")) == "queued"
    # what the job's on_end does (jiwa/job/__main__.py: admission_release)
    started = publish_admitted(store, publisher, gate.release("job_first"))
    assert started == 1 and backend.slots == {0: "job_second"}
    request = pubsub.on("onboarding-requested")[-1]
    assert request.body()["job_id"] == "job_second"
    assert dispatcher.handle(request.push()) == "launched"


class _HalfWaySeatOnce(MemoryAdmission):
    """Another pump's claim holds slot 0 for a moment (its seat created, its start token
    then found used, its seat deleted): the first claim here finds the slot taken, yet
    the slot is free by the time anyone looks again (jiwa.admission_store's chain)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen_taken = 0

    def move_to_slot(self, job_id: str, slot: int, token: str):  # type: ignore[override]
        if not self.seen_taken:
            self.seen_taken += 1
            return "slot_taken"
        return super().move_to_slot(job_id, slot, token)


def test_a_slot_lost_to_a_claim_undone_half_way_is_taken_on_a_second_look() -> None:
    backend = _HalfWaySeatOnce()
    gate = admission(backend, running=1)
    decision = gate.admit("job_last")  # the last dispatch: no pump runs after this one
    assert backend.seen_taken == 1
    assert decision.outcome == "admitted" and backend.slots == {0: "job_last"}
