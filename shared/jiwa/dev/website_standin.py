"""The sample businesses' web (a development tool): every site of the golden set in
`tests/data/businesses/` (a link-in-bio page and its short link, WordPress + WooCommerce,
Shopify, Wix, a hand-made page), served by name.

Each site keeps its real-looking URL (`https://s.id/kopisenja`, `https://linktr.ee/...`);
the fetcher reaches this server for those names through `JIWA_SCRAPE_ROUTES` (plain http,
the name in the `Host` header), the way a virtual host is served, so the pipeline reads the
same URLs, redirects and links it would read on the internet. Anything else asked of this
server by its own address: `/` is Kopi Senja's home page, `/go-internal` a redirect to the
metadata server (for the SSRF tests).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, request

BUSINESSES = Path(__file__).resolve().parents[3] / "tests" / "data" / "businesses"
# The demo's and the Meta stand-in's sample business (the first of the golden set).
SAMPLE = "kopi-senja"


@cache
def golden_set(root: Path = BUSINESSES) -> dict[str, dict[str, Any]]:
    """slug -> the business's description (business.json), with `dir` its folder."""
    found = {}
    for path in sorted(root.glob("*/business.json")):
        found[path.parent.name] = {**json.loads(path.read_text()), "dir": str(path.parent)}
    return found


def instagram_account(business: dict[str, Any], user_id: str,
                      posts: list[str] | None = None) -> dict[str, Any]:
    """The Meta stand-in's `instagram_account` fault for a golden-set business: its
    profile and posts (or `posts`), bound to the next login (jiwa/dev/meta_standin.py)."""
    ig = business["instagram"]
    profile = {k: ig[k] for k in ("username", "name", "biography", "website")}
    return {"profile": {**profile, "user_id": user_id},
            "posts": ig["posts"] if posts is None else posts}


def sample_bio_link() -> str:
    return str(golden_set()[SAMPLE]["instagram"]["website"])


def _key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.path or "/"


@cache
def _web(root: Path = BUSINESSES) -> tuple[dict[tuple[str, str], Path], dict[tuple[str, str], str]]:
    pages, redirects = {}, {}
    for business in golden_set(root).values():
        for url, file in business["pages"].items():
            pages[_key(url)] = Path(business["dir"]) / file
        for url, target in business["redirects"].items():
            redirects[_key(url)] = target
    return pages, redirects


def hosts(root: Path = BUSINESSES) -> list[str]:
    """Every name this server answers for (what JIWA_SCRAPE_ROUTES sends here)."""
    pages, redirects = _web(root)
    return sorted({host for host, _ in [*pages, *redirects]})


def create_app(root: Path = BUSINESSES) -> Flask:
    app = Flask("website_standin")
    pages, redirects = _web(root)
    served = set(hosts(root))

    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def page(path: str) -> Response:
        host = request.host.rsplit(":", 1)[0].lower()
        if host not in served:
            return own_address(path)
        key = (host, "/" + path)
        if key in redirects:
            # s.id and other shorteners answer 301/302 with the target in Location.
            return Response("", status=302, headers={"Location": redirects[key]})
        if key not in pages:
            return Response("Not Found", status=404, mimetype="text/html")
        return Response(pages[key].read_text(), mimetype="text/html")

    def own_address(path: str) -> Response:
        if path == "go-internal":
            # For SSRF tests: a public-looking page that redirects to the metadata server.
            return Response("", status=302,
                            headers={"Location": "http://169.254.169.254/computeMetadata/v1/"})
        if path == "":
            sample = golden_set(root)[SAMPLE]
            home = next(iter(p for u, p in sample["pages"].items() if urlsplit(u).path == "/"))
            return Response((Path(sample["dir"]) / home).read_text(), mimetype="text/html")
        return Response("Not Found", status=404, mimetype="text/html")

    return app
