"""The Anthropic stand-in's usage follows the documented rules: prompt caching, image
tokens (anthropic_cache); and fal's stand-in makes the images fal would (fal_standin)."""

from __future__ import annotations

import base64
import io
from urllib.parse import urlsplit

import pytest

from jiwa.dev.anthropic_cache import ImageUnreadableError, PromptCache, TooManyBreakpointsError

MARK = {"type": "ephemeral"}
SONNET = "claude-sonnet-5-5"


def body(context: str, task: str, mark: bool = True) -> dict:
    block = {"type": "text", "text": context, **({"cache_control": MARK} if mark else {})}
    return {"system": "sys!", "messages": [{"role": "user", "content": [
        block, {"type": "text", "text": task}]}]}


def test_a_long_prefix_is_written_once_then_read_until_it_expires() -> None:
    now = [0.0]
    cache = PromptCache(clock=lambda: now[0])
    context = "x" * 4096 * 4  # 4,096 tokens at 4 characters a token
    first = cache.usage(SONNET, body(context, "task one"))
    assert first == {"cache_creation_input_tokens": 4097, "cache_read_input_tokens": 0,
                     "input_tokens": 2}
    now[0] = 299.0
    second = cache.usage(SONNET, body(context, "another task here"))
    assert second == {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 4097,
                      "input_tokens": 5}
    now[0] = 299.0 + 301.0  # the read refreshed it; 5 minutes after that it is gone
    assert cache.usage(SONNET, body(context, "x"))["cache_read_input_tokens"] == 0
    # another model does not share it
    assert cache.usage("claude-haiku-5-5", body(context, "x"))["cache_read_input_tokens"] == 0


def test_a_short_or_unmarked_prefix_is_plain_input() -> None:
    cache = PromptCache()
    for _ in range(2):
        short = cache.usage(SONNET, body("y" * 400, "task"))
        assert short == {"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                         "input_tokens": 1 + 100 + 1}
        unmarked = cache.usage(SONNET, body("z" * 8000, "task", mark=False))
        assert unmarked["cache_read_input_tokens"] == unmarked["cache_creation_input_tokens"] == 0


def test_a_changed_prefix_misses_and_five_marks_are_refused() -> None:
    cache = PromptCache()
    cache.usage(SONNET, body("a" * 8000, "t"))
    assert cache.usage(SONNET, body("a" * 7999 + "b", "t"))["cache_read_input_tokens"] == 0
    many = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": str(i), "cache_control": MARK} for i in range(5)]}]}
    with pytest.raises(TooManyBreakpointsError):
        cache.usage(SONNET, many)


def image_block(data: bytes) -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                        "data": base64.b64encode(data).decode()}}


def test_an_image_costs_its_pixels_over_750_and_a_large_one_is_scaled_first() -> None:
    from jiwa.dev.fal_standin import render

    square = render("kopi", 1, 1024, 1024, "jpeg")  # what fal's square_hd gives
    big = render("kopi", 1, 3136, 1568, "png")  # long edge twice the limit: halved
    cache = PromptCache()
    for data, tokens in ((square, 1024 * 1024 // 750), (big, 1568 * 784 // 750)):
        usage = cache.usage(SONNET, {"messages": [{"role": "user", "content": [
            image_block(data)]}]})
        assert usage["input_tokens"] == tokens


def test_an_image_the_api_cannot_read_is_refused() -> None:
    cache = PromptCache()
    for source in ({"type": "base64", "media_type": "image/png",
                    "data": base64.b64encode(b"not an image").decode()},
                   {"type": "url", "url": "http://127.0.0.1:9/gone.jpeg"}):
        with pytest.raises(ImageUnreadableError):
            cache.usage(SONNET, {"messages": [{"role": "user", "content": [
                {"type": "image", "source": source}]}]})


@pytest.mark.parametrize(("size", "fmt", "expected"), [
    ("square_hd", None, (1024, 1024, "image/jpeg")),
    (None, None, (1024, 768, "image/jpeg")),  # fal's default: landscape_4_3, JPEG
    ({"width": 640, "height": 480}, "png", (640, 480, "image/png"))])
def test_fal_gives_the_size_and_format_asked_for(size: object, fmt: str | None,
                                                 expected: tuple[int, int, str]) -> None:
    from PIL import Image

    from jiwa.dev.fal_standin import create_app

    client = create_app(key="k").test_client()
    args = {"prompt": "es kopi", **({"image_size": size} if size else {}),
            **({"output_format": fmt} if fmt else {})}
    submitted = client.post("/fal-ai/flux/schnell", json=args,
                            headers={"Authorization": "Key k"}).get_json()
    result = client.get(f"/requests/{submitted['request_id']}").get_json()["images"][0]
    assert (result["width"], result["height"], result["content_type"]) == expected
    served = client.get(urlsplit(result["url"]).path)
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.size == expected[:2]
        assert Image.MIME[image.format or ""] == expected[2] == served.mimetype
    # the queue takes the request; its result is the model's refusal
    queued = client.post("/fal-ai/flux/schnell", json={"prompt": "x", "image_size": "huge"},
                         headers={"Authorization": "Key k"}).get_json()
    refused = client.get(f"/requests/{queued['request_id']}")
    assert refused.status_code == 422 and "image_size" in refused.get_json()["detail"][0]["msg"]
