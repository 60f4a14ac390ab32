"""The load scenario's numbers (bench/load.py): every figure here comes from the run."""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import asdict
from typing import Any

from bench.load_jobs import Providers, Work
from bench.load_model import Demand, Quotas, binding, needed, pct, time_average, window_peak
from bench.load_providers import Bucket

GOAL_RATIO = 0.9  # issue #21: throughput within 10 % of what the tightest quota allows


def demand_of(w: Work) -> Demand:
    return Demand(claude=w.claude(), images=w.images, fal_seconds=w.fal_s,
                  messages=w.messages)


def _seconds(values: list[float]) -> dict[str, float]:
    return {"p50": round(pct(values, 0.5), 1), "p95": round(pct(values, 0.95), 1),
            "max": round(max(values, default=0.0), 1)}


def _ms(values: list[float]) -> dict[str, float]:
    return {"p50": round(1000 * pct(values, 0.5), 1), "p95": round(1000 * pct(values, 0.95), 1),
            "calls": len(values)}


def bucket_use(b: Bucket, window: float, span: float) -> dict[str, Any]:
    """Peak use in any `window` (the quota's own), average per window over `span`."""
    peak = window_peak(b.used, window)
    average = sum(c for _, c in b.used) / span * window if span > 0 else 0.0
    return {"limit": b.limit, "per_seconds": window, "peak": round(peak, 1),
            "peak_pct": round(100 * peak / b.limit, 1), "average": round(average, 1),
            "average_pct": round(100 * average / b.limit, 1), "refusals": b.refusals,
            "backoffs": b.backoffs, "backoff_s": round(b.backoff_seconds, 1)}


def summarise(a: argparse.Namespace, q: Quotas, w: Work, allowed: dict[str, float],
              p: Providers, run: dict[str, Any]) -> dict[str, Any]:
    jobs, d = run["jobs"].values(), run["dispatch"]
    outcomes = Counter(j.outcome or "lost: never ended" for j in jobs)
    done = [j for j in jobs if j.outcome == "completed"]
    ended = [j.ended for j in jobs if j.ended is not None]
    span = (max(ended) if ended else run["end"]) - min(j.arrived for j in jobs)
    per_minute = len(done) / (span / 60) if span > 0 else 0.0
    name, allows = binding(allowed)
    failed_quota = sum(n for o, n in outcomes.items() if o.startswith("failed"))
    lost = sum(n for o, n in outcomes.items() if o.startswith("lost"))
    duplicated = sum(j.starts > 1 for j in jobs)
    fal = p.fal
    # quotas that allow more than arrives: the arrivals bound the throughput instead
    arriving = a.onboardings / a.minutes
    ratio = per_minute / min(allows, arriving)
    return {
        "scenario": {"onboardings": a.onboardings, "arrivals_over_min": a.minutes,
                     "clock": "simulated (VirtualLoop)",
                     "backend": "FirestoreAdmission on the Firestore emulator",
                     "max_running": a.max_running, "starts_per_minute": a.starts_per_minute,
                     "admission_threads": a.threads},
        "quotas": asdict(q), "work": asdict(w),
        "demand": {"claude": w.claude(),
                   "unhindered_job_s": w.unhindered_s()},
        "allowances_per_min": {k: round(v, 2) for k, v in allowed.items()},
        "binding": {"quota": name, "per_min": round(allows, 2)},
        "needed_for_arrivals": {k: round(v, 1) for k, v in needed(
            a.onboardings / a.minutes, demand_of(w)).items()},
        "outcomes": dict(outcomes), "completed": len(done), "failed": failed_quota,
        "lost": lost, "duplicated": duplicated,
        "admitted_more_than_once": sum(j.admissions > 1 for j in jobs),
        "waiting_s": _seconds([j.admitted - j.arrived for j in jobs if j.admitted is not None]),
        "total_s": _seconds([j.ended - j.arrived for j in done if j.ended is not None]),
        "run_s": _seconds([j.ended - j.started for j in done
                           if j.ended is not None and j.started is not None]),
        "span_min": round(span / 60, 1),
        "throughput_per_min": round(per_minute, 3),
        "throughput_per_hour": round(60 * per_minute, 1),
        "ratio": round(ratio, 3), "ratio_against": "arrivals" if arriving < allows else "quota",
        "goal_met": lost == 0 and failed_quota == 0 and duplicated == 0 and ratio >= GOAL_RATIO,
        "peak_running": d.peak_running,
        "average_running": round(time_average(d.levels, span), 2),
        "quota_use": {
            "cloud_run_run_requests": bucket_use(p.run_job, 60, span),
            **{f"anthropic_{kind}_{model}": bucket_use(getattr(c, attr), 60, span)
               for model, c in p.claude.items()
               for kind, attr in (("requests", "requests"), ("input_tokens", "tokens"))},
            "whatsapp_throughput": bucket_use(p.whatsapp, 1, span),
            "fal_concurrent": {"limit": fal.limit, "peak": fal.peak,
                               "peak_pct": round(100 * fal.peak / fal.limit, 1),
                               "average": round(time_average(fal.levels, span), 2),
                               "average_pct": round(100 * time_average(fal.levels, span)
                                                    / fal.limit, 1),
                               "queued": fal.queued, "timed_out": fal.timed_out,
                               "wait_in_line_s": _seconds(fal.waits)}},
        "claude_gave_up": sum(c.gave_up for c in p.claude.values()),
        "messages": {"sent": sum(n.sent for n in d.notifiers.values()),
                     "dead_lettered": p.dead_lettered_messages,
                     "told_in_line": run["told"]},
        "starts_dead_lettered": p.dead_lettered_starts,
        "admission": {"admit_ms": _ms(run["timings"]["admit"]),
                      "release_ms": _ms(run["timings"]["release"]),
                      "sweeper_admitted": len(run["swept"]),
                      "slots_held_at_end": len(run["holders"]),
                      "waiting_at_end": run["line"]},
    }


