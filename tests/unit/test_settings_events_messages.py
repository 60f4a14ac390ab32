from __future__ import annotations

import base64
import json

import pytest

from jiwa.events import (
    BadEventError,
    EventPublisher,
    OnboardingRequested,
    ProgressEvent,
    ProgressKind,
    decode_pubsub_data,
    encode,
)
from jiwa.messages import detect_language, render
from jiwa.settings import MissingSettingError, Settings


def test_missing_required_setting_names_the_variable() -> None:
    with pytest.raises(MissingSettingError, match=r"GOOGLE_CLOUD_PROJECT.*WHATSAPP_APP_SECRET"):
        Settings.from_env({}, required=["project", "whatsapp_app_secret"])


def test_settings_read_and_coerce_the_environment() -> None:
    s = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "JIWA_JOB_MAX_ATTEMPTS": "3",
                           "JIWA_HEARTBEAT_SECONDS": "0.5", "CLOUD_RUN_JOB_NAME": "jiwa-job"})
    assert (s.project, s.job_max_attempts, s.heartbeat_seconds) == ("p", 3, 0.5)
    assert s.dispatches_to_cloud_run
    assert not Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p"}).dispatches_to_cloud_run


def _event(**kw) -> ProgressEvent:
    base = {"event_id": "job_1-r1-00100", "job_id": "job_1", "seq": 100,
            "kind": ProgressKind.WAVE, "wave": 1, "wave_name": "profile"}
    return ProgressEvent(**{**base, **kw})


def test_both_pubsub_forms_decode_to_the_same_event() -> None:
    event = _event()
    data, attributes = encode(event)
    b64 = base64.b64encode(data).decode()
    assert attributes["eventId"] == event.event_id
    eventarc = {"message": {"data": b64, "attributes": attributes, "messageId": "1",
                            "orderingKey": "job_1"}, "subscription": "projects/p/subscriptions/s"}
    emulator = {"message": {"@type": "type.googleapis.com/google.pubsub.v1.PubsubMessage",
                            "data": b64, "attributes": attributes, "messageId": "1"}}
    assert decode_pubsub_data(eventarc, ProgressEvent) == event
    assert decode_pubsub_data(emulator, ProgressEvent) == event


@pytest.mark.parametrize("data", [
    None, {}, {"message": {}}, {"message": {"data": ""}}, {"message": {"data": "!!notb64"}},
    {"message": {"data": base64.b64encode(b"not json").decode()}},
    {"message": {"data": base64.b64encode(json.dumps({"job_id": "x"}).encode()).decode()}},
    {"message": {"data": base64.b64encode(json.dumps(
        {"version": 2, "event_id": "e", "job_id": "j"}).encode()).decode()}},
])
def test_undecodable_messages_raise_bad_event(data) -> None:
    with pytest.raises(BadEventError):
        decode_pubsub_data(data, OnboardingRequested)


def test_event_ids_are_deterministic() -> None:
    assert ProgressEvent.make_id("job_1", 2, 805) == "job_1-r2-00805"


def test_every_kind_renders_in_both_languages() -> None:
    cases = [
        _event(kind=ProgressKind.ACCEPTED, payload={"handle": "kopi"}),
        _event(),
        _event(kind=ProgressKind.SUMMARY, wave=3, wave_name="brand", payload={"summary": "S"}),
        _event(kind=ProgressKind.IMAGE_PROGRESS, wave=8, image_index=3, image_count=6),
        _event(kind=ProgressKind.IMAGE_READY, wave=9, image_index=1, image_count=6,
               payload={"url": "https://x/1.png", "caption": "Kopi"}),
        _event(kind=ProgressKind.COMPLETED, payload={"images": "6"}),
        _event(kind=ProgressKind.FAILED, wave=8, wave_name="images",
               payload={"reason_en": "image service down", "reason_id": "layanan gambar mati"}),
    ]
    english = [render(e, "en").body for e in cases]
    indonesian = [render(e, "id").body for e in cases]
    assert english[3] == "Creating image 3 of 6…" and indonesian[3] == "Membuat gambar 3 dari 6…"
    assert render(cases[4], "en").image_url == "https://x/1.png"
    assert "image service down" in english[6] and "layanan gambar mati" in indonesian[6]
    assert all(e != i for e, i in zip(english, indonesian, strict=True))


def test_language_follows_the_command() -> None:
    assert detect_language("/register", "id") == "en"
    assert detect_language("/daftar", "en") == "id"
    assert detect_language("halo kak", "en") == "id"
    assert detect_language("???", "id") == "id"


class _RecordingPublisherClient:
    """Records what EventPublisher asks of the Pub/Sub client; fails when told to."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict] = []
        self.resumed: list[tuple[str, str]] = []
        self._error = error

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **kwargs):
        from concurrent.futures import Future

        self.calls.append({"topic": topic, **kwargs})
        future: Future[str] = Future()
        if self._error:
            future.set_exception(self._error)
        else:
            future.set_result("m-1")
        return future

    def resume_publish(self, topic: str, ordering_key: str) -> None:
        self.resumed.append((topic, ordering_key))


def test_publishes_retry_transient_errors_at_most_two_seconds_apart() -> None:
    from google.api_core import exceptions as errors

    client = _RecordingPublisherClient()
    publisher = EventPublisher("p", "requested", "progress", client=client)
    publisher.publish_requested(OnboardingRequested(event_id="e1", job_id="j"))
    publisher.publish_progress(ProgressEvent(event_id="e2", job_id="j", seq=0,
                                             kind=ProgressKind.ACCEPTED))
    publisher.publish_dead_letter("progress", b"{}", {"eventId": "e3"})
    assert [c["topic"] for c in client.calls] == ["projects/p/topics/requested",
                                                   "projects/p/topics/progress",
                                                   "projects/p/topics/progress-dead-letter"]
    for call in client.calls:
        retry = call["retry"]
        assert retry._maximum <= 2.0
        assert retry._predicate(errors.ServiceUnavailable("emulator down"))
        assert not retry._predicate(errors.NotFound("no such topic"))
    assert client.calls[1]["ordering_key"] == "j"


def test_a_failed_ordered_publish_resumes_its_key() -> None:
    client = _RecordingPublisherClient(error=RuntimeError("publish failed"))
    publisher = EventPublisher("p", "requested", "progress", client=client)
    with pytest.raises(RuntimeError):
        publisher.publish_progress(ProgressEvent(event_id="e", job_id="j", seq=0,
                                                 kind=ProgressKind.ACCEPTED))
    assert client.resumed == [("projects/p/topics/progress", "j")]
