"""Our copy of each image (jiwa/image_store.py, jiwa/media.py) and the gate scoring it, with
fakes passed in: no emulator, no network."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import httpx
import pytest
from fakes import FakeJobStore, settings
from google.api_core.exceptions import NotFound, PreconditionFailed
from PIL import Image
from pydantic import BaseModel

from jiwa.image_store import (
    MAX_BYTES,
    ImageBytes,
    ImageRejectedError,
    ImageStore,
    check_image,
    download,
)
from jiwa.media import send_our_copy
from jiwa.waves import quality
from jiwa.waves.services import WaveServices
from jiwa.whatsapp import WhatsAppClient, WhatsAppError


def png(side: int = 256, colour: str = "red", kind: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, kind)
    return out.getvalue()


# -- checks ------------------------------------------------------------------------------
def test_a_png_is_kept_with_its_size() -> None:
    image = check_image(png(300), "image/png")
    assert (image.content_type, image.width, image.height) == ("image/png", 300, 300)


@pytest.mark.parametrize(("data", "declared", "why"), [
    (png(), "image/jpeg", "content type"),  # the header lies about the bytes
    (png(kind="GIF"), "image/gif", "content type"),  # WhatsApp takes jpeg and png only
    (b"<html>not found</html>", "image/png", "not an image"),
    (png(64), "image/png", "64x64"),
    (b"\0" * (MAX_BYTES + 1), "image/png", "over"),
])
def test_what_we_do_not_keep(data: bytes, declared: str, why: str) -> None:
    with pytest.raises(ImageRejectedError, match=why):
        check_image(data, declared)


def test_a_download_stops_past_the_bound() -> None:
    async def chunks() -> Any:
        for _ in range(10):
            yield b"\0" * 1024 * 1024

    def endless(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "image/png"}, content=chunks())

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(endless)) as http:
            await download(http, "https://fal.media/x.png")

    with pytest.raises(ImageRejectedError, match=r"^over"):  # cut off while streaming
        asyncio.run(go())


# -- storage -----------------------------------------------------------------------------
class FakeBlob:
    def __init__(self, bucket: FakeBucket, name: str) -> None:
        self.bucket, self.name, self.metadata = bucket, name, None

    def upload_from_string(self, data: bytes, content_type: str, if_generation_match: int
                           ) -> None:
        assert if_generation_match == 0
        if self.name in self.bucket.objects:
            raise PreconditionFailed("exists")
        self.bucket.objects[self.name] = data

    def download_as_bytes(self) -> bytes:
        if self.name not in self.bucket.objects:
            raise NotFound("gone")
        return self.bucket.objects[self.name]


class FakeBucket:
    name = "jiwa-images-test"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def blob(self, blob_name: str) -> FakeBlob:
        return FakeBlob(self, blob_name)


def test_an_image_is_written_once_under_business_job_and_index() -> None:
    bucket = FakeBucket()
    store = ImageStore(bucket)
    first = store.put("biz_1", "job_1", 3, check_image(png(), "image/png"))
    again = store.put("biz_1", "job_1", 3, check_image(png(), "image/png"))
    assert first == again
    assert first["object"] == "businesses/biz_1/jobs/job_1/image-3.png"
    assert list(bucket.objects) == [first["object"]]
    assert (first["size"], first["content_type"]) == (len(png()), "image/png")


# -- the gate scores our copy --------------------------------------------------------------
class ScoreByColour:
    """Claude.structured: scores what it is shown (base64), red 4, blue 9."""

    def __init__(self) -> None:
        self.blocks: list[dict[str, Any]] = []

    async def structured(self, schema: type[BaseModel], **kwargs: Any) -> BaseModel:
        block = kwargs["content"][0]
        self.blocks.append(block)
        score = 9 if block["source"]["data"] == ImageBytes(png(colour="blue"), "image/png",
                                                          256, 256).claude_block()[
            "source"]["data"] else 4
        return schema.model_validate({"score": score, "brand_fit": score, "prompt_fit": score})


class Flux:
    async def generate(self, prompt: str, seed: int) -> str:
        return f"https://fal.media/{seed}.png"


def test_the_gate_scores_the_downloaded_copy_and_keeps_the_best() -> None:
    bodies = {"/2001.png": png(colour="red"), "/2002.png": b"<html>gone</html>",
              "/2003.png": png(colour="blue")}

    def fal_cdn(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "image/png"},
                              content=bodies[request.url.path])

    kept: list[ImageBytes] = []

    async def keep(image: ImageBytes) -> dict[str, Any]:
        kept.append(image)
        return {"object": "o"}

    claude = ScoreByColour()

    async def go() -> dict[str, Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fal_cdn)) as http:
            services = WaveServices(
                settings=settings(image_max_tries=3), store=FakeJobStore(),
                instagram=None, cipher=None, fetcher=None,  # type: ignore[arg-type]
                claude=claude, flux=Flux(), image_http=http)  # type: ignore[arg-type]
            return await quality.best_image(
                services, {"index": 2, "prompt": "kopi", "date": "2026-01-01"},
                {"visual_style": "warm", "colors": ["#000"]}, keep)

    best = asyncio.run(go())
    assert [b["source"]["type"] for b in claude.blocks] == ["base64", "base64"]  # 2nd rejected
    assert (best["url"], best["score"], best["object"]) == ("https://fal.media/2003.png", 9, "o")
    assert [k.data for k in kept] == [png(colour="blue")]


# -- sending what we own -------------------------------------------------------------------
def test_a_preview_is_uploaded_then_sent_by_media_id() -> None:
    calls: list[httpx.Request] = []

    def graph(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if request.url.path.endswith("/media"):
            return httpx.Response(200, json={"id": "1700000000000001"})
        return httpx.Response(200, json={"messages": [{"id": "wamid.1"}]})

    bucket = FakeBucket()
    bucket.objects["businesses/b/jobs/j/image-1.png"] = png()
    whatsapp = WhatsAppClient(httpx.Client(transport=httpx.MockTransport(graph)),
                              "https://graph.facebook.com", "v26.0", "123", "token")
    wamid = send_our_copy(ImageStore(bucket), whatsapp, "628111",
                          {"object": "businesses/b/jobs/j/image-1.png",
                           "content_type": "image/png", "url": "https://fal.media/1.png"},
                          "caption")
    assert wamid == "wamid.1"
    upload, send = calls
    assert upload.url.path == "/v26.0/123/media"
    assert b'name="messaging_product"\r\n\r\nwhatsapp' in upload.content
    assert png() in upload.content
    assert json.loads(send.content)["image"] == {"id": "1700000000000001",
                                                 "caption": "caption"}


def test_a_missing_copy_is_a_final_refusal() -> None:
    whatsapp = WhatsAppClient(httpx.Client(transport=httpx.MockTransport(
        lambda r: httpx.Response(500))), "https://graph.facebook.com", "v26.0", "1", "t")
    with pytest.raises(WhatsAppError) as error:
        send_our_copy(ImageStore(FakeBucket()), whatsapp, "628111", {"object": "x.png"}, "c")
    assert not error.value.retryable
