"""The website wave (waves/website.py) and the SSRF-safe fetcher (scrape.py) on canned
pages: an in-memory transport and resolver, no network."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fakes import DATA, FakeJobStore, settings

from jiwa.scrape import Page, SafeFetcher, UnsafeURLError
from jiwa.waves import website
from jiwa.waves.services import WaveServices

PUBLIC_IP = "93.184.215.14"
SHOP = (DATA / "website_shop.html").read_text()


def test_the_shop_page_is_read() -> None:
    page = website.read_page(SHOP)
    assert page["title"] == "Kopi Senja & Roastery — Kopi Nusantara di Jakarta Selatan"
    assert page["description"] == ("Kedai kopi lokal: kopi susu gula aren, biji kopi "
                                   "Nusantara, pesan antar setiap hari.")
    assert [(p["name"], p["price"], p["price_text"], p["currency"])
            for p in page["products"]] == [
        ("Kopi Susu Gula Aren", 25000, "Rp 25.000", "IDR"),  # JSON-LD, price as shown
        ("Biji Kopi Gayo 250g", 95000, "Rp 95.000", "IDR"),  # not shown: as the others are
        ("Gift card", None, "", ""),
        ("Es Kopi Pandan", 28000, "Rp 28.000", "IDR")]  # only in the visible text
    # the tracking pixel in <noscript> is no picture
    assert page["images"] == ["/static/logo.png", "https://cdn.kopisenja.example/kedai.jpg"]
    text = page["text"]
    # the main text: the header (logo and site name) is site chrome
    assert text.startswith("Sejak 2019 kami menyangrai biji kopi dari petani Gayo")
    assert "Toraja dan Flores." in text  # whitespace and <br> folded
    assert "Rp 28.000" in text
    for hidden in ("dataLayer", "font-family", "querySelector", "schema.org", "Kopi Senja &"):
        assert hidden not in text  # scripts, styles, JSON-LD and the title are not body text


def test_a_page_is_capped() -> None:
    items = "".join(f'{{"@type": "Product", "name": "P{i}"}},' for i in range(40))
    html = (f"<title>{'T' * 500}</title><meta name=description content='{'d' * 900}'>"
            f"<script type='application/ld+json'>[{items[:-1]}]</script>"
            + "".join(f"<img src='/i{i}.jpg'>" for i in range(30))
            + "<p>" + "kata " * 2000 + "</p>")
    page = website.read_page(html)
    assert len(page["title"]) == 200 and len(page["description"]) == 500
    assert len(page["products"]) == 20 and len(page["images"]) == 10
    assert len(page["text"]) == 4000


@pytest.mark.parametrize("html", ["", "<html", "<p>unclosed <b>tags", "</p></div>stray ends",
                                  "<script type='application/ld+json'>null</script>",
                                  "<script type='application/ld+json'>[1, \"x\"]</script>"])
def test_broken_pages_never_raise(html: str) -> None:
    page = website.read_page(html)
    assert page["products"] == []


def test_products_inside_a_json_ld_graph_are_read() -> None:
    html = ('<script type="application/ld+json">{"@context": "https://schema.org", '
            '"@graph": [{"@type": "WebPage", "name": "Shop"}, {"@type": "Product", '
            '"name": "Es Kopi Pandan", "offers": {"@type": "Offer", "price": "28000", '
            '"priceCurrency": "IDR"}}]}</script>')
    assert [p["name"] for p in website.read_page(html)["products"]] == ["Es Kopi Pandan"]


def test_a_product_with_a_list_of_offers_keeps_its_price() -> None:
    html = ('<script type="application/ld+json">{"@type": "Product", "name": "Biji Kopi", '
            '"offers": [{"@type": "Offer", "price": "95000.00", "priceCurrency": "IDR"}]}'
            '</script>')
    [product] = website.read_page(html)["products"]
    assert (product["name"], product["price"], product["currency"]) == (
        "Biji Kopi", 95000, "IDR")


# -- the wave -----------------------------------------------------------------------------

class FakeFetcher:
    def __init__(self, outcome: Page | Exception) -> None:
        self.outcome = outcome
        self.urls: list[str] = []

    async def fetch(self, url: str, follow: Any = None) -> Page:
        self.urls.append(url)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def run_wave(site: str | None, fetcher: Any) -> dict[str, Any]:
    services = WaveServices(settings=settings(), store=FakeJobStore(), instagram=None,  # type: ignore[arg-type]
                            cipher=None, fetcher=fetcher, claude=None, flux=None)  # type: ignore[arg-type]
    ctx = SimpleNamespace(job=SimpleNamespace(id="job_w"),
                          outputs={"profile": {"profile": {"website": site}}})
    return asyncio.run(website.run(ctx, services))  # type: ignore[arg-type]


def test_the_wave_reads_the_bio_link() -> None:
    fetcher = FakeFetcher(Page("https://kopisenja.example/", 200, "text/html; charset=utf-8",
                               SHOP))
    out = run_wave("https://kopisenja.example", fetcher)
    assert fetcher.urls == ["https://kopisenja.example"]
    assert out["available"] and out["url"] == "https://kopisenja.example/"
    assert out["products"][0]["name"] == "Kopi Susu Gula Aren"


@pytest.mark.parametrize(("site", "outcome", "reason"), [
    (None, None, "no website in bio"),
    ("", None, "no website in bio"),
    ("http://169.254.169.254/", UnsafeURLError("host is internal"),
     "refused: host is internal"),
    ("https://down.example", httpx.ConnectError("refused"), "unreadable: ConnectError"),
    ("https://slow.example", TimeoutError(), "unreadable: TimeoutError"),
    ("https://gone.example", Page("https://gone.example", 404, "text/html", "nope"),
     "HTTP 404 text/html"),
    ("https://pdf.example", Page("https://pdf.example", 200, "application/pdf", "%PDF"),
     "HTTP 200 application/pdf"),
])
def test_a_missing_or_unreadable_website_is_not_fatal(site: str | None, outcome: Any,
                                                      reason: str) -> None:
    out = run_wave(site, FakeFetcher(outcome))
    out.pop("via", None)  # the pages it reached, if any
    assert out == {"available": False, "reason": reason, "products": [], "channels": []}


# -- the fetcher --------------------------------------------------------------------------

def fetcher(routes: dict[str, httpx.Response], resolved: dict[str, list[str]],
            seen: list[httpx.Request], **kwargs: Any) -> SafeFetcher:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return routes[request.headers["host"] + request.url.path]

    async def resolve(host: str, port: int) -> list[str]:
        return resolved[host]

    return SafeFetcher(httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                       resolver=resolve, **kwargs)


def test_the_fetcher_connects_to_the_checked_address_and_reads_the_page() -> None:
    seen: list[httpx.Request] = []
    f = fetcher({"kopisenja.example/": httpx.Response(
        200, headers={"content-type": "text/html; charset=iso-8859-1"},
        content="<title>Caf\xe9 Senja</title>".encode("latin-1"))},
        {"kopisenja.example": [PUBLIC_IP]}, seen)
    page = asyncio.run(f.fetch("https://kopisenja.example"))
    assert (page.status, page.url) == (200, "https://kopisenja.example")
    assert website.read_page(page.text)["title"] == "Café Senja"
    [request] = seen
    assert request.url.host == PUBLIC_IP and request.headers["host"] == "kopisenja.example"
    assert request.extensions["sni_hostname"] == "kopisenja.example"


def test_redirects_are_followed_and_each_hop_is_checked() -> None:
    seen: list[httpx.Request] = []
    routes = {"kopisenja.example/": httpx.Response(301, headers={"location": "/shop"}),
              "kopisenja.example/shop": httpx.Response(302, headers={
                  "location": "http://internal.example/admin"})}
    f = fetcher(routes, {"kopisenja.example": [PUBLIC_IP], "internal.example": ["10.1.2.3"]},
                seen)
    with pytest.raises(UnsafeURLError, match="non-public"):
        asyncio.run(f.fetch("https://kopisenja.example/"))
    assert [r.url.path for r in seen] == ["/", "/shop"]  # the private hop is never requested


def test_redirect_loops_and_huge_pages_are_bounded() -> None:
    seen: list[httpx.Request] = []
    loop = fetcher({"a.example/": httpx.Response(302, headers={"location": "/"})},
                   {"a.example": [PUBLIC_IP]}, seen, max_redirects=2)
    with pytest.raises(UnsafeURLError, match="too many redirects"):
        asyncio.run(loop.fetch("https://a.example/"))
    assert len(seen) == 3

    big = fetcher({"b.example/": httpx.Response(200, headers={"content-type": "text/html"},
                                                content=b"x" * 50_000)},
                  {"b.example": [PUBLIC_IP]}, [], max_bytes=1000)
    assert len(asyncio.run(big.fetch("https://b.example/")).text) == 1000
