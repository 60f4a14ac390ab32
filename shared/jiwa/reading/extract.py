"""One web page read with well-kept libraries: its main text without navigation and footer
(trafilatura), its structured data (extruct: JSON-LD with `@graph` and list types,
microdata, OpenGraph), its products with name, price, currency, image and URL, and its
links (for the bio-link reader).

The page is parsed once by lxml, whose parser stops at 256 levels of nesting; each JSON-LD
block is decoded on its own, so a block a site nests past Python's recursion limit is
skipped and the page's other data is still read. Only plain values are taken as names and
prices. CPU-bound (about 1 s for a 1 MB page): callers run it in a thread.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html

from jiwa.reading.captions import products_from_text
from jiwa.reading.layout import layout_text, one_line
from jiwa.reading.prices import find_prices, format_rupiah, parse_amount

log = logging.getLogger("jiwa.reading.extract")

MAX_PRODUCTS, MAX_IMAGES, MAX_TEXT, MAX_LINKS = 20, 10, 4000, 60


def _scalar(value: Any) -> str:
    # A nested structure is no name or price, and printing one nested near the recursion
    # limit would raise again.
    return " ".join(str(value).split()) if isinstance(value, str | int | float) else ""


def _types(item: dict[str, Any]) -> list[str]:
    kind = item.get("@type", item.get("type"))  # one type or a list (schema.org allows both)
    kinds = kind if isinstance(kind, list) else [kind]
    return [k.rsplit("/", 1)[-1] for k in kinds if isinstance(k, str)]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _image(value: Any) -> str:
    value = _first(value)
    if isinstance(value, dict):  # an ImageObject
        value = value.get("url") or value.get("contentUrl") or (
            value.get("properties") or {}).get("url")
    return _scalar(_first(value))


def _offer(offers: Any) -> dict[str, Any]:
    """One Offer, a list of them (Shopify: one per variant) or an AggregateOffer; microdata
    puts the fields under `properties`."""
    candidates = offers if isinstance(offers, list) else [offers]
    for offer in candidates:
        if isinstance(offer, dict):
            fields = _fields(offer)
            if any(k in fields for k in ("price", "lowPrice")):
                return fields
    return {}


def _fields(item: dict[str, Any]) -> dict[str, Any]:
    """An item's properties: microdata (extruct) nests them under `properties`."""
    nested = item.get("properties")
    return nested if isinstance(nested, dict) else item


def _product(item: dict[str, Any], base: str) -> dict[str, Any] | None:
    fields = _fields(item)
    name = _scalar(fields.get("name"))[:120]
    if not name:
        return None
    offer = _offer(fields.get("offers"))
    price = parse_amount(offer.get("price", offer.get("lowPrice")))
    url = _scalar(_first(fields.get("url")))
    image = _image(fields.get("image"))
    return {"name": name, "price": price, "price_text": "",
            "currency": _scalar(offer.get("priceCurrency")) if price else "",
            "image": urljoin(base, image) if image else "",
            "url": urljoin(base, url) if url else ""}


def _walk(items: list[Any]) -> Iterator[dict[str, Any]]:
    """Every item of interest: top-level items, the items of an `@graph` (WordPress and
    WooCommerce put theirs there) and the elements of an ItemList (category pages). Not
    recursive: a hostile block cannot make it deep."""
    queue = list(items)
    while queue:
        item = queue.pop(0)
        if not isinstance(item, dict):
            continue
        yield item
        graph = item.get("@graph")
        if isinstance(graph, list):
            queue.extend(graph)
        elements = item.get("itemListElement")
        if isinstance(elements, list):
            queue.extend(e.get("item") if isinstance(e, dict) and isinstance(e.get("item"), dict)
                         else e for e in elements)


