"""What the user must receive in a scenario, and how a received conversation measures
against it (the fault table's expected, delivered and dup columns).

An expected conversation is built from the scenario: which pipeline ran, the user's
language, where it stopped and why. It is never built from what arrived, so a lost,
repeated or misplaced message shows. The real pipeline's summaries and captions are
Claude's answers; they are read from the job's checkpoints (what the waves produced),
not from the conversation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# The test pipeline (tests/pipelines.py): every wave announced, summaries in waves 3 and 6.
from integration.test_end_to_end import WAVE_TEXTS_EN, expected_conversation

IMAGES = 6  # JIWA_IMAGE_COUNT's default: the test stack keeps it
AT_ONCE = 3  # JIWA_IMAGE_CONCURRENCY's default

LOGIN_LINK = {
    "en": "Hi Sari! To get started, connect your Instagram business account with this link "
          "(valid for 15 minutes):",
    "id": "Halo Sari! Untuk mulai, hubungkan akun Instagram bisnis Anda lewat tautan ini "
          "(berlaku 15 menit):",
}
ACCEPTED = {
    "en": "Instagram @kopisenja.id connected! We're on it…",
    "id": "Instagram @kopisenja.id terhubung! Kami mulai menyiapkan semuanya untuk Anda…",
}

DONE_EN = "Done! Your brand analysis, content calendar and 0 images are ready."

# The real pipeline (jiwa.waves): waves 1, 3 and 4 are announced; 3, 4 and 6 send a summary.
_REAL = {
    "en": {"profile": "Learning about your business…", "brand": "Analyzing your brand…",
           "products": "Preparing your products…", "brand_title": "Brand analysis",
           "products_title": "Featured products", "calendar_title": "Calendar ready!",
           "creating": "Creating image {i} of {n}…",
           "preview": "[image] Image {i} of {n}: {caption}",
           "done": "All {n} images ready!\nYour content calendar:\n{calendar}"},
    "id": {"profile": "Mempelajari bisnis Anda…", "brand": "Menganalisis brand Anda…",
           "products": "Menyiapkan produk Anda…", "brand_title": "Analisis brand",
           "products_title": "Produk unggulan", "calendar_title": "Kalender siap!",
           "creating": "Membuat gambar {i} dari {n}…",
           "preview": "[image] Gambar {i} dari {n}: {caption}",
           "done": "Semua {n} gambar siap!\nKalender konten Anda:\n{calendar}"},
}


@dataclass(frozen=True)
class Expected:
    """`head` in this order, then `streamed` in any order (the images wave streams), then
    `tail`. `optional` messages may also appear among the streamed ones, once each;
    `before` pairs must arrive in that order (an image's "Creating…" before its preview)."""

    head: tuple[str, ...]
    streamed: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    before: tuple[tuple[str, str], ...] = ()

    @property
    def texts(self) -> list[str]:
        """Every message that must arrive."""
        return [*self.head, *self.streamed, *self.tail]

    def delivered(self, got: Sequence[str]) -> int:
        """How many of the messages that must arrive did (each counted once)."""
        return sum((Counter(self.texts) & Counter(got)).values())

    def problems(self, got: Sequence[str]) -> list[str]:
        """What is wrong with `got`; empty when it is exactly this conversation."""
        got, found = list(got), []
        head, tail = list(self.head), list(self.tail)
        if got[:len(head)] != head:
            found.append(f"it starts {got[:len(head)]!r}, not {head!r}")
        if tail and got[-len(tail):] != tail:
            found.append(f"it ends {got[-len(tail):]!r}, not {tail!r}")
        middle = got[len(head):len(got) - len(tail)]
        missing = Counter(self.streamed) - Counter(middle)
        extra = Counter(middle) - Counter(self.streamed) - Counter(set(self.optional))
        if missing:
            found.append(f"missing {sorted(missing.elements())!r}")
        if extra:
            found.append(f"not expected there {sorted(extra.elements())!r}")
        found += [f"{second!r} arrived before {first!r}" for first, second in self.before
                  if first in got and second in got and got.index(first) > got.index(second)]
        return found


def duplicates(texts: Sequence[str]) -> int:
    return sum(c - 1 for c in Counter(texts).values() if c > 1)


def backbone(*, login: bool = False, accepted: bool = True, failed_in: int | None = None,
                  failure: str = "") -> Expected:
    """The test pipeline in English: the login link if the user sent /register, the
    OAuth callback's "we're on it" if it ran (or the test published it), every wave up to
    `failed_in` (its "started" message included) and then `failure`, or all nine and
    "Done!"."""
    texts = ([LOGIN_LINK["en"]] if login else []) + ([ACCEPTED["en"]] if accepted else [])
    waves = expected_conversation()  # each wave's "started" message, and its summary
    if failed_in:
        waves = waves[:waves.index(WAVE_TEXTS_EN[failed_in - 1]) + 1]
    return Expected((*texts, *waves), tail=(failure if failed_in else DONE_EN,))


def real_pipeline(checkpoints: dict[int, dict[str, Any]], language: str = "en", *,
                  failed_in: int | None = None, failure: str = "") -> Expected:
    """The real nine waves after /register (en) or /daftar (id): the login link, "we're on
    it", waves 1, 3 and 4 announced, the summaries of waves 3, 4 and 6, then per image
    "Creating image i of 6…" and its preview (streamed), then "All 6 images ready!" and
    the calendar.

    Failing in wave `failed_in`: everything before it, its "started" message, and then
    `failure`. Failing in the images wave: the first AT_ONCE images had started (each
    fails only after its retries); the others may have."""
    t, cp = _REAL[language], checkpoints
    stop = failed_in or 10
    head = [LOGIN_LINK[language], ACCEPTED[language], t["profile"]]
    if stop > 3:
        head += [t["brand"], f"{t['brand_title']}\n{cp[3]['summary']}".strip()]
    elif stop == 3:
        head.append(t["brand"])
    if stop > 4:
        products = "\n".join(f"• {p['name']}" + (f" ({p['price']})" if p.get("price") else "")
                             for p in cp[4]["products"])
        head += [t["products"], f"{t['products_title']}\n{products}".strip()]
    elif stop == 4:
        head.append(t["products"])
    if stop > 6:
        head.append(f"{t['calendar_title']}\n{cp[6]['summary']}".strip())
    creating = [t["creating"].format(i=i, n=IMAGES) for i in range(1, IMAGES + 1)]
    if failed_in == 8:
        return Expected(tuple(head), tuple(creating[:AT_ONCE]), (failure,),
                        optional=tuple(creating[AT_ONCE:]))
    if failed_in:
        return Expected(tuple(head), tail=(failure,))
    previews = [t["preview"].format(i=p["index"], n=IMAGES, caption=p["caption"][:200])
                for p in cp[7]["prompts"]]
    calendar = "\n".join(f"{p['date']} · {p['product']}" for p in cp[6]["posts"])
    done = t["done"].format(n=IMAGES, calendar=calendar)
    return Expected(tuple(head), tuple(creating + previews), (done,),
                    before=tuple(zip(creating, previews, strict=True)))
