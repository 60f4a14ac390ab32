"""A preview sent from our copy: read from Cloud Storage, uploaded to WhatsApp's media
endpoint, sent by media id (decision 0008). fal's URL is never given to WhatsApp."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from jiwa.image_store import ImageStore
from jiwa.whatsapp import WhatsAppClient, WhatsAppError

log = logging.getLogger("jiwa.media")


def send_our_copy(images: ImageStore, whatsapp: WhatsAppClient, to: str,
                  payload: Mapping[str, str], caption: str) -> str:
    """The wamid of the image message. A storage failure is reported as a WhatsAppError so
    the notifier's one path decides: a transient one is retried through Pub/Sub (the send
    claim released), a missing object is final."""
    from google.api_core import exceptions

    name = payload["object"]
    try:
        data = images.get(name)
    except exceptions.NotFound as exc:
        raise WhatsAppError(404, None, f"our copy {name} is missing", False) from exc
    except (exceptions.GoogleAPIError, OSError) as exc:
        raise WhatsAppError(0, None, f"storage: {type(exc).__name__}", True) from exc
    # a new upload per send: media ids last 30 days, a replay may come later than that
    media_id = whatsapp.upload_media(data, payload.get("content_type", "image/png"),
                                     name.rsplit("/", 1)[-1])
    return whatsapp.send_image_id(to, media_id, caption)