class _PackageRunOnDemand(ModuleType):
    """A package whose own __init__ has not run: its submodules import as usual, and the
    first name asked of the package itself runs the __init__ (so a later `import extruct;
    extruct.extract(...)` still works)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self.__dict__.get("_init_ran"):
            raise AttributeError(name)
        self.__dict__["_init_ran"] = True
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        spec.loader.exec_module(self)
        return getattr(self, name)


def _register_extruct_without_init() -> None:
    """extruct's __init__ imports every extractor it has, microformats (mf2py,
    BeautifulSoup, requests) and RDFa (pyRdfa, rdflib) among them: about 0.3 s of CPU here,
    on the job's way to its first Claude call. We use three, each a module of its own
    (jsonld, w3cmicrodata, opengraph), so the package is registered without running it."""
    if "extruct" in sys.modules:
        return
    spec = importlib.util.find_spec("extruct")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return  # not installed: the import below raises as it would have
    package = _PackageRunOnDemand(spec.name)
    package.__spec__, package.__loader__, package.__file__ = spec, spec.loader, spec.origin
    package.__path__, package.__package__ = list(spec.submodule_search_locations), spec.name
    sys.modules.setdefault(spec.name, package)


_register_extruct_without_init()


def _json_ld(tree: lxml.html.HtmlElement) -> list[Any]:
    from extruct.jsonld import JsonLdExtractor

    extractor, items = JsonLdExtractor(), []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            items.extend(extractor.extract_items(script))
        except (ValueError, RecursionError, TypeError):
            # Not JSON (a theme bug), or nested deeper than the parser's recursion allows:
            # only this block is skipped.
            continue
    return items


def _microdata(tree: lxml.html.HtmlElement, base: str) -> list[Any]:
    from extruct.w3cmicrodata import MicrodataExtractor

    try:
        return list(MicrodataExtractor().extract_items(tree, base_url=base))
    except (ValueError, RecursionError, TypeError, lxml.etree.LxmlError):
        return []


def _opengraph(tree: lxml.html.HtmlElement) -> dict[str, str]:
    from extruct.opengraph import OpenGraphExtractor

    found: dict[str, str] = {}
    for item in OpenGraphExtractor().extract_items(tree):
        for key, value in item.get("properties", []):
            found.setdefault(key, value)
    return found


# Pictures a visitor sees: not a tracking pixel in <noscript>, not a 1x1 image.
_PICTURES = lxml.etree.XPath("//img[@src][not(ancestor::noscript)][not(@width='1' or @height='1'"
                             " or @width='0' or @height='0')]")


def _price_as_written(product: dict[str, Any], visible: str, lowered: str,
                      written: dict[int, str], example: str) -> str:
    """The product's price as the page shows it: the first price of that amount after the
    product's name, else anywhere on the page, else written like the page's other prices."""
    amount = product["price"]
    if amount is None:
        return ""
    if product["currency"] and product["currency"].upper() != "IDR":
        return f"{product['currency']} {amount:,}"
    at = lowered.find(product["name"].lower())
    near = find_prices(visible[at:at + 300]) if at >= 0 else []
    return next((p.text for p in near if p.amount == amount), None) \
        or written.get(amount) or format_rupiah(amount, like=example)


# Site chrome trafilatura can keep on a short page: the page-level header (logo, menu,
# "Use tab to navigate" on Wix), skip links and text for screen readers only.
_CHROME = ["//header[not(ancestor::main) and not(ancestor::article)]",
           "//*[contains(@class, 'skip-link') or contains(@class, 'skip-to-content')"
           " or contains(@class, 'screen-reader-text') or contains(@class, 'visually-hidden')"
           " or contains(@class, 'sr-only')]"]


_FOOTER = re.compile(r"©|\bcopyright\b|all rights reserved|hak cipta|powered by|didukung oleh|"
                     r"proudly created with|pengunjung ke-", re.IGNORECASE)


def _main_text(html: bytes, url: str) -> str:
    import trafilatura

    text = trafilatura.extract(html, url=url or None, include_comments=False,
                               include_tables=True, favor_recall=True, prune_xpath=_CHROME)
    # A footer trafilatura kept (a hand-made page has no <footer> to tell it by).
    return "\n".join(line for line in (text or "").splitlines() if not _FOOTER.search(line))


def _links(tree: lxml.html.HtmlElement, base: str) -> list[dict[str, str]]:
    links, seen = [], set()
    for a in tree.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        absolute = urljoin(base, href)
        if absolute in seen:
            continue
        seen.add(absolute)
        links.append({"url": absolute, "text": " ".join(a.text_content().split())[:100]})
        if len(links) >= MAX_LINKS:
            break
    return links


def read_html(html: str, url: str = "") -> dict[str, Any]:
    """Title, description, main text, products, images and links of one page."""
    empty = {"title": "", "description": "", "text": "", "products": [], "images": [],
             "links": []}
    data = html.encode("utf-8", "replace")
    try:
        tree = lxml.html.fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (lxml.etree.LxmlError, ValueError):
        return empty  # an empty or unparsable document
    og = _opengraph(tree)
    title = _scalar(tree.findtext(".//title") or og.get("og:title", ""))
    meta = tree.xpath('//meta[translate(@name, "DESCRIPTION", "description")="description"]'
                      '/@content')
    description = _scalar(meta[0] if meta else "") or _scalar(og.get("og:description", ""))
    structured = list(_walk(_json_ld(tree))) + list(_walk(_microdata(tree, url)))
    products, names = [], set()
    for item in structured:
        product = _product(item, url) if "Product" in _types(item) else None
        if product and product["name"].lower() not in names:
            names.add(product["name"].lower())
            products.append(product)
    amount = parse_amount(og.get("product:price:amount") or og.get("og:price:amount"))
    if not products and og.get("og:title") and amount:
        # A single product page with only OpenGraph (Shopify and Wix write these).
        products.append({"name": _scalar(og["og:title"])[:120], "price": amount,
                         "price_text": "", "image": og.get("og:image", ""), "url": url,
                         "currency": og.get("product:price:currency")
                         or og.get("og:price:currency", "")})
    products = products[:MAX_PRODUCTS]
    laid_out = layout_text(tree)
    # trafilatura finds nothing on some very short pages: their whole text is then the text
    text = _main_text(data, url) or laid_out
    visible = one_line(laid_out)
    on_page = find_prices(visible)
    written = {p.amount: p.text for p in reversed(on_page)}  # the first of each amount
    example, lowered = (on_page[0].text if on_page else ""), visible.lower()
    for product in products:
        product["price_text"] = _price_as_written(product, visible, lowered, written, example)
    # The products written on the page (all of them on a page with no structured data; on
    # a shop, the ones its structured data left out), from all its visible text: a
    # product grid is often what a main-text extractor drops as boilerplate.
    products += [{**p, "currency": "IDR", "image": "", "url": ""}
                 for p in products_from_text(laid_out) if p["name"].lower() not in names]
    pictures = [str(i.get("src") or "") for i in _PICTURES(tree)]
    images = [urljoin(url, s) for s in [og.get("og:image", ""), *pictures] if s]
    return {"title": title[:200], "description": description[:500],
            "text": re.sub(r"\s+", " ", text)[:MAX_TEXT],
            "products": products[:MAX_PRODUCTS],
            "images": list(dict.fromkeys(images))[:MAX_IMAGES],
            "links": _links(tree, url)}
