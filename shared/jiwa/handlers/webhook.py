"""WhatsApp webhook: verify, authenticate, dedupe, and answer each text command."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jiwa import buttons
from jiwa.crypto import PhoneDigest, StateSigner, mask_phone
from jiwa.events import EventPublisher, OnboardingRequested
from jiwa.guards import Claim, RateLimiter, SendGuard
from jiwa.handlers.statuses import StatusHandler
from jiwa.handlers.taps import TapHandler
from jiwa.instagram import InstagramClient
from jiwa.messages import detect_language, text
from jiwa.store import Job, JobStore, Status, now
from jiwa.whatsapp import (
    MEDIA_KINDS,
    InboundText,
    WhatsAppClient,
    WhatsAppError,
    inbound_messages,
    inbound_statuses,
)

log = logging.getLogger("jiwa.webhook")

# Meta documents webhook payloads of up to 3 MB (WhatsApp Cloud API webhooks overview); a
# body we refuse is redelivered for days, so accept what Meta may send.
MAX_BODY_BYTES = 3 * 1024 * 1024
START_COMMANDS = {"/daftar", "daftar", "/register", "register"}
STATUS_COMMANDS = {"/status", "status"}


@dataclass(frozen=True)
class Reply:
    status: int
    body: str = "ok"


class WebhookHandler:
    def __init__(self, *, app_secret: str, verify_token: str, default_language: str,
                 store: JobStore, inbound: SendGuard, whatsapp: WhatsAppClient,
                 instagram: InstagramClient, signer: StateSigner,
                 limiter: RateLimiter, phones: PhoneDigest,
                 statuses: StatusHandler | None = None, taps: TapHandler | None = None,
                 new_jobs_per_minute: int | None = None,
                 standby_publisher: EventPublisher | None = None) -> None:
        self._secret = app_secret.encode()
        self._verify_token = verify_token
        self._default_language = default_language
        self._store, self._inbound = store, inbound
        self._whatsapp, self._instagram, self._signer = whatsapp, instagram, signer
        self._limiter, self._phones = limiter, phones
        self._statuses = statuses
        self._taps = taps  # reply buttons: retry a failure, show the calendar again
        self._new_jobs_per_minute = new_jobs_per_minute  # the global brake; None: none
        # given: each login link sent also starts the job's process (jiwa.standby)
        self._standby_publisher = standby_publisher

    def verify(self, args: Mapping[str, str]) -> Reply:
        """Meta's subscription handshake: echo the challenge only for our token."""
        token = args.get("hub.verify_token", "")
        if args.get("hub.mode") == "subscribe" and self._verify_token and hmac.compare_digest(
                token.encode(), self._verify_token.encode()):
            return Reply(200, args.get("hub.challenge", ""))
        return Reply(403, "forbidden")

    def receive(self, raw_body: bytes, signature: str | None) -> Reply:
        if len(raw_body) > MAX_BODY_BYTES:
            return Reply(413, "payload too large")
        if not signature:
            return Reply(401, "missing signature")
        expected = "sha256=" + hmac.new(self._secret, raw_body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.strip().encode(), expected.encode()):
            return Reply(403, "bad signature")
        try:
            envelope = json.loads(raw_body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return Reply(400, "malformed json")
        messages, skipped = inbound_messages(envelope)
        failed = 0
        replied: set[tuple[str, str]] = set()  # one POST's identical replies go out once
        for message in messages:
            if not self._handle_once(message, replied):
                failed += 1
        if self._statuses is not None:
            latest: dict[str, int] = {}  # each sender's newest message in this POST
            for m in messages:
                latest[m.sender] = max(latest.get(m.sender, 0), m.sent_at)
            for sender, sent in latest.items():  # the 24-hour window opens again
                self._statuses.inbound(
                    sender, datetime.fromtimestamp(sent, UTC) if sent else None)
        statuses = inbound_statuses(envelope) if self._statuses is not None else []
        if statuses:
            assert self._statuses is not None
            self._statuses.record(statuses)
        # A POST of statuses only (the most frequent by far) logs at debug: a line per
        # status would cost more than recording it. Failures log on their own.
        log.log(logging.INFO if messages or failed else logging.DEBUG,
                "webhook: %d text message(s), %d status(es), %d other item(s) ignored, "
                "%d to retry", len(messages), len(statuses), skipped - len(statuses), failed)
        # Non-2xx asks WhatsApp to redeliver; the inbound guard makes the redelivery safe.
        return Reply(503, "retry") if failed else Reply(200, "ok")

    def _handle_once(self, message: InboundText, replied: set[tuple[str, str]]) -> bool:
        claim = self._inbound.claim(message.message_id)
        if claim is Claim.DONE:
            return True
        if claim is Claim.BUSY:
            return False
        try:
            outcome = self._answer(message, replied)
        except WhatsAppError as exc:
            if exc.ours:  # our token: Meta redelivers for days, answered once it is fixed
                log.error("webhook: WhatsApp refused our credentials (code %s); asking for "
                          "redelivery", exc.code,
                          extra={"outcome": "whatsapp_failed", "code": str(exc.code)})
                self._inbound.release(message.message_id)
                return False
            if exc.retryable:
                log.warning("webhook: WhatsApp busy (%s); asking for redelivery", exc.code)
                self._inbound.release(message.message_id)
                return False
            # Permanent (undeliverable, a number outside test mode…): a redelivery would
            # meet the same error for days. Record it and acknowledge.
            log.error("webhook: WhatsApp refused the reply to %s (code %s)",
                      mask_phone(message.sender), exc.code)
            self._inbound.finish(message.message_id, status="rejected", outcome="rejected",
                                 code=str(exc.code))
            return True
        except Exception:
            log.exception("webhook: answering %s failed", mask_phone(message.sender))
            self._inbound.release(message.message_id)
            return False
        self._inbound.finish(message.message_id, outcome=outcome)
        return True

    def _send_status(self, to: str, job: Job) -> None:
        self._whatsapp.send_text(to, text("status", job.language, status=job.status,
                                          wave=job.current_wave))

    def _answer(self, message: InboundText, replied: set[tuple[str, str]]) -> str:
        command = " ".join(message.text.strip().lower().split())[:40]
        language = detect_language(message.text, self._default_language)
        to = message.sender
        allowed, tell = self._limiter.hit(self._phones(to))
        if not allowed:
            if tell:
                self._whatsapp.send_text(to, text("rate_limited", language))
            log.warning("webhook: rate limited %s", mask_phone(to))
            return "rate_limited"
        tap = buttons.parse(message.text) if self._taps is not None else None
        if tap is not None:
            assert self._taps is not None
            return self._taps.answer(to, tap, language)
        if command in START_COMMANDS:
            if self._braked(to):
                self._whatsapp.send_text(to, text("busy_new_jobs", language))
                log.warning("webhook: new-job brake: %d onboardings created in the last "
                            "minute", self._new_jobs_per_minute,
                            extra={"phone": mask_phone(to), "outcome": "braked"})
                return "braked"
            job, created = self._store.open_for_phone(to, language)
            if job.status == Status.AWAITING_AUTH:
                url = self._instagram.authorize_url(self._signer.issue(job.id, to))
                name = f" {message.name}" if message.name else ""
                self._whatsapp.send_link_button(
                    to, text("login_link", job.language, name=name),
                    text("login_button", job.language), url)
                log.info("webhook: login link sent", extra={"job_id": job.id,
                                                           "phone": mask_phone(to)})
                self._ask_for_standby(job.id)
                return "login_link" if created else "login_link_again"
            self._whatsapp.send_text(to, text("already_running", job.language,
                                              status=job.status, wave=job.current_wave))
            return "already_running"
        if message.kind in MEDIA_KINDS:
            # a photo, a voice note, a location…: say what we can do, or how far we are
            latest = self._store.latest_job_for(to)
            if latest is not None and latest.active:
                self._send_status(to, latest)
                return "media_status"
            return self._reply_once(to, "media_hint", language, replied)
        if command in STATUS_COMMANDS:
            latest = self._store.latest_job_for(to)
            if latest is None:
                self._whatsapp.send_text(to, text("status_none", language))
            else:
                self._send_status(to, latest)
            return "status"
        return self._reply_once(to, "help", language, replied)

    def _ask_for_standby(self, job_id: str) -> None:
        """Ask the dispatcher to start the job's process while the owner logs in. A
        speed-up only: if the request cannot be published, the run starts cold later."""
        if self._standby_publisher is None:
            return
        try:
            self._standby_publisher.publish_requested(OnboardingRequested.for_standby(job_id))
        except Exception:
            log.warning("webhook: standby not requested", exc_info=True,
                        extra={"job_id": job_id})

    def _braked(self, to: str) -> bool:
        """Whether a /daftar that would create an onboarding meets the global brake. A
        user whose onboarding is under way is answered as before. Counted, not reserved:
        requests in flight at the same moment may pass together, so the brake can be
        exceeded by the webhook's concurrency, never by a sustained flood."""
        if self._new_jobs_per_minute is None:
            return False
        # the count first: under the limit (nearly always) one aggregation is all it costs
        since = now() - timedelta(minutes=1)
        if self._store.count_created_since(since) < self._new_jobs_per_minute:
            return False
        latest = self._store.latest_job_for(to)
        return latest is None or not latest.active

    def _reply_once(self, to: str, key: str, language: str,
                    replied: set[tuple[str, str]]) -> str:
        """Text `key`, unless this POST already gave this user the same answer."""
        if (to, key) in replied:
            return f"{key}_already_sent"
        self._whatsapp.send_text(to, text(key, language))
        replied.add((to, key))
        return key
