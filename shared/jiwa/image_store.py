"""Our copy of each kept image (issue #18): downloaded once from fal, checked, written to
Cloud Storage; everything after that (the quality gate, WhatsApp, operators) reads ours.

fal keeps generated files only as long as the account's retention allows, so a record
that pointed at fal's CDN could outlive its images.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

log = logging.getLogger("jiwa.image_store")

# WhatsApp takes image/jpeg and image/png up to 5 MB (Meta's Cloud API media reference,
# "Supported media types": https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media);
# an image it cannot send is of no use to us, so the same bounds apply to the download.
MAX_BYTES = 5 * 1024 * 1024
# Claude takes images up to 5 MB, counted on the base64 text it receives, a third larger
# than the file: the API answers 400 "image exceeds 5 MB maximum: 5272940 bytes > 5242880
# bytes" for a 3.95 MB file (reported in github.com/daya0576/pi-imessage#5 and
# lobehub/lobehub#14711). Past this, Claude scores fal's URL instead of our copy.
CLAUDE_MAX_BASE64 = 5 * 1024 * 1024
CONTENT_TYPES = {"image/png": "png", "image/jpeg": "jpg"}
MIN_SIDE, MAX_SIDE = 256, 4096


class ImageRejectedError(ValueError):
    """A download that is not an image we can keep (too big, wrong type, odd size)."""


@dataclass(frozen=True)
class ImageBytes:
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def fits_claude(self) -> bool:
        return -(-len(self.data) // 3) * 4 <= CLAUDE_MAX_BASE64  # base64's length

    def claude_block(self) -> dict[str, Any]:
        """An image content block of these bytes (Anthropic's Messages API, base64 source)."""
        return {"type": "image", "source": {"type": "base64", "media_type": self.content_type,
                                            "data": base64.b64encode(self.data).decode()}}


def check_image(data: bytes, declared: str) -> ImageBytes:
    """The bytes as an image we keep, or ImageRejectedError. The type comes from the bytes
    (Pillow), not only from the header, and must agree with it."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise ImageRejectedError(f"{len(data)} bytes, over {MAX_BYTES}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind, (width, height) = Image.MIME.get(image.format or "", ""), image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageRejectedError("not an image") from exc
    if kind not in CONTENT_TYPES or declared.split(";")[0].strip() != kind:
        raise ImageRejectedError(f"content type {declared!r}, bytes are {kind or 'unknown'}")
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise ImageRejectedError(f"{width}x{height} outside {MIN_SIDE}..{MAX_SIDE}")
    return ImageBytes(data, kind, width, height)


async def download(http: httpx.AsyncClient, url: str) -> ImageBytes:
    """One generated image from fal, streamed and cut off past MAX_BYTES."""
    async with http.stream("GET", url, follow_redirects=True) as response:
        response.raise_for_status()
        declared = response.headers.get("content-type", "")
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BYTES:
                raise ImageRejectedError(f"over {MAX_BYTES} bytes")
            chunks.append(chunk)
    return check_image(b"".join(chunks), declared)


def object_name(business_id: str, job_id: str, index: int, content_type: str,
                post: str | None = None) -> str:
    """`post` (jiwa/waves/image_work.py's key) names the post the image was made for, so
    that an image made again for a changed post is a new object, not a refused write."""
    tail = f"-{post}" if post else ""
    return (f"businesses/{business_id}/jobs/{job_id}/image-{index}{tail}."
            f"{CONTENT_TYPES[content_type]}")


class Bucket(Protocol):
    """The part of google.cloud.storage.Bucket we use (unit tests pass a fake)."""

    name: str

    def blob(self, blob_name: str) -> Any: ...


class ImageStore:
    def __init__(self, bucket: Bucket) -> None:
        self._bucket = bucket

    @classmethod
    def connect(cls, bucket: str, project: str) -> ImageStore:
        # google-cloud-storage reads STORAGE_EMULATOR_HOST itself (storage/client.py):
        # set, it talks to the local emulator without credentials.
        from google.cloud import storage  # type: ignore[attr-defined]

        return cls(storage.Client(project=project).bucket(bucket))

    def put(self, business_id: str, job_id: str, index: int, image: ImageBytes,
            post: str | None = None) -> dict[str, Any]:
        """Writes the image once; a retry finding it there keeps the stored one (the write
        is conditional on no object existing, so two writers cannot both win). The local
        gcp-storage-emulator ignores ifGenerationMatch and overwrites; real GCS answers 412."""
        from google.api_core.exceptions import PreconditionFailed

        name = object_name(business_id, job_id, index, image.content_type, post)
        blob = self._bucket.blob(name)
        blob.metadata = {"sha256": image.sha256}
        try:
            blob.upload_from_string(image.data, content_type=image.content_type,
                                    if_generation_match=0)
        except PreconditionFailed:
            log.info("image %d already stored", index, extra={"job_id": job_id})
        return {"object": name, "bucket": self._bucket.name, "size": len(image.data),
                "content_type": image.content_type, "sha256": image.sha256,
                "width": image.width, "height": image.height}

    def get(self, name: str) -> bytes:
        data: bytes = self._bucket.blob(name).download_as_bytes()
        return data
