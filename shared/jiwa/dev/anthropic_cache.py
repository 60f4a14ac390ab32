"""The Anthropic stand-in's prompt cache: the `usage` the real Messages API reports for
what it receives, with `cache_control` honoured (a development tool).

The rules, from Anthropic's prompt-caching docs (platform.claude.com/docs/en/
build-with-claude/prompt-caching, read 2026-11; the pricing page for the usage fields):
- the prompt is read in the order tools -> system -> messages; a block marked
  `cache_control: {"type": "ephemeral"}` ends a cacheable prefix: everything up to and
  including that block, matched exactly (one changed character is a miss);
- at most 4 marked blocks per request (a fifth answers 400);
- a prefix shorter than the model's minimum cacheable length is not cached, and the
  request succeeds all the same, billed as plain input;
- the first request with a prefix writes it (`cache_creation_input_tokens`, billed 1.25x
  input for the 5-minute TTL); a later one with the same prefix, on the same model, reads
  it (`cache_read_input_tokens`, 0.1x) and refreshes its 5 minutes; the longest cached
  prefix among the request's marks is the one read;
- `input_tokens` is the rest: the tokens after the last cache hit or write, so
  input + cache_creation + cache_read is the whole prompt.
Not modelled: the top-level automatic `cache_control`, the 1-hour TTL, the 20-block
lookback before each mark (we check at the marks only; our prompts have 2-4 blocks).
Not in the key: `output_config` (the structured-output schema). The docs' order names
tools, system and messages only; one third-party report (AWS re:Post, Bedrock, Claude
Sonnet 4.6) saw a changed schema miss the cache. If the real API does that, our brand,
products and calendar calls (three schemas) would not read each other's prefix: check a
real run's `jiwa jobs show` (cache read tokens) before relying on the saving.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

CHARS_PER_TOKEN = 4  # the stand-in's rule (Anthropic: roughly 3.5-4 characters a token)
MAX_BREAKPOINTS = 4
TTL_SECONDS = 300.0  # "ephemeral": 5 minutes from the last use

# Minimum cacheable prompt length, in tokens. The docs list 1,024 for Claude Sonnet 4.5 and
# 4.6 and 4,096 for Claude Haiku 4.5; we found no figure for Sonnet 5.5 or Haiku 5.5 (the
# models we use), so these assume each is its family's latest listed value.
MIN_TOKENS = {"claude-sonnet-5-5": 1024, "claude-haiku-5-5": 4096}
DEFAULT_MIN_TOKENS = 1024


class TooManyBreakpointsError(ValueError):
    pass


def prompt_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The prompt's blocks in the order the API reads them (we send no tools)."""
    system = body.get("system") or []
    blocks = [{"type": "text", "text": system}] if isinstance(system, str) else list(system)
    for message in body.get("messages", []):
        content = message.get("content")
        blocks += ([{"type": "text", "text": content}] if isinstance(content, str)
                   else list(content or []))
    return blocks


class ImageUnreadableError(ValueError):
    """An image block whose picture the API cannot read (a URL it cannot fetch, bytes
    that are no image): the API answers 400 invalid_request_error."""


# Anthropic's vision docs (platform.claude.com/docs/en/build-with-claude/vision, "Evaluate
# image size", read 2026-11): an image costs about width * height / 750 tokens; one whose
# long edge is over 1568 px is first scaled down, keeping its aspect ratio. A URL source is
# fetched by the API and billed the same as the same bytes sent in base64.
LONG_EDGE = 1568
PIXELS_PER_TOKEN = 750


def image_tokens(source: dict[str, Any]) -> int:
    import io

    from PIL import Image, UnidentifiedImageError

    if source.get("type") == "base64":
        try:
            data = base64.b64decode(source.get("data", ""), validate=False)
        except ValueError as exc:
            raise ImageUnreadableError("image.source.base64: invalid base64 data") from exc
    elif source.get("type") == "url":
        import httpx

        try:
            response = httpx.get(str(source.get("url", "")), timeout=10, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            # The wording is the stand-in's; the real API's 400 text was not found.
            raise ImageUnreadableError(
                f"image.source.url: could not fetch the image ({type(exc).__name__})") from exc
        data = response.content
    else:
        return 0
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise ImageUnreadableError("image.source: the data is not a readable image") from exc
    scale = min(1.0, LONG_EDGE / max(width, height, 1))
    return int(round(width * scale) * round(height * scale) / PIXELS_PER_TOKEN)


def block_tokens(block: dict[str, Any]) -> int:
    if block.get("type") == "text":
        return -(-len(block.get("text", "")) // CHARS_PER_TOKEN)
    if block.get("type") == "image":
        return image_tokens(block.get("source") or {})
    return 0


class PromptCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()

    def usage(self, model: str, body: dict[str, Any]) -> dict[str, int]:
        """input_tokens, cache_creation_input_tokens and cache_read_input_tokens for this
        request, writing and reading the cache as the API would."""
        return self._account(model, body, commit=True)

    def peek(self, model: str, body: dict[str, Any]) -> dict[str, int]:
        """The same `usage`, leaving the cache as it is (the rate limiter's estimate,
        before the request is answered)."""
        return self._account(model, body, commit=False)

    def _account(self, model: str, body: dict[str, Any], *, commit: bool) -> dict[str, int]:
        blocks = prompt_blocks(body)
        tokens = [block_tokens(b) for b in blocks]
        marks = [i for i, b in enumerate(blocks) if b.get("cache_control")]
        if len(marks) > MAX_BREAKPOINTS:
            raise TooManyBreakpointsError(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
                f"Found {len(marks)}.")
        minimum = MIN_TOKENS.get(model, DEFAULT_MIN_TOKENS)
        keys = {i: _key(model, blocks[:i + 1]) for i in marks}
        read = written = 0
        with self._lock:
            now = self._clock()
            self._expiry = {k: t for k, t in self._expiry.items() if t > now}
            hit = next((i for i in reversed(marks) if keys[i] in self._expiry), None)
            refreshed = [] if hit is None else [keys[hit]]
            if hit is not None:
                read = sum(tokens[:hit + 1])
            for i in marks:
                length = sum(tokens[:i + 1])
                if (hit is None or i > hit) and length >= minimum:
                    refreshed.append(keys[i])
                    written = length - read
            if commit:
                self._expiry.update(dict.fromkeys(refreshed, now + TTL_SECONDS))
        return {"input_tokens": sum(tokens) - read - written,
                "cache_creation_input_tokens": written, "cache_read_input_tokens": read}

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()


def _key(model: str, prefix: list[dict[str, Any]]) -> str:
    """The model and the exact prefix content (the marks themselves are not content)."""
    plain = [{k: v for k, v in b.items() if k != "cache_control"} for b in prefix]
    return hashlib.sha256(json.dumps([model, plain], sort_keys=True).encode()).hexdigest()
