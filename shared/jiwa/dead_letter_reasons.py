"""Why a message was dead-lettered, told wherever dead letters are read (`jiwa pubsub
replay` over a dead-letter topic, `jiwa dlq`).

Pub/Sub's own dead-letter forwarding adds four attributes to the forwarded message
(CloudPubSubDeadLetterSourceDeliveryCount, …SourceSubscription, …SourceSubscriptionProject,
…SourceTopicPublishTime: the attributes named in Pub/Sub's dead-letter documentation and
set the same way by client emulators). Our consumers dead-letter first (handlers/poison.py,
decision 0002) and add the same four, so both paths read alike, plus the source message
id, which names the poison record (`deliveries/{subscription}:{message id}`) holding the
consumer's last error. A message the subscription's policy forwarded has no such record:
its reason is in the consumer's logs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ATTEMPTS = "CloudPubSubDeadLetterSourceDeliveryCount"
SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"
PROJECT = "CloudPubSubDeadLetterSourceSubscriptionProject"
PUBLISHED = "CloudPubSubDeadLetterSourceTopicPublishTime"
SOURCE_MESSAGE = "jiwaDeadLetterSourceMessageId"  # ours: the poison record's key
ADDED = (ATTEMPTS, SUBSCRIPTION, PROJECT, PUBLISHED, SOURCE_MESSAGE)
ERROR_CHARS = 300


def forwarded_attributes(original: Mapping[str, str], *, message_id: str, subscription: str,
                         project: str, attempts: int, publish_time: str) -> dict[str, str]:
    """The attributes a dead-lettered copy carries: the original ones and the five above."""
    return {**original, ATTEMPTS: str(attempts), SUBSCRIPTION: subscription,
            PROJECT: project, PUBLISHED: publish_time, SOURCE_MESSAGE: message_id}


def original_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """The attributes as first published: what a redrive publishes again."""
    return {k: v for k, v in attributes.items() if k not in ADDED}


def describe_error(exc: BaseException, secrets: tuple[str, ...] = ()) -> str:
    """`Type: message` with the given secrets and any credential blanked as the logs blank
    them (jiwa/logs.py), cut to 300 characters: it is stored in Firestore."""
    from jiwa.logs import JsonFormatter

    return JsonFormatter(secrets=secrets).redact(f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]


@dataclass(frozen=True)
class DeathReason:
    attempts: int | None
    subscription: str
    last_error: str | None  # None: forwarded by the subscription's policy, or unknown

    def text(self) -> str:
        tries = f"after {self.attempts} deliveries" if self.attempts else "after its deliveries"
        error = self.last_error or "no poison record (forwarded by the subscription's own " \
                                   "policy: see the consumer's logs)"
        return f"died {tries} on {self.subscription or '?'}: {error}"

    def to_json(self) -> dict[str, Any]:
        return {"attempts": self.attempts, "subscription": self.subscription,
                "last_error": self.last_error}


def reason(attributes: Mapping[str, str],
           poison_record: Callable[[str], Mapping[str, Any] | None]) -> DeathReason | None:
    """Why the message with these attributes died, or None if it is no dead letter.
    `poison_record(key)` reads `deliveries/{key}`."""
    if ATTEMPTS not in attributes and SOURCE_MESSAGE not in attributes:
        return None
    subscription = attributes.get(SUBSCRIPTION, "")
    try:
        attempts: int | None = int(attributes.get(ATTEMPTS, ""))
    except ValueError:
        attempts = None
    record = None
    if attributes.get(SOURCE_MESSAGE) and subscription:
        record = poison_record(f"{subscription}:{attributes[SOURCE_MESSAGE]}")
    return DeathReason(attempts, subscription, (record or {}).get("lastError"))


def firestore_records(db: Any) -> Callable[[str], Mapping[str, Any] | None]:
    """`poison_record` over Firestore's `deliveries` collection (handlers/poison.py)."""
    def read(key: str) -> Mapping[str, Any] | None:
        snap = db.collection("deliveries").document(key).get()
        return snap.to_dict() if snap.exists else None
    return read
