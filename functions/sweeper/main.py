"""HTTP (Cloud Scheduler, OIDC): find stuck jobs; re-dispatch or fail them, telling the user."""

import json

import flask
import functions_framework

from jiwa.startup import bulk_imports

with bulk_imports():  # every handler's code, at the instance's start: see jiwa.startup
    from jiwa import app


@functions_framework.http
def handle(request: flask.Request) -> tuple[str, int, dict[str, str]]:
    if request.method != "POST":
        return "method not allowed", 405, {"Allow": "POST"}
    counts = app.sweeper().sweep()
    return json.dumps(counts), 200, {"Content-Type": "application/json"}
