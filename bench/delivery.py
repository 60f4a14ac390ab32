"""`./emulator.sh bench delivery`: what WhatsApp's delivery statuses cost the webhook, and
what per-user pacing costs the conversation. Reports numbers; asserts nothing about time.

- Status callbacks are the most frequent webhook (about three per message sent: sent,
  delivered, read; WIRE.md). Their throughput is measured against functions-framework's
  no-op function on the same bodies (goal: at least 70 % of it).
- Pacing (jiwa/pacing.py) spaces one user's messages under WhatsApp's pair rate. The same
  onboardings run paced (the dev stack's rate: 6 s per message, 12 times faster, as the
  stand-ins' latencies are scaled) and unpaced, and the time from the login tap to the
  last message is compared.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from bench.run import Driver, against_noop, machine, phone, stack, write_results

PACED_S = 0.5  # jiwa.dev.stack's WHATSAPP_PAIR_INTERVAL_SECONDS


def status_callbacks(d: Driver, messages: int = 400, at_once: int | None = None
                     ) -> dict[str, Any]:
    from jiwa.dev.simulate import sign
    from jiwa.dev.status_callbacks import status_body

    secret = d.env["WHATSAPP_APP_SECRET"]
    bodies = []
    for i in range(messages):
        to = phone()
        for status in ("sent", "delivered", "read"):
            raw = json.dumps(status_body(f"wamid.bench{i:06d}", to, status)).encode()
            bodies.append((raw, {"X-Hub-Signature-256": sign(secret, raw),
                                 "Content-Type": "application/json"}))
    return against_noop(d.state.url("whatsapp_webhook") + "/", bodies, at_once=at_once,
                        pid=d.state.pids["whatsapp_webhook"])


def store_ceiling(d: Driver, writes: int = 600) -> float:
    """The same status writes straight from 8 threads of this process into the Firestore
    emulator (DeliveryLog, grouped commits): the bound the emulator puts on the webhook
    here, where it shares the machine's cores."""
    from concurrent.futures import ThreadPoolExecutor

    from google.cloud import firestore

    from jiwa.deliveries import DeliveryLog
    from jiwa.whatsapp import DeliveryStatus

    log = DeliveryLog(firestore.Client(project=d.state.project))
    statuses = [DeliveryStatus(f"wamid.ceiling{i:06d}", "delivered", int(time.time()), "62")
                for i in range(writes)]
    log.record(statuses[0])
    started = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(log.record, statuses))
    return round(writes / (time.perf_counter() - started), 1)


def to_last_message(d: Driver, runs: int) -> dict[str, Any]:
    """Login tap -> the onboarding's last WhatsApp message, and how many messages."""
    from jiwa.dev.simulate import message_text

    seconds, counts = [], []
    for _ in range(runs):
        number = phone()
        job_id, tapped = d.start_onboarding(number)
        d.wait_done(job_id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the last messages may still be paced
            sent = d.sent(number)
            if sent and message_text(sent[-1]).startswith(("All ", "Semua ")):
                break
            time.sleep(0.2)
        seconds.append(sent[-1]["at"] - tapped)
        counts.append(len(sent))
    return {"runs": runs, "to_last_message_s": round(statistics.median(seconds), 2),
            "messages": int(statistics.median(counts))}


def main() -> int:
    results: dict[str, Any] = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                               "machine": machine()}
    print("bench delivery: status callbacks…", flush=True)
    with stack("paced", {"WHATSAPP_PAIR_INTERVAL_SECONDS": str(PACED_S)}) as d:
        results["status_callbacks"] = status_callbacks(d)
        # the same at 8 at once (functions-framework's default threads on 2 cores): what
        # the ratio was before the webhook's concurrency was set, commits seldom shared
        results["status_callbacks_8"] = status_callbacks(d, at_once=8)
        results["store_writes_per_s"] = store_ceiling(d)
        print("bench delivery: paced onboardings…", flush=True)
        results["paced"] = to_last_message(d, 3)
    print("bench delivery: unpaced onboardings…", flush=True)
    with stack("unpaced", {"WHATSAPP_PAIR_INTERVAL_SECONDS": "0.001"}) as d:
        results["unpaced"] = to_last_message(d, 3)
    write_results(("delivery-latest",), results, markdown(results))
    return 0


def markdown(r: dict[str, Any]) -> str:
    s, s8, p, u = r["status_callbacks"], r["status_callbacks_8"], r["paced"], r["unpaced"]
    return "\n".join([
        f"# Delivery benchmark {r['date']}", "",
        f"Machine: {r['machine']['cpus']} CPUs ({r['machine']['cpu']}), "
        f"{r['machine']['memory_gb']} GB, Python {r['machine']['python']}.", "",
        f"Status callbacks: the round with the median throughput of {s['rounds']} "
        "alternating rounds on each side.", "",
        "| measure | value | comparison | ratio |", "|---|---|---|---|",
        *(f"| status callbacks (sent, delivered, read; {c['webhook']['requests']} signed POSTs, "
          f"{c['at_once']} at once{note}) | {c['webhook']['rps']} req/s, p50 "
          f"{c['webhook']['median_ms']} ms, p99 {c['webhook']['p99_ms']} ms, "
          f"{c['webhook']['cpu_ms_per_request']} ms CPU a request | no-op handler "
          f"{c['noop']['rps']} req/s, p50 {c['noop']['median_ms']} ms, "
          f"{c['noop']['cpu_ms_per_request']} ms CPU | {c['ratio']:.2f}{goal} (rounds: "
          f"{', '.join(f'{x:.2f}' for x in c['round_ratios'])}); CPU "
          f"{c['noop']['cpu_ms_per_request'] / c['webhook']['cpu_ms_per_request']:.2f} |"
          for c, note, goal in ((s, ", the webhook's production concurrency", " (goal ≥ 0.70)"),
                                (s8, ", functions-framework's default here", ""))),
        f"| the same writes from 8 threads straight into the Firestore emulator | "
        f"{r['store_writes_per_s']} writes/s | the emulator shares the 2 cores | |",
        f"| login tap → last message, paced at {PACED_S} s/message, burst 10 (median of "
        f"{p['runs']}, {p['messages']} messages) | {p['to_last_message_s']} s | unpaced "
        f"{u['to_last_message_s']} s | {p['to_last_message_s'] / u['to_last_message_s']:.2f} |",
    ]) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
