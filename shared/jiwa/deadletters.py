"""Dead-lettered Pub/Sub messages: list them and put them back (redrive).

A push subscription moves a message to `{topic}-dead-letter` after the configured
attempts; `{topic}-dead-letter-sub` retains it. Peeking does not consume (the pulled
messages are handed straight back); redriving republishes to the original topic (with
the job id as ordering key for progress) and then acknowledges.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from jiwa.dead_letter_reasons import original_attributes
from jiwa.topology import PushRoute, routes


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    message_id: str
    ack_id: str
    data: bytes
    attributes: dict[str, str]
    publish_time: str

    @property
    def job_id(self) -> str:
        return self.attributes.get("jobId", "")


def route_for(topic: str) -> PushRoute:
    for route in routes():
        if route.topic == topic:
            return route
    raise ValueError(f"no push route for topic {topic!r}; known: "
                     + ", ".join(r.topic for r in routes()))


class DeadLetters:
    def __init__(self, project: str, subscriber: Any = None, publisher: Any = None) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        self._project = project
        self._subscriber = subscriber or pubsub_v1.SubscriberClient()
        # Redriven progress events keep their ordering key, so ordering must be on.
        self._publisher = publisher or pubsub_v1.PublisherClient(
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True))

    def peek(self, topic: str, max_messages: int = 100) -> list[DeadLetter]:
        letters = self._pull(topic, max_messages)
        if letters:
            self._subscriber.modify_ack_deadline(request={
                "subscription": self._path(topic), "ack_ids": [m.ack_id for m in letters],
                "ack_deadline_seconds": 0})
        return letters

    def redrive(self, topic: str, message_ids: set[str] | None = None,
                max_messages: int = 100) -> list[DeadLetter]:
        """Republish (all, or the named) dead letters of `topic`; returns what was sent."""
        letters = self._pull(topic, max_messages)
        chosen = [m for m in letters if message_ids is None or m.message_id in message_ids]
        others = [m for m in letters if m not in chosen]
        topic_path = self._publisher.topic_path(self._project, topic)
        ordered = route_for(topic).ordered
        for letter in chosen:
            extra = {"ordering_key": letter.job_id} if ordered and letter.job_id else {}
            # as first published: the dead-letter attributes stay with the dead letter
            self._publisher.publish(topic_path, letter.data, **extra,
                                    **original_attributes(letter.attributes)).result(30)
        if chosen:
            self._subscriber.acknowledge(request={"subscription": self._path(topic),
                                                  "ack_ids": [m.ack_id for m in chosen]})
        if others:
            self._subscriber.modify_ack_deadline(request={
                "subscription": self._path(topic), "ack_ids": [m.ack_id for m in others],
                "ack_deadline_seconds": 0})
        return chosen

    def _path(self, topic: str) -> str:
        return str(self._subscriber.subscription_path(
            self._project, route_for(topic).dead_letter_subscription))

    def _pull(self, topic: str, max_messages: int) -> list[DeadLetter]:
        from google.api_core import exceptions, retry

        # An empty subscription would hold a plain pull open until its deadline; an
        # operator listing it wants the answer now, so ask for an immediate one.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                response = self._subscriber.pull(
                    request={"subscription": self._path(topic),
                             "max_messages": max_messages, "return_immediately": True},
                    timeout=5, retry=retry.Retry(deadline=5))
        except (exceptions.DeadlineExceeded, exceptions.RetryError):
            return []
        return [DeadLetter(topic, r.message.message_id, r.ack_id, bytes(r.message.data),
                           dict(r.message.attributes), str(r.message.publish_time))
                for r in response.received_messages]
