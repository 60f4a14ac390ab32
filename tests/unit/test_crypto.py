from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidTag

from jiwa.crypto import InvalidStateError, StateSigner, TokenCipher, mask_phone

SECRET = "a-test-state-secret-of-some-length"


def test_state_round_trip_binds_job_and_phone() -> None:
    signer = StateSigner(SECRET, ttl_seconds=60)
    state = signer.verify(signer.issue("job_1", "6281234567890", now=1000), now=1030)
    assert state.job_id == "job_1"
    assert signer.matches_phone(state, "6281234567890")
    assert not signer.matches_phone(state, "6281234567891")


def test_expired_state_is_refused_but_identified() -> None:
    signer = StateSigner(SECRET, ttl_seconds=60)
    token = signer.issue("job_1", "62812", now=1000)
    with pytest.raises(InvalidStateError) as info:
        signer.verify(token, now=1061)
    assert info.value.reason == "expired"
    assert info.value.state is not None and info.value.state.job_id == "job_1"


@pytest.mark.parametrize("mutate", [
    lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # signature flipped
    lambda t: "x" + t,  # payload changed
    lambda t: t.split(".")[0],  # no signature
    lambda t: "",
    lambda t: "." * 5,
])
def test_forged_state_is_refused(mutate) -> None:
    signer = StateSigner(SECRET)
    with pytest.raises(InvalidStateError) as info:
        signer.verify(mutate(signer.issue("job_1", "62812")))
    assert info.value.state is None


def test_state_signed_with_another_secret_is_refused() -> None:
    other = StateSigner("another-secret-entirely-123").issue("job_1", "62812")
    with pytest.raises(InvalidStateError, match="bad-signature"):
        StateSigner(SECRET).verify(other)


def test_token_cipher_is_authenticated_and_bound_to_the_job() -> None:
    cipher = TokenCipher(TokenCipher.generate_key())
    sealed = cipher.encrypt("IGsecret-token", "job_1")
    assert "IGsecret" not in sealed and sealed.startswith("v1:")
    assert cipher.decrypt(sealed, "job_1") == "IGsecret-token"
    with pytest.raises(InvalidTag):
        cipher.decrypt(sealed, "job_2")
    with pytest.raises(InvalidTag):
        TokenCipher(TokenCipher.generate_key()).decrypt(sealed, "job_1")


def test_bad_keys_are_rejected_with_the_variable_name() -> None:
    with pytest.raises(ValueError, match="TOKEN_ENCRYPTION_KEY"):
        TokenCipher("short")
    with pytest.raises(ValueError, match="OAUTH_STATE_SECRET"):
        StateSigner("short")


def test_phone_masking_hides_the_middle() -> None:
    assert mask_phone("6281234567890") == "6281*******90"
