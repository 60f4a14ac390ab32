"""The pipeline at two latency profiles: time to first preview and wall time, each beside
its floor computed from the injected latencies (issue #17), for the schedule we run and
the one before it (the whole calendar first).

Profiles (Claude's latency is per structured call, spread over its streamed answer):
- fast: Claude 1.5 s, fal 4 s per image, scoring 1 s: the benchmark's numbers so far,
  scaled down so that a run is quick;
- realistic: Claude 8 s, fal 6 s, scoring 3 s. Claude: Artificial Analysis measured Claude
  Sonnet 4.5 at 1.8 s to the first token and 63 output tokens/s (as cited by
  lattice.uptownhr.com/claude-opus-4-5/speed-analysis, 2025-11): our calendar's ~400
  tokens take 1.8 + 6.3 = 8.1 s, so a quarter of the call before the first token. fal:
  third parties give flux schnell's inference as under 2 s (fairstack.ai, 2026) or 0.35 s
  (ebartan.dev, 2026); 6 s is an assumption for the whole request as we make it (queue,
  polling every 50 ms, a 1024x1024 image, the download), not a measurement. Scoring 3 s
  is an assumption: Haiku reading one image and answering ~60 tokens.
"""

from __future__ import annotations

import heapq
import json
import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from jiwa.dev.anthropic_cache import CHARS_PER_TOKEN
from jiwa.dev.anthropic_sse import TOKENS_PER_DELTA

N, CONCURRENCY = 6, 3


@dataclass(frozen=True)
class Profile:
    name: str
    claude_s: float
    fal_s: float
    score_s: float
    first_token_share: float = 0.25

    def faults(self) -> dict[str, Any]:
        return {"latency_ms": self.claude_s * 1000, "first_token_share": self.first_token_share,
                "latency_ms_by_schema": {"ImageScore": self.score_s * 1000}}


PROFILES = [Profile("fast", 1.5, 4.0, 1.0), Profile("realistic", 8.0, 6.0, 3.0)]
# JIWA_CALENDAR_STREAM: "on" streams the calendar and starts each image at its post;
# "off" is the schedule before it (the calendar's whole answer, then the images).
# JIWA_STANDBY_SECONDS: the job's process starts at /register and loads while the user
# logs in (decision 0019, deployed by infra/); "cold start" is the start before it, when
# the login ends.
SCHEDULES = {"stream": {"JIWA_STANDBY_SECONDS": "120"},
             "stream, cold start": {},
             "whole calendar, cold start": {"JIWA_CALENDAR_STREAM": "off"}}
# The schedule's floor: the stream's whether or not the process stood by.
FLOOR_OF = {"stream": "stream", "stream, cold start": "stream",
            "whole calendar, cold start": "whole calendar"}
# The user's login to Instagram, from the link to the tap back: an assumption (typing a
# password, or confirming a saved session, takes longer); long enough for the standby to
# load here (about 4 s from /register).
LOGIN_SECONDS = 8.0
KEPT = ("first_preview", "wall", "login_to_first_preview", "dispatch_to_first_event")


def post_times(p: Profile, calendar: dict[str, Any]) -> list[float]:
    """When each post's last character leaves the stand-in, from the calendar call's
    start: its answer is this JSON, sent a few tokens a delta, the first delta after the
    first token's share of the latency and the rest spread evenly (jiwa/dev/anthropic_sse)."""
    posts = calendar["posts"]
    text = json.dumps({"posts": posts, "summary": calendar["summary"]}, ensure_ascii=False)
    width = TOKENS_PER_DELTA * CHARS_PER_TOKEN
    pieces = math.ceil(len(text) / width)
    first, step = p.claude_s * p.first_token_share, p.claude_s * (1 - p.first_token_share)
    times = []
    for k in range(1, len(posts) + 1):
        end = len(json.dumps({"posts": posts[:k]}, ensure_ascii=False)) - 2  # less "]}"
        times.append(first + step * (math.ceil(end / width) - 1) / pieces)
    return times


