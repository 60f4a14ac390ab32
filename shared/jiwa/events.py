"""The messages on our two topics: versioned models, one publisher, one decoder."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ProgressKind(StrEnum):
    ACCEPTED = "accepted"  # the OAuth callback's "we're on it"
    WAVE = "wave"  # a wave started ("Analyzing your brand…")
    SUMMARY = "summary"  # a wave's result for the user (brand, products, calendar)
    IMAGE_PROGRESS = "image_progress"  # "Creating image 3 of 6…"
    IMAGE_READY = "image_ready"  # a preview that passed the quality gate
    COMPLETED = "completed"
    FAILED = "failed"


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    version: Literal[1] = 1
    event_id: str = Field(min_length=1, max_length=200)
    job_id: str = Field(min_length=1, max_length=100)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class OnboardingRequested(_Message):
    """Ask the dispatcher to run job `job_id` (`run` grows with each operator rerun,
    `dispatch` with each re-dispatch of a lost run by the sweeper)."""

    run: int = Field(default=1, ge=1)
    dispatch: int = Field(default=0, ge=0)
    # True: start the job's process now, to wait for the login (jiwa.standby); the run
    # itself is still asked for by its own request once the job is queued
    standby: bool = False

    @classmethod
    def for_standby(cls, job_id: str) -> OnboardingRequested:
        """The request to start `job_id`'s standby: one id per job, so a replay or a
        second /daftar finds the standby already there."""
        return cls(event_id=f"{job_id}-standby", job_id=job_id, standby=True)

    @classmethod
    def for_run(cls, job_id: str, run: int, dispatch: int = 0) -> OnboardingRequested:
        """The request for `run`'s `dispatch`-th dispatch, with the one id it always has
        (the dispatcher's claim and the dead-letter redrive rely on it)."""
        suffix = "requested" if dispatch == 0 else f"d{dispatch}"
        return cls(event_id=f"{job_id}-r{run}-{suffix}", job_id=job_id, run=run,
                   dispatch=dispatch)


class ProgressEvent(_Message):
    """One step the user hears about. `event_id` is deterministic (job, run, seq), so a
    retried job re-publishing a step yields the same id and the notifier's guard drops it."""

    run: int = Field(default=1, ge=1)
    seq: int = Field(ge=0)
    kind: ProgressKind
    wave: int = Field(default=0, ge=0, le=9)
    wave_name: str = ""
    image_index: int | None = None
    image_count: int | None = None
    payload: dict[str, str] = Field(default_factory=dict)

    @staticmethod
    def make_id(job_id: str, run: int, seq: int) -> str:
        return f"{job_id}-r{run}-{seq:05d}"


class BadEventError(ValueError):
    """A Pub/Sub message that can never be processed (acknowledge it, do not retry)."""


def encode(message: _Message) -> tuple[bytes, dict[str, str]]:
    data = message.model_dump_json().encode()
    attributes = {
        "eventId": message.event_id,
        "jobId": message.job_id,
        "schema": f"{type(message).__name__}/v{message.version}",
    }
    return data, attributes


def decode_pubsub_data[M: _Message](data: Mapping[str, Any] | None, model: type[M]) -> M:
    """Decode the `data` of a CloudEvent carrying a Pub/Sub message.

    Both forms arrive here as a dict with a `message` holding base64 `data`: Eventarc's
    (`{"message": {...}, "subscription": ...}`) and the emulator's push, which
    functions-framework converts to `{"message": {"data", "attributes", "messageId"}}`.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("message"), Mapping):
        raise BadEventError("not a Pub/Sub CloudEvent: no message")
    encoded = data["message"].get("data")
    if not isinstance(encoded, str) or not encoded:
        raise BadEventError("Pub/Sub message has no data")
    try:
        body = json.loads(base64.b64decode(encoded, validate=True))
        return model.model_validate(body)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise BadEventError(f"undecodable {model.__name__}: {type(exc).__name__}") from exc


def _publish_retry() -> Any:
    """The client's own publish retry grows its delay fourfold (0.1, 0.4, 1.6, 6.4, 25.6 s),
    so a Pub/Sub outage of a few seconds kept a user waiting half a minute after it ended.
    The same transient errors are retried here at most 2 s apart."""
    from google.api_core import exceptions as errors
    from google.api_core.retry import Retry, if_exception_type

    return Retry(initial=0.1, maximum=2.0, multiplier=2.0, timeout=600.0,
                 predicate=if_exception_type(
                     errors.Aborted, errors.Cancelled, errors.DeadlineExceeded,
                     errors.InternalServerError, errors.ResourceExhausted,
                     errors.ServiceUnavailable, errors.Unknown))


class EventPublisher:
    """Publishes our messages. Progress events carry the job id as ordering key, so the
    notifier sees one job's steps in order; batching latency is kept low because a user is
    waiting for each of them."""

    def __init__(self, project: str, requested_topic: str, progress_topic: str,
                 client: Any = None) -> None:
        if client is None:
            from google.cloud import pubsub_v1  # type: ignore[attr-defined]

            client = pubsub_v1.PublisherClient(
                batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.002),
                publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
            )
        self._client = client
        self._retry = _publish_retry()
        self._project = project
        self._requested = client.topic_path(project, requested_topic)
        self._progress = client.topic_path(project, progress_topic)

    def publish_requested(self, message: OnboardingRequested, timeout: float = 30.0) -> str:
        data, attributes = encode(message)
        return str(self._client.publish(self._requested, data, retry=self._retry,
                                        **attributes).result(timeout))

    def publish_dead_letter(self, topic: str, data: bytes, attributes: dict[str, str],
                            timeout: float = 30.0) -> str:
        """Put a message that cannot be processed on `{topic}-dead-letter`, unchanged."""
        path = self._client.topic_path(self._project, f"{topic}-dead-letter")
        return str(self._client.publish(path, data, retry=self._retry,
                                        **attributes).result(timeout))

    def publish_progress(self, event: ProgressEvent, timeout: float = 30.0) -> str:
        """Publish and wait: a step is only done once its message is durable in Pub/Sub."""
        data, attributes = encode(event)
        try:
            future = self._client.publish(self._progress, data, ordering_key=event.job_id,
                                          retry=self._retry, **attributes)
            return str(future.result(timeout))
        except Exception:
            # A failed ordered publish pauses the key; the caller's retry needs it resumed.
            self._client.resume_publish(self._progress, event.job_id)
            raise
