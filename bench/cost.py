"""The benchmark's cost section: what one onboarding spends, from the counts the job
keeps on its document (jiwa/usage.py), priced at list prices (jiwa/prices.py)."""

from __future__ import annotations

import re
from typing import Any

from jiwa import prices
from jiwa.cli.commands import usage_summary
from jiwa.settings import Settings

from .pipeline import Profile
from .run import ROOT, Driver, phone, stack

# The configuration issue #17 was filed against: one model for every call, the per-image
# score included, and no prompt cache. That model (claude-sonnet-4-5) retires on
# 2026-11-30, so today's main model stands in for it: the same call pattern at a current
# price. Run with the same stand-ins, businesses and prompts as today's configuration.
MAIN_MODEL = Settings.model_fields["anthropic_model"].default
ISSUE_DAY = {"ANTHROPIC_SCORE_MODEL": MAIN_MODEL, "JIWA_PROMPT_CACHE": "off"}
CONFIGS = {"today's defaults": {}, "as filed (one model, no cache)": ISSUE_DAY}
NO_LATENCY = Profile("no latency", 0.0, 0.0, 0.0)  # cost does not depend on time


def job_size() -> tuple[float, float]:
    """The Cloud Run job's vCPUs and GiB of memory: infra/variables.tf's defaults."""
    text = (ROOT / "infra" / "variables.tf").read_text()

    def default(name: str) -> str:
        found = re.search(rf'variable "{name}" {{.*?default\s*=\s*"([^"]+)"', text, re.S)
        assert found, name
        return found.group(1)

    memory = default("job_memory")
    amount, unit = re.fullmatch(r"([0-9.]+)(Mi|Gi)", memory).groups()  # type: ignore[union-attr]
    return float(default("job_cpu")), float(amount) / (1024 if unit == "Mi" else 1)


def onboarding(d: Driver) -> dict[str, Any]:
    """One onboarding: tokens by kind and model, images, cost with and without caching,
    and the job's vCPU- and GiB-seconds at its configured size. The seconds are the job's
    own, start of its first wave attempt to completion; Cloud Run bills from the
    container's start, so the billed time is somewhat longer."""
    job_id, _ = d.start_onboarding(phone())
    job = d.wait_done(job_id)
    assert job.status == "COMPLETED", job.error
    summary = usage_summary(job.extra.get("usage"))
    seconds = job.completed_at.timestamp() - job.started_at.timestamp()
    cpu, gib = job_size()
    vcpu_s, gib_s = cpu * seconds, gib * seconds
    return {**summary, "job_seconds": round(seconds, 1), "cpu": cpu, "memory_gib": gib,
            "vcpu_seconds": round(vcpu_s, 1), "gib_seconds": round(gib_s, 1),
            "cloud_run_usd": prices.cloud_run_cost(vcpu_s, gib_s)}


def markdown(c: dict[str, Any]) -> list[str]:
    lines = ["", "Cost of one onboarding at list prices (jiwa/prices.py, read "
             f"{prices.PRICES_READ}):", "",
             "| model | calls | input | cache write | cache read | output |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {m} | {t['calls']} | {t['input']} | {t['cache_creation']} | "
              f"{t['cache_read']} | {t['output']} |" for m, t in c["claude"].items()]
    lines.append("")
    lines += [f"- {n} images generated with {m}, regenerations included"
              for m, n in c["images"].items()]
    saving = (1 - c["cost_usd"] / c["cost_without_cache_usd"]
              if c["cost_without_cache_usd"] else 0.0)
    cloud = (f"${c['cloud_run_usd']:.5f} (vCPU only: the memory price and the Jakarta tier's "
             "are not in jiwa/prices.py)" if c["cloud_run_usd"] is not None else "no price")
    lines += [f"- Claude and fal: ${c['cost_usd']:.4f}; without prompt caching "
              f"${c['cost_without_cache_usd']:.4f} ({100 * saving:.1f} % lower with it)",
              f"- the Cloud Run job ({c['cpu']:g} vCPU, {c['memory_gib']:g} GiB) for "
              f"{c['job_seconds']} s: {c['vcpu_seconds']} vCPU-seconds, {c['gib_seconds']} "
              f"GiB-seconds, {cloud}"]
    if c["unpriced"]:
        lines.append(f"- no price for {', '.join(c['unpriced'])}")
    return lines


def business_onboarding(d: Driver, business: dict[str, Any]) -> dict[str, Any]:
    """One onboarding of a golden-set business (its Instagram profile, posts and site, as
    the stand-ins serve them): what it spent, and its quality gate's outcome."""
    from jiwa.dev import website_standin

    meta = d.state.url("meta") + "/_standin/faults"
    d.http.post(meta, json={"instagram_account": website_standin.instagram_account(
        business, "17841400000000779")})
    try:
        job_id, _ = d.start_onboarding(phone())
        job = d.wait_done(job_id)
    finally:
        d.http.post(meta, json={"instagram_account": None})
    assert job.status == "COMPLETED", job.error
    quality = (d.store.business(job.business_id or "") or {}).get("quality") or {}
    return {**usage_summary(job.extra.get("usage")), "quality": quality}


def compare() -> dict[str, Any]:
    """Each golden-set business onboarded once under each configuration, on a stack of
    its own: the cost of each, side by side, and the quality gate's pass rate."""
    from jiwa.dev import website_standin

    businesses = website_standin.golden_set()
    out: dict[str, Any] = {}
    for label, env in CONFIGS.items():
        slug = "cost-" + ("issue-day" if env else "now")
        with stack(slug, env, profile=NO_LATENCY) as d:
            runs = {name: business_onboarding(d, b) for name, b in businesses.items()}
        out[label] = {"env": env, "runs": runs, **totals(list(runs.values()))}
    return out


def totals(runs: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(runs)
    claude = sum(r["claude_usd"] for r in runs) / n
    images = sum(r["images_usd"] for r in runs) / n
    generated = sum(sum(r["images"].values()) for r in runs)
    passed = sum(int(r["quality"].get("passed", 0)) for r in runs)
    kept = sum(int(r["quality"].get("count", 0)) for r in runs)
    return {"onboardings": n, "claude_usd": claude, "images_usd": images,
            "cost_usd": claude + images, "generated": generated, "passed": passed,
            "kept": kept}


def comparison_markdown(c: dict[str, Any]) -> list[str]:
    (now_label, now), (then_label, then) = c.items()
    lines = ["", f"Mean cost of one onboarding at list prices (jiwa/prices.py, read "
             f"{prices.PRICES_READ}), each of the {now['onboardings']} golden-set "
             "businesses onboarded once under each configuration:", "",
             "| configuration | settings | Claude | images | total | images generated | "
             "quality gate passed |", "|---|---|---|---|---|---|---|"]
    for label, r in c.items():
        env = ", ".join(f"{k}={v}" for k, v in r["env"].items()) or "defaults"
        lines.append(f"| {label} | {env} | ${r['claude_usd']:.4f} | ${r['images_usd']:.4f} | "
                     f"${r['cost_usd']:.4f} | {r['generated']} | {r['passed']} of "
                     f"{r['kept']} |")
    lower = 1 - now["cost_usd"] / then["cost_usd"] if then["cost_usd"] else 0.0
    lines += ["", f"{now_label} cost {100 * lower:.1f} % less than {then_label}."]
    lines += ["", "| business | " + " | ".join(c) + " |", "|---|" + "---|" * len(c)]
    for name in now["runs"]:
        lines.append(f"| {name} | " + " | ".join(
            f"${r['runs'][name]['cost_usd']:.4f}" for r in c.values()) + " |")
    return lines
