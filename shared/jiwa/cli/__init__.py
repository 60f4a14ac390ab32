"""`jiwa`: the operator's command. The same code against the emulators or a real project,
chosen by the environment (GOOGLE_CLOUD_PROJECT, and the emulator hosts when set).

An operator tool, not deployed with the functions (the build leaves `jiwa/cli` out).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from jiwa.cli import commands, doctor, pubsub
from jiwa.cli.progress import progress
from jiwa.messages import WAVE_NAMES
from jiwa.settings import SettingError
from jiwa.store import Job, Status

console = Console()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit(data: Any, as_json: bool, render: Any = None) -> None:
    if as_json:
        print(json.dumps(data, default=_default, ensure_ascii=False, indent=1))
    elif render is not None:
        render(data)
    else:
        console.print(data)


def _jobs_table(rows: list[dict[str, Any]]) -> None:
    table = Table("status", "wave", "attempt", "run", "phone", "created")
    # the id is what an operator copies into `jobs show`: never cut, whatever the width
    table.columns.insert(0, Column("id", no_wrap=True, overflow="ignore",
                                   min_width=max((len(r["id"]) for r in rows), default=2)))
    for r in rows:
        place = r.get("queuePosition")
        status = f"{r['status']} (#{place} in line)" if place else r["status"]
        table.add_row(r["id"], status, str(r["currentWave"]), str(r["attempt"]),
                      str(r["run"]), r["phone"], _default(r["createdAt"]))
    console.print(table)


def _job_detail(d: dict[str, Any]) -> None:
    job = d["job"]
    console.print(f"[bold]{job['id']}[/] {job['status']} wave {job['currentWave']}/9 "
                  f"attempt {job['attempt']} run {job['run']} execution {job['execution']}")
    standby = d.get("standby")
    if standby:
        why = f" ({standby['why']})" if standby.get("why") else ""
        console.print(f"standby {standby.get('state')}{why} execution "
                      f"{standby.get('execution')}", highlight=False)
    if job.get("error"):
        console.print(f"[red]error[/] {job['error'].get('code')}: {job['error'].get('message')}")
    table = Table("wave", "name", "start", "end", "seconds")
    for w in d["timeline"]:
        table.add_row(str(w["wave"]), w["name"], _default(w["start"]), _default(w["end"]),
                      str(w["seconds"]))
    console.print(table)
    console.print(f"{len(d['events'])} progress event(s)")
    counts: dict[str, int] = {}
    for m in d["messages"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
    console.print(f"{len(d['messages'])} message(s) sent: " + (", ".join(
        f"{n} {s}" for s, n in sorted(counts.items())) or "none"), highlight=False)
    for m in d["messages"]:
        if m["status"] == "failed":
            console.print(f"[red]failed[/] {m['kind']} {m['eventId']}: WhatsApp code "
                          f"{m['error']}", highlight=False)
    for i in d.get("images", []):
        where = f"gs://{i['bucket']}/{i['object']}" if i["object"] else f"{i['url']} (fal's)"
        console.print(f"image {i['index']}: {where} {i['size'] or ''}", highlight=False)
    _usage(d.get("usage") or {})


def _usage(u: dict[str, Any]) -> None:
    """Tokens by kind and model, images generated, and the list-price cost (jiwa/prices)."""
    if not u.get("claude") and not u.get("images"):
        return
    table = Table("model", "calls", "input", "cache write", "cache read", "output")
    for model, t in u["claude"].items():
        table.add_row(model, str(t["calls"]), str(t["input"]), str(t["cache_creation"]),
                      str(t["cache_read"]), str(t["output"]))
    console.print(table)
    for model, n in u["images"].items():
        console.print(f"{n} image(s) generated with {model}, regenerations included",
                      highlight=False)
    line = (f"cost at list prices: ${u['cost_usd']:.4f} "
            f"(without prompt caching: ${u['cost_without_cache_usd']:.4f})")
    if u.get("unpriced"):
        line += f"; no price for {', '.join(u['unpriced'])}"
    console.print(line, highlight=False)


def _lines(rows: list[str]) -> None:
    for row in rows:
        console.print(row, highlight=False)


def _wave_progress(job: Job, finished: int) -> tuple[int, str]:
    """Waves finished, and what the job is doing, for the rerun's progress bar."""
    wave = job.current_wave
    if job.status != Status.RUNNING or not 1 <= wave <= 9:
        return finished, str(job.status).lower()
    return finished, f"wave {wave}/9: {WAVE_NAMES[wave - 1]}"


