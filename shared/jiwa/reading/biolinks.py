"""What a bio link is, the way a person reads it: the business's own site, a link-in-bio
page listing its links, a short link to follow, or a channel to record and not open (a
WhatsApp chat, a marketplace shop, a Google Maps place, a food-delivery listing).

Marketplaces, maps and delivery apps are never fetched, not even as a redirect's target:
their terms govern every use of their sites and content (Shopee's "Terms of Service - All
Markets", help.shopee.sg article 187336, is a contract with each user of the site), their
shop pages are drawn by script behind bot defences, and a shop there is better recorded
as a channel the owner sells through than scraped. Decision 0010.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

# host (or a suffix after a dot) -> channel kind; checked on the registrable tail.
CHANNEL_HOSTS = {
    "wa.me": "whatsapp", "api.whatsapp.com": "whatsapp", "wa.link": "whatsapp",
    "chat.whatsapp.com": "whatsapp_group", "whatsapp.com": "whatsapp",
    "shopee.co.id": "shopee", "shope.ee": "shopee", "id.shp.ee": "shopee", "shp.ee": "shopee",
    "tokopedia.com": "tokopedia", "tokopedia.link": "tokopedia", "tk.tokopedia.com": "tokopedia",
    "shop.tiktok.com": "tiktok_shop", "vt.tokopedia.com": "tiktok_shop",
    "lazada.co.id": "lazada", "s.lazada.co.id": "lazada", "bukalapak.com": "bukalapak",
    "blibli.com": "blibli",
    "maps.app.goo.gl": "google_maps", "maps.google.com": "google_maps", "g.page": "google_maps",
    "goo.gl": "google_maps",  # only its /maps paths are left in use (the shortener closed)
    "gofood.co.id": "gofood", "gofood.link": "gofood", "gojek.link": "gofood",
    "food.grab.com": "grabfood", "r.grab.com": "grabfood", "grab.onelink.me": "grabfood",
    "shopeefood.co.id": "shopeefood",
    "instagram.com": "instagram", "facebook.com": "facebook", "fb.me": "facebook",
    "tiktok.com": "tiktok", "vt.tiktok.com": "tiktok", "youtube.com": "youtube",
    "youtu.be": "youtube", "x.com": "x", "twitter.com": "x", "threads.net": "threads",
}
# Link-in-bio services: a page of the business's links.
LINK_HUBS = {"linktr.ee", "lynk.id", "bio.link", "beacons.ai", "taplink.cc", "taplink.ws",
             "linkin.bio", "msha.ke", "heylink.me", "lnk.bio", "allmylinks.com",
             "campsite.bio", "linkbio.co", "carrd.co", "bio.site", "solo.to", "withkoji.com"}
# Short links: followed (each hop within the SSRF rules) to where they lead.
SHORTENERS = {"s.id", "bit.ly", "tinyurl.com", "cutt.ly", "shorturl.at", "rebrand.ly",
              "t.ly", "is.gd", "ow.ly", "rb.gy", "tiny.cc", "t.co", "lnkd.in", "bitly.cx"}
# Sales channels, as opposed to social profiles.
SHOPS = {"shopee", "tokopedia", "tiktok_shop", "lazada", "bukalapak", "blibli", "gofood",
         "grabfood", "shopeefood"}
# Words of a link to the shop or menu on a business's own site.
SHOP_WORDS = re.compile(r"\b(shop|store|toko|belanja|produk|product|products|katalog|"
                        r"catalog|collections?|menu|order|pesan|beli)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Link:
    kind: str  # "site", "hub", "short", or a channel kind (CHANNEL_HOSTS' values)
    url: str

    @property
    def is_channel(self) -> bool:
        return self.kind not in ("site", "hub", "short")

    @property
    def fetchable(self) -> bool:
        return not self.is_channel


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def _matches(host: str, names: set[str] | dict[str, str]) -> str | None:
    """The entry of `names` that `host` is or is a subdomain of (m.tokopedia.com)."""
    parts = host.split(".")
    for i in range(len(parts) - 1):
        tail = ".".join(parts[i:])
        if tail in names:
            return tail
    return None


def classify(url: str) -> Link:
    host = _host(url)
    path = urlsplit(url).path
    if host in ("google.com", "google.co.id") and path.startswith("/maps"):
        return Link("google_maps", url)
    if host == "goo.gl" and not path.startswith("/maps"):
        return Link("short", url)
    if host in ("tiktok.com", "m.tiktok.com") and "/shop" in path:
        return Link("tiktok_shop", url)
    if _matches(host, LINK_HUBS):
        return Link("hub", url)
    if host in SHORTENERS:
        return Link("short", url)
    channel = _matches(host, CHANNEL_HOSTS)
    return Link(CHANNEL_HOSTS[channel], url) if channel else Link("site", url)


def channel(link: Link, label: str = "") -> dict[str, Any]:
    """A channel as the business document records it."""
    record: dict[str, Any] = {"kind": link.kind, "url": link.url, "shop": link.kind in SHOPS}
    if label:
        record["label"] = label[:80]
    if link.kind == "whatsapp":
        parts = urlsplit(link.url)
        number = parts.path.strip("/") if _host(link.url) == "wa.me" else \
            (parse_qs(parts.query).get("phone") or [""])[0]
        if re.fullmatch(r"\+?\d{8,15}", number):
            record["phone"] = number.lstrip("+")
    return record


def looks_like_hub(page: dict[str, Any], url: str) -> bool:
    """A link-in-bio page on a service we do not know (or a local copy of one): little
    text, and most of its links lead to other sites or channels."""
    own = _host(url)
    links = page.get("links", [])
    elsewhere = [link for link in links if _host(link["url"]) != own]
    return (len(elsewhere) >= 3 and len(elsewhere) * 2 >= len(links)
            and len(page.get("text", "").split()) < 80)


_URL_IN_SCRIPT = re.compile(r'"url"\s*:\s*"(https?:\\?/\\?/[^"\s]{4,300})"')


def hub_links(page: dict[str, Any], html: str) -> list[dict[str, str]]:
    """The links of a link-in-bio page: its anchors, or (a page drawn by script, as
    Linktree's is) the `"url"` values of its embedded data."""
    links = list(page.get("links", []))
    if not any(classify(link["url"]).kind != "hub" for link in links):
        links += [{"url": u.replace("\\/", "/"), "text": ""}
                  for u in dict.fromkeys(_URL_IN_SCRIPT.findall(html[:500_000]))]
    return links[:60]


def pick_site(links: list[dict[str, str]], hub_url: str) -> str | None:
    """The business's own site among a hub's links: the first that is no channel, hub or
    the hub itself, preferring one whose words say shop, menu or website."""
    hub_host = _host(hub_url)
    sites = [link for link in links
             if classify(link["url"]).kind in ("site", "short")
             and _host(link["url"]) != hub_host]
    if not sites:
        return None
    def rank(link: dict[str, str]) -> tuple[bool, bool]:
        worded = SHOP_WORDS.search(link["text"]) or re.search(
            r"\b(web|website|situs|site)\b", link["text"], re.IGNORECASE)
        # a short link may lead to a marketplace: a plain site first
        return not worded, classify(link["url"]).kind == "short"

    return min(sites, key=rank)["url"]


def shop_page(links: list[dict[str, str]], site_url: str) -> str | None:
    """A link on the business's own site to its shop or menu (one click further)."""
    host = _host(site_url)
    for link in links:
        if _host(link["url"]) != host or link["url"].rstrip("/") == site_url.rstrip("/"):
            continue
        if SHOP_WORDS.search(link["text"]) or SHOP_WORDS.search(
                urlsplit(link["url"]).path.replace("-", " ").replace("/", " ")):
            return link["url"]
    return None
