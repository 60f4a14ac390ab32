"""Claude (structured output through a forced tool) and Flux on fal, behind small seams.

Retry ownership: the anthropic SDK retries 429/529/5xx (`max_retries`); fal-client
retries 408/409/429 itself; the images wave retries a failed generation. Nothing else
retries these calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import fal_client
import httpx
from asyncstdlib import cached_property as async_cached_property
from pydantic import BaseModel, ValidationError

from jiwa.job.runner import WaveFailedError

if TYPE_CHECKING:
    import anthropic

M = TypeVar("M", bound=BaseModel)

CLAUDE_DOWN = WaveFailedError("claude_unavailable", "our analysis service is busy",
                              "layanan analisis kami sedang sibuk")
FLUX_DOWN = WaveFailedError("images_unavailable", "our image service is not responding",
                            "layanan gambar kami tidak merespons")


class Claude:
    """Claude through `connect()`'s client, made on the first call: importing the anthropic
    SDK takes about 2 s here, and the job's first waves, which the user hears about first,
    do not need it."""

    def __init__(self, connect: Callable[[], anthropic.AsyncAnthropic], model: str,
                 max_tokens: int = 2048) -> None:
        self._connect, self.model, self._max_tokens = connect, model, max_tokens
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

    async def structured(self, tool: str, description: str, schema: type[M], *, system: str,
                         content: list[dict[str, Any]]) -> M:
        """Ask Claude to answer by calling `tool`; validate the input against `schema`."""
        messages = await self._messages()
        import anthropic  # already imported by connect()

        try:
            request: dict[str, Any] = {
                "model": self.model, "max_tokens": self._max_tokens, "system": system,
                "messages": [{"role": "user", "content": content}],
                "tools": [{"name": tool, "description": description,
                           "input_schema": schema.model_json_schema()}],
                "tool_choice": {"type": "tool", "name": tool}}
            message = await messages.create(**request)
        except anthropic.APIError as exc:
            raise CLAUDE_DOWN from exc
        for block in message.content:
            if block.type == "tool_use" and block.name == tool:
                try:
                    return schema.model_validate(block.input)
                except ValidationError as exc:
                    raise WaveFailedError("claude_invalid", "our analysis came back malformed",
                                          "hasil analisis kami tidak valid") from exc
        raise WaveFailedError("claude_invalid", "our analysis came back empty",
                              "hasil analisis kami kosong")


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
                 timeout: float = 120.0) -> None:
        self._client, self.model, self._timeout = client, model, timeout

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
        return str(images[0]["url"])
