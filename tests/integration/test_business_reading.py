"""An Instagram-only business (no link in its bio, its menu and prices in its captions)
goes through the real nine waves and completes with its own products and prices."""

from __future__ import annotations

from harness import Harness, new_phone, wait_for

from jiwa.dev import website_standin


def test_an_instagram_only_business_completes_with_its_products(harness: Harness,
                                                                 real) -> None:
    business = website_standin.golden_set()["nasi-bakar-mak-ijah"]
    meta = harness.state.url("meta") + "/_standin/faults"
    # The Meta stand-in binds the account to the next login's code and token.
    harness.http.post(meta, json={"instagram_account": website_standin.instagram_account(
        business, "17841400000000777")})
    try:
        phone = new_phone()
        job_id = real(phone, "/daftar")
    finally:
        harness.http.post(meta, json={"instagram_account": None})
    job = harness.wait_status(job_id, "COMPLETED", "FAILED", timeout=90)
    assert job.status == "COMPLETED", job.error
    expected = [(name, written) for name, _, written in business["expected"]["products"]]
    stored = harness.store.business("ig_17841400000000777")
    assert stored is not None and stored["channels"] == []
    assert [(p["name"], p["price"]) for p in stored["products"]] == expected
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("Semua 6") and t,
                     30, "the final message")
    assert texts[1].startswith("Instagram @nasibakar.makijah terhubung")
    featured = next(t for t in texts if t.startswith("Produk unggulan"))
    assert featured.splitlines()[1:] == [f"• {name} ({price})" for name, price in expected]
