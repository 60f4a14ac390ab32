"""Admission's documents on the real Firestore emulator: concurrent dispatches claim at
most the slots there are, each job at most one, and the line moves oldest first."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

from google.cloud import firestore

from jiwa.admission import Admission
from jiwa.admission_store import FirestoreAdmission


def test_concurrent_admissions_on_the_emulator(harness) -> None:
    db = firestore.Client(project=f"admission-{secrets.token_hex(4)}")
    backend = FirestoreAdmission(db)
    gate = Admission(backend, max_running=4, starts_per_minute=100, job_seconds=300)
    jobs = [f"job_{i:02d}" for i in range(16)]
    with ThreadPoolExecutor(16) as pool:  # 16 dispatchers at once, twice the emulator's
        decisions = list(pool.map(gate.admit, jobs))  # contention limit on one document
    # a job is started by its own dispatch ("admitted") or by another's pump, which names
    # it in `others_admitted` (its own answer may then still say "queued": the other
    # claim landed after it looked); the dispatcher's claim starts each once either way
    running = {j for j, d in zip(jobs, decisions, strict=True) if d.outcome == "admitted"}
    running |= {j for d in decisions for j in d.others_admitted}
    assert len(running) == 4 and set(backend.holders(4).values()) == running
    assert all(backend.slot_of(j) is not None for j in running)
    line = backend.waiting(100)
    assert len(line) == 12 and not running & set(line)
    length, waited = gate.line()  # what the sweeper logs for the operator's alerts
    assert length == 12 and waited >= 0
    assert gate.admit(line[0]).newly_queued is False  # a redelivery is not told again
    head = line[0]
    assert backend.position(head) == 1
    assert gate.release(next(iter(running))) == [head]
    assert backend.slot_of(head) is not None and not backend.is_waiting(head)
    assert gate.line()[0] == 11
