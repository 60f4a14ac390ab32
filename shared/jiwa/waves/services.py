"""What the waves call out to, passed in (tests build it with stand-in-backed clients)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from jiwa.clients import Clients, shared_tls
from jiwa.events import ProgressKind
from jiwa.settings import Settings
from jiwa.startup import bulk_imports
from jiwa.store import JobStore
from jiwa.usage import Usage
from jiwa.waves.image_work import ImageWork

# Imported in from_clients, when wave 1 first runs: the SDKs behind these (fal, httpx, Cloud
# Storage) are not needed for the job's first progress event (jiwa.waves, bench/start.py).
if TYPE_CHECKING:
    import anthropic
    import httpx

    from jiwa.ai import Claude, Flux
    from jiwa.image_store import ImageStore
    from jiwa.instagram import InstagramClient
    from jiwa.job.runner import WaveContext
    from jiwa.scrape import SafeFetcher
    from jiwa.sealed_tokens import Decrypts


@dataclass
class WaveServices:
    settings: Settings
    store: JobStore
    instagram: InstagramClient
    cipher: Decrypts  # opens the stored Instagram token (jiwa.sealed_tokens)
    fetcher: SafeFetcher
    claude: Claude
    flux: Flux
    # our copy of each kept image (jiwa.image_store); None only in unit tests of the gate
    images: ImageStore | None = None
    image_http: httpx.AsyncClient | None = None
    # what Claude and Flux spend, counted per wave (jiwa/waves/__init__.py records it)
    usage: Usage = field(default_factory=Usage)
    # Every setting from_clients needs, its clients' included (instagram, images):
    # jiwa.waves checks them before the job starts, as when it built them there. The token
    # keys (either half of decision 0012) are checked there too, by building the opener.
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "anthropic_api_key", "fal_key", "image_bucket", "instagram_app_id",
        "instagram_redirect_uri")
    # each post's image, from the calendar wave that starts it to the images wave
    work: ImageWork = field(init=False)

    def __post_init__(self) -> None:
        self.work = ImageWork(self)

    async def keep_and_summarize(self, ctx: WaveContext, fields: dict[str, Any],
                                 summary: str) -> None:
        """Save the wave's part of the business and send the user its summary, together:
        neither needs the other, and each is safe to repeat if the wave runs again (a
        merge; an event of fixed id)."""
        await asyncio.gather(
            asyncio.to_thread(self.store.save_business, ctx.job.id,
                              ctx.outputs["profile"]["business_id"], fields),
            ctx.emit(ProgressKind.SUMMARY, 50, summary=summary))

    @classmethod
    def from_clients(cls, clients: Clients) -> WaveServices:
        s = clients.settings
        s.require(*cls.REQUIRED)
        import httpx

        from jiwa.ai import Claude, FalClient, Flux
        from jiwa.scrape import SafeFetcher

        def connect_claude() -> anthropic.AsyncAnthropic:
            with bulk_imports():  # here, not at start: see Claude
                import anthropic

            return anthropic.AsyncAnthropic(
                api_key=s.anthropic_api_key, base_url=s.anthropic_base_url,
                max_retries=s.anthropic_max_retries,
                http_client=anthropic.DefaultAsyncHttpxClient(verify=shared_tls()))

        fal = FalClient(key=s.fal_key, base_url=s.fal_base_url or "")
        routes = {name: to for name, _, to in (r.strip().partition("=") for r in
                                                s.scrape_routes.split(",") if r.strip())}
        fetcher = SafeFetcher(httpx.AsyncClient(timeout=10.0, verify=shared_tls()),
                              allow_hosts=s.scrape_allow_hosts.split(","), routes=routes)
        usage = Usage()
        return cls(s, clients.store, clients.instagram, clients.token_opener, fetcher,
                   Claude(connect_claude, {"ANTHROPIC_MODEL": s.anthropic_model,
                                           "ANTHROPIC_SCORE_MODEL": s.anthropic_score_model},
                          cache=s.prompt_cache == "on", usage=usage),
                   Flux(fal, s.fal_model, timeout=s.fal_timeout_seconds, usage=usage),
                   clients.images, httpx.AsyncClient(timeout=30.0, verify=shared_tls()),
                   usage)
