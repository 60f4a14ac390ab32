"""What an onboarding spends, counted by the job itself: Claude's tokens by kind and model
(from each answer's `usage`) and the images generated, regenerations included.

Where the counts live, and why they never double count: the job keeps one entry per wave
*attempt*, `usage.{key}` on `onboardingJobs/{id}`, keyed by run, dispatch, attempt and
wave (`usage_key`). The entry is written with a plain set of that key (not an increment)
when the wave ends, finished or failed. A retried or resumed job writes new keys for the
waves it runs again and never touches the old ones, so a wave that failed on attempt 0
and succeeded on attempt 1 counts both (both were billed) and nothing is counted twice;
a write repeated after a Firestore hiccup sets the same key to the same value. A wave cut
short by the process dying (out of memory, timeout) writes nothing: its spend is lost,
an undercount, never an overcount. Checkpoint outputs were not used because a failed
wave has no checkpoint, yet its calls were billed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("input", "output", "cache_read", "cache_creation")


@dataclass
class Tokens:
    """One model's tokens. `input` is the uncached part only, as the API reports it
    (`usage.input_tokens`: the tokens after the last cache breakpoint)."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0
    calls: int = 0

    def add(self, other: Tokens) -> None:
        for name in (*KINDS, "calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Usage:
    claude: dict[str, Tokens] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)  # generations by fal model

    def add_message(self, model: str, usage: Any) -> None:
        """Count one Messages API answer's `usage` (the SDK's object or a dict)."""
        def get(name: str) -> int:
            value = usage.get(name) if isinstance(usage, dict) else getattr(usage, name, 0)
            return int(value or 0)

        self.claude.setdefault(model, Tokens()).add(Tokens(
            get("input_tokens"), get("output_tokens"), get("cache_read_input_tokens"),
            get("cache_creation_input_tokens"), 1))

    def add_image(self, model: str) -> None:
        self.images[model] = self.images.get(model, 0) + 1

    def add(self, other: Usage) -> None:
        for model, tokens in other.claude.items():
            self.claude.setdefault(model, Tokens()).add(tokens)
        for model, count in other.images.items():
            self.images[model] = self.images.get(model, 0) + count

    def take(self) -> Usage:
        """The counts so far, leaving this one empty (the next wave starts at zero)."""
        taken = Usage(self.claude, self.images)
        self.claude, self.images = {}, {}
        return taken

    def empty(self) -> bool:
        return not self.claude and not self.images

    # Firestore map keys may hold any character, model ids' dots and hyphens included,
    # because the entry is one value under a single simple field path.
    def to_doc(self) -> dict[str, Any]:
        return {"claude": {m: asdict(t) for m, t in self.claude.items()},
                "images": dict(self.images)}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Usage:
        return cls({m: Tokens(**{k: int(v) for k, v in t.items() if k in (*KINDS, "calls")})
                    for m, t in (doc.get("claude") or {}).items()},
                   {m: int(n) for m, n in (doc.get("images") or {}).items()})


def usage_key(run: int, dispatch: int, attempt: int, wave: int) -> str:
    return f"r{run}d{dispatch}a{attempt}w{wave}"


def job_total(entries: dict[str, Any] | None) -> Usage:
    """The sum of a job document's `usage` entries (every run and attempt: all billed)."""
    total = Usage()
    for entry in (entries or {}).values():
        total.add(Usage.from_doc(entry))
    return total
