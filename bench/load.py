"""`./emulator.sh bench load [--quick] [options]`: 1,000 onboardings arriving over an hour
against the providers' quotas (issue #21 item 3), on a simulated clock so that hours run
here in minutes: latencies, quota windows and backoffs are real-world seconds, and the
clock jumps over the time in which nothing happens; it stands still while the real
admission works on the emulator (bench/load_providers.VirtualLoop says why this and not
a clock running a fixed factor faster: that was measured first).

Real (our code, as production runs it):
- admission: jiwa.admission.Admission on its Firestore backend (FirestoreAdmission) on a
  Firestore emulator this benchmark starts and stops (by its process group); its clock
  is the simulated one (`starts_per_minute` counts simulated minutes). Jobs that end call
  `Admission.release` (as JobRunner's on_end does) and whoever it admits starts; the
  sweeper's `Admission.reclaim` runs each simulated minute;
- the quota buckets: jiwa.dev.quotas.Quotas, the stand-ins' token buckets, at each
  provider's real default (bench/load_model.Quotas, with sources), on the simulated clock;
- the answers and the backoffs: Anthropic's `retry-after` as the stand-in computes it
  (jiwa.dev.anthropic_limits.retry_after), waited out until jiwa.ai's
  RATE_LIMIT_WAIT_SECONDS; Pub/Sub's redelivery backoff as infra/pubsub.tf deploys it for
  RunJob and WhatsApp refusals, dead-lettered after jiwa.topology's
  BACKSTOP_DELIVERY_ATTEMPTS; fal's line as fal_standin keeps it, given up after Flux's
  queue timeout; the images wave's fal attempts and backoff (jiwa.settings, jiwa.waves).

Modelled (bench/load_jobs.py; no job process, stand-in or function runs): each
onboarding's provider work. Latencies are bench/pipeline.py's realistic profile (Claude 8
s a call, fal 6 s an image, a score 3 s, with their sources there); dispatch -> first
event 1.1 s (bench/results/latest.md); waves 1-2 2 s (our assumption). Claude, each model
against its own limits: 3 Sonnet calls of 600 input tokens (the calendar's prompt, the
largest, is about 600 tokens: tests/faults/test_quotas.py; all three counted at it, and
all of it counts: the context is under Sonnet's 1,024-token cache minimum) and one Haiku
score per image (no regeneration) of 1,558 tokens: the 1024x1024 image at width x height
/ 750 = 1,398 tokens (docs.claude.com, "Vision") and 160 of text (the rubric, the brand's
style, the prompt; the stand-in's 4 characters a token). Images after the whole calendar
(not streamed: slightly pessimistic), 6 at most 3 at once. 25 WhatsApp messages a job (9
waves, 3 summaries, 2 per image, the final one) plus "you are in line" when it waits.
Arrivals are evenly spaced.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.load_jobs import Dispatch, Job, Providers, Work
from bench.load_model import (
    ROOT,
    Quotas,
    allowances,
    binding,
    pubsub_backoff,
    suggested_max_running,
)
from bench.load_providers import Bucket, Claude, Clock, Fal, VirtualLoop

SWEEP_SECONDS = 60.0  # the sweeper's schedule (Cloud Scheduler, each minute)
STALL_SECONDS = 7200.0  # nothing ended for two hours after the last arrival: stuck
# max running = Little's law (the tightest quota's rate x one unhindered job) x this: the
# jobs' waits on fal's line and on 429s need a little more. Measured (`--sweep`): below
# the knee the quota is not used; above it, more running turns into 429s, not throughput.
HEADROOM = 1.25
SWEEP = (2, 3, 4, 6)  # the max running `--sweep` compares, at the --quick size


def work() -> Work:
    from bench.pipeline import PROFILES
    from jiwa.settings import Settings

    realistic = next(p for p in PROFILES if p.name == "realistic")
    default = {k: f.default for k, f in Settings.model_fields.items()}
    return Work(start_s=1.1, local_s=2.0, claude_s=realistic.claude_s, fal_s=realistic.fal_s,
                score_s=realistic.score_s, sonnet_tokens=600, score_tokens=1_398 + 160,
                images=default["image_count"], image_concurrency=default["image_concurrency"],
                fal_attempts=default["fal_attempts"], messages=25)


@contextmanager
def firestore_emulator() -> Iterator[str]:
    """A Firestore emulator of our own, stopped by its process group."""
    from jiwa.dev.emulators import emulator_commands
    from jiwa.dev.processes import free_port, stop_group

    port = free_port()
    logs = ROOT / ".jiwa" / "bench" / "load"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "firestore.log", "ab") as log:
        process = subprocess.Popen(emulator_commands(free_port(), port)["firestore"],
                                   stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the Firestore emulator did not start: {logs}") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        stop_group(process.pid)


def providers(clock: Clock, q: Quotas) -> Providers:
    from inspect import signature

    from jiwa.ai import RATE_LIMIT_WAIT_SECONDS, Flux
    from jiwa.dev.quotas import Quotas as Buckets
    from jiwa.topology import BACKSTOP_DELIVERY_ATTEMPTS

    buckets = Buckets(clock=clock.now)
    queue_timeout = float(signature(Flux).parameters["queue_timeout"].default)
    return Providers(
        clock=clock,
        claude={model: Claude(
            Bucket(buckets, clock, f"anthropic_requests_{model}", q.anthropic_rpm, 60),
            Bucket(buckets, clock, f"anthropic_input_tokens_{model}", q.anthropic_itpm, 60),
            give_up=RATE_LIMIT_WAIT_SECONDS) for model in ("sonnet", "haiku")},
        fal=Fal(clock, q.fal_concurrent, queue_timeout),
        run_job=Bucket(buckets, clock, "run_job", q.cloud_run_per_minute, 60),
        whatsapp=Bucket(buckets, clock, "whatsapp_throughput", q.whatsapp_per_second, 1),
        backoff=pubsub_backoff(), deliveries=BACKSTOP_DELIVERY_ATTEMPTS)


async def scenario(a: argparse.Namespace, admission: Any, p: Providers, w: Work
                   ) -> dict[str, Any]:
    """Arrivals, the sweeper, every job to its end; what the report needs."""
    # The Firestore client is synchronous: its calls run in threads. Dispatches and job
    # ends get threads of their own, as in production, where the dispatcher's instances
    # and the jobs' containers do not wait on one another: a job's release queued behind
    # a burst of arrivals would leave its slot idle.
    pools = {"admit": ThreadPoolExecutor(a.threads), "release": ThreadPoolExecutor(a.threads)}
    pools["sweep"] = pools["release"]
    timings: dict[str, list[float]] = {"admit": [], "release": [], "sweep": []}

    async def call(kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        result = await p.clock.in_thread(pools[kind], fn, *args)
        timings[kind].append(time.perf_counter() - started)
        return result

    gap = a.minutes * 60 / a.onboardings
    jobs = {f"load{i:05d}": Job(f"load{i:05d}", i * gap) for i in range(a.onboardings)}
    d = Dispatch(p, w, lambda job_id: call("release", admission.release, job_id), jobs)
    told = [0]
    swept: list[str] = []

    async def arrive(job: Job) -> None:
        decision = await call("admit", admission.admit, job.id)
        if decision.newly_queued:
            told[0] += 1
            d.notifier(job.id).send()  # "you are in line", once
        for other in decision.others_admitted:
            d.admitted(other)
        if decision.outcome == "admitted":
            d.admitted(job.id)

    async def sweeper() -> None:
        while True:
            await p.clock.sleep(SWEEP_SECONDS)
            held = await call("sweep", admission.holders)
            ended = {j: True for j in held if jobs[j].outcome}
            for job_id in await call("sweep", admission.reclaim, ended):
                swept.append(job_id)
                d.admitted(job_id)

    sweeping = asyncio.create_task(sweeper())
    arrivals = []
    for job in jobs.values():
        await p.clock.sleep(job.arrived - p.clock.now())
        arrivals.append(asyncio.create_task(arrive(job)))
    await asyncio.gather(*arrivals)
    last, ended = p.clock.now(), 0
    while any(not j.outcome for j in jobs.values()) or d.tasks:
        await p.clock.sleep(SWEEP_SECONDS)
        now_ended = sum(bool(j.outcome) for j in jobs.values())
        if now_ended != ended:
            last, ended = p.clock.now(), now_ended
        elif p.clock.now() - last > STALL_SECONDS:
            break  # the rest are lost: nothing moves them
    sweeping.cancel()
    end = p.clock.now()
    for notify in d.notifiers.values():
        await notify.close()
    holders = await call("sweep", admission.holders)
    line = await call("sweep", admission.line)
    for pool in pools.values():
        pool.shutdown()
    return {"jobs": jobs, "dispatch": d, "end": end, "told": told[0], "swept": swept,
            "holders": holders, "line": line[0], "timings": timings}


def arguments(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="./emulator.sh bench load")
    ap.add_argument("--quick", action="store_true",
                    help="200 onboardings over 12 minutes (the same arrival rate)")
    ap.add_argument("--onboardings", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=60.0, help="arrivals spread over")
    ap.add_argument("--max-running", type=int, default=None,
                    help=f"default: Little's law x {HEADROOM} (see HEADROOM)")
    ap.add_argument("--sweep", action="store_true",
                    help=f"the --quick size at max running {SWEEP}: load-sweep.md")
    ap.add_argument("--starts-per-minute", type=int, default=30)
    ap.add_argument("--quota", action="append", default=[], metavar="NAME=LIMIT",
                    help="another limit than the provider's default, e.g. fal_concurrent=40 "
                         "(names: bench/load_model.Quotas): written to load-other-quotas.md")
    ap.add_argument("--threads", type=int, default=8,
                    help="admission calls at once, for dispatches and for job ends each")
    a = ap.parse_args(argv)
    if a.quick or a.sweep:
        a.onboardings, a.minutes = 200, 12.0
    return a


def main(argv: list[str] | None = None) -> int:
    from bench import load_report
    from bench.run import machine, write_results

    a = arguments(argv)
    w = work()
    q = dataclasses.replace(Quotas(), **{k: int(v) for k, v in
                                         (item.split("=", 1) for item in a.quota)})
    allowed = allowances(q, load_report.demand_of(w))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    started = time.time()
    if a.sweep:
        rows = []
        for n in SWEEP:
            a.max_running = n
            rows.append(load_report.summarise(a, q, w, allowed, *once(a, w, q)))
        results = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                   "machine": machine(), "duration_s": round(time.time() - started, 1),
                   "runs": rows}
        write_results(("load-sweep",), results, load_report.sweep_markdown(results))
        return 0
    if a.max_running is None:
        a.max_running = suggested_max_running(binding(allowed)[1], w.unhindered_s(), HEADROOM)
    results = load_report.summarise(a, q, w, allowed, *once(a, w, q))
    results.update(date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine(),
                   duration_s=round(time.time() - started, 1))
    text = load_report.markdown(results)
    if a.quick or a.onboardings != 1000:
        print(text)  # a smaller run is a check, not the scenario: nothing is written
    elif a.quota:
        write_results(("load-other-quotas",), results, text)  # a what-if, beside the real
    else:
        write_results(("load-latest", f"load-{stamp}"), results, text)
    return 0


def once(a: argparse.Namespace, w: Work, q: Quotas) -> tuple[Providers, dict[str, Any]]:
    """One run on an emulator of its own; the providers' records and the run's."""
    import jiwa.admission
    from jiwa.admission import Admission
    from jiwa.admission_store import FirestoreAdmission

    print(f"bench load: {a.onboardings} onboardings over {a.minutes:g} min, max running "
          f"{a.max_running}…", flush=True)
    with firestore_emulator() as host:
        os.environ["FIRESTORE_EMULATOR_HOST"] = host
        from google.cloud import firestore

        db = firestore.Client(project="bench-load")
        loop = VirtualLoop()
        clock = Clock(loop)
        admission = Admission(FirestoreAdmission(db), max_running=a.max_running,
                              starts_per_minute=a.starts_per_minute,
                              job_seconds=w.unhindered_s())
        real_datetime = jiwa.admission.datetime
        jiwa.admission.datetime = clock.datetime_class()  # type: ignore[misc]
        try:
            p = providers(clock, q)
            return p, loop.run_until_complete(scenario(a, admission, p, w))
        finally:
            jiwa.admission.datetime = real_datetime  # type: ignore[misc]
            loop.close()
