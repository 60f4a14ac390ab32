"""The golden set (tests/data/businesses): every expected product and price is found, in
the business's own format; the description is read; chat and marketplace links become
channels and marketplaces are never requested; no navigation or footer text reaches the
prompts; and the README's table is what the reading finds."""

from __future__ import annotations

import re

import pytest
from golden import ROOT_README, outputs, reading, table

from jiwa.dev import website_standin
from jiwa.reading.biolinks import SHOPS
from jiwa.waves import brand, products

SLUGS = sorted(website_standin.golden_set())
MARKETPLACES = ("shopee.co.id", "tokopedia.com", "tiktok.com", "wa.me", "gofood.link",
                "maps.app.goo.gl", "api.whatsapp.com")


def test_the_golden_set_covers_the_platforms() -> None:
    kinds = " ".join(b["kind"] for b in website_standin.golden_set().values())
    for platform in ("WooCommerce", "Shopify", "Wix", "link-in-bio", "lynk.id", "hand-made",
                     "Instagram only"):
        assert platform in kinds


@pytest.mark.parametrize("slug", SLUGS)
def test_every_expected_product_and_price_is_found(slug: str) -> None:
    expected = website_standin.golden_set()[slug]["expected"]
    out, _ = reading(slug)
    found = {p["name"]: (p["price"], p["price_text"]) for p in out["products"]}
    for name, rupiah, written in expected["products"]:
        assert found.get(name) == (rupiah, written), (name, out["products"])
    assert {p["source"] for p in out["products"]} == {expected["source"]}
    assert out.get("url", "") == expected["url"]
    assert expected["description"] in out.get("description", "")


@pytest.mark.parametrize("slug", SLUGS)
def test_channels_are_recorded_and_never_fetched(slug: str) -> None:
    expected = website_standin.golden_set()[slug]["expected"]
    out, requested = reading(slug)
    assert sorted({c["kind"] for c in out["channels"]}) == sorted(expected["channels"])
    assert all(c["shop"] == (c["kind"] in SHOPS) for c in out["channels"])
    assert not [h for h in requested if h.endswith(MARKETPLACES)], requested
    assert len(requested) <= 4  # bio link, its redirect, the site and one shop page


@pytest.mark.parametrize("slug", SLUGS)
def test_no_navigation_or_footer_reaches_the_prompts(slug: str) -> None:
    business = website_standin.golden_set()[slug]
    out, _ = reading(slug)
    done = {**outputs(business), "website": out,
            "brand": {"summary": "A warm local brand."}}
    prompts = brand.brand_prompt(done, "id") + products.products_prompt(done)
    for boilerplate in business["expected"]["not_in_prompt"]:
        assert boilerplate not in prompts
    for name, _, written in business["expected"]["products"]:
        assert f"- product: {name} | price {written}" in prompts


def test_the_readme_table_is_what_the_reading_finds() -> None:
    readme = ROOT_README.read_text()
    shown = re.search(r"<!-- golden-set -->\n(.*?)\n<!-- /golden-set -->", readme, re.S)
    assert shown, "README has no golden-set table"
    assert "NOT FOUND" not in table()
    assert shown.group(1) == table(), "README's table differs; it should read:\n" + table()
