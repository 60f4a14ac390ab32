"""Reading like a person: rupiah prices as shops write them, products in captions, what a
bio link is, and a short link that leads to a marketplace (never requested)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fakes import FakeJobStore, settings

from jiwa.reading.biolinks import classify, looks_like_hub, pick_site
from jiwa.reading.captions import products_from_text
from jiwa.reading.prices import find_prices, format_rupiah, parse_amount, parse_price
from jiwa.scrape import SafeFetcher, UnsafeURLError
from jiwa.waves import website
from jiwa.waves.services import WaveServices

PRICES = {
    "Rp25.000": 25000, "Rp 25.000,-": 25000, "IDR 25,000": 25000, "25rb": 25000,
    "25k": 25000, "Rp25K": 25000, "Rp. 25.000,00": 25000, "IDR 25,000.00": 25000,
    "25 ribu": 25000, "1,5jt": 1_500_000, "Rp 1.5jt": 1_500_000, "Rp 1.250.000": 1_250_000,
    "harga: Rp25.000/pcs": 25000, "IDR25000": 25000,
}


@pytest.mark.parametrize(("text", "rupiah"), PRICES.items())
def test_rupiah_prices_parse_to_whole_rupiah(text: str, rupiah: int) -> None:
    assert parse_price(text) == rupiah


@pytest.mark.parametrize("text", ["25.000", "2 kopi", "250g", "25kg", "jam 10.00",
                                  "0812-3456-7890", "tahun 2019", "Rp0", "25.000rb"])
def test_what_is_no_price(text: str) -> None:
    assert find_prices(text) == []


def test_structured_prices_and_formatting_like_the_shop() -> None:
    assert [parse_amount(v) for v in ("25000", 25000, "95000.00", 95000.0, "Rp 25.000",
                                      True, None, [1], "")] == \
        [25000, 25000, 95000, 95000, 25000, None, None, None, None]
    assert [format_rupiah(32000, like) for like in
            ("Rp 25.000,-", "Rp25.000", "25rb", "25 ribu", "IDR 25,000", "Rp. 25.000,00", "")] \
        == ["Rp 32.000,-", "Rp32.000", "32rb", "32 ribu", "IDR 32,000", "Rp. 32.000,00",
            "Rp32.000"]


def test_captions_yield_products_and_prices() -> None:
    caption = ("Menu hari ini 🔥\n• Nasi Bakar Ayam - Rp 20.000\n2. Nasi Bakar Cumi: 25rb\n"
               "Es Teh 5k, Es Jeruk 8k\nVarian baru: Sambal Roa cuma Rp45.000,-\n"
               "Promo 2 nasi bakar 35rb!\nOngkir 10rb se-Depok\nHarga Brownies 45rb")
    assert [(p["name"], p["price"], p["price_text"]) for p in products_from_text(caption)] == [
        ("Nasi Bakar Ayam", 20000, "Rp 20.000"), ("Nasi Bakar Cumi", 25000, "25rb"),
        ("Es Teh", 5000, "5k"), ("Es Jeruk", 8000, "8k"),
        ("Sambal Roa", 45000, "Rp45.000,-"), ("Brownies", 45000, "45rb")]


def test_a_product_card_reads_as_name_then_price() -> None:
    assert [(p["name"], p["price"]) for p in products_from_text(
        "Koleksi\nKemeja Batik Parang\nHarga reguler Rp 350.000,00\nDress Kawung\nRp 425.000")
    ] == [("Kemeja Batik Parang", 350000), ("Dress Kawung", 425000)]


def test_a_hostile_line_costs_little() -> None:
    # 200 characters before each price bound the name search
    assert products_from_text(("-" * 100_000 + " 5rb ") * 5) == []


@pytest.mark.parametrize(("url", "kind"), [
    ("https://wa.me/6281234567890", "whatsapp"),
    ("https://api.whatsapp.com/send?phone=6281234567890", "whatsapp"),
    ("https://shopee.co.id/kopisenja", "shopee"), ("https://id.shp.ee/abc", "shopee"),
    ("https://www.tokopedia.com/kopisenja", "tokopedia"),
    ("https://www.tiktok.com/@kopisenja/shop", "tiktok_shop"),
    ("https://www.tiktok.com/@kopisenja", "tiktok"),
    ("https://maps.app.goo.gl/abc", "google_maps"),
    ("https://www.google.com/maps/place/Kopi+Senja", "google_maps"),
    ("https://gofood.link/a/kopisenja", "gofood"),
    ("https://linktr.ee/kopisenja", "hub"), ("https://lynk.id/kopisenja", "hub"),
    ("https://bio.link/kopisenja", "hub"), ("https://kopisenja.carrd.co", "hub"),
    ("https://s.id/kopisenja", "short"), ("https://bit.ly/3abc", "short"),
    ("https://goo.gl/abc", "short"),
    ("https://kopisenja.example/", "site"), ("https://tokopedia.com.evil.example/", "site"),
])
def test_what_a_link_is(url: str, kind: str) -> None:
    assert classify(url).kind == kind


def test_a_hub_is_known_by_its_links_and_its_site_picked() -> None:
    links = [{"url": "https://wa.me/6281", "text": "WhatsApp"},
             {"url": "https://s.id/promo", "text": "Promo"},
             {"url": "https://blog.example/", "text": "Blog"},
             {"url": "https://kopisenja.example/", "text": "Website & Menu"},
             {"url": "https://shopee.co.id/k", "text": "Shopee"}]
    assert looks_like_hub({"links": links, "text": "@kopisenja"}, "http://127.0.0.1:9/x")
    assert not looks_like_hub({"links": links, "text": "kata " * 100}, "https://a.example/")
    assert pick_site(links, "https://linktr.ee/k") == "https://kopisenja.example/"
    assert pick_site(links[:3], "https://linktr.ee/k") == "https://blog.example/"
    assert pick_site(links[:1], "https://linktr.ee/k") is None


def test_a_short_link_to_a_marketplace_is_recorded_never_requested() -> None:
    requested: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(request.headers["host"])
        return httpx.Response(302, headers={"location": "https://shopee.co.id/kopisenja"})

    async def resolve(host: str, port: int) -> list[str]:
        return ["93.184.215.14"]

    fetcher = SafeFetcher(httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                          resolver=resolve)
    services = WaveServices(settings=settings(), store=FakeJobStore(), instagram=None,  # type: ignore[arg-type]
                            cipher=None, fetcher=fetcher, claude=None, flux=None)  # type: ignore[arg-type]
    posts = [{"caption": "Kopi susu 18rb", "media_url": ""}]
    ctx: Any = SimpleNamespace(job=SimpleNamespace(id="job_s"), outputs={
        "profile": {"profile": {"website": "https://s.id/k"}, "posts": posts}})
    out = asyncio.run(website.run(ctx, services))
    assert requested == ["s.id"]
    assert out["reason"] == "leads to shopee" and not out["available"]
    assert out["channels"] == [{"kind": "shopee", "url": "https://shopee.co.id/kopisenja",
                                "shop": True}]
    assert [(p["name"], p["price_text"], p["source"]) for p in out["products"]] == [
        ("Kopi susu", "18rb", "captions")]


def test_routes_send_a_sample_name_to_the_standin_and_nothing_else() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/html"}, content=b"<p>ok")

    async def resolve(host: str, port: int) -> list[str]:
        return {"evil.example": ["10.0.0.1"]}.get(host, ["93.184.215.14"])

    fetcher = SafeFetcher(httpx.AsyncClient(transport=httpx.MockTransport(answer)),
                          resolver=resolve, routes={"linktr.ee": "127.0.0.1:9103"})
    asyncio.run(fetcher.fetch("https://linktr.ee/kopisenja?x=1"))
    [request] = seen
    assert str(request.url) == "http://127.0.0.1:9103/kopisenja?x=1"
    assert request.headers["host"] == "linktr.ee"
    with pytest.raises(UnsafeURLError, match="non-public"):
        asyncio.run(fetcher.fetch("https://evil.example/"))  # other names: checked as ever
    with pytest.raises(UnsafeURLError, match="credentials"):
        asyncio.run(fetcher.fetch("https://user:pw@linktr.ee/"))
    assert len(seen) == 1
