"""The WhatsApp stand-in's status webhooks (jiwa.dev.status_callbacks), against a webhook
served here: a status the webhook refuses is posted again, later and later, as Meta
redelivers, and the statuses behind it are not held up meanwhile."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request
from harness import wait_for

from jiwa.dev.standins import serve
from jiwa.dev.status_callbacks import StatusPoster


@pytest.fixture
def webhook() -> Iterator[tuple[str, dict[str, Any]]]:
    """A webhook that answers 500 to the message `refuse["wamid"]` `refuse["times"]` times,
    and records what it took (wamid, status, when)."""
    state: dict[str, Any] = {"refuse": {"wamid": "", "times": 0}, "took": []}
    app = Flask("webhook")

    @app.post("/")
    def take() -> tuple[str, int]:
        item = json.loads(request.data)["entry"][0]["changes"][0]["value"]["statuses"][0]
        refuse = state["refuse"]
        if item["id"] == refuse["wamid"] and refuse["times"] > 0:
            refuse["times"] -= 1
            return "busy", 500
        state["took"].append((item["id"], item["status"], time.monotonic()))
        return "ok", 200

    server = serve(app, 0, poll_interval=0.02)  # stopped after each test
    try:
        yield f"http://127.0.0.1:{server.server_port}/", state
    finally:
        server.shutdown()


def _taken(state: dict[str, Any], count: int) -> list[Any]:
    return wait_for(lambda: len(state["took"]) >= count and list(state["took"]), 15,
                    f"{count} statuses taken")


def test_a_refused_status_comes_again_and_holds_up_no_other(webhook) -> None:
    url, state = webhook
    state["refuse"] = {"wamid": "wamid.A", "times": 3}  # its two statuses, 0.2 s, 0.4 s…
    poster = StatusPoster(url, "secret")
    poster.accepted("wamid.A", "6281100000001", None, read=False)
    poster.accepted("wamid.B", "6281100000002", None, read=False)  # due just after A's
    took = _taken(state, 4)
    assert {(w, s) for w, s, _ in took} == {("wamid.A", "sent"), ("wamid.A", "delivered"),
                                            ("wamid.B", "sent"), ("wamid.B", "delivered")}
    first_a = min(t for w, _, t in took if w == "wamid.A")
    last_b = max(t for w, _, t in took if w == "wamid.B")
    assert last_b < first_a  # B's statuses went while A's waited their next try
    refused = [p for p in poster.posted if p["id"] == "wamid.A" and p["answer"] == 500]
    assert len(refused) == 3  # each refusal was followed by another try, until taken
