"""The incremental post parser (jiwa/json_stream.py): posts come out whole, once each,
as soon as their closing brace arrives, however the answer is cut into deltas."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from jiwa.json_stream import ArrayItems

POSTS = [
    {"date": "2026-12-01", "pillar": "product", "caption": 'Kopi "Senja" {spesial} [baru]',
     "hashtags": ["#umkm", "#lokal"], "influencer": "Rara", "product": "Kopi Susu"},
    {"date": "2026-12-03", "pillar": "community",
     "caption": "Back\\slash \\\" quote, newline\n tab\t and unicode é ☕ \u00e9",
     "hashtags": [], "influencer": "x", "product": "Roti"},
    {"date": "2026-12-05", "pillar": "behind the scenes", "caption": "}]\"posts\": [{",
     "hashtags": ["#a"], "influencer": "y", "product": "Teh"},
]


def feed_all(parser: ArrayItems, deltas: list[str]) -> list[tuple[int, Any]]:
    """(delta number, item) for every item, with the delta that completed it."""
    return [(n, item) for n, delta in enumerate(deltas) for item in parser.feed(delta)]


@pytest.mark.parametrize("ascii_only", [True, False])
def test_every_cut_gives_the_same_posts(ascii_only: bool) -> None:
    text = json.dumps({"posts": POSTS, "summary": "Tiga posting."}, ensure_ascii=ascii_only)
    for cut in range(len(text) + 1):
        got = feed_all(ArrayItems("posts"), [text[:cut], text[cut:]])
        assert [item for _, item in got] == POSTS


def test_posts_split_across_many_chunks_come_out_when_their_brace_arrives() -> None:
    text = json.dumps({"posts": POSTS, "summary": "s"}, ensure_ascii=False, indent=2)
    deltas, rng, i = [], random.Random(7), 0
    while i < len(text):
        step = rng.randint(1, 9)
        deltas.append(text[i:i + step])
        i += step
    parser = ArrayItems("posts")
    got = feed_all(parser, deltas)
    assert [item for _, item in got] == POSTS and parser.count == 3
    first_end = text.index("}", text.index('"product": "Kopi Susu"')) + 1
    done_at = sum(len(d) for d in deltas[:got[0][0] + 1])
    assert done_at >= first_end and done_at - len(deltas[got[0][0]]) < first_end


def test_one_character_at_a_time() -> None:
    text = json.dumps({"posts": POSTS, "summary": "s"})
    assert [item for _, item in feed_all(ArrayItems("posts"), list(text))] == POSTS


def test_partial_json_gives_only_finished_posts() -> None:
    text = json.dumps({"posts": POSTS, "summary": "s"})
    cut = text.index('"pillar": "community"')  # inside the second post
    parser = ArrayItems("posts")
    assert parser.feed(text[:cut]) == [POSTS[0]]
    assert parser.feed("") == []


def test_escaped_quotes_and_brackets_inside_strings_do_not_end_a_post() -> None:
    post = {"caption": '\\"}] still inside', "n": 1}
    text = '{"posts":[' + json.dumps(post) + "]}"
    parser = ArrayItems("posts")
    assert parser.feed(text[:-3]) == []
    assert parser.feed(text[-3:]) == [post]


def test_only_the_named_top_level_array() -> None:
    text = json.dumps({"summary": "posts", "other": [{"a": 1}],
                       "nested": {"posts": [{"b": 2}]}, "posts": [{"c": 3}, {"d": [4]}]})
    assert ArrayItems("posts").feed(text) == [{"c": 3}, {"d": [4]}]


def test_a_key_with_escapes_is_read_as_json_reads_it() -> None:
    assert ArrayItems('po"sts').feed('{"po\\"sts": [{"x": 1}]}') == [{"x": 1}]
