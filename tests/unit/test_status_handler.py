"""jiwa.handlers.statuses.StatusHandler: a failed status that arrives before the notifier
has recorded the send is still answered."""

from __future__ import annotations

from typing import Any

from fakes import FakeJobStore, FakePubSub, FakeSendGuard

from jiwa.events import EventPublisher, ProgressEvent, ProgressKind
from jiwa.handlers.statuses import LATE_RECORD_SECONDS, StatusHandler
from jiwa.store import Job, Status
from jiwa.whatsapp import DeliveryStatus

JOB, EVENT = "job_late", "job_late-r1-00300"


class RecordLandingLate:
    """`DeliveryLog` whose record of the send lands only after the first look (the
    notifier's write after WhatsApp's answer, racing the status webhook)."""

    def __init__(self) -> None:
        self.looks = 0
        self.resends: set[str] = set()

    def record(self, status: DeliveryStatus) -> None:
        pass

    def get(self, wamid: str) -> dict[str, Any] | None:
        self.looks += 1
        return {"wamid": wamid} if self.looks == 1 else \
            {"wamid": wamid, "eventId": EVENT, "jobId": JOB}

    def claim_resend(self, wamid: str) -> bool:
        fresh = wamid not in self.resends
        self.resends.add(wamid)
        return fresh


def test_a_failure_reported_before_the_send_was_recorded_is_sent_again() -> None:
    store, pubsub, waits = FakeJobStore(), FakePubSub(), []
    store.put(Job(id=JOB, phone="6281100000001", status=Status.COMPLETED))
    event = ProgressEvent(event_id=EVENT, job_id=JOB, run=1, seq=300,
                          kind=ProgressKind.WAVE, wave=3, wave_name="brand")
    store.log_event(event)
    deliveries = RecordLandingLate()
    handler = StatusHandler(deliveries, store, FakeSendGuard(),  # type: ignore[arg-type]
                            EventPublisher("p", "req", "progress", client=pubsub),
                            wait=waits.append)
    handler.record([DeliveryStatus("wamid.late", "failed", 0, "6281100000001",
                                   ((131056, "pair rate limit hit"),))])
    assert waits == [LATE_RECORD_SECONDS] and deliveries.looks == 2
    [again] = pubsub.on("progress")
    assert again.body()["event_id"] == EVENT  # the transient failure is sent again
