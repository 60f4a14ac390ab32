"""Instagram's two error shapes reach the log as what they say, not as None."""

from __future__ import annotations

import httpx
import pytest

from jiwa.instagram import InstagramClient, InstagramError, error_detail


def test_the_token_endpoints_flat_error_is_read() -> None:
    body = {"error_type": "OAuthException", "code": 400,
            "error_message": "Invalid authorization code"}
    assert error_detail(body) == "OAuthException 400: Invalid authorization code"


def test_the_graph_apis_nested_error_is_read() -> None:
    body = {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException",
                      "code": 190, "fbtrace_id": "x"}}
    assert error_detail(body) == "OAuthException 190: Invalid OAuth access token."


def test_a_failed_exchange_raises_with_the_detail_and_no_secret() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error_type": "OAuthException", "code": 400,
                                         "error_message": "Invalid authorization code"})

    client = InstagramClient(httpx.Client(transport=httpx.MockTransport(answer)),
                             app_id="app", app_secret="s3cret-value", redirect_uri="https://r/",
                             auth_url="https://a", api_url="https://api", graph_url="https://g",
                             version="v26.0")
    with pytest.raises(InstagramError) as raised:
        client.exchange_code("code#_")
    assert str(raised.value) == "Instagram HTTP 400: OAuthException 400: Invalid authorization code"
    assert "s3cret" not in str(raised.value)
