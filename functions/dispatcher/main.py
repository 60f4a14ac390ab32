"""Pub/Sub (onboarding-requested): start the job once. Raising makes Pub/Sub redeliver."""

import functions_framework
from cloudevents.http import CloudEvent

from jiwa.startup import bulk_imports

with bulk_imports():  # every handler's code, at the instance's start: see jiwa.startup
    from jiwa import app


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    app.dispatcher_guard().run(event.get_data(), app.dispatcher().handle)
