"""A no-op HTTP function: the framework's own ceiling for the webhook benchmark."""

import flask
import functions_framework


@functions_framework.http
def handle(request: flask.Request) -> str:
    request.get_data()
    return "ok"