def floors(p: Profile, calendar: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each schedule's floor: the first preview (brand call + products call + the
    calendar's first post, or all of it + one image + one score) and the critical path
    (every image made in CONCURRENCY slots, each as soon as its post exists and a slot is
    free; the whole calendar before the final message)."""
    before = 2 * p.claude_s  # brand, then products: each needs the one before
    image = p.fal_s + p.score_s  # one slot holds an image through its score
    out = {}
    for name, ready in (("stream", [before + t for t in post_times(p, calendar)]),
                        ("whole calendar", [before + p.claude_s] * N)):
        slots = [0.0] * CONCURRENCY
        done = []
        for release in ready:  # the slots are taken in post order
            start = max(release, heapq.heappop(slots))
            heapq.heappush(slots, start + image)
            done.append(start + image)
        out[name] = {"first_preview": done[0],
                     "critical_path": max(max(done), before + p.claude_s)}
    return out


def summarise(p: Profile, samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Medians per schedule beside the floors of the calendar the runs wrote."""
    calendar = samples["stream"][0]["calendar"]
    floor = floors(p, calendar)
    rows = {}
    for name, runs in samples.items():
        first = statistics.median(r["first_preview"] for r in runs)
        wall = statistics.median(r["wall"] for r in runs)
        login = statistics.median(r["login_to_first_preview"] for r in runs)
        to_event = statistics.median(r["dispatch_to_first_event"] for r in runs)
        f = floor[FLOOR_OF[name]]
        rows[name] = {"runs": len(runs), "first_preview_s": round(first, 2),
                      "login_to_first_preview_s": round(login, 2),
                      "dispatch_to_first_event_ms": round(1000 * to_event),
                      "first_preview_floor_s": round(f["first_preview"], 2),
                      "first_preview_over_pct": round(100 * (first / f["first_preview"] - 1), 1),
                      "wall_s": round(wall, 2), "critical_path_s": round(f["critical_path"], 2),
                      "wall_over_pct": round(100 * (wall / f["critical_path"] - 1), 1)}
    return {"profile": asdict(p), "schedules": rows}


def markdown(results: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Time to first preview and wall time, by latency profile", "",
             "Floors from the injected latencies: first preview = brand call + products call "
             "+ the calendar's first post (its whole answer when not streamed) + one image + "
             "one score; critical path = the images in their "
             f"{CONCURRENCY} slots, each from its post, and the whole calendar. N = {N}. "
             "Medians; the time from the job's start (waves 1-2 run against local stand-ins), "
             "and what the user waits from the login's end (the OAuth callback) to the first "
             "image. `stream` is what infra/ deploys: the job's process started at /register "
             f"(the standby, decision 0019), the user logging in {LOGIN_SECONDS:g} s; the "
             "cold starts begin the process when the login ends. "
             "Each stack's first onboarding warms its emulators and is not counted (its "
             "figures are in the JSON, `warmup`).",
             "", "| profile | schedule | first preview | floor | over | wall time | critical "
             "path | over | login → first preview | dispatch → first event |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        p = r["profile"]
        label = (f"{p['name']} (Claude {p['claude_s']} s, fal {p['fal_s']} s, score "
                 f"{p['score_s']} s)")
        for name, s in r["schedules"].items():
            lines.append(f"| {label} | {name} | {s['first_preview_s']:.2f} s | "
                         f"{s['first_preview_floor_s']:.2f} s | "
                         f"{s['first_preview_over_pct']:+.1f} % | "
                         f"{s['wall_s']:.2f} s | {s['critical_path_s']:.2f} s | "
                         f"{s['wall_over_pct']:+.1f} % | "
                         f"{s['login_to_first_preview_s']:.2f} s | "
                         f"{s['dispatch_to_first_event_ms']} ms |")
    return lines
