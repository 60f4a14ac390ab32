"""Pub/Sub's own replay: a throwaway subscription sought to a time, read for a window.

What went through a topic, not what the Firestore log says the user saw: a malformed
message, a duplicate, a dead-lettered request. Real Pub/Sub semantics this relies on:

- A topic with `message_retention_duration` (ours: 7 days, infra/pubsub.tf) "allows any
  attached subscription to seek to a timestamp that is up to message_retention_duration in
  the past", before the subscription existed (Topic.message_retention_duration, Pub/Sub
  API reference). Without topic retention, seek reaches only what the subscription itself
  retained ("a point before the system's notion of the subscription creation time ...
  only retained messages will be marked as unacknowledged", SeekRequest.time).
- A replay subscription carries an expiration policy so that a killed command leaves
  nothing for long; the smallest TTL Pub/Sub accepts is 1 day (ExpirationPolicy.ttl:
  "The minimum allowed value for expiration_policy.ttl is 1 day"). The command deletes it
  itself in a `finally`.
- A snapshot lives "7 days minus the age of the oldest unacknowledged message" of its
  subscription (https://cloud.google.com/pubsub/docs/replay-overview), so one taken
  before a deploy is good for that deploy, not for next week.
"""

from __future__ import annotations

import base64
import json
import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from jiwa.dead_letter_reasons import DeathReason
from jiwa.events import OnboardingRequested, ProgressEvent

REPLAY_PREFIX = "jiwa-replay-"
REPLAY_TTL = timedelta(days=1)  # Pub/Sub's minimum expiration TTL


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """An ISO time (naive means UTC), `now`, or `now-90m` / `now-2h` / `now-1d`."""
    now = now or datetime.now(UTC)
    text = text.strip()
    if text.startswith("now"):
        rest = text[3:]
        if not rest:
            return now
        units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
        if rest[0] != "-" or rest[-1] not in units or not rest[1:-1].isdigit():
            raise ValueError(f"bad relative time {text!r}; e.g. now-90m, now-2h")
        return now - timedelta(**{units[rest[-1]]: int(rest[1:-1])})
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """[start, end) in publish time, optionally one job's messages only."""

    start: datetime
    end: datetime
    job_id: str | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty window: end {self.end.isoformat()} is not after "
                             f"start {self.start.isoformat()}")

    def covers(self, message: Replayed) -> bool:
        if not self.start <= message.publish_time < self.end:
            return False
        return self.job_id is None or message.job_id == self.job_id


@dataclass(frozen=True)
class Replayed:
    """One message as Pub/Sub delivered it, decoded when it can be, never dropped."""

    topic: str
    message_id: str
    publish_time: datetime
    data: bytes
    attributes: dict[str, str] = field(default_factory=dict)
    ordering_key: str = ""
    delivery_attempt: int = 0
    died: DeathReason | None = None  # on a dead-letter topic: why (jiwa.dead_letter_reasons)

    @property
    def event(self) -> ProgressEvent | OnboardingRequested | None:
        return decode(self)[0]

    @property
    def job_id(self) -> str:
        event = self.event
        return event.job_id if event else self.attributes.get("jobId", "")

    def to_json(self) -> dict[str, Any]:
        event, problem = decode(self)
        return {"topic": self.topic, "message_id": self.message_id,
                "publish_time": self.publish_time.isoformat(),
                "ordering_key": self.ordering_key, "attributes": self.attributes,
                "delivery_attempt": self.delivery_attempt,
                "data": base64.b64encode(self.data).decode(),
                "event": event.model_dump(mode="json") if event else None,
                "undecodable": problem,
                "dead_letter": self.died.to_json() if self.died else None}

    def line(self) -> str:
        event, problem = decode(self)
        head = f"{self.publish_time:%Y-%m-%dT%H:%M:%S.%f}Z {self.message_id}"
        if self.ordering_key:
            head += f" key={self.ordering_key}"
        if self.delivery_attempt:
            head += f" attempt={self.delivery_attempt}"
        tail = f" — {self.died.text()}" if self.died else ""
        if event is None:
            preview = self.data[:80].decode(errors="replace")
            return f"{head} UNDECODABLE ({problem}): {preview!r}{tail}"
        if isinstance(event, ProgressEvent):
            what = f"{event.kind} seq={event.seq} wave={event.wave}"
        else:
            what = f"requested dispatch={event.dispatch}"
        return f"{head} {event.job_id} run={event.run} {what} id={event.event_id}{tail}"


