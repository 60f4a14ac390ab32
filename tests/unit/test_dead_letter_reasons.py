"""Why a message died, from its dead-letter attributes and its poison record; the error
kept in Firestore carries no secret."""

from __future__ import annotations

from jiwa.dead_letter_reasons import (
    describe_error,
    forwarded_attributes,
    original_attributes,
    reason,
)

ORIGINAL = {"eventId": "job_1-1-0", "jobId": "job_1"}


def test_a_consumer_dead_letter_names_its_attempts_subscription_and_last_error() -> None:
    attributes = forwarded_attributes(ORIGINAL, message_id="m-7", subscription="notifier-push",
                                      project="p", attempts=5,
                                      publish_time="2026-11-28T10:00:00Z")
    assert original_attributes(attributes) == ORIGINAL  # what a redrive publishes
    records = {"notifier-push:m-7": {"failures": 5, "lastError": "KeyError: 'kind'"}}
    died = reason(attributes, records.get)
    assert died is not None
    assert died.text() == "died after 5 deliveries on notifier-push: KeyError: 'kind'"


def test_a_policy_forwarded_dead_letter_says_where_to_look() -> None:
    # Pub/Sub's own forwarding: its attributes, no poison record of ours
    attributes = {**ORIGINAL, "CloudPubSubDeadLetterSourceDeliveryCount": "10",
                  "CloudPubSubDeadLetterSourceSubscription": "dispatcher-push"}
    died = reason(attributes, lambda key: None)
    assert died is not None and died.attempts == 10 and died.last_error is None
    assert "see the consumer's logs" in died.text()
    assert reason(ORIGINAL, lambda key: None) is None  # no dead letter at all


def test_the_kept_error_is_cut_and_blanks_secrets_and_credentials() -> None:
    error = RuntimeError("GET https://graph.x/v26.0/me?access_token=EAAsecret failed "
                         "with app secret s3cr3t-value " + "x" * 500)
    kept = describe_error(error, ("s3cr3t-value",))
    assert kept.startswith("RuntimeError: GET https://graph.x/v26.0/me?access_token=[redacted]")
    assert "EAAsecret" not in kept and "s3cr3t-value" not in kept
    assert len(kept) == 300
