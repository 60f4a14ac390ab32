"""Drives the local stack as a WhatsApp user would, and reads what happened."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from google.cloud import firestore

from jiwa.crypto import PhoneDigest
from jiwa.dev.simulate import message_text, sign, tap_body, webhook_body
from jiwa.dev.stack import StackState
from jiwa.events import EventPublisher, ProgressEvent, ProgressKind
from jiwa.guards import document_id
from jiwa.store import Job, JobStore, Status

_phones = itertools.count(1)
TERMINAL = ("COMPLETED", "FAILED")
# A send record in one of these states is final: the notifier never sends its event again.
SENT = ("sent", "rejected")
# The title of the barrier events (Harness.barrier): what the user would read first. The
# harness leaves those messages out of the conversations it reads.
BARRIER = "test-barrier"


def new_phone() -> str:
    """A phone number no other test uses (the job lock is per phone)."""
    return f"628{secrets.randbelow(10**6):06d}{next(_phones):04d}"


def parent_pid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(") ", 1)[1].split()[1])


def wait_for[T](probe: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(0.1)


def _is_barrier(message: dict[str, Any]) -> bool:
    return message_text(message).startswith(BARRIER + "\n")


def process_running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, or no process, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return False


def push_envelope(data: dict[str, Any], attributes: dict[str, str] | None = None) -> dict:
    """The body a Pub/Sub push subscription posts (the emulator's form)."""
    return {"message": {"data": base64.b64encode(json.dumps(data).encode()).decode(),
                        "attributes": attributes or {}, "messageId": secrets.token_hex(6),
                        "publishTime": "2026-11-28T00:00:00Z"},
            "subscription": "projects/p/subscriptions/s"}


class Harness:
    def __init__(self, state: StackState) -> None:
        self.state = state
        self.env = state.env
        self.http = httpx.Client(timeout=30.0)
        self.db = firestore.Client(project=state.project)
        self.phones = PhoneDigest(self.env["PHONE_DIGEST_KEY"])  # the stack's key
        self.store = JobStore(self.db, phones=self.phones)
        self._publisher: EventPublisher | None = None

    # -- the user's side -------------------------------------------------------------
    def send_whatsapp(self, phone: str, text: str, wamid: str | None = None) -> httpx.Response:
        raw = json.dumps(webhook_body(phone, text, wamid)).encode()
        return self.post_webhook(raw, sign(self.env["WHATSAPP_APP_SECRET"], raw))

    def tap(self, phone: str, button_id: str) -> httpx.Response:
        """The user taps one of our reply buttons (an interactive `button_reply`)."""
        raw = json.dumps(tap_body(phone, button_id)).encode()
        return self.post_webhook(raw, sign(self.env["WHATSAPP_APP_SECRET"], raw))

    def buttons(self, phone: str) -> list[str]:
        """The reply button ids under the last message that had any."""
        for m in reversed(self.conversation(phone)):
            if m["type"] == "interactive" and m["body"]["interactive"]["type"] == "button":
                return [b["reply"]["id"] for b in m["body"]["interactive"]["action"]["buttons"]]
        return []

    def post_webhook(self, raw: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return self.http.post(self.state.url("whatsapp_webhook") + "/", content=raw,
                              headers=headers)

    def conversation(self, phone: str) -> list[dict[str, Any]]:
        """What the WhatsApp stand-in delivered to `phone`, without barrier messages."""
        response = self.http.get(self.state.url("meta") + "/_standin/messages",
                                 params={"to": phone})
        return [m for m in response.json() if not _is_barrier(m)]

    def texts(self, phone: str) -> list[str]:
        """What reached the user's phone: a message WhatsApp accepted and then reported
        failed (the stand-in's `failedWith`) never arrived."""
        return [message_text(m) for m in self.conversation(phone) if "failedWith" not in m]

    def refusals(self) -> list[dict[str, Any]]:
        """Sends the WhatsApp stand-in refused under an enforced limit (the pair rate)."""
        return list(self.http.get(self.state.url("meta") + "/_standin/refusals").json())

    def login_link(self, phone: str) -> str:
        def find() -> str | None:
            for m in reversed(self.conversation(phone)):
                if m["type"] == "interactive" and m["body"]["interactive"]["type"] == "cta_url":
                    return str(m["body"]["interactive"]["action"]["parameters"]["url"])
            return None
        return wait_for(find, 10, "the login link")

    def follow_login(self, link: str) -> httpx.Response:
        """The user taps the link; the stand-in approves and redirects to our callback."""
        return self.http.get(link, follow_redirects=True)

    def standin_faults(self, **faults: Any) -> None:
        self.http.post(self.state.url("meta") + "/_standin/faults", json=faults)

    # -- what the system recorded ----------------------------------------------------
    def job_for(self, phone: str) -> Job:
        return wait_for(lambda: self.store.latest_job_for(phone), 10, f"a job for {phone}")

    def wait_status(self, job_id: str, *statuses: str, timeout: float = 60.0) -> Job:
        def probe() -> Job | None:
            job = self.store.get(job_id)
            return job if job and job.status in statuses else None
        return wait_for(probe, timeout, f"job {job_id} to reach {statuses}")

    def job_processes(self, job_id: str) -> list[dict[str, Any]]:
        query = self.db.collection("testRuns").where(
            filter=firestore.FieldFilter("jobId", "==", job_id))
        return [d.to_dict() for d in query.stream()]

    def queued_job(self, phone: str, language: str = "en") -> Job:
        """A job that has passed the login, made directly in the store."""
        job, _ = self.store.open_for_phone(phone, language)
        return self.store.transition(job.id, Status.QUEUED, instagram_handle="kopisenja.id")

    def publisher(self) -> EventPublisher:
        if self._publisher is None:
            self._publisher = EventPublisher(self.state.project, "onboarding-requested",
                                             "onboarding-progress")
        return self._publisher

    def send_status(self, event_id: str) -> str | None:
        """The notifier's send-guard status of an event."""
        snap = self.db.collection("notifications").document(document_id(event_id)).get()
        return (snap.to_dict() or {}).get("status") if snap.exists else None

    def statuses(self, collection: str, ids: Iterable[str]) -> dict[str, str | None]:
        """The guard status of many records at once (`notifications` for events sent,
        `inboundMessages` for webhook messages answered); None where there is no record."""
        refs = {i: self.db.collection(collection).document(document_id(i)) for i in ids}
        found = {snap.id: (snap.to_dict() or {}).get("status")
                 for snap in self.db.get_all(list(refs.values())) if snap.exists}
        return {i: found.get(ref.id) for i, ref in refs.items()}

    def dispatcher_outcomes(self, event_id: str) -> list[str]:
        """What the dispatcher did with each delivery of request `event_id` so far
        ("dispatcher: launched …" or "dispatcher: already dispatched …"), from its log:
        it logs one of those lines per delivery it has handled."""
        log = Path(self.state.log_dir) / "dispatcher.log"
        outcomes = []
        for line in log.read_text(errors="replace").splitlines():
            if event_id in line and line.startswith("{"):
                entry = json.loads(line)
                if entry.get("logger") == "jiwa.dispatcher" and \
                        entry.get("eventId") == event_id:
                    outcomes.append(str(entry["message"]))
        return outcomes

    # -- barriers: proof that the system has finished, instead of a pause ------------
    def barrier(self, job_id: str, timeout: float = 60.0) -> None:
        """Returns once the notifier has handled every progress event published for
        `job_id` before this call, redeliveries and duplicates included.

        It publishes a barrier event on the job's ordering key and waits for its send
        record. The ordered push subscription hands the notifier one message of a key at a
        time, in publish order, and redelivers a failed one before any later one
        (DESIGN.md), so the barrier's turn comes after all of them. Its message reaches
        the stand-in but is left out of `conversation`."""
        event = ProgressEvent(event_id=f"{job_id}-barrier-{secrets.token_hex(4)}",
                              job_id=job_id, seq=0, kind=ProgressKind.SUMMARY,
                              wave_name=BARRIER, payload={"summary": "nothing follows"})
        self.publisher().publish_progress(event)
        wait_for(lambda: self.send_status(event.event_id) in SENT, timeout,
                 f"the barrier event of {job_id}")

    def settle(self, job_id: str, timeout: float = 60.0) -> Job:
        """Returns once nothing more can reach the user about `job_id`: the job is
        COMPLETED or FAILED, every process that ran it has exited (none is left to
        publish), and every event published for it has been handled (`barrier`).

        The sweeper publishes its failure event after it marks a job FAILED, so call this
        once the scenario's last message has arrived (`final_texts`)."""
        job = self.wait_status(job_id, *TERMINAL, timeout=timeout)
        wait_for(lambda: not any(process_running(int(p["pid"]))
                                 for p in self.job_processes(job_id)) or None,
                 timeout, f"every process of {job_id} to exit")
        self.barrier(job_id, timeout)
        return job

    def final_texts(self, job_id: str, phone: str, last: str | tuple[str, ...],
                    timeout: float = 60.0) -> list[str]:
        """The whole conversation, once the scenario's last message (starting with `last`)
        has arrived and the job has settled: anything sent twice, or late, is in it."""
        wait_for(lambda: any(t.startswith(last) for t in self.texts(phone)), timeout,
                 f"a message starting with {last!r}")
        self.settle(job_id, timeout)
        return self.texts(phone)

    def control(self, phone: str, **rules: Any) -> None:
        """Instructions for the test pipeline (tests/pipelines.py) for this phone's job."""
        self.db.collection("testControl").document(phone).set(rules)
