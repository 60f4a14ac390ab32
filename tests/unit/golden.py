"""The golden set of sample businesses (tests/data/businesses), read through the real
website wave and SSRF-safe fetcher, with the website stand-in behind an in-memory
transport: every name the stand-in serves is routed to it, as JIWA_SCRAPE_ROUTES does on
the local stack. Any other host asked for is recorded (and answered 599), so a test can
show that no marketplace was ever requested."""

from __future__ import annotations

import asyncio
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from fakes import FakeJobStore, settings

from jiwa.dev import website_standin
from jiwa.scrape import SafeFetcher
from jiwa.waves import website
from jiwa.waves.services import WaveServices

ROOT_README = Path(__file__).resolve().parents[2] / "README.md"
STANDIN = "standin.test:80"
PUBLIC_IP = "93.184.215.14"


def fetcher(requested: list[str]) -> SafeFetcher:
    client = website_standin.create_app().test_client()

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(request.headers["host"])
        if request.url.host != "standin.test":
            return httpx.Response(599)
        got = client.get(request.url.raw_path.decode(), headers={"Host": request.headers["host"]})
        headers = {k: v for k, v in got.headers.items() if k.lower() in
                   ("content-type", "location")}
        return httpx.Response(got.status_code, headers=headers, content=got.data)

    async def resolve(host: str, port: int) -> list[str]:
        return [PUBLIC_IP]  # any other name looks public; the transport records it

    routes = dict.fromkeys(website_standin.hosts(), STANDIN)
    return SafeFetcher(httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                       resolver=resolve, routes=routes)


def outputs(business: dict[str, Any]) -> dict[str, Any]:
    """What wave 1 hands on for this business's Instagram account."""
    ig = business["instagram"]
    profile = {k: ig.get(k) for k in ("username", "name", "biography", "website")}
    posts = [{"caption": c, "media_type": "IMAGE", "media_url": "", "timestamp": ""}
             for c in ig["posts"]]
    return {"profile": {"business_id": f"ig_{ig['username']}",
                        "profile": {**profile, "followers_count": 1000}, "posts": posts}}


@cache
def reading(slug: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The website wave's output for one business, and the hosts it asked for."""
    business = website_standin.golden_set()[slug]
    requested: list[str] = []
    store = FakeJobStore()
    job, _ = store.open_for_phone("6281200000000", "id")
    services = WaveServices(settings=settings(), store=store, instagram=None,  # type: ignore[arg-type]
                            cipher=None, fetcher=fetcher(requested), claude=None,  # type: ignore[arg-type]
                            flux=None)  # type: ignore[arg-type]
    ctx: Any = SimpleNamespace(job=job, outputs=outputs(business))
    out = asyncio.run(website.run(ctx, services))
    saved = store.business(f"ig_{business['instagram']['username']}") or {}
    assert saved.get("channels") == out["channels"]  # recorded on the business
    return out, tuple(requested)


def table() -> str:
    """The README's golden-set table, from what the reading finds."""
    rows = ["| business | the bio link leads to | found | products: price as written (rupiah) "
            "| channels recorded |", "|---|---|---|---|---|"]
    for slug, business in sorted(website_standin.golden_set().items(),
                                 key=lambda item: item[1]["name"]):
        out, _ = reading(slug)
        found = {p["name"]: p for p in out["products"]}
        expected = business["expected"]["products"]
        cells = [f"{name}: {found[name]['price_text']} ({found[name]['price']:,})"
                 if name in found else f"NOT FOUND: {name}" for name, _, _ in expected]
        hits = sum(name in found for name, _, _ in expected)
        channels = ", ".join(sorted({c["kind"] for c in out["channels"]})) or "none"
        rows.append(f"| {business['name']} | {business['kind']} | {hits}/{len(expected)} "
                    f"from {out['products'][0]['source'] if out['products'] else '-'} | "
                    f"{'; '.join(cells)} | {channels} |")
    return "\n".join(rows)
