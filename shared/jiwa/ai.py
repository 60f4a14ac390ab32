"""Claude (structured outputs: a JSON schema) and Flux on fal, behind small seams.

Retry ownership: the anthropic SDK retries 429/529/5xx (`max_retries`, waiting what a
429's `retry-after` asks); fal-client retries 408/409/429 itself; the images wave retries a
failed generation. Nothing else retries these calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
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
TextSink = Callable[[str], None]  # receives a streamed answer's text, delta by delta


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
        self.rate_limit_wait = RATE_LIMIT_WAIT_SECONDS

    def warm_up(self) -> None:
        """Start making the client in a thread now (off the event loop, so the heartbeat
        keeps beating); the first call waits for it. Wave 1 calls this, so that the import
        overlaps its Instagram requests instead of delaying wave 3."""
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().run_in_executor(None, self._connect)

    async def connected(self) -> None:
        """Wait until the client is made (its SDK loaded): what `warm_up` started."""
        await self._messages()

    async def _messages(self) -> Any:
        if self._client is None:
            self.warm_up()
            assert self._connecting is not None
            self._client = await self._connecting
        return self._client.messages

    async def structured[M: BaseModel](
            self, schema: type[M], *, system: str, content: list[dict[str, Any]],
            max_tokens: int, retry_max_tokens: int | None = None,
            model: str | None = None, context: str | None = None,
            listen: Callable[[], TextSink] | None = None) -> M:
        """Claude's answer to `content` as a `schema`. An answer cut off at `max_tokens` is
        asked for once more with `retry_max_tokens` (default 4x): adaptive thinking spends
        from the same budget, so a cut-off is a budget problem, not a bad answer.

        `context` is what several calls repeat word for word (the business, the brand):
        it goes first, before `content`, marked for the prompt cache, so that the calls
        after the first read it at a tenth of the input price instead of paying it again.

        With `listen`, the answer is streamed: each attempt calls `listen()` once and hands
        the sink it returns every text delta as it arrives, so the caller can act on the
        answer's first parts while the rest is being written. The answer returned is still
        the whole one, validated as without streaming.
        """
        model = model or self.model
        budgets = [max_tokens, retry_max_tokens or 4 * max_tokens]
        blocks = [*self._context(context), *content]
        for attempt, budget in enumerate(budgets, 1):
            message = await self._create(schema, model, system, blocks, budget,
                                         listen() if listen else None)
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
                      content: list[dict[str, Any]], max_tokens: int,
                      sink: TextSink | None = None) -> Any:
        messages = await self._messages()
        import anthropic  # already imported by connect()

        fmt = {"type": "json_schema", "schema": anthropic.transform_schema(schema)}
        request: dict[str, Any] = {
            "model": model, "max_tokens": max_tokens, "system": system,
            "messages": [{"role": "user", "content": content}],
            "output_config": {"format": fmt}}
        loop = asyncio.get_running_loop()
        since = loop.time()
        while True:
            try:
                if sink is None:
                    message = await messages.create(**request)
                else:
                    # The SDK retries a failed start (429/529/5xx) as for create(); an error
                    # event in the middle of the stream raises APIStatusError, not retried:
                    # the wave fails and the job's retry owns it, as for any Claude outage.
                    async with messages.stream(**request) as stream:
                        async for text in stream.text_stream:
                            sink(text)
                        message = await stream.get_final_message()
                if getattr(message, "usage", None) is not None:
                    self.usage.add_message(model, message.usage)
                return message
            except anthropic.RateLimitError as exc:
                # The SDK has already waited what each 429's retry-after asked, for
                # max_retries tries. A rate limit (RPM, ITPM) lifts within a minute: while
                # Anthropic still says when to come back, keep trying, for up to
                # `rate_limit_wait` seconds from the first try, rather than fail the user's
                # onboarding because many run at once. A spent monthly limit answers 429
                # with no retry-after (Anthropic's rate limits page): that fails at once.
                asked = _retry_after(exc)
                if asked is None or loop.time() - since + asked > self.rate_limit_wait:
                    raise CLAUDE_DOWN from exc
                wait = spread(asked)
                log.warning("claude: rate limited; trying again in %.1f s", wait)
                await asyncio.sleep(wait)
            except anthropic.NotFoundError as exc:
                # A retired or unknown model answers 404 not_found_error: not "busy", and no
                # retry will help; the operator must change a setting.
                settings = [name for name, value in self.models.items() if value == model]
                raise WaveFailedError.of(
                    "claude_model_unavailable",
                    f"model {model} is not available (404): set "
                    f"{' or '.join(settings) or 'the model setting'} to a current "
                    f"model") from exc
            except anthropic.APIError as exc:
                raise CLAUDE_DOWN from exc


# Our assumption: five minutes of a job's 30 (infra/: the task timeout) may go to waiting
# out Anthropic's per-minute limits; past that, the user hears "busy" and can retry.
RATE_LIMIT_WAIT_SECONDS = 300.0


def spread(asked: float, draw: Callable[[], float] = random.random) -> float:
    """What `retry-after` asked, and up to a quarter more (half a second at least): the
    calls one minute's limit turned away would otherwise all come back in the same instant
    and spend the next minute's requests and tokens at once. Never less than asked: the
    SDK's own retries wait exactly `retry-after` (anthropic/_base_client.py,
    _calculate_retry_timeout), with no jitter of their own."""
    return asked + draw() * max(asked / 4, 0.5)


def _retry_after(exc: Exception) -> float | None:
    """Seconds a 429 asks us to wait (`retry-after`, seconds), or None without one."""
    response = getattr(exc, "response", None)
    try:
        return max(float(response.headers["retry-after"]), 0.0) if response is not None \
            else None
    except (KeyError, ValueError):
        return None


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

    def __init__(self, base_url: str, verify: ssl.SSLContext) -> None:
        super().__init__(verify=verify)
        self._base = urlsplit(base_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host.startswith("queue."):
            request.url = request.url.copy_with(scheme=self._base.scheme,
                                                host=self._base.hostname,
                                                port=self._base.port)
            request.headers["Host"] = self._base.netloc
        return await super().handle_async_request(request)


@dataclass(unsafe_hash=True)
class FalClient(fal_client.AsyncClient):
    """fal-client's AsyncClient with its HTTP client made as fal-client 1.0.3 makes it
    (fal_client/client.py, `AsyncClient._client`: its backup-domain transport, which
    retries a failed connect on fal's backup host, and its User-Agent), but on the
    process's one TLS context (jiwa.clients.shared_tls) instead of a new one, 47 ms of CPU
    before the first image. With `base_url` (a local stand-in), fal's queue host is sent
    there, below fal's own transport, so the stand-in sees what fal would."""

    base_url: str = field(default="")

    @async_cached_property(asyncio.Lock)
    async def _client(self) -> httpx.AsyncClient:
        from fal_client.client import USER_AGENT, AsyncBackupDomainTransport

        from jiwa.clients import shared_tls

        auth = await self._auth
        inner = (_RouteQueueHost(self.base_url, shared_tls()) if self.base_url
                 else httpx.AsyncHTTPTransport(verify=shared_tls()))
        return httpx.AsyncClient(transport=AsyncBackupDomainTransport(transport=inner),
                                 headers={"Authorization": auth.header_value,
                                          "User-Agent": USER_AGENT},
                                 timeout=self.default_timeout)


class Flux:
    """Flux through fal's queue. fal limits how many of an account's requests run at once
    (2 for a new account, rising with credits to 40); a request beyond that is not
    refused but waits IN_QUEUE until a slot frees ("Requests are never rejected due to
    concurrency limits", docs.fal.ai/documentation/model-apis/concurrency-limits). So the
    wait has two parts, bounded apart: `queue_timeout` for the line (our own onboardings
    share the account: a campaign queues here, and that is no fault of fal's), sent as
    fal's start timeout too, so fal drops a request it never started; and `timeout` for
    the generation itself, from the moment fal reports it IN_PROGRESS. fal-client's
    `subscribe(client_timeout=…)` would count the line against the generation and cancel a
    healthy request that was only waiting its turn."""

    def __init__(self, client: fal_client.AsyncClient, model: str,
                 timeout: float = 120.0, queue_timeout: float = 600.0,
                 interval: float = 0.05, usage: Usage | None = None) -> None:
        self._client, self.model, self._timeout = client, model, timeout
        # 600 s: our assumption (fal publishes no queue time); a job's whole budget is
        # 30 minutes (infra/: the task timeout), three images at a time
        self._queue_timeout, self._interval = queue_timeout, interval
        # images generated, each regeneration too; a failed request is not counted
        # (fal bills successful generations only)
        self.usage = usage if usage is not None else Usage()

    async def generate(self, prompt: str, seed: int) -> str:
        """One image's URL. Raises on failure; the caller decides about retrying."""
        handle = await self._client.submit(
            self.model, arguments={"prompt": prompt, "image_size": "square_hd",
                                   "num_images": 1, "seed": seed,
                                   "num_inference_steps": 4, "enable_safety_checker": True},
            # fal-client refuses a start timeout of 1 s or less (fal_client/_headers.py)
            start_timeout=self._queue_timeout if self._queue_timeout > 1 else None)
        try:
            await self._until_done(handle)
        except TimeoutError:
            with contextlib.suppress(Exception):  # as fal-client's own subscribe does
                await handle.cancel()
            raise
        result = await handle.get(interval=self._interval)
        images = result.get("images") or []
        if not images or not images[0].get("url"):
            raise RuntimeError("fal returned no image")
        self.usage.add_image(self.model)
        return str(images[0]["url"])

    async def _until_done(self, handle: fal_client.AsyncRequestHandle) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._queue_timeout
        started = False
        async for status in handle.iter_events(interval=self._interval):
            if isinstance(status, fal_client.Completed):
                return
            if not started and not isinstance(status, fal_client.Queued):
                started, deadline = True, loop.time() + self._timeout
            if loop.time() > deadline:
                phase = "generating" if started else "in fal's queue"
                raise fal_client.client.FalClientTimeoutError(
                    timeout=self._timeout if started else self._queue_timeout,
                    request_id=handle.request_id) from TimeoutError(phase)
