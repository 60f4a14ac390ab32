"""A page's visible text laid out the way a browser shows it: a line per block (heading,
paragraph, list item, table cell), inline pieces joined as written (`<span>Rp</span>25.000`
reads `Rp25.000`), nothing from scripts, styles or templates. Product cards then read as
a name line and a price line, which `jiwa.reading.captions` understands."""

from __future__ import annotations

import re

import lxml.html

BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "option", "p", "pre", "section", "summary",
    "table", "td", "th", "tr", "ul", "button"})
HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "head", "title",
                    "iframe", "object", "select"})


# Text for screen readers only (Shopify's "visually-hidden", WordPress's
# "screen-reader-text", Bootstrap's "sr-only"), and elements hidden outright.
_UNSEEN_CLASS = re.compile(r"\b(visually-hidden|screen-reader-text|sr-only|hidden)\b")


def _unseen(element: lxml.html.HtmlElement) -> bool:
    return ("hidden" in element.attrib
            or bool(_UNSEEN_CLASS.search(element.get("class") or ""))
            or "display:none" in (element.get("style") or "").replace(" ", ""))


def layout_text(root: lxml.html.HtmlElement, limit: int = 400_000) -> str:
    """The visible text of `root`, one line per block, at most `limit` characters.
    Iterative (no recursion): lxml already bounds the depth at 256."""
    parts: list[str] = []
    size = 0
    # (element, entering): on entering, its text then its children; on leaving, its tail.
    stack: list[tuple[lxml.html.HtmlElement, bool]] = [(root, True)]
    while stack and size < limit:
        element, entering = stack.pop()
        tag = element.tag.lower() if isinstance(element.tag, str) else ""
        if entering:
            if not tag or tag in HIDDEN or _unseen(element):
                # a comment, a processing instruction or a hidden element: only its tail
                stack.append((element, False))
                continue
            if tag in BLOCK:
                parts.append("\n")
            if element.text:
                parts.append(element.text)
                size += len(element.text)
            stack.append((element, False))
            stack.extend((child, True) for child in reversed(element))
        else:
            if tag in BLOCK:
                parts.append("\n")
            if element.tail and element is not root:
                parts.append(element.tail)
                size += len(element.tail)
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)[:limit]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