def _model_for(message: Replayed) -> type[ProgressEvent] | type[OnboardingRequested]:
    # The schema attribute (events.encode) names the model; a message published without
    # it (by hand, by an older build) is judged by its topic's name.
    schema = message.attributes.get("schema", "")
    if schema.startswith("OnboardingRequested/"):
        return OnboardingRequested
    if schema.startswith("ProgressEvent/"):
        return ProgressEvent
    return OnboardingRequested if "requested" in message.topic else ProgressEvent


def decode(message: Replayed) -> tuple[ProgressEvent | OnboardingRequested | None, str]:
    """(the event, "") or (None, why it cannot be read)."""
    model = _model_for(message)
    try:
        return model.model_validate(json.loads(message.data.decode("utf-8"))), ""
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except json.JSONDecodeError:
        return None, "not JSON"
    except ValidationError as exc:
        return None, f"not a {model.__name__}: {exc.error_count()} error(s)"


def replay_subscription_id(topic: str) -> str:
    return f"{REPLAY_PREFIX}{topic}-{uuid.uuid4().hex[:8]}"


def is_replay_subscription(path: str) -> bool:
    return path.rsplit("/", 1)[-1].startswith(REPLAY_PREFIX)


def _from_received(topic: str, received: Any) -> Replayed:
    m = received.message
    published = m.publish_time
    when = (published if isinstance(published, datetime)
            else published.ToDatetime()).astimezone(UTC)
    return Replayed(topic, m.message_id, when, bytes(m.data), dict(m.attributes),
                    m.ordering_key, int(getattr(received, "delivery_attempt", 0) or 0))


