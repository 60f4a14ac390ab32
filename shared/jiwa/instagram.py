"""Business Login for Instagram and the Instagram Graph API (WIRE.md)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx

PROFILE_FIELDS = "user_id,username,name,biography,website,followers_count,media_count," \
                 "profile_picture_url"
MEDIA_FIELDS = "id,caption,media_type,media_url,permalink,timestamp"


class InstagramError(RuntimeError):
    """Instagram refused; the message never contains a token or secret."""


class InstagramClient:
    def __init__(self, http: httpx.Client, *, app_id: str, app_secret: str, redirect_uri: str,
                 auth_url: str, api_url: str, graph_url: str, version: str) -> None:
        self._http = http
        self._app_id, self._app_secret, self._redirect_uri = app_id, app_secret, redirect_uri
        self._auth, self._api = auth_url.rstrip("/"), api_url.rstrip("/")
        self._graph, self._version = graph_url.rstrip("/"), version

    def authorize_url(self, state: str) -> str:
        query = urlencode({"client_id": self._app_id, "redirect_uri": self._redirect_uri,
                           "response_type": "code", "scope": "instagram_business_basic",
                           "state": state})
        return f"{self._auth}/oauth/authorize?{query}"

    def exchange_code(self, code: str) -> str:
        """code -> short-lived token -> long-lived (60 day) token."""
        if not self._app_secret:
            raise InstagramError("INSTAGRAM_APP_SECRET is not set")
        short = self._json("POST", f"{self._api}/oauth/access_token", data={
            "client_id": self._app_id, "client_secret": self._app_secret,
            "grant_type": "authorization_code", "redirect_uri": self._redirect_uri,
            "code": code.removesuffix("#_")})
        if isinstance(short.get("data"), list) and short["data"]:
            short = short["data"][0]
        long_lived = self._json("GET", f"{self._graph}/access_token", params={
            "grant_type": "ig_exchange_token", "client_secret": self._app_secret,
            "access_token": str(short.get("access_token", ""))})
        token = long_lived.get("access_token")
        if not isinstance(token, str) or not token:
            raise InstagramError("token exchange returned no access token")
        return token

    def profile(self, token: str) -> dict[str, Any]:
        return self._json("GET", f"{self._graph}/{self._version}/me",
                          params={"fields": PROFILE_FIELDS, "access_token": token})

    def recent_media(self, token: str, limit: int = 12) -> list[dict[str, Any]]:
        body = self._json("GET", f"{self._graph}/{self._version}/me/media",
                          params={"fields": MEDIA_FIELDS, "limit": limit, "access_token": token})
        return [m for m in body.get("data", []) if isinstance(m, dict)]

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise InstagramError(f"Instagram unreachable: {type(exc).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or not isinstance(body, dict):
            raise InstagramError(f"Instagram HTTP {response.status_code}: "
                                 f"{error_detail(body)[:160]}")
        return body


def error_detail(body: object) -> str:
    """The error in either of Instagram's shapes: the Graph API's `{"error": {"type",
    "code", "message"}}`, or the token endpoint's flat `{"error_type", "code",
    "error_message"}` (Business Login for Instagram docs, 'Exchange the code for a
    token')."""
    if not isinstance(body, dict):
        return "no JSON body"
    nested = body.get("error")
    if isinstance(nested, dict):
        kind, code, message = nested.get("type"), nested.get("code"), nested.get("message")
    else:
        kind, code, message = body.get("error_type"), body.get("code"), body.get("error_message")
    parts = [str(p) for p in (kind, code) if p is not None]
    return f"{' '.join(parts)}: {message}" if message else " ".join(parts) or "no error detail"
