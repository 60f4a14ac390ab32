"""Claude (structured outputs: a JSON schema) and Flux on fal, behind small seams.

Retry ownership: the anthropic SDK retries 429/529/5xx (`max_retries`); fal-client
retries 408/409/429 itself; the images wave retries a failed generation. Nothing else
retries these calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import fal_client
import httpx
from asyncstdlib import cached_property as async_cached_property
from pydantic import BaseModel, ValidationError

from jiwa.failures import WaveFailedError
from jiwa.usage import Usage

if TYPE_CHECKING:
    import anthropic

log = logging.getLogger("jiwa.ai")

CLAUDE_DOWN = WaveFailedError.of("claude_unavailable")
# Anthropic's prompt-caching docs (platform.claude.com/docs/en/build-with-claude/
# prompt-caching): a block marked so ends a cached prefix (tools -> system -> messages, up
# to and including the block), kept 5 minutes from its last use; a prefix under the
# model's minimum length is simply not cached, without an error.
EPHEMERAL = {"type": "ephemeral"}
FLUX_DOWN = WaveFailedError.of("images_unavailable")


class Claude:
    """Claude through `connect()`'s client, made on the first call: importing the anthropic
    SDK takes about 2 s here, and the job's first waves, which the user hears about first,
    do not need it.

    Answers are structured outputs (`output_config.format`, a JSON schema), not a forced
    tool: Anthropic's Sonnet 5.5 migration guide lists forced tool choice among the
    settings that return 400, and a JSON schema works on every current model.
    `models` maps each setting's variable to its model, so a retired model's failure can
    tell the operator which variable to change.
    """

    def __init__(self, connect: Callable[[], anthropic.AsyncAnthropic],
                 models: dict[str, str], *, cache: bool = True,
                 usage: Usage | None = None) -> None:
        self._connect, self.models = connect, models
        # JIWA_PROMPT_CACHE: mark the repeated context for Anthropic's prompt cache
        self.cache = cache
        # every answer's `usage` is counted here, cut-off and refused ones too: all billed
        self.usage = usage if usage is not None else Usage()
        self.model = next(iter(models.values()))
        self._client: anthropic.AsyncAnthropic | None = None
        self._connecting: asyncio.Future[anthropic.AsyncAnthropic] | None = None

    def warm_up(self) -> None:
        """Start making the client in a thread now (off the event loop, so the heartbeat
        keeps beating); the first call waits for it. Wave 1 calls this, so that the import
        overlaps its Instagram requests instead of delaying wave 3."""
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().run_in_executor(None, self._connect)

    async def _messages(self) -> Any:
        if self._client is None:
            self.warm_up()
            assert self._connecting is not None
            self._client = await self._connecting
        return self._client.messages

    async def structured[M: BaseModel](
            self, schema: type[M], *, system: str, content: list[dict[str, Any]],
            max_tokens: int, retry_max_tokens: int | None = None,
            model: str | None = None, context: str | None = None) -> M:
        """Claude's answer to `content` as a `schema`. An answer cut off at `max_tokens` is
        asked for once more with `retry_max_tokens` (default 4x): adaptive thinking spends
        from the same budget, so a cut-off is a budget problem, not a bad answer.

        `context` is what several calls repeat word for word (the business, the brand):
        it goes first, before `content`, marked for the prompt cache, so that the calls
        after the first read it at a tenth of the input price instead of paying it again.
        """
        model = model or self.model
        budgets = [max_tokens, retry_max_tokens or 4 * max_tokens]
        blocks = [*self._context(context), *content]
        for attempt, budget in enumerate(budgets, 1):
            message = await self._create(schema, model, system, blocks, budget)
            if message.stop_reason == "refusal":
                raise WaveFailedError.of("claude_refused", f"{model} refused ({schema.__name__})")
            if message.stop_reason != "max_tokens":
                return _parse(schema, message)
            log.warning("claude: %s cut off at max_tokens=%d (try %d of %d)", schema.__name__,
                        budget, attempt, len(budgets))
        raise WaveFailedError.of("claude_cut_off", f"{schema.__name__} exceeded "
                                                   f"max_tokens={budgets[-1]}")

    def _context(self, context: str | None) -> list[dict[str, Any]]:
        if not context:
            return []
        block: dict[str, Any] = {"type": "text", "text": context}
        if self.cache:
            block["cache_control"] = EPHEMERAL
        return [block]

    async def _create(self, schema: type[BaseModel], model: str, system: str,
                      content: list[dict[str, Any]], max_tokens: int) -> Any:
        messages = await self._messages()
        import anthropic  # already imported by connect()

        fmt = {"type": "json_schema", "schema": anthropic.transform_schema(schema)}
        try:
            message = await messages.create(
                model=model, max_tokens=max_tokens, system=system,
                messages=[{"role": "user", "content": content}],
                output_config={"format": fmt})
        except anthropic.NotFoundError as exc:
            # A retired or unknown model answers 404 not_found_error: not "busy", and no
            # retry will help; the operator must change a setting.
            settings = [name for name, value in self.models.items() if value == model]
            raise WaveFailedError.of(
                "claude_model_unavailable",
                f"model {model} is not available (404): set "
                f"{' or '.join(settings) or 'the model setting'} to a current model") from exc
        except anthropic.APIError as exc:
            raise CLAUDE_DOWN from exc
        if getattr(message, "usage", None) is not None:
            self.usage.add_message(model, message.usage)
        return message


def _parse[M: BaseModel](schema: type[M], message: Any) -> M:
    text = "".join(block.text for block in message.content if block.type == "text")
    if not text:
        raise WaveFailedError.of("claude_invalid", f"{schema.__name__}: no text in the answer")
    try:
        return schema.model_validate_json(text)
    except ValidationError as exc:
        detail = f"{schema.__name__}: {exc.error_count()} validation errors"
        raise WaveFailedError.of("claude_invalid", detail) from exc


class _RouteQueueHost(httpx.AsyncHTTPTransport):
    """fal-client builds `https://queue.fal.run/...` at import time; send those to a
    local stand-in instead (status and result URLs already come from its answers)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self._base = urlsplit(base_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.startswith("queue."):
            request.url = request.url.copy_with(scheme=self._base.scheme,
                                                host=self._base.hostname,
                                                port=self._base.port)
            request.headers["Host"] = self._base.netloc
        return await super().handle_async_request(request)


@dataclass(unsafe_hash=True)
class RoutedFalClient(fal_client.AsyncClient):
    base_url: str = field(default="")

    @async_cached_property(asyncio.Lock)
    async def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=_RouteQueueHost(self.base_url),
                                 headers={"Authorization": f"Key {self.key}"},
                                 timeout=self.default_timeout)


class Flux:
    def __init__(self, client: fal_client.AsyncClient, model: str,
                 timeout: float = 120.0, usage: Usage | None = None) -> None:
        self._client, self.model, self._timeout = client, model, timeout
        # images generated, each regeneration too; a failed request is not counted
        # (fal bills successful generations only)
        self.usage = usage if usage is not None else Usage()

    async def generate(self, prompt: str, seed: int) -> str:
        """One image's URL. Raises on failure; the caller decides about retrying."""
        result = await self._client.subscribe(
            self.model, arguments={"prompt": prompt, "image_size": "square_hd",
                                   "num_images": 1, "seed": seed,
                                   "num_inference_steps": 4, "enable_safety_checker": True},
            client_timeout=self._timeout, interval=0.05)
        images = result.get("images") or []
        if not images or not images[0].get("url"):
            raise RuntimeError("fal returned no image")
        self.usage.add_image(self.model)
        return str(images[0]["url"])
