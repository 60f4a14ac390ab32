"""Which kept image belongs to which post (jiwa/waves/image_work.py)."""

from __future__ import annotations

from jiwa.waves.image_work import made_for, post_key

ITEM = {"index": 1, "prompt": "Instagram photo of kopi", "caption": "Kopi susu!",
        "date": "2026-12-01"}


def test_an_image_belongs_to_the_post_it_was_made_for_only() -> None:
    record = {"url": "u", "prompt": ITEM["prompt"], "date": ITEM["date"],
              "post": post_key(ITEM)}
    assert made_for(record, ITEM)
    for change in ({"caption": "Kopi susu! (v2)"}, {"date": "2026-12-02"},
                   {"prompt": "Instagram photo of roti"}):
        assert not made_for(record, {**ITEM, **change}), change
    assert made_for(record, {**ITEM, "index": 4})  # the post, not its place, is the key


def test_a_record_from_before_the_key_is_matched_by_prompt_and_date() -> None:
    legacy = {"url": "u", "prompt": ITEM["prompt"], "date": ITEM["date"]}
    assert made_for(legacy, ITEM)
    assert not made_for(legacy, {**ITEM, "date": "2026-12-02"})
