"""`jiwa doctor`: a preflight of every external dependency, with the environment the
functions and the job get (README 'Operating').

Each check makes one cheap, harmless call (the checks are in `doctor_checks`). They run
at once, each in its own thread with a short timeout, and a check that fails, raises or
hangs is one failed line among the others. The exit status is 1 when any check failed.
No line ever holds a secret: every reason and fix is scrubbed of the configured secrets
before it is printed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict
from datetime import date

from rich.console import Console
from rich.text import Text

from jiwa.cli.doctor_checks import Check, all_checks, fail
from jiwa.settings import Settings

# Settings fields whose values must never be printed.
# Time for a check beyond its own network timeout (imports, client setup).
GRACE_SECONDS = 5.0
MAX_REASON = 240

console = Console(highlight=False, soft_wrap=True)  # one line per check, even piped


def add_parser(sub: argparse._SubParsersAction) -> None:
    doctor = sub.add_parser("doctor", help="check every external dependency (exit 1 on a "
                                           "failure)")
    doctor.add_argument("--timeout", type=float, default=10.0,
                        help="seconds for each check's call")
    doctor.add_argument("--json", action="store_true")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret value replaced by `***`, and cut to a short line."""
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 1] + "…"


def _run_one(name: str, check: Callable[[], Check], out: dict[str, Check]) -> None:
    started = time.monotonic()
    try:
        result = check()
    except Exception as exc:  # any surprise is this check's failure, not the run's
        result = fail(name, f"{type(exc).__name__}: {exc}",
                      "check the network and this service's settings")
    result.seconds = round(time.monotonic() - started, 2)
    out[name] = result


def run_checks(checks: list[tuple[str, Callable[[], Check]]], timeout: float,
               secrets: Iterable[str] = (), grace: float = GRACE_SECONDS) -> list[Check]:
    """Every check at once, in daemon threads (a hung call cannot keep the command alive);
    in the order given, scrubbed of `secrets`."""
    out: dict[str, Check] = {}
    threads = [threading.Thread(target=_run_one, args=(name, check, out), daemon=True,
                                name=f"doctor {name}") for name, check in checks]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + grace
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    done = dict(out)
    values = list(secrets)
    results = []
    for name, _ in checks:
        result = done.get(name)
        if result is None:
            result = fail(name, f"no answer within {timeout + grace:.0f}s",
                          "check the network, or raise --timeout")
            result.seconds = round(timeout + grace, 2)
        result.reason = scrub(result.reason, values)
        result.fix = scrub(result.fix, values)
        results.append(result)
    return results


# The SDKs the checks use, imported before the clock starts: importing is no answer from a
# dependency, and on a busy machine the anthropic SDK alone took longer than the grace
# (seconds of CPU, serialised by the import lock across the checks' threads).
SDKS = ("anthropic", "google.cloud.firestore", "google.cloud.pubsub_v1", "google.cloud.run_v2",
        "httpx")


def diagnose(settings: Settings, timeout: float, today: date | None = None) -> list[Check]:
    secrets = settings.secret_values()
    for module in SDKS:
        importlib.import_module(module)
    return run_checks(all_checks(settings, timeout, today or date.today()), timeout, secrets)


def _print(results: list[Check]) -> None:
    width = max(len(r.name) for r in results)
    colours = {"ok": "green", "FAIL": "bold red", "skip": "yellow"}
    for r in results:
        line = Text(f"{r.status:<4}", style=colours.get(r.status, ""))
        line.append(f"  {r.name:<{width}}  {r.reason}")
        console.print(line)
        if r.fix and r.failed:
            console.print(Text(f"      {'':<{width}}  fix: {r.fix}"))
    failed = sum(r.failed for r in results)
    console.print(f"{failed} of {len(results)} checks failed" if failed
                  else f"all {len(results)} checks passed")


def load_settings(env: Mapping[str, str]) -> tuple[Settings | None, list[Check]]:
    """The settings, and a failed line per variable they refuse. The checks then run
    without those variables (on their defaults), so that a typo hides nothing else."""
    try:
        return Settings.from_env(env), []
    except ValueError as exc:  # InvalidSettingError names each variable, never a secret
        problems: dict[str, str] = getattr(exc, "problems", None) or {"settings": str(exc)}
    refused = [fail(f"setting {name}", scrub(why, []), f"fix {name} (README 'Configuration')")
               for name, why in problems.items()]
    try:
        return Settings.from_env({k: v for k, v in env.items() if k not in problems}), refused
    except ValueError:
        return None, refused


def examine(env: Mapping[str, str], timeout: float) -> list[Check]:
    """Every check's result for the settings in `env` (those it refuses first)."""
    settings, results = load_settings(env)
    if settings is not None:
        results += diagnose(settings, timeout)
    return results


def run(args: argparse.Namespace) -> int:
    results = examine(os.environ, args.timeout)
    if args.json:
        print(json.dumps({"ok": not any(r.failed for r in results),
                          "checks": [asdict(r) for r in results]}, indent=1))
    else:
        _print(results)
    return 1 if any(r.failed for r in results) else 0
