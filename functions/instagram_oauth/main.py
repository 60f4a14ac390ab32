"""HTTP: the Instagram login redirect (OAuth callback)."""

import flask
import functions_framework

from jiwa.startup import bulk_imports

with bulk_imports():  # every handler's code, at the instance's start: see jiwa.startup
    from jiwa import app

# The page's URL carries the login code and state: no referrer, no framing, no script.
SECURITY_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}


@functions_framework.http
def handle(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    if request.method != "GET":
        return "method not allowed", 405, {"Allow": "GET"}
    page = app.oauth().callback(request.args)
    return page.html(), page.status, SECURITY_HEADERS
