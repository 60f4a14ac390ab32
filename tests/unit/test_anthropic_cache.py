"""The Anthropic stand-in's prompt cache follows the documented rules (anthropic_cache)."""

from __future__ import annotations

import pytest

from jiwa.dev.anthropic_cache import PromptCache, TooManyBreakpointsError

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
