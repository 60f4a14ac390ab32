"""Drives the local stack as a WhatsApp user would, and reads what happened."""

from __future__ import annotations

import base64
import itertools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

import httpx
from google.cloud import firestore

from jiwa.dev.simulate import message_text, sign, webhook_body
from jiwa.dev.stack import StackState
from jiwa.events import EventPublisher
from jiwa.store import Job, JobStore, Status

T = TypeVar("T")
_phones = itertools.count(1)


def new_phone() -> str:
    """A phone number no other test uses (the job lock is per phone)."""
    return f"628{secrets.randbelow(10**6):06d}{next(_phones):04d}"


def wait_for(probe: Callable[[], T | None], timeout: float = 30.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(0.1)


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
        self.store = JobStore(self.db)

    # -- the user's side -------------------------------------------------------------
    def send_whatsapp(self, phone: str, text: str, wamid: str | None = None) -> httpx.Response:
        raw = json.dumps(webhook_body(phone, text, wamid)).encode()
        return self.post_webhook(raw, sign(self.env["WHATSAPP_APP_SECRET"], raw))

    def post_webhook(self, raw: bytes, signature: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return self.http.post(self.state.url("whatsapp_webhook") + "/", content=raw,
                              headers=headers)

    def conversation(self, phone: str) -> list[dict[str, Any]]:
        response = self.http.get(self.state.url("meta") + "/_standin/messages",
                                 params={"to": phone})
        return list(response.json())

    def texts(self, phone: str) -> list[str]:
        return [message_text(m) for m in self.conversation(phone)]

    def login_link(self, phone: str) -> str:
        def find() -> str | None:
            for m in reversed(self.conversation(phone)):
                if m["type"] == "interactive":
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
        return EventPublisher(self.state.project, "onboarding-requested",
                              "onboarding-progress")

    def send_status(self, event_id: str) -> str | None:
        """The notifier's send-guard status of an event."""
        snap = self.db.collection("notifications").document(event_id).get()
        return (snap.to_dict() or {}).get("status") if snap.exists else None

    def control(self, phone: str, **rules: Any) -> None:
        """Instructions for the test pipeline (tests/pipelines.py) for this phone's job."""
        self.db.collection("testControl").document(phone).set(rules)
