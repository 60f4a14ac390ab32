"""Instagram login callback: verify the state, store the token, queue the job."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from jiwa.crypto import InvalidStateError, LoginState, StateSigner
from jiwa.events import EventPublisher, OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.instagram import InstagramClient, InstagramError
from jiwa.messages import LOGIN_FAILURES, login_page, text
from jiwa.sealed_tokens import Encrypts
from jiwa.store import IllegalTransitionError, Job, JobStore, StateAlreadyUsedError, Status
from jiwa.whatsapp import WhatsAppClient, WhatsAppError

log = logging.getLogger("jiwa.oauth")

@dataclass(frozen=True)
class Page:
    status: int
    key: str
    language: str | None = None  # None: the job is unknown, so both languages

    def html(self) -> str:
        parts = login_page(self.key, self.language)
        title = " / ".join(html.escape(t) for _, t, _ in parts)
        body = "".join(f"<section lang='{lang}'><h1>{html.escape(t)}</h1>"
                       f"<p>{html.escape(b)}</p></section>" for lang, t, b in parts)
        return (f"<!doctype html><html lang='{parts[0][0]}'><head><meta charset='utf-8'>"
                f"<title>{title}</title><meta name='viewport' content='width=device-width'>"
                f"</head><body>{body}</body></html>")


class OAuthHandler:
    def __init__(self, *, store: JobStore, signer: StateSigner, cipher: Encrypts,
                 instagram: InstagramClient, whatsapp: WhatsAppClient,
                 publisher: EventPublisher) -> None:
        self._store, self._signer, self._cipher = store, signer, cipher
        self._instagram, self._whatsapp, self._publisher = instagram, whatsapp, publisher

    def callback(self, args: Mapping[str, str]) -> Page:
        try:
            state = self._signer.verify(args.get("state", ""))
        except InvalidStateError as exc:
            if exc.state is not None:  # genuine but too old: close the job, tell the user
                job = self._store.get(exc.state.job_id)
                if job and self._signer.matches_phone(exc.state, job.phone):
                    self._abandon(job, exc.state, "login_expired", "link expired")
            log.warning("oauth: state refused (%s)", exc.reason)
            return Page(400, "expired" if exc.reason == "expired" else "invalid")
        job = self._store.get(state.job_id)
        if job is None or not self._signer.matches_phone(state, job.phone):
            log.warning("oauth: state does not match its job", extra={"job_id": state.job_id})
            return Page(403, "invalid")
        lang = job.language
        if job.status != Status.AWAITING_AUTH:
            return Page(409, "already", lang)
        if args.get("error"):
            reason = str(args.get("error_reason") or args["error"])[:60]
            self._abandon(job, state, "login_denied", f"Instagram: {reason}")
            return Page(200, "denied", lang)
        if not self._store.claim_login_exchange(state.nonce, job.id):
            log.info("oauth: a copy of a callback in progress", extra={"job_id": job.id})
            return Page(409, "already", lang)
        try:
            token = self._instagram.exchange_code(args.get("code", ""))
            handle = str(self._instagram.profile(token).get("username") or "")
        except InstagramError as exc:
            log.warning("oauth: exchange failed: %s", exc, extra={"job_id": job.id})
            self._abandon(job, state, "login_failed", f"Instagram: {exc}")
            return Page(502, "failed", lang)
        try:
            queued = self._store.queue_after_login(
                job.id, state.nonce, instagram_token=self._cipher.encrypt(token, job.id),
                instagram_handle=handle)
        except (StateAlreadyUsedError, IllegalTransitionError):
            return Page(409, "already", lang)
        self.announce(queued)
        log.info("oauth: job queued", extra={"job_id": job.id})
        return Page(200, "connected", lang)

    def announce(self, job: Job) -> None:
        """Tell the user at once (first progress event), then ask for the run. The event is
        logged like the job's own, so the timeline, replay and a re-send can find it."""
        accepted = ProgressEvent(
            event_id=ProgressEvent.make_id(job.id, job.run, 0), job_id=job.id, run=job.run,
            seq=0, kind=ProgressKind.ACCEPTED, payload={"handle": job.instagram_handle or ""})
        self._store.log_event(accepted)
        self._publisher.publish_progress(accepted)
        self._publisher.publish_requested(OnboardingRequested.for_run(job.id, job.run))

    def _abandon(self, job: Job, state: LoginState, code: str, detail: str) -> None:
        """A login that cannot finish: consume the state, fail the job (with `detail` for
        the operator), tell the user once (in their language, from LOGIN_FAILURES)."""
        if not self._store.consume_login_state(state.nonce, job.id):
            return
        try:
            # only a login still awaited: an old link must not end an onboarding under way
            self._store.fail(job.id, code, detail, expect={Status.AWAITING_AUTH})
        except IllegalTransitionError:
            return
        try:
            reason = LOGIN_FAILURES[code].get(job.language, LOGIN_FAILURES[code]["en"])
            self._whatsapp.send_text(job.phone, text("login_failed", job.language,
                                                     reason=reason))
        except WhatsAppError:
            log.exception("oauth: could not tell the user", extra={"job_id": job.id})
