"""Names of the Pub/Sub resources; `emulator.sh`, the tests and `infra/` agree on these."""

from __future__ import annotations

from dataclasses import dataclass

RETENTION_SECONDS = 7 * 24 * 3600
MAX_DELIVERY_ATTEMPTS = 5  # our consumers dead-letter after this many failures
BACKSTOP_DELIVERY_ATTEMPTS = 10  # the subscription's own policy in production


@dataclass(frozen=True)
class PushRoute:
    topic: str
    subscription: str
    function: str
    ordered: bool
    ack_deadline_seconds: int

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}-dead-letter"

    @property
    def dead_letter_subscription(self) -> str:
        return f"{self.topic}-dead-letter-sub"

    @property
    def tap_subscription(self) -> str:
        return f"{self.topic}-tap"


def routes(requested_topic: str = "onboarding-requested",
           progress_topic: str = "onboarding-progress") -> list[PushRoute]:
    return [
        PushRoute(requested_topic, "dispatcher-push", "dispatcher", ordered=False,
                  ack_deadline_seconds=60),
        PushRoute(progress_topic, "notifier-push", "notifier", ordered=True,
                  ack_deadline_seconds=30),
    ]
