"""What Claude's brand, products and calendar calls share, word for word: one system
prompt and the business (its profile, captions, website, known products). It goes first
in each call, marked for Anthropic's prompt cache (jiwa/ai.py), and each call's own task
follows it; the cached prefix is everything up to the mark (tools -> system -> messages),
so the system prompt too must be the same in the three calls.

Anthropic caches a prefix only from a minimum length (1,024 tokens on the Sonnet models
whose minimum its prompt-caching docs list); a small business's context is often shorter,
and is then billed as plain input, as before (docs/decisions/0005).
"""

from __future__ import annotations

from typing import Any

SYSTEM = ("You are the brand strategist of Jiwa, a marketing service for Indonesian small "
          "businesses. From a business's Instagram profile, posts and website you analyse "
          "its brand, pick the products it should feature and plan its Instagram content. "
          "Be concrete and kind. The business is described first; your task follows it.")


def business_context(outputs: dict[str, Any]) -> str:
    """The business as waves 1 and 2 found it: the same text for every call of one job."""
    profile = outputs["profile"]["profile"]
    site = outputs.get("website", {})
    lines = [f"Business name: {profile.get('name') or profile.get('username')}",
             f"Instagram: @{profile.get('username')} ({profile.get('followers_count')} "
             f"followers)", f"Bio: {profile.get('biography') or ''}", "Recent captions:"]
    lines += [f"- {p['caption']}" for p in outputs["profile"].get("posts", []) if p["caption"]]
    if site.get("available"):
        lines += [f"Website title: {site['title']}", f"Website description: "
                  f"{site['description']}", f"Website text: {site['text'][:1500]}"]
    lines.append("Known products:")
    # The price as the business writes it ("Rp 25.000,-", "25rb"), so the answer keeps it.
    lines += [f"- product: {p['name']}" + (f" | price {p['price_text']}"
                                           if p.get("price_text") else "")
              for p in site.get("products", [])]
    shops = sorted({c["kind"] for c in site.get("channels", []) if c.get("shop")})
    if shops:
        lines.append(f"Sells through: {', '.join(shops)}")
    return "\n".join(lines)
