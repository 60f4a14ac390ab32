"""WhatsApp Cloud API: sending messages, and reading the webhook's envelope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

# Codes Meta documents as "try again later"; everything else 4xx is permanent for us.
RETRYABLE_CODES = frozenset({130429, 131056, 131000, 4, 80007, 2})


class WhatsAppError(RuntimeError):
    def __init__(self, status: int, code: int | None, message: str, retryable: bool) -> None:
        super().__init__(f"WhatsApp send failed: HTTP {status} code {code}: {message}")
        self.status, self.code, self.retryable = status, code, retryable

    @property
    def ours(self) -> bool:
        """Our credentials were refused, not the message: an expired or revoked access
        token (OAuthException 190, HTTP 401) or a permission the token lacks (10, 200-299;
        0 AuthException). Meta's Graph API "Handling Errors" and WhatsApp "Error codes"
        pages: get a new token or the permission. Every message fails alike until the
        operator does, so none of them is the message's fault."""
        return self.status == 401 or self.code in (0, 10, 190) or \
            (self.code is not None and 200 <= self.code <= 299)


# A business-scoped user id (BSUID): a user who adopted a WhatsApp username may come with
# no phone number, only this id (Meta's "Business-scoped user IDs" guide, 2026: two-letter
# country code, a period, then up to 128 alphanumerics, e.g. US.13491208655302741918; a
# parent BSUID has ENT between). Messages to it name it as `recipient` instead of `to`.
_BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}")


def is_user_id(recipient: str) -> bool:
    """Whether `recipient` is a business-scoped user id rather than a phone number."""
    return _BSUID.fullmatch(recipient) is not None


def _addressed(recipient: str) -> dict[str, str]:
    return {"recipient": recipient} if is_user_id(recipient) else {"to": recipient}


class WhatsAppClient:
    def __init__(self, http: httpx.Client, base_url: str, version: str,
                 phone_number_id: str, access_token: str) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/{version}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {access_token}"}

    def send_text(self, to: str, body: str) -> str:
        return self._send({**_addressed(to), "type": "text",
                           "text": {"body": body[:4096], "preview_url": True}})

    def send_image(self, to: str, link: str, caption: str) -> str:
        return self._send({**_addressed(to), "type": "image",
                           "image": {"link": link, "caption": caption[:1024]}})

    def send_template(self, to: str, name: str, language: str) -> str:
        """An approved template: the only kind of message WhatsApp delivers outside the
        24-hour window (WIRE.md)."""
        return self._send({**_addressed(to), "type": "template", "template": {
            "name": name, "language": {"code": language}}})

    def send_link_button(self, to: str, body: str, label: str, url: str) -> str:
        return self._send({**_addressed(to), "type": "interactive", "interactive": {
            "type": "cta_url", "body": {"text": body[:1024]},
            "action": {"name": "cta_url",
                       "parameters": {"display_text": label[:20], "url": url}}}})

    def send_buttons(self, to: str, body: str, buttons: tuple[tuple[str, str], ...]) -> str:
        """A text with up to three reply buttons, each (id, title); a tap comes back to the
        webhook with the id (jiwa/buttons.py)."""
        return self._send({**_addressed(to), "type": "interactive", "interactive": {
            "type": "button", "body": {"text": body[:1024]},
            "action": {"buttons": [{"type": "reply", "reply": {"id": bid[:256],
                                                               "title": title[:20]}}
                                   for bid, title in buttons[:3]]}}})

    def _send(self, message: dict[str, Any]) -> str:
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", **message}
        try:
            response = self._http.post(self._url, json=payload, headers=self._headers)
        except httpx.HTTPError as exc:
            raise WhatsAppError(0, None, type(exc).__name__, retryable=True) from exc
        if response.status_code < 300:
            return str(response.json()["messages"][0]["id"])
        raise _error(response)

    def upload_media(self, data: bytes, content_type: str, filename: str) -> str:
        """Our image to WhatsApp's media store: POST /{version}/{phone_number_id}/media,
        multipart with `file`, `type` and messaging_product=whatsapp; answers {"id": …}
        (Meta's Cloud API media reference: developers.facebook.com/docs/whatsapp/cloud-api/
        reference/media). The id is good for 30 days; we upload per send (decision 0008)."""
        try:
            response = self._http.post(
                self._url.removesuffix("/messages") + "/media", headers=self._headers,
                data={"messaging_product": "whatsapp", "type": content_type},
                files={"file": (filename, data, content_type)})
        except httpx.HTTPError as exc:
            raise WhatsAppError(0, None, type(exc).__name__, retryable=True) from exc
        if response.status_code < 300:
            return str(response.json()["id"])
        raise _error(response)

    def send_image_id(self, to: str, media_id: str, caption: str) -> str:
        return self._send({**_addressed(to), "type": "image",
                           "image": {"id": media_id, "caption": caption[:1024]}})


