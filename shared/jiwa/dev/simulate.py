"""Plays a WhatsApp user against the local stack (a development tool).

    python -m jiwa.dev.simulate --phone 6281234567890 "/daftar" [--save-images DIR]

Sends a signed webhook, taps the login link on the Instagram stand-in, and prints the
conversation as it arrives until the onboarding ends.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from jiwa.dev.stack import ROOT, load_state
from jiwa.whatsapp import is_user_id


def webhook_body(phone: str, text: str, wamid: str | None = None,
                 name: str = "Sari") -> dict[str, Any]:
    """A WhatsApp Cloud API webhook carrying one text message (WIRE.md's shape). `phone` may
    be a business-scoped user id: then the sender is a user with a username whose number
    WhatsApp withholds (no `from`, no `wa_id`; Meta's "Business-scoped user IDs" guide)."""
    if is_user_id(phone):
        contact = {"profile": {"name": name, "username": "@" + name.lower()}, "user_id": phone}
        sender = {"from_user_id": phone}
    else:
        contact, sender = {"profile": {"name": name}, "wa_id": phone}, {"from": phone}
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "6281100000000",
                         "phone_number_id": "100000000000001"},
            "contacts": [contact],
            "messages": [{**sender, "id": wamid or f"wamid.{secrets.token_hex(8)}",
                          "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": text}}]}}]}]}


def tap_body(phone: str, button_id: str, wamid: str | None = None) -> dict[str, Any]:
    """The webhook for a tap on one of our reply buttons: an interactive `button_reply`
    carrying the id we gave the button (WIRE.md)."""
    envelope = webhook_body(phone, "", wamid)
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update({"type": "interactive", "interactive": {
        "type": "button_reply", "button_reply": {"id": button_id, "title": "…"}}})
    return envelope


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def message_text(message: dict[str, Any]) -> str:
    body = message["body"]
    match message["type"]:
        case "text":
            return str(body["text"]["body"])
        case "image":
            return "[image] " + str(body["image"].get("caption", ""))
        case "interactive":
            return str(body["interactive"]["body"]["text"])
        case "template":
            return f"[template {body['template']['name']}]"
    return f"[{message['type']}]"


class WhatsAppUser:
    def __init__(self, http: httpx.Client, webhook_url: str, standin_url: str,
                 app_secret: str, phone: str) -> None:
        self.http, self.webhook_url, self.standin_url = http, webhook_url, standin_url
        self.app_secret, self.phone = app_secret, phone

    def send(self, text: str, wamid: str | None = None) -> httpx.Response:
        raw = json.dumps(webhook_body(self.phone, text, wamid)).encode()
        return self.http.post(self.webhook_url, content=raw, headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(self.app_secret, raw)})

    def received(self) -> list[dict[str, Any]]:
        response = self.http.get(self.standin_url + "/_standin/messages",
                                 params={"to": self.phone})
        return list(response.json())

    def preview(self, image: dict[str, Any]) -> bytes:
        """The bytes the phone got: an uploaded media id is our copy from Cloud Storage,
        as the notifier uploaded it (decision 0008); a link only for old events."""
        if "id" in image:
            return self.http.get(f"{self.standin_url}/_standin/uploads/{image['id']}").content
        return self.http.get(image["link"]).content

    def login_link(self) -> str | None:
        for m in reversed(self.received()):
            if m["type"] == "interactive":
                return str(m["body"]["interactive"]["action"]["parameters"]["url"])
        return None

    def tap(self, link: str) -> httpx.Response:
        """Open the link: the Instagram stand-in approves and redirects to our callback."""
        return self.http.get(link, follow_redirects=True)


FINAL = ("All ", "Semua ", "Done!", "Selesai!", "Sorry", "Maaf", "The Instagram login",
         "Login Instagram")


def converse(user: WhatsAppUser, text: str, *, timeout: float = 170.0,
             save_images: Path | None = None, out: Any = sys.stdout) -> list[str]:
    """Send `text`, tap the login link when it comes, print what arrives until the end."""
    user.send(text)
    seen: list[str] = []
    tapped = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = user.received()
        for m in messages[len(seen):]:
            line = message_text(m)
            seen.append(line)
            print(f"  WhatsApp ▸ {line}", file=out, flush=True)
            if m["type"] == "image" and save_images is not None:
                save_images.mkdir(parents=True, exist_ok=True)
                data = user.preview(m["body"]["image"])
                ext = "png" if data.startswith(b"\x89PNG") else "jpg"  # fal's two formats
                count = sum(1 for s in seen if "[image]" in s)
                (save_images / f"preview-{count}.{ext}").write_bytes(data)
            if m["type"] == "interactive" and not tapped:
                tapped = True
                print("  (tapping the login link; Instagram stand-in approves)", file=out)
                user.tap(str(m["body"]["interactive"]["action"]["parameters"]["url"]))
        if seen and tapped and seen[-1].startswith(FINAL):
            return seen
        if seen and not tapped and len(seen) >= 1 and messages[-1]["type"] == "text":
            return seen  # a reply that is not a login link (help, status)
        time.sleep(0.1)
    raise TimeoutError(f"no final message within {timeout:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jiwa-simulate", description=__doc__)
    parser.add_argument("text")
    parser.add_argument("--phone", default="6281234567890")
    parser.add_argument("--state-dir", default=str(ROOT / ".jiwa"))
    parser.add_argument("--save-images", type=Path)
    args = parser.parse_args(argv)
    state = load_state(Path(args.state_dir))
    if state is None:
        print("the local stack is not running: ./emulator.sh up", file=sys.stderr)
        return 2
    ports, env = state["ports"], state["env"]
    with httpx.Client(timeout=30.0) as http:
        user = WhatsAppUser(http, f"http://127.0.0.1:{ports['whatsapp_webhook']}/",
                            f"http://127.0.0.1:{ports['meta']}", env["WHATSAPP_APP_SECRET"],
                            args.phone)
        print(f"  You ▸ {args.text}")
        converse(user, args.text, save_images=args.save_images)
    return 0


if __name__ == "__main__":
    sys.exit(main())
