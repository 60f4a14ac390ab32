"""Inputs that used to answer 500 (and so were redelivered) now get a clear 4xx."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import pytest

from jiwa.crypto import InvalidStateError, StateSigner
from jiwa.guards import document_id
from jiwa.handlers.webhook import MAX_BODY_BYTES, WebhookHandler

SECRET = "a-state-secret-of-some-length"
VALID_ID = re.compile(r"^(?!\.\.?$)(?!__.*__$)[^/]{1,1500}$")


def _signed_state(body: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).digest()).rstrip(b"=")
    return f"{payload}.{signature.decode()}"


def test_a_non_ascii_state_is_refused_not_a_crash() -> None:
    with pytest.raises(InvalidStateError):
        StateSigner(SECRET).verify("ééé.ççç")
    with pytest.raises(InvalidStateError):
        StateSigner(SECRET).verify("abc.\udcff")


@pytest.mark.parametrize("body", [
    {"j": "job_1", "p": "x", "n": "n", "e": 1e400},
    {"j": "job_1", "p": "x", "n": "n", "e": "soon"},
    {"j": "a/b", "p": "x", "n": "n", "e": 2**40},
    {"j": "..", "p": "x", "n": "n", "e": 2**40},
    {"j": "", "p": "x", "n": "n", "e": 2**40},
])
def test_a_signed_state_out_of_form_is_malformed(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidStateError) as refused:
        StateSigner(SECRET).verify(_signed_state(body), now=0)
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize("external", ["a/b", ".", "..", "__x__", "x" * 1600, "wamid.é/ü"])
def test_external_ids_become_valid_document_ids(external: str) -> None:
    made = document_id(external)
    assert VALID_ID.match(made) and len(made.encode()) <= 1500
    assert made == document_id(external)  # the same id every time: the guard still works
    assert made != document_id(external + "x")


def test_plain_ids_stay_readable() -> None:
    assert document_id("wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA=") == \
        "wamid.HBgNNjI4MTIzNDU2Nzg5MBUCABIYFjNFQjA="
    assert document_id("job_0011-r1-00100") == "job_0011-r1-00100"


def _handler() -> WebhookHandler:
    return WebhookHandler(app_secret="app-secret", verify_token="v", default_language="id",
                          store=None, inbound=None, whatsapp=None,  # type: ignore[arg-type]
                          instagram=None, signer=None, limiter=None,  # type: ignore[arg-type]
                          phones=None)  # type: ignore[arg-type]


def _sign(raw: bytes) -> str:
    return "sha256=" + hmac.new(b"app-secret", raw, hashlib.sha256).hexdigest()


def test_a_signed_body_nested_beyond_recursion_is_a_400() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    assert _handler().receive(raw, _sign(raw)).status == 400


def test_a_body_as_large_as_meta_documents_is_not_refused_for_its_size() -> None:
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [],
                      "pad": "x" * (3_000_000 - 100)}).encode()
    assert len(raw) <= MAX_BODY_BYTES
    assert _handler().receive(raw, _sign(raw)).status == 200
    too_big = b"x" * (MAX_BODY_BYTES + 1)
    assert _handler().receive(too_big, _sign(too_big)).status == 413
