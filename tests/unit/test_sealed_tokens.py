"""Tokens sealed to a public key (decision 0012): the public half encrypts and cannot
decrypt; the job's private half opens v2 and, while the old key is set, v1."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from jiwa.crypto import TokenCipher
from jiwa.sealed_tokens import TokenOpener, TokenSealer, generate_keypair


def test_a_sealed_token_opens_only_with_the_private_key_and_its_job() -> None:
    private, public = generate_keypair()
    sealer = TokenSealer(public)
    sealed = sealer.encrypt("IGlong-secret", "job_1")
    assert sealed.startswith("v2:") and "IGlong" not in sealed
    assert sealed != sealer.encrypt("IGlong-secret", "job_1")  # a fresh key each time
    assert not hasattr(sealer, "decrypt")  # what the public callback holds cannot open
    assert TokenOpener(private).decrypt(sealed, "job_1") == "IGlong-secret"
    with pytest.raises(InvalidTag):
        TokenOpener(private).decrypt(sealed, "job_2")  # copied onto another job
    other, _ = generate_keypair()
    with pytest.raises(InvalidTag):
        TokenOpener(other).decrypt(sealed, "job_1")


def test_old_v1_tokens_stay_readable_while_their_key_is_set() -> None:
    private, _ = generate_keypair()
    old_key = TokenCipher.generate_key()
    v1 = TokenCipher(old_key).encrypt("IGold", "job_1")
    assert TokenOpener(private, TokenCipher(old_key)).decrypt(v1, "job_1") == "IGold"
    with pytest.raises(ValueError, match="TOKEN_ENCRYPTION_KEY"):
        TokenOpener(private).decrypt(v1, "job_1")  # after the migration's last step
    with pytest.raises(ValueError, match="TOKEN_PRIVATE_KEY"):
        TokenOpener()


def test_bad_keys_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="TOKEN_PUBLIC_KEY"):
        TokenSealer("short")
    with pytest.raises(ValueError, match="TOKEN_PRIVATE_KEY"):
        TokenOpener("short")
