"""The WhatsApp Cloud API media endpoint on the Meta stand-in (issue #18).

  POST /{version}/{phone_number_id}/media   multipart: file, type, messaging_product
  GET  /_standin/uploads/{id}                the uploaded bytes (tests, the demo)

As Meta's Cloud API media reference describes it
(https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media): the form needs
messaging_product=whatsapp and one `file`; images are image/jpeg or image/png up to 5 MB
("Supported media types"); the answer is {"id": "<MEDIA_ID>"}. Errors use the Graph
error shape (code 100, invalid parameter).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, request

IMAGE_TYPES = {"image/jpeg", "image/png"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024


class Uploads:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.files: dict[str, tuple[bytes, str]] = {}
        self.counter = itertools.count(1)

    def known(self, media_id: str) -> bool:
        with self.lock:
            return media_id in self.files


def add_media_routes(app: Flask, uploads: Uploads,
                     graph_error: Callable[[int, int, str], Any]) -> None:
    @app.post("/<version>/<phone_number_id>/media")
    def upload(version: str, phone_number_id: str) -> Any:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return graph_error(401, 190, "Invalid OAuth access token.")
        if request.form.get("messaging_product") != "whatsapp":
            return graph_error(400, 100, "(#100) The parameter messaging_product is required.")
        file = request.files.get("file")
        if file is None:
            return graph_error(400, 100, "(#100) The parameter file is required.")
        data = file.read()
        kind = (file.mimetype or request.form.get("type", "")).lower()
        if kind not in IMAGE_TYPES:
            return graph_error(400, 100, f"(#100) Param file must be a file with one of the "
                                         f"following types: {', '.join(sorted(IMAGE_TYPES))}."
                                         f" Received file of type '{kind}'.")
        if len(data) > MAX_IMAGE_BYTES:
            return graph_error(400, 100, "(#100) File is too big: images are up to 5 MB.")
        with uploads.lock:
            media_id = f"{next(uploads.counter) + 1_700_000_000_000_000}"
            uploads.files[media_id] = (data, kind)
        return {"id": media_id}

    @app.get("/_standin/uploads/<media_id>")
    def uploaded(media_id: str) -> Any:
        with uploads.lock:
            found = uploads.files.get(media_id)
        if found is None:
            return graph_error(404, 100, f"no media {media_id}")
        return Response(found[0], mimetype=found[1])
