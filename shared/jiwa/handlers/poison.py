"""Dead-lettering done by the consumer: after `max_attempts` failed deliveries of one
Pub/Sub message, publish it to the topic's dead-letter topic and acknowledge it.

Why not only the subscription's dead_letter_policy: the Pub/Sub emulator's push loop
crashes (NullPointerException) when it dead-letters a push message, so locally the policy
is left off; in production the policy stays on with more attempts, as a backstop for
deliveries that never reach this code (crash, timeout). See docs/decisions/0002.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from typing import Any

from google.cloud import firestore

from jiwa.dead_letter_reasons import describe_error, forwarded_attributes

log = logging.getLogger("jiwa.poison")


class ProviderBusyError(RuntimeError):
    """Raised by a consumer when a provider's quota says "not now" (Cloud Run's RunJob
    quota, WhatsApp's throughput): Pub/Sub's retry policy redelivers, backing off. It says
    nothing about the message, so the guard does not count it towards dead-lettering: a
    quota lasting longer than five quick redeliveries must not lose the message. (In
    production the subscription's own policy still counts every delivery: its 10
    attempts, 1 s to 60 s apart, span about 4 minutes.)"""


class PoisonGuard:
    def __init__(self, db: firestore.Client, publish: Callable[[bytes, dict[str, str]], Any],
                 *, subscription: str, max_attempts: int, project: str = "",
                 secrets: tuple[str, ...] = ()) -> None:
        self._col = db.collection("deliveries")
        self._publish, self._subscription = publish, subscription
        self._max, self._project, self._secrets = max_attempts, project, secrets

    def run(self, data: Mapping[str, Any] | None, handle: Callable[[Any], object]) -> None:
        try:
            handle(data)
        except ProviderBusyError:
            raise
        except Exception as exc:
            message = data.get("message") if isinstance(data, Mapping) else None
            message_id = message.get("messageId") if isinstance(message, Mapping) else None
            if not message_id or self._failed(str(message_id), exc) < self._max:
                raise
            assert isinstance(message, Mapping)
            original = {str(k): str(v) for k, v in (message.get("attributes") or {}).items()}
            # the attributes Pub/Sub's own forwarding adds, and the poison record's key
            self._publish(base64.b64decode(message.get("data") or ""), forwarded_attributes(
                original, message_id=str(message_id), subscription=self._subscription,
                project=self._project, attempts=self._max,
                publish_time=str(message.get("publishTime") or message.get("publish_time")
                                 or "")))
            log.error("dead-lettered message %s after %d failed deliveries", message_id,
                      self._max, exc_info=True,
                      extra={"event_id": original.get("eventId"), "outcome": "dead_lettered"})

    def _failed(self, message_id: str, exc: Exception) -> int:
        """Count one more failed delivery, keeping its error (what `jiwa dlq` and a replay
        of the dead-letter topic show); the count so far."""
        ref = self._col.document(f"{self._subscription}:{message_id}")
        ref.set({"failures": firestore.Increment(1), "updatedAt": firestore.SERVER_TIMESTAMP,
                 "lastError": describe_error(exc, self._secrets)}, merge=True)
        return int((ref.get().to_dict() or {}).get("failures", 0))
