"""What the `jiwa` command does, as plain methods returning data (the CLI renders it)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jiwa.admission_store import FirestoreAdmission
from jiwa.clients import Clients
from jiwa.dead_letter_reasons import firestore_records, reason
from jiwa.deadletters import DeadLetters
from jiwa.events import OnboardingRequested, ProgressEvent
from jiwa.messages import render
from jiwa.prices import cost
from jiwa.settings import SettingError, Settings
from jiwa.store import IllegalTransitionError, Job, Status
from jiwa.topology import routes
from jiwa.usage import job_total


class OperatorError(RuntimeError):
    """A refusal or bad argument, shown to the operator without a traceback."""


def job_row(job: Job) -> dict[str, Any]:
    doc = job.to_doc()
    doc.pop("instagramToken", None)  # never printed, even encrypted
    return doc


def _ignore(*_: Any) -> None:
    """The default progress callback: nobody is watching."""


class Operations:
    def __init__(self, clients: Clients) -> None:
        self._clients = clients
        self.store = clients.store

    @property
    def settings(self) -> Settings:
        return self._clients.settings

    @property
    def firestore(self) -> Any:
        return self._clients.firestore

    @classmethod
    def from_env(cls) -> Operations:
        try:
            return cls(Clients(Settings.from_env(required=["project"])))
        except SettingError as exc:
            raise OperatorError(str(exc)) from None

    def _job(self, job_id: str) -> Job:
        job = self.store.get(job_id)
        if job is None:
            raise OperatorError(f"no job {job_id}")
        return job

    # -- jobs ------------------------------------------------------------------------
    def list_jobs(self, status: str | None, phone: str | None,
                  limit: int) -> list[dict[str, Any]]:
        if phone and not self._clients.settings.phone_digest_key:
            raise OperatorError("--phone needs PHONE_DIGEST_KEY (the secret phone-digest-key): "
                                "jobs are found by a keyed digest of the number")
        if phone:
            latest = self.store.latest_job_for(phone)
            jobs = [latest] if latest and (not status or latest.status == status) else []
        else:
            try:
                wanted = Status(status) if status else None
            except ValueError:
                raise OperatorError(f"unknown status {status}; one of "
                                    + ", ".join(s.value for s in Status)) from None
            jobs = self.store.list_jobs(wanted, limit)
        rows = [job_row(j) for j in jobs]
        # A QUEUED job may wait in admission's line: its place, 1 = next to start. Read
        # from the line's documents, whatever this shell's JIWA_ADMISSION_* say.
        line = FirestoreAdmission(self._clients.firestore) \
            if any(j.status == Status.QUEUED for j in jobs) else None
        for row, job in zip(rows, jobs, strict=True):
            if line is not None and job.status == Status.QUEUED:
                row["queuePosition"] = line.position(job.id) or None
        return rows

    def show_job(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        messages = [{"wamid": d.get("wamid"), "eventId": d.get("eventId"),
                     "kind": d.get("kind"), "status": d["status"],
                     "error": (d.get("error") or {}).get("code")}
                    for d in self._clients.deliveries.for_job(job_id)]
        # our copy of each kept image in Cloud Storage (issue #18), fal's url before that
        images = [{"index": i, "object": r.get("object"), "bucket": r.get("bucket"),
                   "size": r.get("size"), "sha256": r.get("sha256"), "passed": r.get("passed"),
                   "url": None if r.get("object") else r.get("url")}
                  for i, r in sorted(self.store.images(job_id).items())]
        return {"job": job_row(job), "timeline": self.store.wave_timeline(job_id),
                "events": self.store.events(job_id), "messages": messages, "images": images,
                "usage": usage_summary(job.extra.get("usage")),
                # the process started at /daftar, if any (jiwa.standby): handed the run,
                # or why it ended
                "standby": {k: v for k, v in (job.extra.get("standby") or {}).items()
                            if k in ("state", "execution", "why")} or None}

    def download_images(self, job_id: str, folder: Path) -> list[dict[str, Any]]:
        """Each kept image of the job, from our Cloud Storage object, checked against the
        SHA-256 its record keeps, saved as image-{i}.{ext} in `folder`."""
        records = [(i, r) for i, r in sorted(self.store.images(self._job(job_id).id).items())
                   if r.get("object")]
        if not records:
            raise OperatorError(f"job {job_id} has no image in Cloud Storage")
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for index, record in records:
            data = self._clients.image_bucket(record["bucket"]).get(record["object"])
            if hashlib.sha256(data).hexdigest() != record.get("sha256"):
                raise OperatorError(f"image {index} of {job_id}: the stored object does not "
                                    "match its recorded checksum")
            path = folder / f"image-{index}{Path(record['object']).suffix}"
            path.write_bytes(data)
            saved.append({"index": index, "path": str(path), "size": len(data)})
        return saved

    # -- events ----------------------------------------------------------------------
    def tail(self, job_id: str | None, count: int, timeout: float,
             on_undecodable: Callable[[str, str], None] = _ignore,
             ) -> Iterator[dict[str, Any]]:
        """Progress events from the tap subscription (acknowledged there only). A message
        that is no progress event (the tap gets everything published to the topic, poison
        included) is passed to `on_undecodable` (its message id, why) and skipped, unless
        its jobId attribute names another job than `job_id`."""
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]

        s = self._clients.settings
        subscriber = pubsub_v1.SubscriberClient()
        path = subscriber.subscription_path(s.project, f"{s.progress_topic}-tap")
        seen, deadline = 0, time.monotonic() + timeout if timeout else float("inf")
        while time.monotonic() < deadline and (not count or seen < count):
            response = subscriber.pull(request={"subscription": path, "max_messages": 50},
                                       timeout=min(10.0, max(deadline - time.monotonic(), 1)))
            if response.received_messages:
                subscriber.acknowledge(request={"subscription": path, "ack_ids": [
                    m.ack_id for m in response.received_messages]})
            for received in response.received_messages:
                message = received.message
                try:
                    event = ProgressEvent.model_validate_json(message.data)
                except ValidationError as exc:
                    if not job_id or message.attributes.get("jobId") in (None, job_id):
                        on_undecodable(message.message_id, f"not a ProgressEvent "
                                       f"({exc.errors()[0]['type']})")
                    continue
                if job_id and event.job_id != job_id:
                    continue
                seen += 1
                yield event.model_dump(mode="json")
                if count and seen >= count:
                    return

    # -- replay ----------------------------------------------------------------------
    def replay(self, job_id: str, *, since: str | None, to: str, dry_run: bool,
               force: bool, on_published: Callable[[int, int], None] = _ignore,
               ) -> dict[str, Any]:
        """The job's events from its log, as the user received them; to the notifier only
        when asked (its send guard still drops what was sent, unless `force`)."""
        job = self._job(job_id)
        events = [ProgressEvent.model_validate(e) for e in self.store.events(job_id)]
        if since:
            cutoff = datetime.fromisoformat(since)
            events = [e for e in events if e.created_at >= cutoff]
        conversation = []
        for e in events:
            out = render(e, job.language)
            conversation.append(f"[{e.created_at:%H:%M:%S}] "
                                + ("[image] " if out.image_url else "") + out.body)
        republished = 0
        if to == "notifier" and not dry_run:
            guards = self._clients.firestore.collection("notifications")
            for e in events:
                if force:
                    guards.document(e.event_id).delete()
                self._clients.publisher.publish_progress(e)
                republished += 1
                on_published(republished, len(events))
        return {"job_id": job_id, "to": to, "dry_run": dry_run, "events": len(events),
                "republished": republished, "conversation": conversation}

    # -- rerun -----------------------------------------------------------------------
    def rerun(self, job_id: str, from_wave: int) -> dict[str, Any]:
        job = self._job(job_id)
        if job.active:
            raise OperatorError(f"job {job_id} is {job.status}; rerun only a finished job")
        try:
            queued = self.store.rerun_from(job_id, from_wave)
        except IllegalTransitionError as exc:
            raise OperatorError(str(exc)) from None
        self._clients.publisher.publish_requested(
            OnboardingRequested.for_run(job_id, queued.run))
        return {"job_id": job_id, "run": queued.run, "from_wave": from_wave,
                "status": str(queued.status)}

    def wait(self, job_id: str, timeout: float,
             on_update: Callable[[Job, int], None] = _ignore) -> Job:
        """Follow a job until it is COMPLETED or FAILED, telling `on_update` the job and how
        many of its waves have finished."""
        deadline = time.monotonic() + timeout
        while True:
            job = self._job(job_id)
            on_update(job, len(self.store.checkpoints(job_id)))
            if not job.active:
                return job
            if time.monotonic() > deadline:
                raise OperatorError(f"job {job_id} is still {job.status} after {timeout:.0f}s")
            time.sleep(0.5)

    # -- dead letters ----------------------------------------------------------------
    def dead_letters(self, action: str, topic: str,
                     message_ids: set[str] | None) -> list[dict[str, Any]]:
        if topic not in {r.topic for r in routes()}:
            raise OperatorError(f"unknown topic {topic}")
        letters = DeadLetters(self._clients.settings.project)
        if action == "redrive":
            chosen = letters.redrive(topic, message_ids)
        else:
            chosen = [m for m in letters.peek(topic)
                      if message_ids is None or m.message_id in message_ids]
        records = firestore_records(self._clients.firestore)
        rows = []
        for m in chosen:
            died = reason(m.attributes, records)
            rows.append({"message_id": m.message_id, "job_id": m.job_id,
                         "event_id": m.attributes.get("eventId", ""),
                         "publish_time": m.publish_time,
                         "reason": died.text() if died else None,
                         **({"data": m.data.decode(errors="replace"),
                             "attributes": m.attributes} if action == "show" else {})})
        return rows



def usage_summary(entries: dict[str, Any] | None) -> dict[str, Any]:
    """The job's counts over every run and attempt (jiwa/usage.py), and their list-price
    cost with and without prompt caching (jiwa/prices.py)."""
    total = job_total(entries)
    spent = cost(total)
    return {"claude": {m: asdict(t) for m, t in sorted(total.claude.items())},
            "images": dict(sorted(total.images.items())),
            "cost_usd": round(spent.total, 6),
            "claude_usd": round(spent.claude, 6), "images_usd": round(spent.images, 6),
            "cost_without_cache_usd": round(spent.total_without_cache, 6),
            "unpriced": list(spent.unpriced)}
