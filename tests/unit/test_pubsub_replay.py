"""Seek-based replay: time parsing, the window, decoding (nothing dropped) and what goes
to a consumer (nothing sent twice without --force)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from jiwa.cli.pubsub import consumer_plan
from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind, encode
from jiwa.pubsub_replay import (
    REPLAY_TTL,
    Replayed,
    Window,
    decode,
    is_replay_subscription,
    parse_time,
    replay_subscription_id,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _progress(job: str, seq: int, at: datetime = T0, topic: str = "onboarding-progress",
              ) -> Replayed:
    event = ProgressEvent(event_id=ProgressEvent.make_id(job, 1, seq), job_id=job, seq=seq,
                          kind=ProgressKind.WAVE, wave=1)
    data, attributes = encode(event)
    return Replayed(topic, f"m-{job}-{seq}", at, data, attributes, ordering_key=job)


def _raw(data: bytes, topic: str = "onboarding-progress", message_id: str = "m-raw",
         **attributes: str) -> Replayed:
    return Replayed(topic, message_id, T0, data, dict(attributes))


def test_parse_time_iso_naive_utc_and_relative() -> None:
    assert parse_time("2026-11-28T12:00:00") == T0
    assert parse_time("2026-11-28T13:00:00+01:00") == T0
    assert parse_time("now", now=T0) == T0
    assert parse_time("now-90m", now=T0) == T0 - timedelta(minutes=90)
    assert parse_time("now-2d", now=T0) == T0 - timedelta(days=2)
    for bad in ("now+1h", "now-h", "now-3w", "yesterday"):
        with pytest.raises(ValueError):
            parse_time(bad, now=T0)


def test_window_is_half_open_and_filters_by_job() -> None:
    window = Window(T0, T0 + timedelta(minutes=10))
    assert window.covers(_progress("job_a", 1, T0))
    assert window.covers(_progress("job_a", 2, T0 + timedelta(minutes=9, seconds=59)))
    assert not window.covers(_progress("job_a", 3, T0 + timedelta(minutes=10)))
    assert not window.covers(_progress("job_a", 0, T0 - timedelta(microseconds=1)))
    only_b = Window(T0, T0 + timedelta(minutes=10), job_id="job_b")
    assert not only_b.covers(_progress("job_a", 1))
    assert only_b.covers(_progress("job_b", 1))
    # an undecodable message of job_b is still job_b's, by its attribute
    assert only_b.covers(_raw(b"\xff", jobId="job_b"))
    with pytest.raises(ValueError, match="empty window"):
        Window(T0, T0)


def test_decode_names_what_is_wrong_and_never_drops() -> None:
    ok = _progress("job_a", 4)
    event, problem = decode(ok)
    assert isinstance(event, ProgressEvent) and event.seq == 4 and problem == ""
    assert "seq=4" in ok.line() and ok.to_json()["event"]["seq"] == 4
    for data, why in ((b"\xff\xfe", "not UTF-8"), (b"{nope", "not JSON"),
                      (b'{"event_id": "x"}', "not a ProgressEvent")):
        message = _raw(data)
        event, problem = decode(message)
        assert event is None and why in problem
        assert "UNDECODABLE" in message.line() and why in message.line()
        assert message.to_json()["undecodable"] == problem and message.to_json()["data"]


def test_decode_picks_the_model_by_schema_then_topic() -> None:
    request = OnboardingRequested.for_run("job_a", 2)
    data, attributes = encode(request)
    assert isinstance(decode(_raw(data, **attributes))[0], OnboardingRequested)
    assert isinstance(decode(_raw(data, topic="onboarding-requested"))[0],
                      OnboardingRequested)
    # a dead-letter topic carries the original's attributes: the schema decides
    dead = _raw(data, topic="onboarding-requested-dead-letter", **attributes)
    assert "requested dispatch=0" in dead.line()


def test_replay_subscriptions_are_recognisable_and_expire_after_a_day() -> None:
    name = replay_subscription_id("onboarding-progress")
    assert is_replay_subscription(f"projects/p/subscriptions/{name}")
    assert not is_replay_subscription("projects/p/subscriptions/onboarding-progress-tap")
    assert name != replay_subscription_id("onboarding-progress")
    assert timedelta(days=1) == REPLAY_TTL  # Pub/Sub's minimum expiration TTL


def test_consumer_plan_skips_sent_duplicates_and_undecodable_unless_forced() -> None:
    a1, a2, a3 = _progress("job_a", 1), _progress("job_a", 2), _progress("job_a", 3)
    again = Replayed(a2.topic, "m-dup", a2.publish_time, a2.data, a2.attributes, "job_a")
    bad = _raw(b"{nope")
    data, attributes = encode(OnboardingRequested.for_run("job_a", 1))
    request = _raw(data, message_id="m-request", **attributes)
    status = {a1.event.event_id: "sent", a2.event.event_id: None,  # type: ignore[union-attr]
              a3.event.event_id: "held"}  # type: ignore[union-attr]
    chosen, skipped = consumer_plan([a1, a2, again, a3, bad, request], "notifier", status,
                                    force=False)
    assert [m.message_id for m, _ in chosen] == [a2.message_id]
    assert {s["message_id"]: s["why"] for s in skipped} == {
        a1.message_id: "already sent", "m-dup": "duplicate in window",
        a3.message_id: "already held", "m-raw": "undecodable",
        "m-request": "not a ProgressEvent"}
    forced, _ = consumer_plan([a1, a2, again, a3], "notifier", status, force=True)
    assert [m.message_id for m, _ in forced] == [a1.message_id, a2.message_id, a3.message_id]
    to_dispatcher, skipped = consumer_plan([a1, request], "dispatcher", {}, force=False)
    assert [type(e) for _, e in to_dispatcher] == [OnboardingRequested]
    assert skipped == [{"message_id": a1.message_id, "why": "not a OnboardingRequested"}]


class _FailingSubscriber:
    """Records the admin calls; every pull fails (the command dies mid-read)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def subscription_path(self, project: str, name: str) -> str:
        return f"projects/{project}/subscriptions/{name}"

    def topic_path(self, project: str, name: str) -> str:
        return f"projects/{project}/topics/{name}"

    def snapshot_path(self, project: str, name: str) -> str:
        return f"projects/{project}/snapshots/{name}"

    def __getattr__(self, method: str) -> Callable[..., None]:
        def call(request: dict, **_: object) -> None:
            self.calls.append((method, request))
            if method == "pull":
                raise RuntimeError("killed")
        return call


@pytest.mark.parametrize("via", ["new", "tap"])
def test_a_failed_read_still_cleans_up(via: str) -> None:
    from jiwa.pubsub_replay import SeekReplay

    fake = _FailingSubscriber()
    with pytest.raises(RuntimeError, match="killed"):
        SeekReplay("p", subscriber=fake).read("onboarding-progress",
                                              Window(T0, T0 + timedelta(hours=1)), via=via)
    names = [name for name, _ in fake.calls]
    if via == "new":
        created = fake.calls[0][1]
        assert names == ["create_subscription", "seek", "pull", "delete_subscription"]
        assert created["expiration_policy"] == {"ttl": REPLAY_TTL}
        assert fake.calls[-1][1] == {"subscription": created["name"]}
        assert fake.calls[1][1]["time"] == T0
    else:
        snapshot = fake.calls[0][1]["name"]
        assert names == ["create_snapshot", "seek", "pull", "seek", "delete_snapshot"]
        assert fake.calls[0][1]["subscription"].endswith("/onboarding-progress-tap")
        assert fake.calls[3][1]["snapshot"] == snapshot  # the tap put back as it was
        assert fake.calls[4][1] == {"snapshot": snapshot}
