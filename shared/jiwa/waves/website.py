"""Wave 2: read what the bio link leads to, as a person would. Not fatal when missing.

A short link is followed (every hop inside the SSRF rules of `jiwa.scrape`); a link-in-bio
page is read for the business's own site, which is then read; chat, marketplace, maps and
delivery links are recorded as the business's channels and never opened (a redirect to
one is not requested either); one click further to the site's shop or menu page when the
first page shows few products. With no site, the products and prices in the Instagram
captions stand in. At most three pages are fetched.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from jiwa.job.runner import WaveContext
from jiwa.reading.biolinks import (
    channel,
    classify,
    hub_links,
    looks_like_hub,
    pick_site,
    shop_page,
)
from jiwa.reading.captions import products_from_text
from jiwa.reading.extract import MAX_PRODUCTS, read_html
from jiwa.scrape import Page, UnsafeURLError
from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves.website")

read_page = read_html  # one page's reading (jiwa.reading.extract)


class Unavailable(Exception):
    """No page to read; the reason goes into the wave's output."""


def _fetchable(url: str) -> bool:
    return classify(url).fetchable


class BioLinkReader:
    def __init__(self, fetcher: Any, job_id: str) -> None:
        self._fetcher, self._job_id = fetcher, job_id
        self.channels: dict[str, dict[str, Any]] = {}
        self.via: list[str] = []

    def note(self, url: str, label: str = "") -> bool:
        """Record `url` as a channel when it is one (once: a chat by its number, anything
        else by its URL without query); True if it was."""
        link = classify(url)
        if link.is_channel:
            record = channel(link, label)
            key = record.get("phone") or url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
            self.channels.setdefault(f"{link.kind}:{key}", record)
        return link.is_channel

    async def page(self, url: str) -> tuple[Page, dict[str, Any]]:
        """The page at `url` and its reading, or Unavailable with the reason."""
        try:
            page = await self._fetcher.fetch(url, follow=_fetchable)
        except UnsafeURLError as exc:
            log.warning("website refused: %s", exc, extra={"job_id": self._job_id})
            raise Unavailable(f"refused: {exc}") from exc
        except Exception as exc:
            log.warning("website unreadable: %s", type(exc).__name__,
                        extra={"job_id": self._job_id})
            raise Unavailable(f"unreadable: {type(exc).__name__}") from exc
        self.via.append(page.url)
        if 300 <= page.status < 400 and self.note(page.url):
            raise Unavailable(f"leads to {classify(page.url).kind}")
        if page.status >= 400 or "html" not in page.content_type:
            raise Unavailable(f"HTTP {page.status} {page.content_type}")
        # lxml and trafilatura hold the CPU for up to a second on a 1 MB page: not on the
        # event loop, which keeps the heartbeat going.
        return page, await asyncio.to_thread(read_html, page.text, page.url)

    async def read(self, url: str) -> dict[str, Any]:
        if self.note(url):
            raise Unavailable(f"bio link is {classify(url).kind}")
        page, found = await self.page(url)
        if classify(page.url).kind == "hub" or looks_like_hub(found, page.url):
            links = hub_links(found, page.text)
            for link in links:
                self.note(link["url"], link["text"])
            site = pick_site(links, page.url)
            if site is None:
                raise Unavailable("link-in-bio page without a website")
            page, found = await self.page(site)
        for link in found["links"]:
            self.note(link["url"], link["text"])
        if len(found["products"]) < 2 and (shop := shop_page(found["links"], page.url)):
            try:
                _, more = await self.page(shop)
            except Unavailable:
                more = {"products": [], "images": []}
            names = {p["name"].lower() for p in found["products"]}
            found["products"] += [p for p in more["products"] if p["name"].lower() not in names]
            found["images"] += more["images"]
        products = [{**p, "source": "site"} for p in found["products"][:MAX_PRODUCTS]]
        return {"available": True, "url": page.url, "title": found["title"],
                "description": found["description"], "text": found["text"],
                "products": products, "images": found["images"][:10]}


def caption_products(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Products and prices written in the captions, newest post first."""
    found: list[dict[str, Any]] = []
    names: set[str] = set()
    for post in posts:
        for p in products_from_text(str(post.get("caption") or "")):
            if p["name"].lower() not in names and len(found) < MAX_PRODUCTS:
                names.add(p["name"].lower())
                found.append({**p, "currency": "IDR", "image": str(post.get("media_url") or ""),
                              "url": "", "source": "captions"})
    return found


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    profile = ctx.outputs["profile"]
    url = str(profile["profile"].get("website") or "").strip()
    reader = BioLinkReader(services.fetcher, ctx.job.id)
    output: dict[str, Any]
    try:
        if not url:
            raise Unavailable("no website in bio")
        output = await reader.read(url)
    except Unavailable as why:
        output = {"available": False, "reason": str(why), "products": []}
    if not output["products"]:
        output["products"] = caption_products(profile.get("posts", []))
    output["channels"] = list(reader.channels.values())
    if reader.via:
        output["via"] = reader.via
    business_id = profile.get("business_id")
    if business_id:
        await asyncio.to_thread(services.store.save_business, ctx.job.id, business_id,
                                {"channels": output["channels"]})
    return output