def _error(response: httpx.Response) -> WhatsAppError:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code")
    retryable = response.status_code >= 500 or response.status_code == 429 \
        or code in RETRYABLE_CODES
    return WhatsAppError(response.status_code, code, str(error.get("message", ""))[:200],
                         retryable)


@dataclass(frozen=True)
class InboundText:
    message_id: str
    sender: str
    text: str  # the command: a text's body, a button's payload; "" for media
    name: str | None = None
    kind: str = "text"
    # when the user sent it (the message's `timestamp`, Unix seconds; WIRE.md): a message
    # Meta redelivers a day late must not reopen the 24-hour window as if sent now
    sent_at: int = 0


# Messages a person sends that deserve an answer although they carry no command (WIRE.md's
# `messages[].type`); reactions, `unsupported` and system messages get none.
MEDIA_KINDS = frozenset({"image", "audio", "video", "document", "sticker", "location",
                         "contacts"})


def _command(message: dict[str, Any]) -> str | None:
    """What the user said, for the kinds that say something; None for the others."""
    kind = message.get("type")
    if not isinstance(kind, str):
        return None
    if kind == "text":
        text = message.get("text")
        body = text.get("body") if isinstance(text, dict) else None
        return body if isinstance(body, str) and body else None
    if kind == "interactive":  # a tap on one of our reply buttons or list rows
        reply = message.get("interactive") or {}
        chosen = (reply.get("button_reply") or reply.get("list_reply") or {}) \
            if isinstance(reply, dict) else {}
        value = chosen.get("id") or chosen.get("title") if isinstance(chosen, dict) else None
        return value if isinstance(value, str) and value else None
    if kind == "button":  # a tap on a template's quick-reply button
        button = message.get("button") or {}
        value = button.get("payload") or button.get("text") if isinstance(button, dict) \
            else None
        return value if isinstance(value, str) and value else None
    return "" if kind in MEDIA_KINDS else None


def inbound_messages(envelope: Any) -> tuple[list[InboundText], int]:
    """The messages a person sent that we answer (texts, button taps, media), and how many
    other items (statuses, reactions…) were skipped. Tolerates any shape: a malformed
    part is skipped, never raised on."""
    texts: list[InboundText] = []
    skipped = 0
    if not isinstance(envelope, dict) or envelope.get("object") != "whatsapp_business_account":
        return texts, 1
    for entry in _dicts(envelope.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            if not isinstance(value, dict):
                skipped += 1
                continue
            names = {c.get("wa_id") or c.get("user_id"): (c.get("profile") or {}).get("name")
                     for c in _dicts(value.get("contacts"))
                     if isinstance(c.get("wa_id") or c.get("user_id"), str)
                     and (isinstance(c.get("profile"), dict) or "profile" not in c)}
            skipped += len(_dicts(value.get("statuses")))
            for message in _dicts(value.get("messages")):
                command = _command(message)
                # The phone number when WhatsApp gives it (it keeps a user's earlier jobs
                # theirs), else the business-scoped user id of a user with a username
                sender, mid = message.get("from") or message.get("from_user_id"), \
                    message.get("id")
                if (command is not None and isinstance(sender, str) and sender
                        and isinstance(mid, str) and mid):
                    name = names.get(sender)
                    texts.append(InboundText(mid, sender, command,
                                             name if isinstance(name, str) else None,
                                             str(message.get("type")),
                                             _seconds(message.get("timestamp"))))
                else:
                    skipped += 1
    return texts, skipped


@dataclass(frozen=True)
class DeliveryStatus:
    """One `statuses[]` entry: what became of a message WhatsApp accepted (WIRE.md)."""

    wamid: str
    status: str  # sent | delivered | read | failed
    timestamp: int
    recipient: str
    errors: tuple[tuple[int, str], ...] = ()  # (code, title) when failed

    @property
    def code(self) -> int | None:
        return self.errors[0][0] if self.errors else None


def inbound_statuses(envelope: Any) -> list[DeliveryStatus]:
    """The delivery statuses in a webhook body; malformed entries are skipped."""
    found: list[DeliveryStatus] = []
    if not isinstance(envelope, dict):
        return found
    for entry in _dicts(envelope.get("entry")):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            for item in _dicts(value.get("statuses")) if isinstance(value, dict) else []:
                wamid, status = item.get("id"), item.get("status")
                if not (isinstance(wamid, str) and wamid and isinstance(status, str)):
                    continue
                errors = tuple((e["code"], str(e.get("title", "")))
                               for e in _dicts(item.get("errors"))
                               if isinstance(e.get("code"), int))
                found.append(DeliveryStatus(
                    wamid, status, _seconds(item.get("timestamp")),
                    str(item.get("recipient_id") or item.get("recipient_user_id") or ""),
                    errors))
    return found


def _seconds(stamp: Any) -> int:
    """A webhook `timestamp` (Unix seconds, as a string), or 0 when absent or malformed."""
    text = str(stamp)
    return int(text) if text.isdigit() and len(text) <= 12 else 0


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
