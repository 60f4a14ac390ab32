"""Instagram login callback: verify the state, store the token, queue the job."""

from __future__ import annotations

import html
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from jiwa.crypto import InvalidStateError, LoginState, StateSigner, TokenCipher
from jiwa.events import EventPublisher, OnboardingRequested, ProgressEvent, ProgressKind
from jiwa.instagram import InstagramClient, InstagramError
from jiwa.messages import text
from jiwa.store import IllegalTransitionError, Job, JobStore, StateAlreadyUsedError, Status
from jiwa.whatsapp import WhatsAppClient, WhatsAppError

log = logging.getLogger("jiwa.oauth")

PAGES = {
    "connected": ("Instagram connected", "Return to WhatsApp: your onboarding has started."),
    "already": ("Already connected", "This login link was already used. Return to WhatsApp."),
    "denied": ("Login cancelled", "You cancelled the Instagram login. Send /daftar on "
                                  "WhatsApp to try again."),
    "expired": ("Link expired", "This login link has expired. Send /daftar on WhatsApp "
                                "for a new one."),
    "invalid": ("Invalid link", "This login link is not valid. Send /daftar on WhatsApp "
                                "for a new one."),
    "failed": ("Login failed", "We could not finish the Instagram login. We sent you a "
                               "message on WhatsApp."),
}


@dataclass(frozen=True)
class Page:
    status: int
    key: str

    def html(self) -> str:
        title, body = PAGES[self.key]
        return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
                f"</title><meta name='viewport' content='width=device-width'></head><body>"
                f"<h1>{html.escape(title)}</h1><p>{html.escape(body)}</p></body></html>")


class OAuthHandler:
    def __init__(self, *, store: JobStore, signer: StateSigner, cipher: TokenCipher,
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
        if job.status != Status.AWAITING_AUTH:
            return Page(409, "already")
        if args.get("error"):
            reason = str(args.get("error_reason") or args["error"])[:60]
            self._abandon(job, state, "login_denied", reason)
            return Page(200, "denied")
        try:
            token = self._instagram.exchange_code(args.get("code", ""))
            handle = str(self._instagram.profile(token).get("username") or "")
        except InstagramError as exc:
            log.warning("oauth: exchange failed: %s", exc, extra={"job_id": job.id})
            self._abandon(job, state, "login_failed", "Instagram error")
            return Page(502, "failed")
        try:
            queued = self._store.queue_after_login(
                job.id, state.nonce, instagram_token=self._cipher.encrypt(token, job.id),
                instagram_handle=handle)
        except (StateAlreadyUsedError, IllegalTransitionError):
            return Page(409, "already")
        self.announce(queued)
        log.info("oauth: job queued", extra={"job_id": job.id})
        return Page(200, "connected")

    def announce(self, job: Job) -> None:
        """Tell the user at once (first progress event), then ask for the run."""
        self._publisher.publish_progress(ProgressEvent(
            event_id=ProgressEvent.make_id(job.id, job.run, 0), job_id=job.id, run=job.run,
            seq=0, kind=ProgressKind.ACCEPTED, payload={"handle": job.instagram_handle or ""}))
        self._publisher.publish_requested(OnboardingRequested(
            event_id=f"{job.id}-r{job.run}-requested", job_id=job.id, run=job.run))

    def _abandon(self, job: Job, state: LoginState, code: str, reason: str) -> None:
        """A login that cannot finish: consume the state, fail the job, tell the user once."""
        if not self._store.consume_login_state(state.nonce, job.id):
            return
        try:
            self._store.fail(job.id, code, reason)
        except IllegalTransitionError:
            return
        try:
            self._whatsapp.send_text(job.phone, text("login_failed", job.language,
                                                     reason=reason))
        except WhatsAppError:
            log.exception("oauth: could not tell the user", extra={"job_id": job.id})
