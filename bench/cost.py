"""The benchmark's cost section: what one onboarding spends, from the counts the job
keeps on its document (jiwa/usage.py), priced at list prices (jiwa/prices.py)."""

from __future__ import annotations

import re
from typing import Any

from jiwa import prices
from jiwa.cli.commands import usage_summary

from .run import ROOT, Driver, phone


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
