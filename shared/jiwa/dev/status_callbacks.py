"""What WhatsApp does after it accepts a message (a development tool): it posts the
message's statuses to the business's webhook, signed like any webhook (WIRE.md; Meta's
Cloud API webhooks reference, `statuses`). Posted as they fall due, one POST per status,
from one worker thread, so a burst of messages cannot flood the webhook; one the webhook
refuses (not 2xx) is posted again later, as Meta redelivers.

By default a message is `sent` then `delivered` (`read` depends on the user's settings,
so only when the plan asks: `whatsapp_read`); `whatsapp_async_fail: [{"code": 131056,
"times": n}]` makes the next n accepted messages fail afterwards with that code instead.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
from typing import Any

import httpx

from jiwa.whatsapp import is_user_id

LAG_SECONDS = 0.3
# Meta redelivers a webhook that did not answer 2xx "for days" (WIRE.md), "with increasing
# delays up to a certain timeout (typically 24 hours, though this may vary)" (360dialog's
# Cloud API webhook docs). Scaled to a local stack's life: gaps doubling from 0.2 s up to
# 5 s, for ten minutes; the statuses behind a refused one are not held up meanwhile.
REDELIVER_FIRST_GAP_SECONDS = 0.2
REDELIVER_MAX_GAP_SECONDS = 5.0
REDELIVER_FOR_SECONDS = 600.0

ERROR_TITLES = {131056: "(Business Account, Consumer Account) pair rate limit hit",
                131047: "Re-engagement message", 131026: "Message Undeliverable",
                131000: "Something went wrong"}


def status_body(wamid: str, to: str, status: str, code: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                            **({"recipient_user_id": to} if is_user_id(to)
                               else {"recipient_id": to})}
    if code is not None:
        item["errors"] = [{"code": code, "title": ERROR_TITLES.get(code, "Error"),
                           "message": ERROR_TITLES.get(code, "Error"),
                           "error_data": {"details": "Injected by the stand-in"}}]
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100000000",
                         "phone_number_id": "100000000000001"},
            "statuses": [item]}}]}]}


class StatusPoster:
    def __init__(self, webhook_url: str, app_secret: str) -> None:
        self._url, self._secret = webhook_url, app_secret.encode()
        # (due, order, body, first tried, tries): the earliest due first; a status the
        # webhook refused waits its next try without holding up the ones behind it
        self._due: list[tuple[float, int, dict[str, Any], float, int]] = []
        self._order = itertools.count()
        self._ready = threading.Condition()
        self.posted: list[dict[str, Any]] = []  # each post, with the webhook's answer
        if webhook_url:
            threading.Thread(target=self._run, daemon=True).start()

    def accepted(self, wamid: str, to: str, fail_code: int | None, read: bool) -> None:
        if not self._url:
            return
        # Meta documents no order between the send call's answer and its statuses; the
        # usual one is answer first, and LAG keeps that here. Our side does not rely on
        # it: a failed status that comes first is looked up again (handlers/statuses.py).
        due = time.monotonic() + LAG_SECONDS
        if fail_code is not None:
            self._push(due, status_body(wamid, to, "failed", fail_code), due, 0)
            return
        for status in ("sent", "delivered", *(("read",) if read else ())):
            self._push(due, status_body(wamid, to, status), due, 0)

    def _push(self, due: float, body: dict[str, Any], first: float, tries: int) -> None:
        with self._ready:
            heapq.heappush(self._due, (due, next(self._order), body, first, tries))
            self._ready.notify()

    def _next(self) -> tuple[dict[str, Any], float, int]:
        with self._ready:
            while not self._due or self._due[0][0] > time.monotonic():
                self._ready.wait(self._due[0][0] - time.monotonic() if self._due else None)
            _, _, body, first, tries = heapq.heappop(self._due)
            return body, first, tries

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while True:
                body, first, tries = self._next()
                raw = json.dumps(body).encode()
                signature = "sha256=" + hmac.new(self._secret, raw, hashlib.sha256).hexdigest()
                item = body["entry"][0]["changes"][0]["value"]["statuses"][0]
                try:
                    answer = http.post(self._url, content=raw, headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": signature}).status_code
                except httpx.HTTPError:
                    answer = 0
                self.posted.append({"id": item["id"], "status": item["status"],
                                    "answer": answer})
                if 200 <= answer < 300 or time.monotonic() - first > REDELIVER_FOR_SECONDS:
                    continue
                gap = min(REDELIVER_FIRST_GAP_SECONDS * 2 ** tries, REDELIVER_MAX_GAP_SECONDS)
                self._push(time.monotonic() + gap, body, first, tries + 1)
