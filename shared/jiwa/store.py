"""Firestore persistence of onboarding jobs: every status change is a checked transaction.

Layout (DESIGN.md): `onboardingJobs/{id}` with `waves/{n}` checkpoints and `events/{id}`
timeline; `activePhones/{digest}` holds the one active job of a phone; `loginStates/{nonce}`
records a consumed login state.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from google.api_core.exceptions import AlreadyExists, Conflict
from google.cloud import firestore

from jiwa.crypto import PhoneDigest
from jiwa.events import ProgressEvent
from jiwa.queries import DESCENDING, IndexFields, QueryShape

JOBS = "onboardingJobs"


class Status(StrEnum):
    AWAITING_AUTH = "AWAITING_AUTH"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


ACTIVE = frozenset({Status.AWAITING_AUTH, Status.QUEUED, Status.RUNNING})

# RUNNING/QUEUED -> QUEUED is the sweeper's re-dispatch of a lost run;
# COMPLETED/FAILED -> QUEUED an operator rerun.
ALLOWED: dict[Status, frozenset[Status]] = {
    Status.AWAITING_AUTH: frozenset({Status.QUEUED, Status.FAILED}),
    Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED, Status.QUEUED}),
    Status.RUNNING: frozenset({Status.RUNNING, Status.COMPLETED, Status.FAILED, Status.QUEUED}),
    Status.COMPLETED: frozenset({Status.QUEUED}),
    Status.FAILED: frozenset({Status.QUEUED}),
}


class IllegalTransitionError(RuntimeError):
    def __init__(self, job_id: str, current: str | None, target: Status) -> None:
        super().__init__(f"job {job_id}: illegal transition {current} -> {target}")
        self.current = current
        self.target = target


class JobNotFoundError(LookupError):
    pass


class StateAlreadyUsedError(RuntimeError):
    """A login state was presented a second time."""


@dataclass
class Job:
    id: str
    phone: str
    status: Status
    language: str = "id"
    current_wave: int = 0
    attempt: int = 0
    run: int = 1
    instagram_handle: str | None = None
    instagram_token: str | None = None  # encrypted (jiwa.crypto.TokenCipher)
    business_id: str | None = None
    error: dict[str, str] | None = None
    execution: str | None = None
    dispatch: int = 0  # grows when the sweeper re-dispatches a lost run
    dispatched_key: str | None = None
    redispatches: int = 0
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    heartbeat_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    _FIELDS = {
        "id": "id", "phone": "phone", "status": "status", "language": "language",
        "current_wave": "currentWave", "attempt": "attempt", "run": "run",
        "instagram_handle": "instagramHandle", "instagram_token": "instagramToken",
        "business_id": "businessId", "error": "error", "execution": "execution",
        "dispatch": "dispatch", "dispatched_key": "dispatchedKey",
        "redispatches": "redispatches", "created_at": "createdAt",
        "started_at": "startedAt", "completed_at": "completedAt",
        "heartbeat_at": "heartbeatAt",
    }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Job:
        if doc is None:
            raise JobNotFoundError("document has no data")
        known = {attr: doc[key] for attr, key in cls._FIELDS.items() if key in doc}
        known["status"] = Status(known["status"])
        extra = {k: v for k, v in doc.items() if k not in cls._FIELDS.values()}
        return cls(**known, extra=extra)

    def to_doc(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for attr, key in self._FIELDS.items()}

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def now() -> datetime:
    return datetime.now(UTC)


class JobStore:
    def __init__(self, client: firestore.Client, login_window: timedelta = timedelta(minutes=15),
                 on_query: Callable[[QueryShape], None] | None = None,
                 phones: PhoneDigest | None = None):
        self._db = client
        self._login_window = login_window
        self._on_query = on_query  # the tests record every query's shape (jiwa/queries.py)
        self._phones = phones  # only the processes that look jobs up by phone hold the key

    def _phone_lock(self, phone: str) -> Any:
        if self._phones is None:
            raise RuntimeError("looking a job up by phone needs PHONE_DIGEST_KEY")
        return self._db.collection("activePhones").document(self._phones(phone))

    def _select(self, collection: str, *, equal: dict[str, Any] | None = None,
                before: dict[str, Any] | None = None, order: IndexFields = (),
                limit: int = 100) -> list[Job]:
        """Jobs matching `field == value` for each of `equal` and `field < value` for each
        of `before`, in `order`. The query and its recorded shape come from the same
        arguments, so the index check sees exactly what production runs."""
        equal, before = equal or {}, before or {}
        if self._on_query is not None:
            self._on_query(QueryShape(collection, tuple(equal), tuple(before), order))
        query: Any = self._db.collection(collection)
        for name, value in equal.items():
            query = query.where(filter=firestore.FieldFilter(name, "==", value))
        for name, value in before.items():
            query = query.where(filter=firestore.FieldFilter(name, "<", value))
        for name, direction in order:
            query = query.order_by(name, direction=direction)
        return [Job.from_doc(s.to_dict()) for s in query.limit(limit).stream()]

    # -- reading ---------------------------------------------------------------------
    def _ref(self, job_id: str) -> firestore.DocumentReference:
        return self._db.collection(JOBS).document(job_id)

    def document(self, job_id: str) -> firestore.DocumentReference:
        """The job's document, for a state kept on it by another module (jiwa.standby)."""
        return self._ref(job_id)

    def get(self, job_id: str) -> Job | None:
        snap = self._ref(job_id).get()
        return Job.from_doc(snap.to_dict()) if snap.exists else None

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return job

    def latest_job_for(self, phone: str) -> Job | None:
        """The phone's most recent job, active or finished."""
        lock = self._phone_lock(phone).get()
        return self.get(lock.get("jobId")) if lock.exists else None

    def count_created_since(self, since: datetime) -> int:
        """How many onboardings were created at or after `since` (the new-job brake): a
        count() aggregation over the automatic single-field index on createdAt."""
        if self._on_query is not None:
            self._on_query(QueryShape(JOBS, (), ("createdAt",), ()))
        query: Any = self._db.collection(JOBS).where(
            filter=firestore.FieldFilter("createdAt", ">=", since)).count()
        return int(query.get()[0][0].value)

    def list_jobs(self, status: Status | None = None, limit: int = 100) -> list[Job]:
        return self._select(JOBS, equal={"status": str(status)} if status else None,
                            order=(("createdAt", DESCENDING),), limit=limit)

    # -- creating --------------------------------------------------------------------
    def open_for_phone(self, phone: str, language: str) -> tuple[Job, bool]:
        """The phone's active job, or a new AWAITING_AUTH one (True when created).

        A login that was never finished within the window expires here, so the user can
        start again; any other active job is returned as it is (one active job per phone).
        """
        lock_ref = self._phone_lock(phone)

        @firestore.transactional
        def txn(transaction: firestore.Transaction) -> tuple[Job, bool]:
            lock = lock_ref.get(transaction=transaction)
            if lock.exists:
                current_ref = self._ref(lock.get("jobId"))
                snap = current_ref.get(transaction=transaction)
                if snap.exists:
                    current = Job.from_doc(snap.to_dict())
                    stale = (current.status == Status.AWAITING_AUTH and current.created_at
                             and now() - current.created_at > self._login_window)
                    if current.active and not stale:
                        return current, False
                    if stale:
                        transaction.update(current_ref, {
                            "status": str(Status.FAILED), "completedAt": now(),
                            "error": {"code": "login_expired", "message": "login not finished"},
                        })
            job = Job(id=new_job_id(), phone=phone, status=Status.AWAITING_AUTH,
                      language=language, created_at=now())
            transaction.create(self._ref(job.id), job.to_doc())
            transaction.set(lock_ref, {"jobId": job.id, "updatedAt": now()})
            return job, True

        return txn(self._db.transaction())

    # -- transitions -----------------------------------------------------------------
    def transition(self, job_id: str, target: Status, *, expect: set[Status] | None = None,
                   **updates: Any) -> Job:
        """Move a job to `target` if the table (and `expect`, when given) allows it."""
        ref = self._ref(job_id)

        @firestore.transactional
        def txn(transaction: firestore.Transaction) -> Job:
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                raise JobNotFoundError(job_id)
            job = Job.from_doc(snap.to_dict())
            if target not in ALLOWED[job.status] or (expect and job.status not in expect):
                raise IllegalTransitionError(job_id, job.status, target)
            changes = {"status": str(target), **{Job._FIELDS.get(k, k): v
                                                 for k, v in updates.items()}}
            transaction.update(ref, changes)
            return Job.from_doc({**(snap.to_dict() or {}), **changes})

        return txn(self._db.transaction())

    def queue_after_login(self, job_id: str, nonce: str, *, instagram_token: str,
                          instagram_handle: str) -> Job:
        """Consume the login state and queue the job in one transaction."""
        ref, nonce_ref = self._ref(job_id), self._db.collection("loginStates").document(nonce)

        @firestore.transactional
        def txn(transaction: firestore.Transaction) -> Job:
            if nonce_ref.get(transaction=transaction).exists:
                raise StateAlreadyUsedError(nonce)
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                raise JobNotFoundError(job_id)
            job = Job.from_doc(snap.to_dict())
            if job.status != Status.AWAITING_AUTH:
                raise IllegalTransitionError(job_id, job.status, Status.QUEUED)
            changes = {"status": str(Status.QUEUED), "instagramToken": instagram_token,
                       "instagramHandle": instagram_handle, "queuedAt": now()}
            transaction.create(nonce_ref, {"jobId": job_id, "usedAt": now()})
            transaction.update(ref, changes)
            return Job.from_doc({**(snap.to_dict() or {}), **changes})

        return txn(self._db.transaction())

    def claim_login_exchange(self, nonce: str, job_id: str) -> bool:
        """True for the first callback of a login state, False for any copy of it (a double
        tap or a link prefetch brings the same code twice; codes are single use, so the
        copy's exchange would fail and must not undo the first)."""
        return self._create_once("loginExchanges", nonce, {"jobId": job_id, "claimedAt": now()})

    def consume_login_state(self, nonce: str, job_id: str) -> bool:
        """Mark a login state used outside a queueing (denied login); False if it was."""
        return self._create_once("loginStates", nonce, {"jobId": job_id, "usedAt": now()})

    def _create_once(self, collection: str, key: str, record: dict[str, Any]) -> bool:
        """True if this call created `collection/key`, False if it existed already."""
        try:
            self._db.collection(collection).document(key).create(record)
            return True
        except (AlreadyExists, Conflict):
            return False

    def claim_for_dispatch(self, job_id: str, run: int, dispatch: int = 0) -> bool:
        """True exactly once per (job, run, dispatch) while the job is QUEUED."""
        ref = self._ref(job_id)

        @firestore.transactional
        def txn(transaction: firestore.Transaction) -> bool:
            snap = ref.get(transaction=transaction)
            if not snap.exists:
                raise JobNotFoundError(job_id)
            job = Job.from_doc(snap.to_dict())
            key = f"{run}.{dispatch}"
            if (job.status != Status.QUEUED or job.run != run or job.dispatch != dispatch
                    or job.dispatched_key == key):
                return False
            transaction.update(ref, {"dispatchedKey": key, "dispatchedAt": now()})
            return True

        return txn(self._db.transaction())

    def release_dispatch(self, job_id: str, *, waiting: bool = False) -> None:
        """Undo a claim whose launch failed, so the redelivered message can launch.
        `waiting`: the launch was refused for a quota and is being retried, so the job is
        not lost: its queued clock (the sweeper's `queuedAt`) starts again."""
        self._ref(job_id).update({"dispatchedKey": None,
                                  **({"queuedAt": now()} if waiting else {})})

    def stale(self, status: Status, field: str, older_than: datetime,
              limit: int = 100) -> list[Job]:
        """Jobs in `status` whose timestamp `field` is older than `older_than` (sweeper;
        production needs the composite index (status ASC, field ASC) declared in infra/)."""
        return self._select(JOBS, equal={"status": str(status)}, before={field: older_than},
                            limit=limit)

    def record_execution(self, job_id: str, execution: str) -> None:
        self._ref(job_id).update({"execution": execution})

    def start_attempt(self, job_id: str, attempt: int) -> Job:
        """QUEUED -> RUNNING, or resume a RUNNING job on Cloud Run's retry."""
        job = self.require(job_id)
        updates: dict[str, Any] = {"attempt": attempt, "heartbeat_at": now()}
        if job.started_at is None or job.status == Status.QUEUED:
            updates["started_at"] = now()
        return self.transition(job_id, Status.RUNNING, expect={Status.QUEUED, Status.RUNNING},
                               **updates)

    def complete(self, job_id: str) -> Job:
        return self.transition(job_id, Status.COMPLETED, expect={Status.RUNNING},
                               completed_at=now(), current_wave=9)

    def fail(self, job_id: str, code: str, message: str,
             expect: set[Status] | None = None) -> Job:
        return self.transition(job_id, Status.FAILED, expect=expect, completed_at=now(),
                               error={"code": code, "message": message[:2000]})

    def set_current_wave(self, job_id: str, wave: int) -> None:
        self._ref(job_id).update({"currentWave": wave, "heartbeatAt": now()})

    def heartbeat(self, job_id: str) -> None:
        self._ref(job_id).update({"heartbeatAt": now()})

    def record_usage(self, job_id: str, key: str, entry: dict[str, Any]) -> None:
        """One wave attempt's spend (jiwa/usage.py says why a set per key, not a sum)."""
        self._ref(job_id).update({f"usage.{key}": entry})

    # -- the business and its images -----------------------------------------------
    def save_business(self, job_id: str, business_id: str, fields: dict[str, Any]) -> None:
        self._db.collection("businesses").document(business_id).set(
            {**fields, "updatedAt": now()}, merge=True)
        self._ref(job_id).update({"businessId": business_id})

    def business(self, business_id: str) -> dict[str, Any] | None:
        snap = self._db.collection("businesses").document(business_id).get()
        return snap.to_dict() if snap.exists else None

    def save_image(self, job_id: str, index: int, record: dict[str, Any]) -> None:
        """An image that passed (or exhausted) the quality gate: kept across retries."""
        self._ref(job_id).collection("images").document(str(index)).set(record)

    def images(self, job_id: str) -> dict[int, dict[str, Any]]:
        return {int(d.id): d.to_dict() or {} for d in
                self._ref(job_id).collection("images").stream()}

    # -- checkpoints and the event log -----------------------------------------------
    def save_checkpoint(self, job_id: str, wave: int, name: str, output: dict[str, Any],
                        started_at: datetime | None = None) -> None:
        self._ref(job_id).collection("waves").document(str(wave)).set(
            {"wave": wave, "name": name, "output": output, "startedAt": started_at,
             "finishedAt": now()})

    def wave_timeline(self, job_id: str) -> list[dict[str, Any]]:
        """Finished waves with start, end and duration (seconds), for operators."""
        rows = []
        for doc in self._ref(job_id).collection("waves").stream():
            data = doc.to_dict() or {}
            start, end = data.get("startedAt"), data.get("finishedAt")
            rows.append({"wave": data.get("wave"), "name": data.get("name"), "start": start,
                         "end": end, "seconds": round((end - start).total_seconds(), 3)
                         if start and end else None})
        return sorted(rows, key=lambda r: r["wave"])

    def rerun_from(self, job_id: str, wave: int) -> Job:
        """Operator rerun: clear checkpoints from `wave` on and queue a new run."""
        job = self.require(job_id)
        if job.active:
            raise IllegalTransitionError(job_id, job.status, Status.QUEUED)
        self.clear_checkpoints(job_id, wave)
        if wave <= 8:
            self.clear_images(job_id)
        return self.transition(job_id, Status.QUEUED, expect={Status.COMPLETED, Status.FAILED},
                               run=job.run + 1, dispatch=0, redispatches=0, queuedAt=now(),
                               current_wave=wave - 1, error=None, completed_at=None,
                               execution=None)

    def checkpoints(self, job_id: str) -> dict[int, dict[str, Any]]:
        docs = self._ref(job_id).collection("waves").stream()
        return {int(d.id): d.to_dict()["output"] for d in docs}

    def clear_images(self, job_id: str) -> None:
        for doc in self._ref(job_id).collection("images").stream():
            doc.reference.delete()

    def clear_checkpoints(self, job_id: str, from_wave: int) -> None:
        for doc in self._ref(job_id).collection("waves").stream():
            if int(doc.id) >= from_wave:
                doc.reference.delete()

    def log_event(self, event: ProgressEvent) -> None:
        self._ref(event.job_id).collection("events").document(event.event_id).set(
            {**event.model_dump(mode="json"), "loggedAt": now()})

    def events(self, job_id: str) -> list[dict[str, Any]]:
        docs = [d.to_dict() for d in self._ref(job_id).collection("events").stream()]
        return sorted(docs, key=lambda e: (e["run"], e["seq"]))


def new_job_id() -> str:
    return "job_" + secrets.token_hex(8)
