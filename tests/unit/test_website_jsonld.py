"""JSON-LD a website controls cannot fail the job: a block nested past the parser's
recursion limit is skipped, and the page's other data is still read."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from jiwa.scrape import Page
from jiwa.waves import website

DEPTH = 100_000
PRODUCT = ('<script type="application/ld+json">{"@type": "Product", "name": "Kopi Susu",'
           ' "offers": {"price": 25000, "priceCurrency": "IDR"}}</script>')
EXPECTED = [{"name": "Kopi Susu", "price": 25000, "price_text": "Rp25.000", "currency": "IDR",
             "image": "", "url": ""}]


def page(nested: str) -> str:
    return (f'<html><head><title>Kopi Senja</title><script type="application/ld+json">'
            f'{nested}</script>{PRODUCT}</head><body><p>Kedai kopi lokal</p></body></html>')


NESTINGS = {
    "arrays": "[" * DEPTH + "]" * DEPTH,
    "objects": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    "inside a product": ('{"@type": "Product", "name": "Deep", "offers": '
                         + "[" * DEPTH + "]" * DEPTH + "}"),
    "unclosed": "[" * DEPTH,
}


@pytest.mark.parametrize("nested", NESTINGS.values(), ids=NESTINGS.keys())
def test_deeply_nested_json_ld_is_skipped_and_the_rest_is_read(nested: str) -> None:
    out = website.read_page(page(nested))
    assert out["products"] == EXPECTED
    assert (out["title"], out["text"]) == ("Kopi Senja", "Kedai kopi lokal")


def test_nested_values_are_no_names_or_prices() -> None:
    # Parsable, but nested well past anything printable as a name or a price.
    deep = "[" * 500 + '"x"' + "]" * 500
    item = (f'{{"@type": "Product", "name": {deep}}}, '
            f'{{"@type": "Product", "name": "Gayo", "offers": {{"price": {deep}}}}}')
    out = website.read_page(page(f"[{item}]"))
    assert out["products"] == [{"name": "Gayo", "price": None, "price_text": "", "currency": "",
                                "image": "", "url": ""}, *EXPECTED]


class _Fetcher:
    async def fetch(self, url: str, follow: Any = None) -> Page:
        return Page(url, 200, "text/html", page(NESTINGS["arrays"]))


def test_the_wave_succeeds_on_such_a_page() -> None:
    services: Any = SimpleNamespace(fetcher=_Fetcher())
    ctx: Any = SimpleNamespace(job=SimpleNamespace(id="job_w"),
                               outputs={"profile": {"profile": {"website": "https://k.example"}}})
    out = asyncio.run(website.run(ctx, services))
    assert out["available"] and out["products"] == [{**EXPECTED[0], "source": "site"}]
