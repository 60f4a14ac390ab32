"""HTTP: WhatsApp Cloud API webhook (verification handshake and inbound messages)."""

import flask
import functions_framework

from jiwa.startup import bulk_imports

with bulk_imports():  # every handler's code, at the instance's start: see jiwa.startup
    from jiwa import app
    from jiwa.handlers.webhook import MAX_BODY_BYTES


@functions_framework.http
def handle(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    handler = app.webhook()
    if request.method == "GET":
        reply = handler.verify(request.args)
    elif request.method == "POST":
        raw = request.stream.read(MAX_BODY_BYTES + 1)
        reply = handler.receive(raw, request.headers.get("X-Hub-Signature-256"))
    else:
        return "method not allowed", 405, {"Allow": "GET, POST"}
    return reply.body, reply.status, {"Content-Type": "text/plain; charset=utf-8"}
