"""Local stand-in for Meta's Graph API: WhatsApp send, Instagram login, token and profile.

A development tool (never imported by production code). It speaks the wire formats of
WIRE.md, records every WhatsApp message so tests and the demo can read the conversation,
and injects failures on request:

  GET  /_standin/messages[?to=PHONE]        the recorded conversation
  POST /_standin/faults  {"whatsapp": [{"status": 500, "code": 131000, "times": 3}],
                          "whatsapp_invalid": ["628..."], "instagram_deny": true,
                          "instagram_token_error": true, "latency_ms": 0,
                          "whatsapp_pair_rate": {"interval_ms": 6000, "burst": 45},
                          "quotas": {"whatsapp_throughput": {"limit": 80, "per_seconds": 1}},
                          "instagram_account": {"profile": {...}, "posts": [...]}}
      (instagram_account: the account the next logins connect, kept by their tokens;
      null for the sample one, Kopi Senja)
  GET  /_standin/refusals                   sends refused by an enforced limit
  POST /_standin/reset
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading
import time
from datetime import date
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request

from jiwa.dev.faults import FaultPlan, add_control_routes
from jiwa.dev.meta_media import Uploads, add_media_routes
from jiwa.dev.status_callbacks import StatusPoster
from jiwa.lifecycle import GRAPH_API_VERSIONS, graph_version_available

SAMPLE_PROFILE = {
    "user_id": "17841400000000001",
    "username": "kopisenja.id",
    "name": "Kopi Senja",
    "biography": "Kopi susu gula aren & biji kopi Nusantara. Jakarta Selatan. "
                 "Pesan antar setiap hari.",
    "website": "",
    "followers_count": 12840,
    "media_count": 214,
    "profile_picture_url": "",
}

SAMPLE_POSTS = [
    ("Kopi susu gula aren andalan kami, manisnya pas! #kopisusu #jakarta", "IMAGE"),
    ("Biji kopi Gayo single origin, sangrai medium. Cocok untuk V60.", "IMAGE"),
    ("Senja di kedai kami. Tempat nongkrong favorit di Jaksel.", "IMAGE"),
    ("Promo 2 kopi susu 35rb setiap Jumat!", "CAROUSEL_ALBUM"),
    ("Es kopi pandan, menu baru musim ini.", "IMAGE"),
    ("Barista kami menyiapkan manual brew Toraja.", "VIDEO"),
]


class MetaState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults = FaultPlan()
        self.website = ""
        self.uploads = Uploads()  # WhatsApp's media endpoint (meta_media.py)
        self.clear()

    def clear(self) -> None:
        """Forget every message, code and token (not the faults, not the website)."""
        self.messages: list[dict[str, Any]] = []
        self.codes: dict[str, str] = {}
        self.tokens: set[str] = set()
        # code or token -> the Instagram account it is for (the fault plan's
        # "instagram_account" when the login happened; absent: the sample account)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.counter = itertools.count(1)
        self.pair_buckets: dict[str, tuple[float, float]] = {}  # to -> (tokens, at)
        self.refusals: list[dict[str, Any]] = []

    def pair_rate_allows(self, to: str, rule: dict[str, Any] | None) -> bool:
        """WhatsApp's pair rate limit, when the fault plan sets `whatsapp_pair_rate`
        ({"interval_ms", "burst"}): Meta's throughput docs give about one message per 6 s
        to one user, with bursts that borrow from the time after (commonly cited: 45 in
        6 s); a message over it fails with 131056. A token bucket per recipient: `burst`
        tokens, one back every interval."""
        if not rule:
            return True
        interval, burst = float(rule["interval_ms"]) / 1000, float(rule.get("burst", 45))
        with self.lock:
            now = time.monotonic()
            tokens, at = self.pair_buckets.get(to, (burst, now))
            tokens = min(burst, tokens + (now - at) / interval)
            if tokens < 1:
                self.pair_buckets[to] = (tokens, now)
                self.refusals.append({"to": to, "code": 131056, "at": time.time()})
                return False
            self.pair_buckets[to] = (tokens - 1, now)
            return True


def create_app(state: MetaState | None = None, website: str = "", webhook_url: str = "",
               app_secret: str = "") -> Flask:
    st = state or MetaState()
    st.website = website
    statuses = StatusPoster(webhook_url, app_secret)
    app = Flask("meta_standin")

    def graph_error(status: int, code: int, message: str) -> Any:
        return jsonify({"error": {"message": message, "type": "OAuthException", "code": code,
                                  "fbtrace_id": secrets.token_hex(6)}}), status

    @app.before_request
    def versioned_path() -> Any:
        """Meta's Platform Versioning guide: a call to a version that is no longer usable
        is served by the oldest usable one, and the `facebook-api-version` response header
        says which version answered; a path segment that is no version at all is an
        unknown path (error 2500). So the stand-in answers only the versions the code
        may use, and says which one served."""
        version = (request.view_args or {}).get("version")
        if version is None:
            return None
        if version not in GRAPH_API_VERSIONS:
            return graph_error(400, 2500, f"Unknown path components: /{version}")
        served = version if graph_version_available(version, date.today()) else next(
            (v for v in GRAPH_API_VERSIONS if graph_version_available(v, date.today())),
            version)
        request.environ["jiwa.served_version"] = served
        return None

    @app.after_request
    def version_header(response: Any) -> Any:
        served = request.environ.get("jiwa.served_version")
        if served:
            response.headers["facebook-api-version"] = served
        return response

    @app.post("/<version>/<phone_number_id>/messages")
    def send(version: str, phone_number_id: str) -> Any:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return graph_error(401, 190, "Invalid OAuth access token.")
        body = request.get_json(silent=True) or {}
        st.faults.delay()
        # `to` (a phone number) wins over `recipient` (a business-scoped user id) when
        # both are given (Meta's "Business-scoped user IDs" guide)
        to = body.get("to") or body.get("recipient")
        if not isinstance(to, str) or not to:
            return graph_error(400, 100, "(#100) The parameter to is required.")
        user_id = "to" not in body
        if not st.faults.quota("whatsapp_throughput", phone_number_id).allowed:
            # Cloud API throughput, per business phone number: 80 messages a second by
            # default, up to 1,000 by automatic upgrade; over it "the API will return error
            # code 130429 until you are within your allowed level again" (Meta, WhatsApp
            # Business Platform, "Throughput", 2026-05-21). Meta gives the code, not the
            # HTTP status: 400 here, as Graph's other errors (jiwa.whatsapp retries 130429
            # by its code). Only sends count here; Meta counts inbound messages too.
            return graph_error(400, 130429, "(#130429) Rate limit hit")
        if to in (st.faults.get("whatsapp_invalid") or []):
            return graph_error(400, 131026, "Message undeliverable.")
        fault = st.faults.next_fault("whatsapp")
        if fault is not None:
            return graph_error(int(fault.get("status", 500)), int(fault.get("code", 131000)),
                               "Injected failure")
        media_id = (body.get("image") or {}).get("id")
        if media_id is not None and not st.uploads.known(str(media_id)):
            return graph_error(400, 100, "(#100) Invalid parameter: unknown media id.")
        if not st.pair_rate_allows(to, st.faults.get("whatsapp_pair_rate")):
            return graph_error(400, 131056, "(#131056) (Business Account, Consumer Account) "
                                            "pair rate limit hit")
        with st.lock:
            wamid = f"wamid.standin{next(st.counter):06d}"
            st.messages.append({"id": wamid, "to": to, "type": body.get("type"),
                                "body": body, "phoneNumberId": phone_number_id,
                                "at": time.time()})
        fail = st.faults.next_fault("whatsapp_async_fail", to=to)
        if fail:  # accepted, but it never reaches the phone: its status will say "failed"
            with st.lock:
                next(m for m in st.messages if m["id"] == wamid)["failedWith"] = int(
                    fail.get("code", 131000))
        statuses.accepted(wamid, to,
                          int(fail.get("code", 131000)) if fail else None,
                          bool(st.faults.get("whatsapp_read")))
        return jsonify({"messaging_product": "whatsapp",
                        "contacts": [{"input": to, ("user_id" if user_id else "wa_id"): to}],
                        "messages": [{"id": wamid}]})

    @app.get("/<version>/<phone_number_id>")
    def phone_number(version: str, phone_number_id: str) -> Any:
        """The WhatsApp Business phone number node (Meta's WhatsApp Business Account Phone
        Number API reference: GET /{Version}/{Phone-Number-ID}, `fields` picks among
        display_phone_number, verified_name, quality_rating…; the id always comes back).
        A wrong token answers 401 code 190; an id the token cannot read, 400 code 100
        (Meta's Cloud API error codes). The right token and id are this process's
        $WHATSAPP_ACCESS_TOKEN and $WHATSAPP_PHONE_NUMBER_ID, when set."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") \
            else request.args.get("access_token", "")
        if not token or os.environ.get("WHATSAPP_ACCESS_TOKEN", token) != token:
            return graph_error(401, 190, "Invalid OAuth access token - Cannot parse access "
                                         "token")
        if os.environ.get("WHATSAPP_PHONE_NUMBER_ID", phone_number_id) != phone_number_id:
            return jsonify({"error": {
                "message": f"Unsupported get request. Object with ID '{phone_number_id}' does "
                           "not exist, cannot be loaded due to missing permissions, or does "
                           "not support this operation. Please read the Graph API "
                           "documentation at https://developers.facebook.com/docs/graph-api",
                "type": "GraphMethodException", "code": 100,
                "fbtrace_id": secrets.token_hex(6)}}), 400
        node = {"display_phone_number": "+62 811-0000-0000", "verified_name": "Jiwa Onboard",
                "quality_rating": "GREEN", "code_verification_status": "VERIFIED"}
        fields = [f for f in request.args.get("fields", "").split(",") if f in node] \
            or ["display_phone_number", "verified_name"]
        return jsonify({**{f: node[f] for f in fields}, "id": phone_number_id})

    @app.get("/oauth/authorize")
    def authorize() -> Any:
        # Plays the user tapping "Allow" (or "Cancel" when instagram_deny is set).
        redirect_uri, state_param = request.args["redirect_uri"], request.args.get("state", "")
        if st.faults.get("instagram_deny"):
            query = urlencode({"error": "access_denied", "error_reason": "user_denied",
                               "error_description": "Permissions error", "state": state_param})
            return redirect(f"{redirect_uri}?{query}")
        code = secrets.token_urlsafe(16)
        account = st.faults.get("instagram_account")
        with st.lock:
            st.codes[code] = request.args.get("client_id", "")
            if account:
                st.accounts[code] = account
        return redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': state_param})}")

    @app.post("/oauth/access_token")
    def short_token() -> Any:
        code = request.form.get("code", "")
        with st.lock:
            known = st.codes.pop(code, None)  # codes are single use
        if known is None or request.form.get("grant_type") != "authorization_code" \
                or st.faults.get("instagram_token_error"):
            return jsonify({"error_type": "OAuthException", "code": 400,
                            "error_message": "Invalid authorization code"}), 400
        token = "IGshort" + secrets.token_urlsafe(24)
        with st.lock:
            st.tokens.add(token)
            if code in st.accounts:
                st.accounts[token] = st.accounts.pop(code)
        return jsonify({"data": [{"access_token": token, "user_id": SAMPLE_PROFILE["user_id"],
                                  "permissions": "instagram_business_basic"}]})

    @app.get("/access_token")
    def long_token() -> Any:
        short = request.args.get("access_token", "")
        if request.args.get("grant_type") != "ig_exchange_token" or short not in st.tokens:
            return graph_error(400, 190, "Invalid OAuth access token.")
        token = "IGlong" + secrets.token_urlsafe(32)
        with st.lock:
            st.tokens.add(token)
            if short in st.accounts:
                st.accounts[token] = st.accounts[short]
        return jsonify({"access_token": token, "token_type": "bearer", "expires_in": 5183944})

    @app.get("/<version>/me")
    def me(version: str) -> Any:
        if request.args.get("access_token") not in st.tokens:
            return graph_error(400, 190, "Invalid OAuth access token.")
        account = st.accounts.get(request.args.get("access_token", ""), {})
        return jsonify({**SAMPLE_PROFILE, "website": st.website, **account.get("profile", {})})

    @app.get("/<version>/me/media")
    def media(version: str) -> Any:
        if request.args.get("access_token") not in st.tokens:
            return graph_error(400, 190, "Invalid OAuth access token.")
        base = request.host_url.rstrip("/")
        account = st.accounts.get(request.args.get("access_token", ""), {})
        posts = [(c, "IMAGE") for c in account["posts"]] if "posts" in account else SAMPLE_POSTS
        data = [{"id": f"1790000000000{i}", "caption": caption, "media_type": kind,
                 "media_url": f"{base}/_standin/media/{i}.png",
                 "permalink": f"https://www.instagram.com/p/standin{i}/",
                 "timestamp": f"2026-11-{20 - i:02d}T10:00:00+0000"}
                for i, (caption, kind) in enumerate(posts)]
        return jsonify({"data": data, "paging": {"cursors": {"before": "a", "after": "b"}}})

    @app.get("/_standin/refusals")
    def refusals() -> Any:
        """The sends refused by an enforced limit (the pair rate), which record no message."""
        with st.lock:
            return jsonify(list(st.refusals))

    @app.get("/_standin/messages")
    def messages() -> Any:
        to = request.args.get("to")
        with st.lock:
            return jsonify([m for m in st.messages if to is None or m["to"] == to])

    def clear() -> None:
        with st.lock:
            st.clear()

    add_control_routes(app, st.faults, clear)
    add_media_routes(app, st.uploads, graph_error)
    return app
