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
import struct
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


def block_tokens(block: dict[str, Any]) -> int:
    if block.get("type") == "text":
        return -(-len(block.get("text", "")) // CHARS_PER_TOKEN)
    if block.get("type") == "image":
        # Anthropic's vision docs: an image costs about width * height / 750 tokens. We
        # read the size from a PNG's header (fal's stand-in renders PNGs); others count 0.
        source = block.get("source") or {}
        try:
            head = base64.b64decode(source.get("data", "")[:44])
        except ValueError:
            return 0
        if source.get("type") == "base64" and head[:8] == b"\x89PNG\r\n\x1a\n":
            width, height = struct.unpack(">II", head[16:24])
            return int(width * height / 750)
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