def markdown(r: dict[str, Any]) -> str:
    s, m, u = r["scenario"], r["machine"], r["quota_use"]
    lines = [
        f"# Load benchmark {r['date']}", "",
        f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python {m['python']}, "
        f"{m['platform']}. Run took {r['duration_s']} s here.", "",
        f"{s['onboardings']} onboardings arriving evenly over {s['arrivals_over_min']:g} "
        f"minutes, on a simulated clock (real-world seconds for latencies, quota windows and "
        "backoffs; still while admission works). "
        f"Admission: {s['backend']}, max running {s['max_running']}, "
        f"{s['starts_per_minute']} starts a minute. Real: admission, the quota buckets "
        "(jiwa.dev.quotas), the answers and our backoffs; modelled: each onboarding's "
        "provider work (bench/load.py says how). Times below are simulated (real-world) ones, "
        "but for admission's own calls.", "",
        "Quotas: " + ("the providers' defaults (bench/load_model.Quotas, with sources)."
                      if r["quotas"] == asdict(Quotas()) else "NOT the providers' defaults, "
                      "a what-if: " + ", ".join(f"{k} {v:,}" for k, v in r["quotas"].items()
                                                if v != asdict(Quotas())[k]) + "."),
        "", "| measure | value |", "|---|---|",
        f"| completed / failed / lost / duplicated | {r['completed']} / {r['failed']} / "
        f"{r['lost']} / {r['duplicated']} |",
        f"| waiting (queued → admitted) p50 / p95 | {_dur(r['waiting_s']['p50'])} / "
        f"{_dur(r['waiting_s']['p95'])} |",
        f"| total (queued → completed) p50 / p95 | {_dur(r['total_s']['p50'])} / "
        f"{_dur(r['total_s']['p95'])} |",
        f"| one job's run p50 / p95 (unhindered {r['demand']['unhindered_job_s']:.1f} s) | "
        f"{_dur(r['run_s']['p50'])} / {_dur(r['run_s']['p95'])} |",
        f"| peak / average running (max running {s['max_running']}) | {r['peak_running']} / "
        f"{r['average_running']} |",
        f"| jobs admitted more than once (the dispatch claim starts them once) | "
        f"{r['admitted_more_than_once']} |",
        f"| throughput | {r['throughput_per_hour']} an hour ({r['throughput_per_min']} a "
        f"minute over {r['span_min']} min) |",
        f"| tightest quota | {r['binding']['quota']}: {r['binding']['per_min']} a minute "
        f"({60 * r['binding']['per_min']:.0f} an hour) |",
        f"| throughput / what {'the quota allows' if r['ratio_against'] == 'quota' else
                               'arrives'} | {r['ratio']:.3f} (goal ≥ "
        f"{GOAL_RATIO}) |",
        f"| goal (0 lost, 0 failed, within 10 %) | {'met' if r['goal_met'] else 'NOT met'} |",
        "", "What each quota allows alone (onboardings a minute): " + ", ".join(
            f"{k} {v}" for k, v in r["allowances_per_min"].items()) + ". For the arrivals' "
        f"{s['onboardings'] / s['arrivals_over_min'] * 60:.0f} an hour, the limits would have "
        "to be: " + ", ".join(f"{k} {v:,}" for k, v in r["needed_for_arrivals"].items())
        + ".", "",
        "Peak use is the busiest window of the quota's own length; a token bucket lets a "
        "full bucket through on top of its refill, so a window can see up to twice the "
        "limit. Average use is over the whole run (first arrival to last end). A call the "
        "token quota refuses has spent a request already (the stand-in checks requests "
        "first), so the requests quota fills beside the tokens one.", "",
        "| quota | limit | peak use | average use | refusals (429 / RESOURCE_EXHAUSTED / "
        "130429) | backoffs |", "|---|---|---|---|---|---|"]
    for name, q in u.items():
        if name == "fal_concurrent":
            continue
        per = "s" if q["per_seconds"] == 1 else "min"
        lines.append(f"| {name} | {q['limit']:,}/{per} | {q['peak']:,} ({q['peak_pct']} %) | "
                     f"{q['average']:,} ({q['average_pct']} %) | {q['refusals']} | "
                     f"{q['backoffs']} ({_dur(q['backoff_s'])} in all) |")
    f = u["fal_concurrent"]
    a = r["admission"]
    lines += [f"| fal_concurrent | {f['limit']} at once | {f['peak']} ({f['peak_pct']} %) | "
              f"{f['average']} ({f['average_pct']} %) | never refused: {f['queued']} waited "
              f"IN_QUEUE (p95 {_dur(f['wait_in_line_s']['p95'])}), {f['timed_out']} gave up | "
              "none needed |", "",
              f"Admission here (Firestore emulator, {s['admission_threads']} threads): admit "
              f"p50 {r['admission']['admit_ms']['p50']} ms, p95 "
              f"{r['admission']['admit_ms']['p95']} ms; release p50 "
              f"{r['admission']['release_ms']['p50']} ms, p95 "
              f"{r['admission']['release_ms']['p95']} ms (wall time). Sweeper admitted "
              f"{a['sweeper_admitted']}; at the end {a['slots_held_at_end']} slots held, "
              f"{a['waiting_at_end']} waiting. Messages: "
              f"{r['messages']['sent']} sent, {r['messages']['dead_lettered']} dead-lettered, "
              f"{r['messages']['told_in_line']} users told they were in line. Outcomes: "
              + ", ".join(f"{k} {v}" for k, v in r["outcomes"].items()) + "."]
    return "\n".join(lines) + "\n"


