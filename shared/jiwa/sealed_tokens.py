"""Instagram tokens sealed to a public key: the public OAuth callback can encrypt a token
but can decrypt none; only the job, which holds the private key, opens them.

Format `v2:` + base64url(ephemeral X25519 public key (32) | nonce (12) | AES-256-GCM
ciphertext and tag). The AES key is HKDF-SHA256 over the X25519 shared secret, salted
with both public keys; the job id is the authenticated data, so a sealed token copied
onto another job's record does not open (as with `v1:`). This is the construction of a
"sealed box" (ECIES over X25519), built from `cryptography`'s primitives, which the
project already uses. Tokens sealed before the switch (`v1:`, AES-GCM under
TOKEN_ENCRYPTION_KEY) stay readable by the job while that key is set: decision 0012.
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jiwa.crypto import TokenCipher, _b64d, _b64e

PREFIX = "v2:"
_INFO = b"jiwa instagram token v2"
_RAW = serialization.Encoding.Raw


class Encrypts(Protocol):
    def encrypt(self, plaintext: str, context: str) -> str: ...


class Decrypts(Protocol):
    def decrypt(self, token: str, context: str) -> str: ...


def _raw_key(text: str, name: str) -> bytes:
    try:
        raw = _b64d(text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"{name} must be 32 bytes, base64url-encoded")
    return raw


def _aes_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient,
               info=_INFO).derive(shared)
    return AESGCM(key)


def generate_keypair() -> tuple[str, str]:
    """(private, public), each base64url: TOKEN_PRIVATE_KEY and TOKEN_PUBLIC_KEY."""
    private = X25519PrivateKey.generate()
    public = private.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
    secret = private.private_bytes(_RAW, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    return _b64e(secret), _b64e(public)


class TokenSealer:
    """Encrypt only: what the public OAuth callback holds."""

    def __init__(self, public_key: str) -> None:
        self._recipient = _raw_key(public_key, "TOKEN_PUBLIC_KEY")
        self._public = X25519PublicKey.from_public_bytes(self._recipient)

    def encrypt(self, plaintext: str, context: str) -> str:
        ephemeral = X25519PrivateKey.generate()
        mine = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        aead = _aes_key(ephemeral.exchange(self._public), mine, self._recipient)
        nonce = os.urandom(12)
        sealed = aead.encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + _b64e(mine + nonce + sealed)


class TokenOpener:
    """The job's side: opens `v2:` with the private key, and `v1:` with the old AES key
    while it is still set (the migration)."""

    def __init__(self, private_key: str = "", legacy: TokenCipher | None = None) -> None:
        if not private_key and legacy is None:
            raise ValueError("TOKEN_PRIVATE_KEY (or, for old tokens, TOKEN_ENCRYPTION_KEY) "
                             "is required to read Instagram tokens")
        self._private = (X25519PrivateKey.from_private_bytes(
            _raw_key(private_key, "TOKEN_PRIVATE_KEY")) if private_key else None)
        self._legacy = legacy

    def decrypt(self, token: str, context: str) -> str:
        if token.startswith(TokenCipher.PREFIX):
            if self._legacy is None:
                raise ValueError("a v1 token needs TOKEN_ENCRYPTION_KEY (decision 0012)")
            return self._legacy.decrypt(token, context)
        if not token.startswith(PREFIX) or self._private is None:
            raise ValueError("not a token this job can open")
        raw = _b64d(token[len(PREFIX):])
        ephemeral, nonce, sealed = raw[:32], raw[32:44], raw[44:]
        recipient = self._private.public_key().public_bytes(_RAW,
                                                            serialization.PublicFormat.Raw)
        shared = self._private.exchange(X25519PublicKey.from_public_bytes(ephemeral))
        return _aes_key(shared, ephemeral, recipient).decrypt(
            nonce, sealed, context.encode()).decode()
