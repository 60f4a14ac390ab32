"""HTTP: the Instagram login redirect (OAuth callback)."""

import flask
import functions_framework

from jiwa import app


@functions_framework.http
def handle(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    if request.method != "GET":
        return "method not allowed", 405, {"Allow": "GET"}
    page = app.oauth().callback(request.args)
    return page.html(), page.status, {"Content-Type": "text/html; charset=utf-8",
                                      "Cache-Control": "no-store",
                                      "Referrer-Policy": "no-referrer"}