def _refusals(use: dict[str, Any], kind: str) -> int:
    """Claude's refusals of one kind, over its models."""
    return sum(q["refusals"] for name, q in use.items()
               if name.startswith(f"anthropic_{kind}_"))


def _dur(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def sweep_markdown(r: dict[str, Any]) -> str:
    """`--sweep`: the same arrivals at each max running."""
    m = r["machine"]
    lines = [f"# Load benchmark, max running compared {r['date']}", "",
             f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python "
             f"{m['python']}. Run took {r['duration_s']} s here. Each row: "
             f"{r['runs'][0]['scenario']['onboardings']} onboardings over "
             f"{r['runs'][0]['scenario']['arrivals_over_min']:g} minutes (bench/load.py, "
             "`--quick` size), simulated clock.", "",
             "| max running | completed / failed / lost | throughput / allowed | one run p50 "
             "| total p95 | Claude 429s (requests / tokens) | fal line p95 |",
             "|---|---|---|---|---|---|---|"]
    for x in r["runs"]:
        u = x["quota_use"]
        lines.append(
            f"| {x['scenario']['max_running']} | {x['completed']} / {x['failed']} / "
            f"{x['lost']} | {x['ratio']:.3f} | {_dur(x['run_s']['p50'])} | "
            f"{_dur(x['total_s']['p95'])} | {_refusals(u, 'requests')} / "
            f"{_refusals(u, 'input_tokens')} | "
            f"{_dur(u['fal_concurrent']['wait_in_line_s']['p95'])} |")
    return "\n".join(lines) + "\n"
