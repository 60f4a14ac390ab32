"""Names of the Pub/Sub resources, and how many requests each function serves at once;
`emulator.sh`, the tests and `infra/` agree on these."""

from __future__ import annotations

from dataclasses import dataclass

RETENTION_SECONDS = 7 * 24 * 3600
MAX_DELIVERY_ATTEMPTS = 5  # our consumers dead-letter after this many failures
BACKSTOP_DELIVERY_ATTEMPTS = 10  # the subscription's own policy in production

# Requests one instance serves at once (infra: max_instance_request_concurrency, and
# THREADS for functions-framework's gunicorn; the local stack runs each function so).
# A 2nd-gen function serves ONE request at a time unless told otherwise, and concurrency
# above 1 needs at least 1 vCPU; for Python, THREADS should equal the concurrency (Cloud
# Run functions docs, "Concurrency", which suggest starting near 8). The webhook's status
# callbacks (about three per message sent) each wait on a Firestore commit, and
# concurrent ones share a commit (jiwa/group_commit.py), which a one-at-a-time instance
# never does: at 8 or fewer requests at once the commits stay small (bench delivery).
FUNCTION_CONCURRENCY = {"whatsapp_webhook": 32, "instagram_oauth": 8, "dispatcher": 8,
                        "notifier": 16, "sweeper": 1}


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
