"""Pub/Sub (onboarding-progress): one WhatsApp message per event. Raising redelivers."""

import functions_framework
from cloudevents.http import CloudEvent

from jiwa.startup import bulk_imports

with bulk_imports():  # every handler's code, at the instance's start: see jiwa.startup
    from jiwa import app


@functions_framework.cloud_event
def handle(event: CloudEvent) -> None:
    app.notifier_guard().run(event.get_data(), app.notifier().handle)