class SeekReplay:
    """Reads a window of a topic through its own short-lived subscription."""

    def __init__(self, project: str, subscriber: Any = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self._project = project
        self._subscriber = subscriber or pubsub_v1.SubscriberClient()

    def read(self, topic: str, window: Window, limit: int = 10_000,
             via: str = "auto") -> list[Replayed]:
        """`via` "new": a fresh subscription sought to the start (production: the topic's
        retention reaches back before it). "tap": the topic's tap subscription, sought to
        the start and put back afterwards through a snapshot of its state (the emulator
        has no topic retention, so only a subscription that existed then has the
        messages). "auto": "tap" on the emulator, else "new"."""
        if via == "auto":
            via = "tap" if os.environ.get("PUBSUB_EMULATOR_HOST") else "new"
        seen: dict[str, Replayed] = {}
        with (self._tap(topic, window) if via == "tap" else self._fresh(topic, window)) as path:
            for message in self._drain(topic, path, window, limit):
                seen.setdefault(message.message_id, message)  # redelivery: keep the first
        return sorted((m for m in seen.values() if window.covers(m)),
                      key=lambda m: (m.publish_time, m.message_id))

    @contextmanager
    def _fresh(self, topic: str, window: Window) -> Iterator[str]:
        sub = self._subscriber
        path = sub.subscription_path(self._project, replay_subscription_id(topic))
        sub.create_subscription(request={
            "name": path, "topic": sub.topic_path(self._project, topic),
            "ack_deadline_seconds": 60,
            # the emulator refuses Seek on a subscription that does not retain acked
            # messages or that orders them (docs/decisions/0007); ordering keys are kept
            # on each message and the window is sorted by publish time instead
            "retain_acked_messages": True,
            "expiration_policy": {"ttl": REPLAY_TTL},
            "labels": {"purpose": "jiwa-replay"}})
        try:
            sub.seek(request={"subscription": path, "time": window.start})
            yield str(path)
        finally:
            sub.delete_subscription(request={"subscription": path})

    @contextmanager
    def _tap(self, topic: str, window: Window) -> Iterator[str]:
        sub = self._subscriber
        # a main topic's tap, or a dead-letter topic's own subscription (topology.py)
        name = f"{topic}-sub" if topic.endswith("-dead-letter") else f"{topic}-tap"
        path = sub.subscription_path(self._project, name)
        # the tap's ack state now, to put back: `jiwa events tail` then resumes where it was
        snapshot = sub.snapshot_path(self._project, replay_subscription_id(topic))
        sub.create_snapshot(request={"name": snapshot, "subscription": path})
        try:
            sub.seek(request={"subscription": path, "time": window.start})
            yield str(path)
        finally:
            try:
                sub.seek(request={"subscription": path, "snapshot": snapshot})
            finally:
                sub.delete_snapshot(request={"snapshot": snapshot})

    def _drain(self, topic: str, path: str, window: Window,
               limit: int) -> Iterator[Replayed]:
        from google.api_core import exceptions, retry

        taken, empty = 0, 0
        # Pub/Sub may answer a pull with nothing while messages remain, so two empty
        # answers in a row end the read, as does a message past the window's end (delivery
        # is roughly in publish order once sought).
        while taken < limit and empty < 2:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    response = self._subscriber.pull(
                        request={"subscription": path, "max_messages": 500,
                                 "return_immediately": True},
                        timeout=10, retry=retry.Retry(deadline=10))
            except (exceptions.DeadlineExceeded, exceptions.RetryError):
                response = None
            received = list(response.received_messages) if response else []
            if not received:
                empty += 1
                continue
            empty = 0
            self._subscriber.acknowledge(request={"subscription": path,
                                                  "ack_ids": [r.ack_id for r in received]})
            batch = [_from_received(topic, r) for r in received]
            taken += len(batch)
            yield from batch
            if all(m.publish_time >= window.end for m in batch):
                return

    def leftovers(self) -> list[str]:
        """Replay subscriptions and tap snapshots still in the project (a killed
        command's: a subscription expires after a day, a snapshot within 7 days)."""
        project = {"project": f"projects/{self._project}"}
        return [r.name for r in [*self._subscriber.list_subscriptions(request=project),
                                 *self._subscriber.list_snapshots(request=project)]
                if is_replay_subscription(r.name)]


class Snapshots:
    def __init__(self, project: str, subscriber: Any = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self._project = project
        self._subscriber = subscriber or pubsub_v1.SubscriberClient()

    def _sub(self, name: str) -> str:
        return str(self._subscriber.subscription_path(self._project, name))

    def _snap(self, name: str) -> str:
        return str(self._subscriber.snapshot_path(self._project, name))

    def create(self, name: str, subscription: str) -> dict[str, Any]:
        snap = self._subscriber.create_snapshot(request={
            "name": self._snap(name), "subscription": self._sub(subscription)})
        return _snapshot_row(snap)

    def list(self) -> list[dict[str, Any]]:
        return [_snapshot_row(s) for s in self._subscriber.list_snapshots(
            request={"project": f"projects/{self._project}"})]

    def delete(self, name: str) -> None:
        self._subscriber.delete_snapshot(request={"snapshot": self._snap(name)})

    def seek(self, subscription: str, *, snapshot: str | None = None,
             time: datetime | None = None) -> dict[str, Any]:
        if (snapshot is None) == (time is None):
            raise ValueError("seek to a snapshot or to a time, one of them")
        request: dict[str, Any] = {"subscription": self._sub(subscription)}
        if snapshot is not None:
            request["snapshot"] = self._snap(snapshot)
        else:
            request["time"] = time
        self._subscriber.seek(request=request)
        return {"subscription": subscription, "snapshot": snapshot,
                "time": time.isoformat() if time else None}


def _snapshot_row(snap: Any) -> dict[str, Any]:
    expire = snap.expire_time
    return {"name": snap.name.rsplit("/", 1)[-1], "topic": snap.topic.rsplit("/", 1)[-1],
            "expire_time": expire.isoformat() if isinstance(expire, datetime) else None}
