"""When the external APIs we call stop working: Claude model retirement and Graph API
version expiry. The job warns at start, `jiwa doctor` fails, and a test fails when a
default is retired or close to it.

Sources:
- Claude: the installed anthropic SDK's own table, `anthropic/_data/deprecated_models.py`
  (model id -> end-of-life date), which the SDK also uses to warn on every call. A model
  past its date answers 404 `not_found_error` (Anthropic's model deprecations page).
- Graph API: Meta's version table, developers.facebook.com/docs/graph-api/changelog/versions
  (read 2026-11-28). A version past its date is upgraded or refused by Meta; the stand-in
  accepts only the versions below that are still available.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

# Meta's "Available Until" per version; None = not yet announced (the newest ones).
GRAPH_API_VERSIONS: dict[str, date | None] = {
    "v21.0": date(2027, 1, 21),
    "v22.0": date(2027, 5, 20),
    "v23.0": date(2027, 10, 8),
    "v24.0": date(2028, 2, 18),
    "v25.0": date(2028, 7, 29),
    "v26.0": None,
}

# Fails a default model (tests) and warns an operator (doctor) this long before retirement.
RETIREMENT_WARNING_DAYS = 60


@dataclass(frozen=True)
class Retirement:
    """What is known about one model or API version's end of life."""

    name: str
    known: bool  # False: not in any table we have (an unknown Graph version, say)
    ends: date | None  # None: no end announced

    def days_left(self, today: date) -> int | None:
        return None if self.ends is None else (self.ends - today).days

    def retired(self, today: date) -> bool:
        return self.ends is not None and today >= self.ends

    def retiring_soon(self, today: date, days: int = RETIREMENT_WARNING_DAYS) -> bool:
        left = self.days_left(today)
        return left is not None and left <= days


def _sdk_deprecations() -> dict[str, str]:
    """The SDK's own table, read from its file without importing the SDK: importing
    `anthropic` costs the job most of a second of its cold start, before its first
    progress event (bench start), where the job checks its models. An SDK without the
    table: nothing is known to retire."""
    loaded = sys.modules.get("anthropic._data.deprecated_models")
    if loaded is not None:
        return dict(loaded.DEPRECATED_MODELS)
    package = importlib.util.find_spec("anthropic")  # finds, does not import
    if package is None or not package.submodule_search_locations:
        return {}
    path = Path(package.submodule_search_locations[0]) / "_data" / "deprecated_models.py"
    spec = importlib.util.spec_from_file_location("jiwa._anthropic_deprecated_models", path)
    if spec is None or spec.loader is None or not path.exists():
        return {}
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(getattr(module, "DEPRECATED_MODELS", {}))


def _parse_sdk_date(text: str) -> date:
    """'November 30th, 2026' -> date(2026, 11, 30)."""
    cleaned = re.sub(r"(\d+)(st|nd|rd|th)", r"\1", text.strip())
    return datetime.strptime(cleaned, "%B %d, %Y").date()


def claude_model(model: str) -> Retirement:
    """A Claude model's end of life from the SDK's table (not listed: no end announced)."""
    table = _sdk_deprecations()
    if model not in table:
        return Retirement(model, known=True, ends=None)
    return Retirement(model, known=True, ends=_parse_sdk_date(table[model]))


def graph_version(version: str) -> Retirement:
    if version not in GRAPH_API_VERSIONS:
        return Retirement(version, known=False, ends=None)
    return Retirement(version, known=True, ends=GRAPH_API_VERSIONS[version])


def graph_version_available(version: str, today: date) -> bool:
    """Meta still serves `version` on `today` (an unknown version is not served)."""
    state = graph_version(version)
    return state.known and not state.retired(today)


def warnings(models: dict[str, str], graph: str, today: date) -> list[str]:
    """One line per setting whose model or version is retired or retires soon; each names
    the variable to change."""
    lines = []
    for variable, model in models.items():
        state = claude_model(model)
        if state.retired(today):
            lines.append(f"{variable}={model} was retired on {state.ends}: set {variable} "
                         "to a current model")
        elif state.retiring_soon(today):
            lines.append(f"{variable}={model} retires on {state.ends}: set {variable} to a "
                         "current model before then")
    version = graph_version(graph)
    if not version.known:
        lines.append(f"META_GRAPH_VERSION={graph} is not a Graph API version we know")
    elif version.retired(today):
        lines.append(f"META_GRAPH_VERSION={graph} expired on {version.ends}")
    elif version.retiring_soon(today):
        lines.append(f"META_GRAPH_VERSION={graph} expires on {version.ends}")
    return lines
