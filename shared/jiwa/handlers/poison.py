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

log = logging.getLogger("jiwa.poison")


class PoisonGuard:
    def __init__(self, db: firestore.Client, publish: Callable[[bytes, dict[str, str]], Any],
                 *, subscription: str, max_attempts: int) -> None:
        self._col = db.collection("deliveries")
        self._publish, self._subscription = publish, subscription
        self._max = max_attempts

    def run(self, data: Mapping[str, Any] | None, handle: Callable[[Any], object]) -> None:
        try:
            handle(data)
        except Exception:
            message = data.get("message") if isinstance(data, Mapping) else None
            message_id = message.get("messageId") if isinstance(message, Mapping) else None
            if not message_id or self._failures(str(message_id)) < self._max:
                raise
            assert isinstance(message, Mapping)
            self._publish(base64.b64decode(message.get("data") or ""),
                          {str(k): str(v) for k, v in (message.get("attributes") or {}).items()})
            log.error("dead-lettered message %s after %d failed deliveries", message_id,
                      self._max, exc_info=True,
                      extra={"event_id": (message.get("attributes") or {}).get("eventId"),
                             "outcome": "dead_lettered"})

    def _failures(self, message_id: str) -> int:
        ref = self._col.document(f"{self._subscription}:{message_id}")
        ref.set({"failures": firestore.Increment(1), "updatedAt": firestore.SERVER_TIMESTAMP},
                merge=True)
        return int((ref.get().to_dict() or {}).get("failures", 0))
