"""Rupiah prices as Indonesian shops write them, to whole rupiah.

`Rp25.000`, `Rp 25.000,-`, `Rp. 25.000,00`, `IDR 25,000`, `25rb`, `25 ribu`, `25k`,
`1,5jt`: the dot groups thousands in Indonesian and the comma in English, so a separator
followed by exactly three digits groups thousands and one followed by one or two digits
starts the decimals (`,-` is the written "no cents"). A bare number (`25.000`) is no price:
too many of them are weights, years and phone numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_MULTIPLIERS = {"rb": 1_000, "ribu": 1_000, "k": 1_000, "jt": 1_000_000, "juta": 1_000_000}

_NUM = r"\d{1,3}(?:(?P<sep%s>[.,])\d{3})(?:(?P=sep%s)\d{3})*(?!\d)|\d+"
_FRAC = r"(?:[.,](?P<frac%s>\d{1,2})(?!\d))?"
_MULT = r"(?P<mult%s>rb|ribu|k|jt|juta)(?![a-z])"
# A currency before the number, or a multiplier after it: a bare number is no price.
PRICE = re.compile(
    r"(?<![\w.,])(?:"
    rf"(?P<cur>rp\.?|idr)\s?(?P<num1>{_NUM % (1, 1)}){_FRAC % 1}(?:\s?{_MULT % 1})?"
    rf"|(?P<num2>{_NUM % (2, 2)}){_FRAC % 2}\s?{_MULT % 2}"
    r")(?P<dash>,-)?", re.IGNORECASE)


@dataclass(frozen=True)
class Price:
    amount: int  # whole rupiah
    text: str  # as written, e.g. "Rp 25.000,-"
    start: int
    end: int


def _amount(match: re.Match[str]) -> int | None:
    arm = "1" if match["cur"] else "2"
    num, sep, frac, mult = (match["num" + arm], match["sep" + arm], match["frac" + arm],
                            match["mult" + arm])
    if sep and mult:
        return None  # "25.000rb" is no way to write a price
    digits = num.replace(sep, "") if sep else num
    try:
        value = Decimal(digits + (f".{frac}" if frac else ""))
    except InvalidOperation:
        return None
    value *= _MULTIPLIERS.get((mult or "").lower(), 1)
    return int(value) if 0 < value < 10**12 else None


def find_prices(text: str) -> list[Price]:
    """Every price written in `text`, in order."""
    found = []
    for match in PRICE.finditer(text):
        amount = _amount(match)
        if amount is not None:
            found.append(Price(amount, match.group(0).strip(), match.start(), match.end()))
    return found


def parse_price(text: str) -> int | None:
    """The first price in `text` in whole rupiah, or None."""
    prices = find_prices(text)
    return prices[0].amount if prices else None


def parse_amount(value: object) -> int | None:
    """A structured-data price (`"25000"`, `25000`, `"95000.00"`, `"Rp 25.000"`) in whole
    units; schema.org asks for a plain number with a dot for decimals."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value) if 0 < value < 10**12 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        amount = Decimal(text)
        return int(amount) if 0 < amount < 10**12 else None
    return parse_price(text) or parse_price("Rp" + text)


def format_rupiah(amount: int, like: str = "") -> str:
    """`amount` written the way `like` (a price as the business writes it) is written;
    `Rp25.000` when there is no example."""
    sample = like.strip()
    if re.search(r"\d\s?(rb|ribu|k|jt|juta)\b", sample, re.IGNORECASE) and amount % 1000 == 0:
        unit = re.search(r"(rb|ribu|k|jt|juta)\b", sample, re.IGNORECASE)
        word = unit.group(1) if unit else "rb"
        base = _MULTIPLIERS[word.lower()]
        if amount % base == 0:
            space = " " if re.search(r"\d\s(rb|ribu|k|jt|juta)", sample, re.IGNORECASE) else ""
            return f"{amount // base}{space}{word}"
        return f"{amount // 1000}rb"
    if sample.upper().startswith("IDR"):
        return f"IDR {amount:,}"
    grouped = f"{amount:,}".replace(",", ".")
    prefix = re.match(r"(rp\.?)(\s?)", sample, re.IGNORECASE)
    head = (prefix.group(1) + prefix.group(2)) if prefix else "Rp"
    tail = ",-" if sample.endswith(",-") else (",00" if re.search(r",00$", sample) else "")
    return f"{head}{grouped}{tail}"