def _rerun_line(d: dict[str, Any]) -> None:
    line = f"job {d['job_id']} queued as run {d['run']} from wave {d['from_wave']}"
    if "final_status" in d:
        line += f"; it ended {d['final_status']}"
    console.print(line, highlight=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jiwa", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    jobs = sub.add_parser("jobs", help="list and inspect onboarding jobs")
    jobs_sub = jobs.add_subparsers(dest="action", required=True)
    ls = jobs_sub.add_parser("list")
    ls.add_argument("--status")
    ls.add_argument("--phone")
    ls.add_argument("--limit", type=int, default=50)
    show = jobs_sub.add_parser("show")
    show.add_argument("job_id")
    for p in (ls, show):
        p.add_argument("--json", action="store_true")

    tail = sub.add_parser("events", help="follow progress events").add_subparsers(
        dest="action", required=True).add_parser("tail")
    tail.add_argument("--job")
    tail.add_argument("--count", type=int, default=0, help="stop after this many (0: follow)")
    tail.add_argument("--timeout", type=float, default=0, help="stop after seconds (0: never)")
    tail.add_argument("--json", action="store_true")

    replay = sub.add_parser("replay", help="replay a job's conversation")
    replay.add_argument("--job", required=True)
    replay.add_argument("--since", help="ISO time: only events at or after it")
    replay.add_argument("--to", choices=["stdout", "notifier"], default="stdout")
    replay.add_argument("--dry-run", action="store_true")
    replay.add_argument("--force", action="store_true",
                        help="with --to notifier: send again even what was sent")
    replay.add_argument("--json", action="store_true")

    rerun = sub.add_parser("rerun", help="rerun a finished job from a wave")
    rerun.add_argument("--job", required=True)
    rerun.add_argument("--from-wave", type=int, required=True, choices=range(1, 10))
    rerun.add_argument("--wait", action="store_true",
                       help="follow the job until it ends, showing its waves; exit 1 if it "
                            "fails")
    rerun.add_argument("--timeout", type=float, default=1800, help="seconds to --wait")
    rerun.add_argument("--json", action="store_true")

    images = sub.add_parser("images", help="a job's kept images, from our Cloud Storage copy")
    images.add_argument("action", choices=["get"])
    images.add_argument("--job", required=True)
    images.add_argument("--to", default=".", help="folder to save them in (made if missing)")
    images.add_argument("--json", action="store_true")

    dlq = sub.add_parser("dlq", help="dead-lettered messages")
    dlq.add_argument("action", choices=["list", "show", "redrive"])
    dlq.add_argument("--topic", default="onboarding-progress")
    dlq.add_argument("--message", action="append", help="message id (show, redrive)")
    dlq.add_argument("--json", action="store_true")

    doctor.add_parser(sub)
    pubsub.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except (commands.OperatorError, SettingError) as exc:  # a bad setting: its name, no trace
        console.print(f"[red]jiwa:[/] {exc}", highlight=False)
        return 2


def run(args: argparse.Namespace) -> int:
    if args.command == "doctor":  # checks each setting itself, the project included
        return doctor.run(args)
    ops = commands.Operations.from_env()
    if args.command == "pubsub":  # seek-based replay and snapshots (cli/pubsub.py)
        return pubsub.run(args, ops.settings, ops.firestore)
    if args.command == "jobs" and args.action == "list":
        emit(ops.list_jobs(args.status, args.phone, args.limit), args.json, _jobs_table)
    elif args.command == "jobs":
        emit(ops.show_job(args.job_id), args.json, _job_detail)
    elif args.command == "events":
        def undecodable(message_id: str, why: str) -> None:
            print(f"jiwa events tail: skipped message {message_id}: {why}; its consumer "
                  "dead-letters it (jiwa dlq list)", file=sys.stderr)

        for event in ops.tail(args.job, args.count, args.timeout, undecodable):
            emit(event, args.json, lambda e: console.print(
                f"{e['job_id']} #{e['seq']} {e['kind']} {e.get('wave_name', '')}",
                highlight=False))
    elif args.command == "replay":
        sending = args.to == "notifier" and not args.dry_run
        with progress(f"{'republishing' if sending else 'reading'} {args.job}'s events",
                      None) as show:
            result = ops.replay(args.job, since=args.since, to=args.to, dry_run=args.dry_run,
                                force=args.force, on_published=lambda done, total: show(
                                    done, f"republished {done} of {total} events"))
        emit(result, args.json, lambda d: _lines(d["conversation"]))
    elif args.command == "rerun":
        result = ops.rerun(args.job, args.from_wave)
        if args.wait:
            with progress(f"job {args.job} queued", 9) as show:
                job = ops.wait(args.job, args.timeout, lambda j, n: show(*_wave_progress(j, n)))
            result["final_status"] = str(job.status)
        emit(result, args.json, _rerun_line)
        return 1 if result.get("final_status") == Status.FAILED else 0
    elif args.command == "images":
        saved = ops.download_images(args.job, Path(args.to))
        emit(saved, args.json, lambda rows: _lines([f"{r['path']} ({r['size']} bytes, "
                                                    f"sha256 ok)" for r in rows]))
    elif args.command == "dlq":
        with progress(f"{args.action} dead letters of {args.topic}", None):
            rows = ops.dead_letters(args.action, args.topic, set(args.message or []) or None)
        emit(rows, args.json, lambda rows: _lines([
            f"{r['message_id']} job {r['job_id']} event {r['event_id']}"
            + (f" — {r['reason']}" if r.get("reason") else "") for r in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
