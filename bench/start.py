"""`./emulator.sh bench start`: how soon the job tells the user something. Reports numbers;
asserts nothing about time (tests/unit/test_job_imports.py guards the imports instead).

- imports: a fresh interpreter, with the stack's job environment, builds the job's runner
  (jiwa.job.start, then prepare: everything before its first Firestore read) under
  `python -X importtime`; the total, the ten costliest packages, and which of the heavy
  SDKs were loaded. Then the same without -X importtime, for the wall time of a cold start
  up to a ready runner (importtime's own bookkeeping inflates its numbers).
- dispatch → first progress event on the emulators: the dispatcher's claim (dispatchedAt)
  to the first "wave" event in the job's timeline, over RUNS onboardings one after the
  other. Locally that includes two interpreter starts (jiwa.job.supervisor, then jiwa.job).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from bench.run import Driver, _stats, machine, phone, stack, write_results

RUNS, COLD_STARTS = 10, 5
HEAVY = ("anthropic", "fal_client", "trafilatura", "lxml", "extruct", "httpx",
         "google.cloud.storage", "google.cloud.firestore", "google.cloud.pubsub_v1", "grpc")
# Prints, once the runner is ready, which heavy modules it loaded, the clock and the
# process's CPU so far (one JSON line on stdout): the interpreter's exit, after, is not
# part of a job's start (a collection of everything there is, unless it was frozen).
PREPARE = f"""
import json, sys, time
from jiwa.job.start import job_module
from jiwa.settings import Settings
job_module().prepare(Settings.from_env(required=["project"]))
print(json.dumps({{"loaded": [m for m in {HEAVY!r} if m in sys.modules],
                  "ready_at": time.time(), "cpu_s": time.process_time()}}))
"""


def _package(module: str) -> str:
    """google.cloud.firestore_v1.x -> google.cloud.firestore_v1; pydantic.x -> pydantic."""
    parts = module.split(".")
    return ".".join(parts[:3] if parts[0] == "google" else parts[:1])


def imports(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", PREPARE], env=env,
                          capture_output=True, text=True, check=True)
    by_package: dict[str, int] = defaultdict(int)
    total = 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        total += int(self_us)
        by_package[_package(name.strip())] += int(self_us)
    top = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)[:10]
    walls, cpus = [], []
    for _ in range(COLD_STARTS):
        started = time.time()
        ready = json.loads(subprocess.run(
            [sys.executable, "-c", PREPARE], env=env, capture_output=True, text=True,
            check=True).stdout.strip().splitlines()[-1])
        walls.append(ready["ready_at"] - started)
        cpus.append(ready["cpu_s"])
    return {"total_ms": round(total / 1000, 1),
            "top": [{"package": p, "self_ms": round(us / 1000, 1)} for p, us in top],
            "loaded": json.loads(done.stdout.strip().splitlines()[-1])["loaded"],
            "cold_start_to_runner_ms": _stats(walls),
            "cold_start_to_runner_cpu_ms": _stats(cpus), "cold_starts": COLD_STARTS}


def first_event(d: Driver, runs: int) -> dict[str, Any]:
    dispatch_to_event, start_to_event = [], []
    for _ in range(runs):
        job_id, _ = d.start_onboarding(phone())
        d.wait_done(job_id)  # one job at a time: the next sample starts on an idle machine
        raw = d.store._ref(job_id).get().to_dict() or {}
        first_wave = min(datetime.fromisoformat(e["created_at"]).timestamp()
                         for e in d.store.events(job_id) if e["kind"] == "wave")
        dispatch_to_event.append(first_wave - raw["dispatchedAt"].timestamp())
        start_to_event.append(first_wave - raw["startedAt"].timestamp())
    return {"runs": runs, "dispatch_to_first_event_ms": _stats(dispatch_to_event),
            "job_start_to_first_event_ms": _stats(start_to_event)}


def main() -> int:
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": machine()}
    with stack("start") as d:
        print("bench start: the job's imports…", flush=True)
        results["imports"] = imports(d.env)
        print(f"bench start: dispatch → first progress event, {RUNS} onboardings…", flush=True)
        results["first_event"] = first_event(d, RUNS)
        # Other work on the machine shows in every number here: say how much there was.
        results["machine"]["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    write_results(("start-latest",), results, markdown(results))
    return 0


def markdown(r: dict[str, Any]) -> str:
    i, f, m = r["imports"], r["first_event"], r["machine"]
    d, s = f["dispatch_to_first_event_ms"], f["job_start_to_first_event_ms"]
    c, cpu = i["cold_start_to_runner_ms"], i["cold_start_to_runner_cpu_ms"]
    load = ", ".join(str(x) for x in m["load_average_1_5_15"])
    lines = [
        f"# Job start benchmark {r['date']}", "",
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}; "
        f"load average {load} (1, 5, 15 min) at the end.",
        "", "| measure | value |", "|---|---|",
        f"| dispatch → first progress event (median, p95 of {f['runs']}) | {d['median']} ms, "
        f"{d['p95']} ms |",
        f"| job start (Firestore RUNNING) → first event (median, p95) | {s['median']} ms, "
        f"{s['p95']} ms |",
        f"| cold start → runner ready, no -X importtime (median, p95 of {i['cold_starts']}) | "
        f"{c['median']} ms, {c['p95']} ms |",
        f"| the same, CPU time (user + system; median, p95) | {cpu['median']} ms, "
        f"{cpu['p95']} ms |",
        f"| -X importtime total up to a ready runner | {i['total_ms']} ms |",
        f"| heavy SDKs loaded by then | {', '.join(i['loaded']) or 'none'} |",
        "", "Costliest packages (self time under -X importtime):", "",
        "| package | ms |", "|---|---|",
        *(f"| {t['package']} | {t['self_ms']} |" for t in i["top"]),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
