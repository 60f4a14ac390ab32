"""Signed login state and encrypted tokens: the two secrets we hand out or keep."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def phone_digest(phone: str, key: str = "") -> str:
    """A stable, non-reversible stand-in for a phone number (logs, state binding)."""
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()[:16]


class PhoneDigest:
    """The document id for a phone number (`activePhones`, `conversations`, `rateLimits`,
    `pacing`): an HMAC keyed with the PHONE_DIGEST_KEY secret. Unkeyed, the id of a
    12-digit number is found by hashing every candidate: about a million a second."""

    def __init__(self, key: str) -> None:
        if len(key) < 16:
            raise ValueError("a phone digest key has at least 16 characters")
        self._key = key

    def __call__(self, phone: str) -> str:
        return phone_digest(phone, self._key)


def mask_phone(phone: str) -> str:
    return phone[:4] + "*" * max(len(phone) - 6, 0) + phone[-2:] if len(phone) > 6 else "***"


# A job id as the store makes them (jiwa.store.new_job_id), and safe as a document id.
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


class InvalidStateError(ValueError):
    """The login state is forged, malformed or expired. `reason` is safe to show."""

    def __init__(self, reason: str, state: LoginState | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state  # set when only the expiry failed: the signature was good


@dataclass(frozen=True)
class LoginState:
    job_id: str
    phone_digest: str
    nonce: str
    expires_at: int


class StateSigner:
    """HMAC-signed, expiring login state bound to one job and one phone.

    Single use is enforced by the store (the nonce is consumed once), not here.
    """

    def __init__(self, secret: str, ttl_seconds: int = 900) -> None:
        if len(secret) < 16:
            raise ValueError("OAUTH_STATE_SECRET must be at least 16 characters")
        self._key = secret.encode()
        self._ttl = ttl_seconds

    def issue(self, job_id: str, phone: str, now: float | None = None) -> str:
        issued = time.time() if now is None else now
        body = {
            "j": job_id,
            "p": phone_digest(phone, self._key.decode()),
            "n": secrets.token_urlsafe(12),
            "e": int(issued + self._ttl),
        }
        payload = _b64e(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def verify(self, state: str, now: float | None = None) -> LoginState:
        payload, _, signature = state.partition(".")
        if not payload or not signature or len(state) > 1024:
            raise InvalidStateError("malformed")
        # bytes, not str: compare_digest refuses non-ASCII text with a TypeError
        if not hmac.compare_digest(signature.encode("utf-8", "surrogatepass"),
                                   self._sign(payload).encode()):
            raise InvalidStateError("bad-signature")
        try:
            body = json.loads(_b64d(payload))
            expires = body["e"]
            if not isinstance(expires, int) or not _JOB_ID.fullmatch(str(body["j"])):
                raise ValueError("expiry or job id out of form")
            parsed = LoginState(str(body["j"]), str(body["p"]), str(body["n"]), expires)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            raise InvalidStateError("malformed") from exc
        if (time.time() if now is None else now) > parsed.expires_at:
            raise InvalidStateError("expired", parsed)
        return parsed

    def matches_phone(self, state: LoginState, phone: str) -> bool:
        return hmac.compare_digest(state.phone_digest, phone_digest(phone, self._key.decode()))

    def _sign(self, payload: str) -> str:
        raw = payload.encode("utf-8", "surrogatepass")
        return _b64e(hmac.new(self._key, raw, hashlib.sha256).digest())


class TokenCipher:
    """AES-256-GCM for tokens at rest; the job id is authenticated data, so a ciphertext
    copied onto another job's record does not decrypt."""

    PREFIX = "v1:"

    def __init__(self, key: str) -> None:
        try:
            raw = _b64d(key)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError("TOKEN_ENCRYPTION_KEY must be 32 bytes, base64url-encoded")
        self._aead = AESGCM(raw)

    @staticmethod
    def generate_key() -> str:
        return _b64e(os.urandom(32))

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return self.PREFIX + _b64e(nonce + sealed)

    def decrypt(self, token: str, context: str) -> str:
        if not token.startswith(self.PREFIX):
            raise ValueError("not an encrypted token")
        raw = _b64d(token[len(self.PREFIX):])
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
