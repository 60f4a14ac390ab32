"""The benchmark harness (see bench/__main__.py). Results: bench/results/*.json and .md."""

from __future__ import annotations

import concurrent.futures
import json
import math
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.pipeline import PROFILES, SCHEDULES, Profile

ROOT = Path(__file__).resolve().parents[1]
FAST = PROFILES[0]
CLAUDE_S, FAL_S, SCORE_S, N, CONCURRENCY = FAST.claude_s, FAST.fal_s, FAST.score_s, 6, 3


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


@contextmanager
def stack(name: str, extra_env: dict[str, str] | None = None,
          profile: Profile = FAST) -> Iterator[Driver]:
    from jiwa.dev.stack import Stack

    s = Stack(ROOT / ".jiwa" / "bench" / name, project=f"bench-{name}",
              claude_latency_ms=profile.claude_s * 1000, fal_latency_ms=profile.fal_s * 1000,
              extra_env={"JIWA_IMAGE_CONCURRENCY": str(CONCURRENCY), **(extra_env or {})},
              retry_min_seconds=0.5)
    state = s.start()
    try:
        httpx.post(state.url("anthropic") + "/_standin/faults", json=profile.faults())
        for key in ("GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):
            os.environ[key] = state.env[key]
        yield Driver(state)
    finally:
        s.stop()


class Driver:
    def __init__(self, state: Any) -> None:
        from google.cloud import firestore

        from jiwa.crypto import PhoneDigest
        from jiwa.store import JobStore

        self.state, self.env = state, state.env
        self.http = httpx.Client(timeout=60)
        self.store = JobStore(firestore.Client(project=state.project),
                              phones=PhoneDigest(state.env["PHONE_DIGEST_KEY"]))

    def user(self, phone: str) -> Any:
        from jiwa.dev.simulate import WhatsAppUser

        return WhatsAppUser(self.http, self.state.url("whatsapp_webhook") + "/",
                            self.state.url("meta"), self.env["WHATSAPP_APP_SECRET"], phone)

    def start_onboarding(self, phone: str, login_seconds: float = 0.0) -> tuple[str, float]:
        """Send /register and, `login_seconds` after the link arrives (the user logging in
        to Instagram), tap it; the job id and when the tap started."""
        user = self.user(phone)
        user.send("/register")
        link = None
        deadline = time.monotonic() + 120  # a stack that broke (an emulator died) fails here
        while link is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no login link for {phone}")
            link = user.login_link()
            time.sleep(0.02)
        time.sleep(login_seconds)
        tapped = time.time()
        user.tap(link)
        job = self.store.latest_job_for(phone)
        assert job is not None
        return job.id, tapped

    def wait_done(self, job_id: str, timeout: float = 300) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.store.get(job_id)
            if job and job.status in ("COMPLETED", "FAILED"):
                return job
            time.sleep(0.2)
        raise TimeoutError(job_id)

    def sent(self, phone: str) -> list[dict[str, Any]]:
        return list(self.http.get(self.state.url("meta") + "/_standin/messages",
                                  params={"to": phone}).json())


def phone() -> str:
    return f"6289{secrets.randbelow(10**9):09d}"


def critical_path(barrier: bool) -> dict[str, float]:
    rounds = math.ceil(N / CONCURRENCY)
    claude = 3 * CLAUDE_S  # brand, products, calendar: each needs the one before
    images = rounds * FAL_S + rounds * SCORE_S
    first = claude + FAL_S + SCORE_S if not barrier else claude + images
    return {"total": claude + images, "first_preview": first, "last_preview": claude + images}


def onboarding_run(d: Driver, login_seconds: float = 0.0) -> dict[str, float]:
    p = phone()
    job_id, tapped = d.start_onboarding(p, login_seconds)
    job = d.wait_done(job_id)
    assert job.status == "COMPLETED", job.error
    started = job.started_at.timestamp()
    dispatched = (d.store._ref(job_id).get().to_dict() or {})["dispatchedAt"].timestamp()
    events = d.store.events(job_id)
    previews = sorted(e["created_at"] for e in events if e["kind"] == "image_ready")
    stamp = [datetime.fromisoformat(t).timestamp() - started for t in previews]
    first_wave = min(datetime.fromisoformat(e["created_at"]).timestamp()
                     for e in events if e["kind"] == "wave")
    return {"wall": job.completed_at.timestamp() - started, "first_preview": stamp[0],
            "dispatch_to_first_event": first_wave - dispatched,
            "last_preview": stamp[-1],
            # what the user waits, from finishing the login to the first image
            "login_to_first_preview": stamp[0] + started - tapped,
            "from_dispatch": job.completed_at.timestamp() - dispatched,
            "calendar": d.store.checkpoints(job_id)[6]}


def pipeline(d: Driver, runs: int, barrier: bool) -> dict[str, Any]:
    samples = [onboarding_run(d) for _ in range(runs)]
    cp = critical_path(barrier)
    wall = statistics.median(s["wall"] for s in samples)
    return {"runs": runs, "wall_s": wall, "critical_path_s": cp["total"],
            "overhead_pct": 100 * (wall - cp["total"]) / cp["total"],
            "first_preview_s": statistics.median(s["first_preview"] for s in samples),
            "last_preview_s": statistics.median(s["last_preview"] for s in samples),
            "dispatch_to_completed_s": statistics.median(s["from_dispatch"] for s in samples),
            "first_preview_floor_s": cp["first_preview"]}


def by_profile(runs: int) -> list[dict[str, Any]]:
    """Each profile's schedules on a stack of their own (bench/pipeline.py)."""
    from bench import pipeline as bp

    results = []
    for profile in PROFILES:
        samples, warmups = {}, {}
        for name, env in SCHEDULES.items():
            print(f"bench: {profile.name} profile, {name}…", flush=True)
            tag = f"{profile.name}-{re.sub(r'[^a-z0-9]+', '-', name)}"
            with stack(tag, env, profile) as d:
                # One onboarding first, not counted: a fresh stack's emulators run it on
                # cold JVMs, while production's Firestore, Pub/Sub and Claude are warm
                # services. Every counted job still starts as a new process: with the
                # standby, at /register, during the user's login.
                login = bp.LOGIN_SECONDS if "JIWA_STANDBY_SECONDS" in env else 0.0
                warmups[name] = onboarding_run(d, login)
                samples[name] = [onboarding_run(d, login) for _ in range(runs)]
        results.append({**bp.summarise(profile, samples), "warmup": {
            name: {k: round(w[k], 2) for k in bp.KEPT} for name, w in warmups.items()},
            "samples": {name: [{k: round(r[k], 2) for k in bp.KEPT} for r in counted]
            for name, counted in samples.items()}})
    return results


def first_message(d: Driver, runs: int) -> dict[str, Any]:
    to_send, dispatch_to_event, start_to_event = [], [], []
    for _ in range(runs):
        p = phone()
        job_id, tapped = d.start_onboarding(p)
        while len(d.sent(p)) < 2:
            time.sleep(0.01)
        to_send.append(d.sent(p)[1]["at"] - tapped)
        d.wait_done(job_id)
        raw = d.store._ref(job_id).get().to_dict() or {}
        first_wave = min(datetime.fromisoformat(e["created_at"]).timestamp()
                         for e in d.store.events(job_id) if e["kind"] == "wave")
        dispatch_to_event.append(first_wave - raw["dispatchedAt"].timestamp())
        start_to_event.append(first_wave - raw["startedAt"].timestamp())
    return {"runs": runs,
            "oauth_to_first_send_ms": _stats(to_send),
            "dispatch_to_first_event_ms": _stats(dispatch_to_event),
            "job_start_to_first_event_ms": _stats(start_to_event)}


def _stats(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median": round(statistics.median(ms), 1), "p95": round(pct(ms, 0.95), 1),
            "p99": round(pct(ms, 0.99), 1)}


def group_cpu_seconds(leader: int) -> float:
    """User + system CPU of every live process in the group `leader` leads (a
    functions-framework process is gunicorn's arbiter; its worker is a child)."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == leader:  # pgrp
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def load(url: str, bodies: list[tuple[bytes, dict[str, str]]], workers: int = 8
         ) -> dict[str, Any]:
    client = httpx.Client(timeout=30, limits=httpx.Limits(max_connections=workers))
    latencies: list[float] = []
    lock = threading.Lock()
    resent = [0]

    def one(item: tuple[bytes, dict[str, str]]) -> int:
        t0 = time.perf_counter()
        try:
            status = client.post(url, content=item[0], headers=item[1]).status_code
        except httpx.RemoteProtocolError:
            # gunicorn closed a kept-alive connection as this request went out on it (seen
            # once in many runs); the bodies are idempotent, so sent again, and counted
            with lock:
                resent[0] += 1
            status = client.post(url, content=item[0], headers=item[1]).status_code
        with lock:
            latencies.append(time.perf_counter() - t0)
        return status

    start = time.perf_counter()
    with client, concurrent.futures.ThreadPoolExecutor(workers) as pool:
        codes = list(pool.map(one, bodies))
    elapsed = time.perf_counter() - start
    return {"requests": len(bodies), "ok": sum(c == 200 for c in codes), "resent": resent[0],
            "rps": round(len(bodies) / elapsed, 1), **{
                f"{k}_ms": v for k, v in _stats(latencies).items()}}


def webhook(d: Driver, requests: int = 600) -> dict[str, Any]:
    from jiwa.dev.simulate import sign, webhook_body

    secret = d.env["WHATSAPP_APP_SECRET"]
    bodies = []
    for _ in range(requests):
        raw = json.dumps(webhook_body(phone(), "halo")).encode()
        bodies.append((raw, {"X-Hub-Signature-256": sign(secret, raw),
                             "Content-Type": "application/json"}))
    return against_noop(d.state.url("whatsapp_webhook") + "/", bodies,
                        pid=d.state.pids["whatsapp_webhook"])


def against_noop(url: str, bodies: list[tuple[bytes, dict[str, str]]], warm: int = 200,
                 at_once: int | None = None, pid: int | None = None, rounds: int = 3
                 ) -> dict[str, Any]:
    """`bodies` posted to `url` and to a no-op functions-framework function (the
    framework's own ceiling on this machine), each as many at once as the webhook serves
    in production unless `at_once` says (both with as many threads), in `rounds`
    alternating rounds; each side's round with the median throughput is reported (one
    round's ratio moved by 0.1 either way here: the load generator shares the 2 cores).
    The first `warm` are posted to both beforehand: clients built, connections open, and
    the Firestore emulator's JVM past its first compilations (the real Firestore has none
    to do). With `pid` (the function's process group), each side's CPU per request too:
    what bounds an instance in production, where Firestore is not on this machine."""
    from jiwa.dev.processes import free_port, stop_group
    from jiwa.topology import FUNCTION_CONCURRENCY

    at_once = at_once or FUNCTION_CONCURRENCY["whatsapp_webhook"]
    port = free_port()
    noop = subprocess.Popen(
        [sys.executable, "-m", "functions_framework", "--target", "handle", "--source",
         str(ROOT / "bench/noop/main.py"), "--host", "127.0.0.1", "--port", str(port)],
        env={**os.environ, "THREADS": str(at_once)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        noop_url = f"http://127.0.0.1:{port}/"
        while True:
            try:
                httpx.get(noop_url, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        for target in (noop_url, url):
            load(target, bodies[:warm], at_once)
        runs: dict[str, list[dict[str, Any]]] = {"noop": [], "webhook": []}
        for _ in range(rounds):
            runs["noop"].append(measured(noop.pid, lambda: load(noop_url, bodies, at_once)))
            runs["webhook"].append(measured(pid, lambda: load(url, bodies, at_once)))
    finally:
        stop_group(noop.pid)
    ceiling, ours = (sorted(runs[k], key=lambda r: r["rps"])[rounds // 2]
                     for k in ("noop", "webhook"))
    return {"webhook": ours, "noop": ceiling, "at_once": at_once, "rounds": rounds,
            "ratio": round(ours["rps"] / ceiling["rps"], 3),
            "round_ratios": [round(w["rps"] / n["rps"], 3)
                             for n, w in zip(runs["noop"], runs["webhook"], strict=True)]}


def measured(pid: int | None, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """`run()`'s figures, and the CPU milliseconds per request of process group `pid`."""
    before = group_cpu_seconds(pid) if pid else 0.0
    result = run()
    if pid:
        result["cpu_ms_per_request"] = round(
            (group_cpu_seconds(pid) - before) * 1000 / result["requests"], 2)
    return result


def notifier(d: Driver, samples: int = 30) -> dict[str, Any]:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    from jiwa.events import EventPublisher, ProgressEvent, ProgressKind
    from jiwa.store import Status

    arrivals: dict[str, float] = {}

    @Request.application
    def noop_push(request: Request) -> Response:
        body = json.loads(request.get_data())
        arrivals[body["message"]["attributes"]["n"]] = time.time()
        return Response("ok")

    import logging

    from jiwa.dev.processes import free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per push otherwise
    port = free_port()
    server = make_server("127.0.0.1", port, noop_push, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    project = d.state.project
    publisher = pubsub_v1.PublisherClient(
        batch_settings=pubsub_v1.types.BatchSettings(max_latency=0.002))
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(project, "bench-noop")
    publisher.create_topic(name=topic)
    subscriber.create_subscription(request={
        "name": subscriber.subscription_path(project, "bench-noop-push"), "topic": topic,
        "push_config": {"push_endpoint": f"http://127.0.0.1:{port}/"}})
    floor = []
    for i in range(samples):
        t0 = time.time()
        publisher.publish(topic, b"{}", n=str(i)).result()
        while str(i) not in arrivals:
            time.sleep(0.002)
        floor.append(arrivals[str(i)] - t0)
    server.shutdown()

    events = EventPublisher(project, "onboarding-requested", "onboarding-progress")
    ours = []
    for _ in range(samples):
        p = phone()
        job, _ = d.store.open_for_phone(p, "en")
        d.store.transition(job.id, Status.QUEUED)
        t0 = time.time()
        events.publish_progress(ProgressEvent(
            event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id, seq=0,
            kind=ProgressKind.ACCEPTED, payload={"handle": "x"}))
        while not (sent := d.sent(p)):
            time.sleep(0.005)
        ours.append(sent[0]["at"] - t0)
    return {"samples": samples, "notifier_ms": _stats(ours), "noop_push_ms": _stats(floor)}


def concurrency(d: Driver, count: int) -> dict[str, Any]:
    phones = [phone() for _ in range(count)]
    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        jobs = list(pool.map(lambda p: d.start_onboarding(p)[0], phones))
    finished = [d.wait_done(j, timeout=600) for j in jobs]
    total = max(j.completed_at.timestamp() for j in finished) - start
    # WhatsApp's pacing (each phone's messages spaced out, as Meta's pair rate asks) and
    # the notifier's backlog deliver the last messages after their jobs end: a message is
    # lost only if it has not come when the deliveries stop, not one second after the
    # last job (as this measured until 2026-11-29, reporting paced messages as lost).
    expected = {p: len(d.store.events(job.id)) + 1  # + the login link
                for p, job in zip(phones, finished, strict=True)}
    sent: dict[str, list[str]] = {}
    waiting_since, last_change, delivered = time.time(), time.time(), -1
    while time.time() - last_change < 15 and time.time() - waiting_since < 300:
        sent = {p: [json.dumps(m["body"], sort_keys=True) for m in d.sent(p)] for p in phones}
        now = sum(len(set(texts)) for texts in sent.values())
        if now != delivered:
            delivered, last_change = now, time.time()
        if all(len(set(sent[p])) >= expected[p] for p in phones):
            break
        time.sleep(1.0)
    lost = sum(max(expected[p] - len(set(sent[p])), 0) for p in phones)
    dup = sum(len(texts) - len(set(texts)) for texts in sent.values())
    log = (Path(d.state.log_dir) / "dispatcher.log").read_text()
    ids = {j.id for j in finished}
    rss = [float(mb) for mb, jid in re.findall(r'peak RSS ([0-9.]+) MB"[^\n]*?"jobId": "([^"]+)"',
                                                log) if jid in ids]
    return {"onboardings": count,
            "completed": sum(j.status == "COMPLETED" for j in finished),
            "total_s": round(total, 1), "messages_lost": lost, "messages_duplicated": dup,
            "delivered_after_s": round(last_change - start, 1),
            "job_peak_rss_mb": round(max(rss), 1) if rss else None}


def machine() -> dict[str, Any]:
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "0")
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "memory_gb": round(int(mem) / 1024**2, 1), "cpu": cpu,
            "python": platform.python_version(), "platform": platform.platform()}


def markdown(r: dict[str, Any]) -> str:
    p, b, f = r["pipeline_stream"], r["pipeline_barrier"], r["first_message"]
    w, n = r["webhook"], r["notifier"]
    lines = [
        f"# Benchmark {r['date']}", "",
        f"Machine: {r['machine']['cpus']} CPUs ({r['machine']['cpu']}), "
        f"{r['machine']['memory_gb']} GB, Python {r['machine']['python']}. Injected "
        f"latencies: Claude {CLAUDE_S} s, fal {FAL_S} s per image, scoring {SCORE_S} s, "
        f"N = {N}, concurrency {CONCURRENCY}.", "",
        "| measure | value | floor / comparison | ratio |", "|---|---|---|---|",
        f"| pipeline wall time (median of {p['runs']}) | {p['wall_s']:.2f} s | critical path "
        f"{p['critical_path_s']:.2f} s | overhead {p['overhead_pct']:.1f} % |",
        f"| dispatch → job completed (median of {p['runs']}) | "
        f"{p['dispatch_to_completed_s']:.2f} s | the job process's start included | |",
        f"| time to first preview, streaming | {p['first_preview_s']:.2f} s | barrier "
        f"{b['first_preview_s']:.2f} s | {b['first_preview_s'] / p['first_preview_s']:.2f}x "
        "earlier |",
        f"| time to last preview, streaming | {p['last_preview_s']:.2f} s | barrier "
        f"{b['last_preview_s']:.2f} s | {b['last_preview_s'] / p['last_preview_s']:.2f} |",
        f"| OAuth callback → first WhatsApp send | median "
        f"{f['oauth_to_first_send_ms']['median']} ms, p95 {f['oauth_to_first_send_ms']['p95']}"
        " ms | | |",
        f"| dispatch → first progress event | median "
        f"{f['dispatch_to_first_event_ms']['median']} ms, p95 "
        f"{f['dispatch_to_first_event_ms']['p95']} ms | job start → first event median "
        f"{f['job_start_to_first_event_ms']['median']} ms | |",
        f"| webhook (signed, real work) | {w['webhook']['rps']} req/s, p50 "
        f"{w['webhook']['median_ms']} ms, p99 {w['webhook']['p99_ms']} ms | no-op handler "
        f"{w['noop']['rps']} req/s, p50 {w['noop']['median_ms']} ms | {w['ratio']:.2f} |",
        f"| publish → WhatsApp send (notifier) | median {n['notifier_ms']['median']} ms, p95 "
        f"{n['notifier_ms']['p95']} ms | publish → no-op push median "
        f"{n['noop_push_ms']['median']} ms | "
        f"{n['notifier_ms']['median'] - n['noop_push_ms']['median']:+.0f} ms |",
    ]
    for c in r["concurrency"]:
        lines.append(f"| {c['onboardings']} onboardings at once | {c['completed']} completed "
                     f"in {c['total_s']} s, lost {c['messages_lost']}, duplicated "
                     f"{c['messages_duplicated']} (every message in by "
                     f"{c.get('delivered_after_s', '?')} s) | job peak RSS "
                     f"{c['job_peak_rss_mb']} MB | |")
    if "cost" in r:
        from . import cost

        lines += cost.markdown(r["cost"])
    if "profiles" in r:
        from . import pipeline as bp

        lines += bp.markdown(r["profiles"])
    return "\n".join(lines) + "\n"


def main_pipeline() -> int:
    """`./emulator.sh bench pipeline`: only the profiles' pipeline comparison (about 11
    minutes here), written to bench/results/pipeline-latest.* and a dated copy."""
    from . import pipeline as bp

    return timed_run("Pipeline", "pipeline", "profiles", lambda: by_profile(2), bp.markdown)


def main_cost() -> int:
    """`./emulator.sh bench cost`: today's configuration beside the one #17 was filed
    against, written to bench/results/cost-latest.* and a dated copy."""
    from . import cost

    return timed_run("Cost", "cost", "configurations", cost.compare, cost.comparison_markdown)


def timed_run(title: str, name: str, key: str, measure: Callable[[], Any],
              markdown: Callable[[Any], list[str]]) -> int:
    """One benchmark's results under `key`, with the date, machine and duration, written to
    bench/results/{name}-latest.* and a dated copy."""
    started = time.time()
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": machine(), key: measure()}
    results["duration_s"] = round(time.time() - started, 1)
    m = results["machine"]
    text = "\n".join([f"# {title} benchmark {results['date']}", "",
                      f"Machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory_gb']} GB, Python "
                      f"{m['python']}, {m['platform']}. Run took {results['duration_s']} s.",
                      *markdown(results[key])]) + "\n"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    write_results((f"{name}-latest", f"{name}-{stamp}"), results, text)
    return 0


def write_results(names: tuple[str, ...], results: dict[str, Any], text: str) -> Path:
    """`results` as `bench/results/{name}.json` and `text` as `{name}.md`, for each name
    (`…-latest`, and a dated copy where a run's history is kept); prints `text`."""
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        (out / f"{name}.json").write_text(json.dumps(results, indent=1, default=str))
        (out / f"{name}.md").write_text(text)
    print(text)
    return out


def main() -> int:
    started = time.time()
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": machine()}
    print("bench: streaming schedule…", flush=True)
    with stack("stream") as d:
        results["pipeline_stream"] = pipeline(d, 3, barrier=False)
        print("bench: cost of one onboarding…", flush=True)
        from . import cost  # here: it imports this module

        results["cost"] = cost.onboarding(d)
        print("bench: first message…", flush=True)
        results["first_message"] = first_message(d, 5)
        print("bench: webhook…", flush=True)
        results["webhook"] = webhook(d)
        print("bench: notifier…", flush=True)
        results["notifier"] = notifier(d)
        results["concurrency"] = []
        for count in (20, 50):
            print(f"bench: {count} onboardings at once…", flush=True)
            results["concurrency"].append(concurrency(d, count))
    print("bench: barrier schedule…", flush=True)
    with stack("barrier", {"JIWA_IMAGE_SCHEDULE": "barrier"}) as d:
        results["pipeline_barrier"] = pipeline(d, 2, barrier=True)
    results["profiles"] = by_profile(2)
    results["duration_s"] = round(time.time() - started, 1)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    out = write_results(("latest", stamp), results, markdown(results))
    print(f"bench: {results['duration_s']} s; written to {out}/latest.json and latest.md")
    return 0
