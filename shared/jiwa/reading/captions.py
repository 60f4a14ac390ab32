"""Products and prices in free text: Instagram captions and the main text of a site with
no structured data. Shops write one product per line or list item, the price after the
name (`Kopi Susu Gula Aren 25rb`, `• Nasi Bakar Cumi - Rp 28.000`, `Es Teh 8k, Es Jeruk
10k`), so each price takes the words before it, back to the previous price or the line's
start, as its product's name."""

from __future__ import annotations

import re
from typing import Any

from jiwa.reading.prices import find_prices

# Bullets, numbering and emoji at the start of a name; separators at its end.
_LEAD = re.compile(r"^[\W\d_]*?(?=[^\W\d_])", re.UNICODE)
_TRAIL = re.compile(r"[\s\-\u2013\u2014:=|/@,;•·*>(]+$")  # dashes: hyphen, en, em
# Words that introduce a price, not part of the product's name.
_PRICE_WORDS = re.compile(r"\b(harga(nya)?|cuma|hanya|mulai( dari)?|start(ing)? from|only|"
                          r"price|seharga|@)\s*$", re.IGNORECASE)
# A line about a promotion, delivery or a minimum order names no product.
_NOT_PRODUCTS = re.compile(r"^(promo|diskon|disc|ongkir|gratis ongkir|free|minimal|min\.?|"
                           r"total|dp|cashback|potongan|hemat|save)\b", re.IGNORECASE)
_LEAD_WORDS = re.compile(r"^(harga|ready|new|menu(\s+baru)?|baru|open\s+po)\b\s*:?\s*",
                         re.IGNORECASE)
# A label in front of a price in a product card, not a name.
_LABEL = re.compile(r"^((harga|price)(\s+(reguler|regular|normal|promo|jual|diskon|coret|"
                    r"satuan|sale|unit))?|regular price|sale price|unit price|from|"
                    r"mulai(\s+dari)?|)$", re.IGNORECASE)
MAX_WORDS = 8


def _name(chunk: str) -> str:
    name = _TRAIL.sub("", chunk)
    name = _PRICE_WORDS.sub("", name)
    name = _TRAIL.sub("", name)
    name = _LEAD.sub("", name).strip(" \t\"'“”")
    name = _LEAD_WORDS.sub("", name)
    return " ".join(name.split())


def products_from_text(text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Name, price (whole rupiah) and the price as written, for each product line."""
    found: list[dict[str, Any]] = []
    seen: set[str] = set()
    above = ""  # the line before, when it holds no price: a product card's name
    for line in re.split(r"[\n\r]+", text):
        if not line.strip():
            continue
        prices, previous_end = find_prices(line), 0
        for price in prices:
            # A name is a few words: 200 characters bound the work on a hostile line.
            chunk = line[max(previous_end, price.start - 200):price.start]
            first, previous_end = previous_end == 0, price.end
            # Only the last part of the chunk: "Menu baru! Es Kopi Pandan 28rb" names
            # "Es Kopi Pandan", not the sentence before it.
            parts = [p for p in re.split(r"[.!?:]\s+|\s[•·▪|]\s*|,\s+|\s-\s", chunk)
                     if p.strip()]
            if first and above and (not parts or _LABEL.match(
                    " ".join(parts[-1].split()).strip(" :-"))):
                parts = [above[-200:]]  # the price stands alone, or under a label
            name = _name(parts[-1]) if parts else ""
            if not name or not re.search(r"[^\W\d_]{2}", name) \
                    or len(name.split()) > MAX_WORDS:
                continue
            if _NOT_PRODUCTS.match(name) or name.lower() in seen:
                continue
            seen.add(name.lower())
            found.append({"name": name[:120], "price": price.amount, "price_text": price.text})
            if len(found) >= limit:
                return found
        above = "" if prices else line
    return found
