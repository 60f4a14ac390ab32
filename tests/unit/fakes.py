"""In-memory stand-ins for what the handlers and the job call out to, for the fast tier.

Only the boundary is faked; everything of ours above it is the real code:
- `FakeJobStore`, `FakeSendGuard`, `FakeRateLimiter`: the jiwa.store / jiwa.guards
  interfaces (subclasses, so the real composite methods such as `start_attempt`,
  `complete` and `fail` run on top), with the same state rules (`ALLOWED`, one claim per
  key, the lease). The real ones are checked on the emulator in tests/integration.
- `FakeFirestore`: the plain document calls (no transactions) under the code that takes
  the Firestore client itself: `PoisonGuard`'s delivery counter, `DeliveryLog`.
- `FakePubSub`: a Pub/Sub PublisherClient under the real `EventPublisher`, recording
  each message; `Published.push()` turns one into the push envelope a consumer receives.
- `FakeMeta`: an httpx transport answering the Graph API (WhatsApp send, the Instagram
  login and profile) under the real `WhatsAppClient` / `InstagramClient`.
- `FakeLauncher`: the Cloud Run launcher.
- `FakeClients`: a `jiwa.clients.Clients` built from settings with these underneath;
  `jiwa.app.install(clients, launcher)` makes the functions serve from it.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import sys
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from flask.testing import FlaskClient
from google.api_core.exceptions import AlreadyExists, NotFound
from google.cloud import firestore

from jiwa.clients import Clients
from jiwa.crypto import PhoneDigest, TokenCipher, phone_digest
from jiwa.events import EventPublisher, ProgressEvent
from jiwa.guards import Claim, RateLimiter, SendGuard
from jiwa.pacing import PairPacer, PairRate
from jiwa.sealed_tokens import generate_keypair
from jiwa.settings import Settings
from jiwa.store import (
    ALLOWED,
    IllegalTransitionError,
    Job,
    JobNotFoundError,
    JobStore,
    StateAlreadyUsedError,
    Status,
    new_job_id,
    now,
)
from jiwa.window import WINDOW, ConversationWindow, Held

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
PROJECT = "jiwa-unit"
APP_SECRET = "unit-app-secret"
VERIFY_TOKEN = "unit-verify-token"
UNIT_KEY = TokenCipher.generate_key()
UNIT_PRIVATE, UNIT_PUBLIC = generate_keypair()
Function = Callable[[str], FlaskClient]  # the `function` fixture (conftest.py)


def settings(**overrides: Any) -> Settings:
    """Settings as the functions read them, with test secrets and the real default URLs
    (which no test reaches: FakeMeta answers them)."""
    values: dict[str, Any] = {
        "project": PROJECT, "whatsapp_access_token": "EAAunit",
        "whatsapp_phone_number_id": "100000000000001", "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN, "instagram_app_id": "1234567890",
        "instagram_app_secret": "unit-ig-secret",
        "instagram_redirect_uri": "https://jiwa.example/oauth",
        "oauth_state_secret": "unit-oauth-state-secret-0123456789",
        "token_encryption_key": UNIT_KEY, "token_public": UNIT_PUBLIC,
        "token_private_key": UNIT_PRIVATE, "anthropic_api_key": "sk-unit", "fal_key": "fal-unit",
        "phone_digest_key": "unit-phone-digest-key",
    }
    return Settings(**{**values, **overrides})


# -- Firestore-backed interfaces ----------------------------------------------------------

class _NoFirestore:
    """FakeJobStore's Firestore client: reached only by a JobStore method that the fake
    does not have yet, which it names."""

    def __getattr__(self, name: str) -> Any:
        frame = sys._getframe(1)
        while frame.f_back is not None and frame.f_code.co_name.startswith("_"):
            frame = frame.f_back  # past JobStore's private helpers (_ref, _select)
        raise NotImplementedError(f"FakeJobStore has no JobStore.{frame.f_code.co_name}: "
                                  "add it to tests/unit/fakes.py")


class FakeJobStore(JobStore):
    """`JobStore` in memory: documents kept in the same field names as Firestore's."""

    def __init__(self, login_window: timedelta = timedelta(minutes=15)) -> None:
        self._db = _NoFirestore()  # type: ignore[assignment]
        self._login_window = login_window
        self._lock = threading.RLock()
        self.docs: dict[str, dict[str, Any]] = {}  # onboardingJobs/{id}
        self.phones: dict[str, str] = {}  # activePhones/{digest} -> job id
        self.login_states: dict[str, str] = {}  # loginStates/{nonce} -> job id
        self.login_exchanges: dict[str, str] = {}  # loginExchanges/{nonce} -> job id
        self.waves: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.event_log: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.image_docs: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.businesses: dict[str, dict[str, Any]] = {}
        self.heartbeats = 0

    def put(self, job: Job, **extra: Any) -> Job:
        """A job as some earlier step left it (and its phone's lock)."""
        with self._lock:
            self.docs[job.id] = {**job.to_doc(), **job.extra, **extra}
            self.phones[phone_digest(job.phone)] = job.id
        return self.require(job.id)

    def document(self, job_id: str) -> Any:
        # jiwa.standby's compare-and-set needs Firestore's update times: its state runs on
        # the emulator (tests/integration/test_standby_state.py); unit tests pass a fake
        raise NotImplementedError("FakeJobStore has no Firestore document: use FakeStandbys")

    def _job(self, job_id: str) -> Job:
        if job_id not in self.docs:
            raise JobNotFoundError(job_id)
        return Job.from_doc(copy.deepcopy(self.docs[job_id]))

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._job(job_id) if job_id in self.docs else None

    def latest_job_for(self, phone: str) -> Job | None:
        with self._lock:
            job_id = self.phones.get(phone_digest(phone))
            return self.get(job_id) if job_id else None

    def count_created_since(self, since: datetime) -> int:
        with self._lock:
            return sum(1 for i in self.docs
                       if (self._job(i).created_at or since - timedelta(1)) >= since)

    def list_jobs(self, status: Status | None = None, limit: int = 100) -> list[Job]:
        with self._lock:
            jobs = [self._job(i) for i in self.docs]
        jobs = [j for j in jobs if status is None or j.status == status]
        jobs.sort(key=lambda j: j.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return jobs[:limit]

    def open_for_phone(self, phone: str, language: str) -> tuple[Job, bool]:
        with self._lock:
            current_id = self.phones.get(phone_digest(phone))
            if current_id in self.docs:
                current = self._job(current_id)
                stale = (current.status == Status.AWAITING_AUTH and current.created_at
                         and now() - current.created_at > self._login_window)
                if current.active and not stale:
                    return current, False
                if stale:
                    self.docs[current.id].update({
                        "status": str(Status.FAILED), "completedAt": now(),
                        "error": {"code": "login_expired", "message": "login not finished"}})
            job = Job(id=new_job_id(), phone=phone, status=Status.AWAITING_AUTH,
                      language=language, created_at=now())
            return self.put(job), True

    def transition(self, job_id: str, target: Status, *, expect: set[Status] | None = None,
                   **updates: Any) -> Job:
        with self._lock:
            job = self._job(job_id)
            if target not in ALLOWED[job.status] or (expect and job.status not in expect):
                raise IllegalTransitionError(job_id, job.status, target)
            self.docs[job_id].update({"status": str(target),
                                      **{Job._FIELDS.get(k, k): v for k, v in updates.items()}})
            return self._job(job_id)

    def queue_after_login(self, job_id: str, nonce: str, *, instagram_token: str,
                          instagram_handle: str) -> Job:
        with self._lock:
            if nonce in self.login_states:
                raise StateAlreadyUsedError(nonce)
            job = self._job(job_id)
            if job.status != Status.AWAITING_AUTH:
                raise IllegalTransitionError(job_id, job.status, Status.QUEUED)
            self.login_states[nonce] = job_id
            self.docs[job_id].update({"status": str(Status.QUEUED),
                                      "instagramToken": instagram_token,
                                      "instagramHandle": instagram_handle, "queuedAt": now()})
            return self._job(job_id)

    def claim_login_exchange(self, nonce: str, job_id: str) -> bool:
        with self._lock:
            if nonce in self.login_exchanges:
                return False
            self.login_exchanges[nonce] = job_id
            return True

    def consume_login_state(self, nonce: str, job_id: str) -> bool:
        with self._lock:
            if nonce in self.login_states:
                return False
            self.login_states[nonce] = job_id
            return True

    def claim_for_dispatch(self, job_id: str, run: int, dispatch: int = 0) -> bool:
        with self._lock:
            job = self._job(job_id)
            key = f"{run}.{dispatch}"
            if (job.status != Status.QUEUED or job.run != run or job.dispatch != dispatch
                    or job.dispatched_key == key):
                return False
            self.docs[job_id].update({"dispatchedKey": key, "dispatchedAt": now()})
            return True

    def release_dispatch(self, job_id: str, *, waiting: bool = False) -> None:
        self._update(job_id, dispatchedKey=None, **({"queuedAt": now()} if waiting else {}))

    def stale(self, status: Status, field: str, older_than: datetime,
              limit: int = 100) -> list[Job]:
        with self._lock:
            docs = [copy.deepcopy(d) for d in self.docs.values()]
        return [Job.from_doc(d) for d in docs if d["status"] == str(status)
                and d.get(field) is not None and d[field] < older_than][:limit]

    def _update(self, job_id: str, **fields: Any) -> None:
        with self._lock:  # Firestore's update() fails on a missing document too
            self._job(job_id)
            self.docs[job_id].update(fields)

    def record_execution(self, job_id: str, execution: str) -> None:
        self._update(job_id, execution=execution)

    def set_current_wave(self, job_id: str, wave: int) -> None:
        self._update(job_id, currentWave=wave, heartbeatAt=now())

    def heartbeat(self, job_id: str) -> None:
        self._update(job_id, heartbeatAt=now())
        self.heartbeats += 1

    def record_usage(self, job_id: str, key: str, entry: dict[str, Any]) -> None:
        with self._lock:
            self._job(job_id)
            self.docs[job_id].setdefault("usage", {})[key] = copy.deepcopy(entry)

    def save_business(self, job_id: str, business_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self.businesses.setdefault(business_id, {}).update(
                {**copy.deepcopy(fields), "updatedAt": now()})
            self._update(job_id, businessId=business_id)

    def business(self, business_id: str) -> dict[str, Any] | None:
        with self._lock:
            return copy.deepcopy(self.businesses.get(business_id))

    def save_image(self, job_id: str, index: int, record: dict[str, Any]) -> None:
        with self._lock:
            self.image_docs[job_id][index] = copy.deepcopy(record)

    def images(self, job_id: str) -> dict[int, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self.image_docs[job_id])

    def clear_images(self, job_id: str) -> None:
        with self._lock:
            self.image_docs.pop(job_id, None)

    def save_checkpoint(self, job_id: str, wave: int, name: str, output: dict[str, Any],
                        started_at: datetime | None = None) -> None:
        with self._lock:
            self.waves[job_id][wave] = {"wave": wave, "name": name,
                                        "output": copy.deepcopy(output),
                                        "startedAt": started_at, "finishedAt": now()}

    def checkpoints(self, job_id: str) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {n: copy.deepcopy(d["output"]) for n, d in self.waves[job_id].items()}

    def clear_checkpoints(self, job_id: str, from_wave: int) -> None:
        with self._lock:
            for n in [n for n in self.waves[job_id] if n >= from_wave]:
                del self.waves[job_id][n]

    def log_event(self, event: ProgressEvent) -> None:
        with self._lock:
            self.event_log[event.job_id][event.event_id] = {
                **event.model_dump(mode="json"), "loggedAt": now()}

    def events(self, job_id: str) -> list[dict[str, Any]]:
        with self._lock:
            docs = list(copy.deepcopy(self.event_log[job_id]).values())
        return sorted(docs, key=lambda e: (e["run"], e["seq"]))


class FakeSendGuard(SendGuard):
    """`SendGuard` in memory: sending -> sent, a stale `sending` taken over after the lease."""

    def __init__(self, lease: timedelta = timedelta(seconds=60)) -> None:
        self._lease = lease
        self._lock = threading.Lock()
        self.records: dict[str, dict[str, Any]] = {}

    def claim(self, key: str, **fields: Any) -> Claim:
        with self._lock:
            started = datetime.now(UTC)
            record = self.records.get(key)
            if record is None:
                self.records[key] = {"status": "sending", "claimedAt": started, **fields}
                return Claim.GRANTED
            if record.get("status") in ("sent", "rejected"):
                return Claim.DONE
            claimed_at = record.get("claimedAt")
            if claimed_at is None or started - claimed_at > self._lease:
                record.update(status="sending", claimedAt=started)
                return Claim.GRANTED
            return Claim.BUSY

    def finish(self, key: str, status: str = "sent", **fields: Any) -> None:
        with self._lock:
            self.records[key].update(status=status, finishedAt=datetime.now(UTC), **fields)

    def reopen(self, key: str) -> None:
        with self._lock:
            self.records.setdefault(key, {}).update(status="retry", claimedAt=None)

    def release(self, key: str) -> None:
        with self._lock:
            self.records.pop(key, None)

    def status(self, key: str) -> str | None:
        with self._lock:
            return self.records.get(key, {}).get("status")


class FakeRateLimiter(RateLimiter):
    """`RateLimiter` in memory: `limit` hits per window, "too many" said once."""

    def __init__(self, limit: int = 6, window: timedelta = timedelta(minutes=1)) -> None:
        self._limit, self._window = limit, window
        self.windows: dict[str, tuple[datetime, int]] = {}

    def hit(self, key: str) -> tuple[bool, bool]:
        t = datetime.now(UTC)
        start, count = self.windows.get(key, (t, 0))
        if t - start > self._window:
            start, count = t, 0
        count += 1
        self.windows[key] = (start, count)
        return count <= self._limit, count == self._limit + 1


class FakeConversationWindow(ConversationWindow):
    """`ConversationWindow` in memory: the last inbound time and the held events."""

    def __init__(self) -> None:
        self.last: dict[str, datetime] = {}
        self.held: dict[str, list[Held]] = {}
        self.asked: dict[str, datetime] = {}

    def touch(self, phone: str, at: datetime | None = None) -> bool:
        sent = at or datetime.now(UTC)
        if phone not in self.last or sent > self.last[phone]:
            self.last[phone] = sent
        return datetime.now(UTC) - sent < WINDOW

    def is_open(self, phone: str, now: datetime | None = None) -> bool:
        last = self.last.get(phone)
        return last is None or (now or datetime.now(UTC)) - last < WINDOW

    def hold(self, phone: str, held: Held) -> bool:
        queue = self.held.setdefault(phone, [])
        if held not in queue:
            queue.append(held)
        asked, last = self.asked.get(phone), self.last.get(phone)
        ask = asked is None or (last is not None and asked < last)
        if ask:
            self.asked[phone] = datetime.now(UTC)
        return ask

    def release(self, phone: str) -> list[Held]:
        return self.held.pop(phone, [])


class FakePairPacer(PairPacer):
    """`PairPacer` over a dict instead of a Firestore transaction, on a clock the test
    moves (`sleep` advances it, as the notifier's wait would)."""

    def __init__(self, rate: PairRate, max_wait: float = 10.0) -> None:
        self.now = 1_000_000.0
        super().__init__(None, rate, PhoneDigest("unit-phone-digest-key"),  # type: ignore[arg-type]
                         max_wait, clock=lambda: self.now,
                         sleep=self._advance)
        self.due: dict[str, float] = {}
        self.slept: list[float] = []
        self.turns: list[float] = []  # the clock each time a message was let through

    def take_turn(self, recipient: str) -> bool:
        allowed = super().take_turn(recipient)
        if allowed:
            self.turns.append(self.now)
        return allowed

    def _advance(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def _update(self, key: str, decide: Callable[[float], tuple[float | None, float | None]]
                ) -> float | None:
        result, next_due = decide(self.due.get(key, 0.0))
        if next_due is not None:
            self.due[key] = next_due
        return result


class FakeFirestore:
    """The plain document calls (no transactions) that PoisonGuard and DeliveryLog make:
    `collection().document()` with `set` (merge=True merges maps, as Firestore does;
    `Increment`, `SERVER_TIMESTAMP`), `create` (AlreadyExists), `update` (NotFound),
    `delete`, `get`, equality `where(filter=FieldFilter(...)).stream()`, and `batch()` of
    sets (GroupCommitter). Anything else
    is an AttributeError, so a new kind of call shows up at once."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.lock = threading.Lock()
        self.commits = 0  # batched writes committed

    def batch(self) -> _Batch:
        return _Batch(self)

    def collection(self, name: str) -> _Collection:
        return _Collection(self, self.data[name])


def _resolved(old: Any, value: Any, merge: bool) -> Any:
    if isinstance(value, firestore.Increment):
        return (old if isinstance(old, int | float) else 0) + value.value
    if value is firestore.SERVER_TIMESTAMP:
        return datetime.now(UTC)
    if merge and isinstance(value, dict):
        base = dict(old) if isinstance(old, dict) else {}
        return {k: _resolved(base.get(k), v, True) for k, v in value.items()} | \
            {k: v for k, v in base.items() if k not in value}
    return copy.deepcopy(value)


@dataclass
class _Snapshot:
    id: str
    exists: bool
    data: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.data)

    def get(self, field: str) -> Any:
        return (self.data or {})[field]


@dataclass
class _Collection:
    db: FakeFirestore
    docs: dict[str, dict[str, Any]]
    filters: tuple[tuple[str, str, Any], ...] = ()

    def document(self, doc_id: str) -> _Document:
        return _Document(self.db, self.docs, doc_id)

    def where(self, *, filter: Any) -> _Collection:
        assert filter.op_string == "==", f"FakeFirestore: no {filter.op_string} queries"
        return _Collection(self.db, self.docs,
                           (*self.filters, (filter.field_path, "==", filter.value)))

    def stream(self) -> list[_Snapshot]:
        with self.db.lock:
            return [_Snapshot(i, True, copy.deepcopy(d)) for i, d in self.docs.items()
                    if all(d.get(f) == v for f, _, v in self.filters)]


@dataclass
class _Document:
    db: FakeFirestore
    docs: dict[str, dict[str, Any]]
    id: str

    @property
    def path(self) -> str:  # unique per collection and id, as Firestore's path is
        return f"{id(self.docs)}/{self.id}"

    def set(self, values: dict[str, Any], merge: bool = False) -> None:
        with self.db.lock:
            self.docs[self.id] = _resolved(self.docs.get(self.id) if merge else None,
                                           values, True)

    def create(self, values: dict[str, Any]) -> None:
        with self.db.lock:
            if self.id in self.docs:
                raise AlreadyExists(f"document {self.id} exists")
            self.docs[self.id] = _resolved(None, values, True)

    def update(self, values: dict[str, Any]) -> None:
        with self.db.lock:
            if self.id not in self.docs:
                raise NotFound(f"no document {self.id}")
            self.docs[self.id] = {**self.docs[self.id], **{
                k: _resolved(self.docs[self.id].get(k), v, False) for k, v in values.items()}}

    def delete(self) -> None:
        with self.db.lock:
            self.docs.pop(self.id, None)

    def get(self) -> _Snapshot:
        with self.db.lock:
            return _Snapshot(self.id, self.id in self.docs, copy.deepcopy(self.docs.get(self.id)))


@dataclass
class _Batch:
    """A batched write: its sets applied together on commit (counted in `db.commits`)."""

    db: FakeFirestore
    writes: list[tuple[_Document, dict[str, Any], bool]] = field(default_factory=list)

    def set(self, ref: _Document, values: dict[str, Any], merge: bool = False) -> None:
        assert ref.path not in {w[0].path for w in self.writes}, "a batch writes a doc once"
        self.writes.append((ref, values, merge))

    def commit(self) -> None:
        self.db.commits += 1
        for ref, values, merge in self.writes:
            ref.set(values, merge=merge)


# -- Pub/Sub ------------------------------------------------------------------------------

@dataclass
class Published:
    topic: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str
    message_id: str

    def body(self) -> dict[str, Any]:
        return dict(json.loads(self.data))

    def push(self, subscription: str = "dispatcher-push") -> dict[str, Any]:
        """The push envelope Pub/Sub posts for this message (WIRE.md)."""
        return push_envelope(self.data, self.attributes, self.message_id,
                             subscription=subscription, ordering_key=self.ordering_key)


def push_envelope(data: bytes, attributes: dict[str, str], message_id: str, *,
                  subscription: str = "dispatcher-push",
                  ordering_key: str = "") -> dict[str, Any]:
    message: dict[str, Any] = {
        "data": base64.b64encode(data).decode(), "attributes": attributes,
        "messageId": message_id, "message_id": message_id,
        "publishTime": "2026-01-12T03:04:05.678Z", "publish_time": "2026-01-12T03:04:05.678Z"}
    if ordering_key:
        message["orderingKey"] = ordering_key
    return {"message": message, "subscription": f"projects/{PROJECT}/subscriptions/{subscription}"}


class FakePubSub:
    """`google.cloud.pubsub_v1.PublisherClient` as EventPublisher uses it."""

    def __init__(self) -> None:
        self.messages: list[Published] = []
        self.resumed: list[tuple[str, str]] = []
        self.failures: list[Exception] = []  # raised by the next publishes, in order
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, ordering_key: str = "", retry: Any = None,
                **attributes: str) -> Future[str]:
        future: Future[str] = Future()
        with self._lock:
            if self.failures:
                future.set_exception(self.failures.pop(0))
                return future
            message = Published(topic, data, dict(attributes), ordering_key,
                                str(next(self._ids)))
            self.messages.append(message)
        future.set_result(message.message_id)
        return future

    def resume_publish(self, topic: str, ordering_key: str) -> None:
        self.resumed.append((topic, ordering_key))

    def on(self, topic: str) -> list[Published]:
        with self._lock:
            return [m for m in self.messages if m.topic.endswith(f"/topics/{topic}")]


# -- Graph API (WhatsApp, Instagram) ------------------------------------------------------

@dataclass
class FakeMeta:
    """Answers the Graph API calls of WhatsAppClient and InstagramClient, recording each
    WhatsApp message sent. Queue `whatsapp_errors` (HTTP status, Graph error code) to make
    the next sends fail; set `instagram_error` to make the login exchange fail."""

    handle: str = "kopisenja"
    website: str = "https://kopisenja.example"
    sent: list[dict[str, Any]] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    whatsapp_errors: list[tuple[int, int]] = field(default_factory=list)
    instagram_error: tuple[int, str] | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        url = request.url
        if url.host == "graph.facebook.com" and url.path.endswith("/messages"):
            return self._send(request)
        if self.instagram_error and url.host in ("api.instagram.com", "graph.instagram.com"):
            status, message = self.instagram_error
            return httpx.Response(status, json={"error": {
                "message": message, "type": "OAuthException", "code": 190}})
        if url.host == "api.instagram.com" and url.path == "/oauth/access_token":
            form = parse_qs(request.content.decode())
            assert form["grant_type"] == ["authorization_code"], form
            return httpx.Response(200, json={"access_token": "IGshort-" + form["code"][0],
                                             "user_id": 17841400000000001,
                                             "permissions": "instagram_business_basic"})
        if url.host == "graph.instagram.com" and url.path == "/access_token":
            return httpx.Response(200, json={"access_token": "IGlong-token",
                                             "token_type": "bearer", "expires_in": 5183944})
        if url.host == "graph.instagram.com" and url.path.endswith("/me"):
            return httpx.Response(200, json={"user_id": "17841400000000001",
                                             "username": self.handle, "name": "Kopi Senja",
                                             "website": self.website})
        return httpx.Response(404, json={"error": {"message": f"no route {url}", "code": 100}})

    def _send(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer EAAunit"
        if self.whatsapp_errors:
            status, code = self.whatsapp_errors.pop(0)
            return httpx.Response(status, json={"error": {
                "message": "error from the fake", "type": "OAuthException", "code": code,
                "fbtrace_id": "Afake"}})
        message = json.loads(request.content)
        self.sent.append(message)
        wamid = f"wamid.out{next(self._ids)}"
        to = message.get("to") or message["recipient"]  # a phone number, or a user id
        key = "wa_id" if "to" in message else "user_id"
        return httpx.Response(200, json={"messaging_product": "whatsapp",
                                         "contacts": [{"input": to, key: to}],
                                         "messages": [{"id": wamid}]})

    def to(self, phone: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if (m.get("to") or m.get("recipient")) == phone]

    def texts(self, phone: str) -> list[str]:
        """What the user reads: text bodies, button texts and image captions."""
        out = []
        for m in self.to(phone):
            if m["type"] == "text":
                out.append(m["text"]["body"])
            elif m["type"] == "image":
                out.append(m["image"]["caption"])
            else:
                out.append(m["interactive"]["body"]["text"])
        return out


# -- Cloud Run ----------------------------------------------------------------------------

class FakeLauncher:
    """The `Launcher` protocol: records launches; `fail` makes the next launches raise."""

    def __init__(self) -> None:
        self.launched: list[str] = []
        self.standbys: list[str] = []  # launched to stand by (jiwa.standby)
        self.running: set[str] = set()
        self.fail: list[Exception] = []

    def launch(self, job_id: str, *, standby: bool = False) -> str:
        if self.fail:
            raise self.fail.pop(0)
        (self.standbys if standby else self.launched).append(job_id)
        execution = (f"projects/{PROJECT}/locations/asia-southeast2/jobs/jiwa-job/executions/"
                     f"jiwa-job-{len(self.launched) + len(self.standbys):05d}")
        self.running.add(execution)
        return execution

    def is_running(self, execution: str) -> bool:
        return execution in self.running


# -- the clients --------------------------------------------------------------------------

class FakeClients(Clients):
    """The real `Clients` (WhatsApp and Instagram clients, signer, cipher, publisher built
    from settings) over in-memory Firestore, Pub/Sub and Graph API."""

    def __init__(self, s: Settings | None = None) -> None:
        super().__init__(s or settings())
        self.fake_firestore = FakeFirestore()
        self.fake_store = FakeJobStore(
            login_window=timedelta(seconds=self.settings.oauth_state_ttl_seconds))
        self.pubsub = FakePubSub()
        self.meta = FakeMeta()
        self.guards: dict[str, FakeSendGuard] = {}
        self.limiter = FakeRateLimiter(self.settings.commands_per_minute)
        self.launcher = FakeLauncher()
        self.fake_window = FakeConversationWindow()
        self.fake_pacer = FakePairPacer(PairRate(self.settings.whatsapp_pair_interval_seconds,
                                                 self.settings.whatsapp_pair_burst),
                                        self.settings.whatsapp_pacing_max_wait_seconds)
        self._http = httpx.Client(transport=self.meta.transport())

    @property
    def firestore(self) -> Any:
        return self.fake_firestore

    @property
    def store(self) -> JobStore:
        return self.fake_store

    @property
    def http(self) -> httpx.Client:
        return self._http

    @property
    def publisher(self) -> EventPublisher:
        s = self.settings
        return EventPublisher(s.project, s.requested_topic, s.progress_topic,
                              client=self.pubsub)

    def guard(self, collection: str) -> SendGuard:
        return self.guards.setdefault(collection, FakeSendGuard())

    def rate_limiter(self, limit: int) -> RateLimiter:
        return self.limiter

    @property
    def window(self) -> ConversationWindow:
        return self.fake_window

    @property
    def pacer(self) -> PairPacer:
        return self.fake_pacer


# -- the wire ----------------------------------------------------------------------------

def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def sign(raw: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def eventarc(envelope: dict[str, Any], topic: str) -> tuple[dict[str, str], bytes]:
    """A push envelope as Eventarc delivers it: a binary-mode CloudEvent (WIRE.md)."""
    message = envelope["message"]
    headers = {"ce-id": message["messageId"], "ce-specversion": "1.0",
               "ce-source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/{topic}",
               "ce-type": "google.cloud.pubsub.topic.v1.messagePublished",
               "ce-time": message["publishTime"], "Content-Type": "application/json"}
    return headers, json.dumps(envelope).encode()
