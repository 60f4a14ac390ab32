"""Wave 2: read the website from the bio link. Not fatal when missing or unreadable."""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser
from typing import Any

from jiwa.job.runner import WaveContext
from jiwa.scrape import UnsafeURLError
from jiwa.waves.services import WaveServices

log = logging.getLogger("jiwa.waves.website")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.title, self.description = "", ""
        self.text: list[str] = []
        self.images: list[str] = []
        self.json_ld: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (a.get("name") or "").lower() == "description":
            self.description = (a.get("content") or "").strip()
        if tag == "img" and a.get("src"):
            self.images.append(str(a["src"]))
        kind = "ld" if tag == "script" and a.get("type") == "application/ld+json" else tag
        self._in.append(kind)

    def handle_endtag(self, tag: str) -> None:
        if self._in:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        where = self._in[-1] if self._in else ""
        if where == "title":
            self.title += data.strip()
        elif where == "ld":
            self.json_ld.append(data)
        elif where not in ("script", "style") and data.strip():
            self.text.append(" ".join(data.split()))


def _scalar(value: Any) -> str:
    # Only plain values: a nested structure is no name or price, and printing one nested
    # near the recursion limit would raise again.
    return str(value) if isinstance(value, str | int | float) else ""


def _is_product(item: dict[str, Any]) -> bool:
    kind = item.get("@type")  # schema.org allows one type or a list of them
    return kind == "Product" or (isinstance(kind, list) and "Product" in kind)


def _product(item: Any) -> dict[str, str] | None:
    if not isinstance(item, dict) or not _is_product(item):
        return None
    name = _scalar(item.get("name"))
    if not name:
        return None
    offers = item.get("offers")
    # one Offer, a list of them (Shopify: one per variant), or an AggregateOffer
    if isinstance(offers, list):
        offers = next((o for o in offers if isinstance(o, dict) and "price" in o), {})
    offer: dict[str, Any] = offers if isinstance(offers, dict) else {}
    price = offer.get("price", offer.get("lowPrice", ""))
    return {"name": name, "price": _scalar(price),
            "currency": _scalar(offer.get("priceCurrency", ""))}


def _items(data: Any) -> list[Any]:
    """The top-level items of a JSON-LD block: a list, one item, or an `@graph` of them
    (WordPress/WooCommerce put their products there)."""
    items = data if isinstance(data, list) else [data]
    graphs = [i["@graph"] for i in items if isinstance(i, dict)
              and isinstance(i.get("@graph"), list)]
    return items + [g for graph in graphs for g in graph]


def read_page(html: str) -> dict[str, Any]:
    """Title, description, main text, products (schema.org JSON-LD) and images."""
    reader = _Reader()
    reader.feed(html)
    products = []
    for block in reader.json_ld:
        try:
            data = json.loads(block)
        except (ValueError, RecursionError):
            # Not JSON, or nested deeper than the parser's recursion allows (a page can nest
            # 100,000 levels): only this block is skipped, the rest of the page still counts.
            continue
        for item in _items(data):
            product = _product(item)
            if product:
                products.append(product)
    text = re.sub(r"\s+", " ", " ".join(reader.text))[:4000]
    return {"title": reader.title[:200], "description": reader.description[:500],
            "text": text, "products": products[:20], "images": reader.images[:10]}


async def run(ctx: WaveContext, services: WaveServices) -> dict[str, Any]:
    url = str(ctx.outputs["profile"]["profile"].get("website") or "")
    if not url:
        return {"available": False, "reason": "no website in bio"}
    try:
        page = await services.fetcher.fetch(url)
    except UnsafeURLError as exc:
        log.warning("website refused: %s", exc, extra={"job_id": ctx.job.id})
        return {"available": False, "reason": f"refused: {exc}"}
    except Exception as exc:
        log.warning("website unreadable: %s", type(exc).__name__, extra={"job_id": ctx.job.id})
        return {"available": False, "reason": f"unreadable: {type(exc).__name__}"}
    if page.status >= 400 or "html" not in page.content_type:
        return {"available": False, "reason": f"HTTP {page.status} {page.content_type}"}
    return {"available": True, "url": page.url, **read_page(page.text)}
