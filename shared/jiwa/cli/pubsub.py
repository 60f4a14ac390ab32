"""`jiwa pubsub replay|snapshot|seek`: Pub/Sub's own replay (jiwa.pubsub_replay).

`jiwa replay` reads the Firestore event log (what the user saw); these read the topics.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from jiwa.cli.commands import OperatorError
from jiwa.dead_letter_reasons import firestore_records, reason
from jiwa.events import OnboardingRequested, ProgressEvent, encode
from jiwa.guards import document_id
from jiwa.pubsub_replay import Replayed, SeekReplay, Snapshots, Window, parse_time
from jiwa.replay_local import LocalTarget, copy_jobs, local_target, named_jobs
from jiwa.settings import Settings

console = Console()
TARGETS = ("stdout", "local", "notifier", "dispatcher")


class ReplayRefused(OperatorError):
    """A replay the operator asked for that would be unsafe or meaningless."""


def add_parser(sub: Any) -> None:
    pubsub = sub.add_parser("pubsub", help="replay topics, snapshots and seek")
    actions = pubsub.add_subparsers(dest="action", required=True)

    replay = actions.add_parser("replay", help="a time window of a topic, from Pub/Sub")
    replay.add_argument("--topic", required=True)
    replay.add_argument("--start", required=True, help="ISO time or now-2h (publish time)")
    replay.add_argument("--end", default="now", help="ISO time or now-30m (excluded)")
    replay.add_argument("--job", help="only this job's messages")
    replay.add_argument("--to", choices=TARGETS, default="stdout")
    replay.add_argument("--local-stack", metavar="DIR",
                        help="--to local: the local stack's state folder (.jiwa, from "
                             "./emulator.sh up): its project, emulators and token key")
    replay.add_argument("--local-project", help="--to local: the local stack's project")
    replay.add_argument("--local-emulator", help="--to local: its Pub/Sub emulator host:port")
    replay.add_argument("--local-firestore",
                        help="--to local: its Firestore emulator host:port (the jobs' copies)")
    replay.add_argument("--dry-run", action="store_true", help="show what would be sent")
    replay.add_argument("--force", action="store_true",
                        help="--to notifier: send again what the guard says was sent")
    replay.add_argument("--limit", type=int, default=10_000)
    replay.add_argument("--via", choices=["auto", "new", "tap"], default="auto",
                        help="a new subscription (production), or the tap, put back after "
                             "(the emulator, which keeps no topic retention); auto: by host")
    replay.add_argument("--json", action="store_true", help="raw messages, one JSON a line")

    snapshot = actions.add_parser("snapshot", help="snapshots of subscriptions")
    snapshot.add_argument("snapshot_action", choices=["create", "list", "delete"])
    snapshot.add_argument("name", nargs="?")
    snapshot.add_argument("--subscription", help="create: the subscription to snapshot")
    snapshot.add_argument("--json", action="store_true")

    seek = actions.add_parser("seek", help="seek a subscription to a snapshot or a time")
    seek.add_argument("--subscription", required=True)
    target = seek.add_mutually_exclusive_group(required=True)
    target.add_argument("--snapshot")
    target.add_argument("--time", help="ISO time or now-1h")
    seek.add_argument("--json", action="store_true")


def run(args: argparse.Namespace, settings: Settings, firestore: Any = None) -> int:
    try:
        return _run(args, settings, firestore)
    except ValueError as exc:  # a bad time or window: said plainly, no trace
        raise ReplayRefused(str(exc)) from None


def _run(args: argparse.Namespace, settings: Settings, firestore: Any) -> int:
    if args.action == "snapshot":
        return _snapshot(args, Snapshots(settings.project))
    if args.action == "seek":
        done = Snapshots(settings.project).seek(
            args.subscription, snapshot=args.snapshot,
            time=parse_time(args.time) if args.time else None)
        _out(done, args.json, f"{args.subscription} sought to "
             f"{done['snapshot'] or done['time']}")
        return 0
    window = Window(parse_time(args.start), parse_time(args.end), args.job)
    # a bad local target is refused before anything is read
    target = (local_target(args.local_stack, args.local_project, args.local_emulator,
                           args.local_firestore) if args.to == "local" else None)
    messages = SeekReplay(settings.project).read(args.topic, window, args.limit,
                                                   args.via)
    if firestore is not None:  # a dead letter says why it died (its poison record)
        records = firestore_records(firestore)
        messages = [replace(m, died=reason(m.attributes, records)) for m in messages]
    if args.to == "stdout":
        for m in messages:
            if args.json:
                print(json.dumps(m.to_json(), ensure_ascii=False))
            else:
                console.print(m.line(), highlight=False, soft_wrap=True)
        return 0
    if target is not None:
        result = republish_local(messages, target, settings.project, firestore,
                                 args.dry_run)
    else:
        result = to_consumer(messages, args.to, settings, firestore, args.dry_run, args.force)
    _out(result, args.json, f"{result['sent']} of {len(messages)} message(s) "
         f"{'would be ' if args.dry_run else ''}sent to {args.to}; "
         f"{len(result['skipped'])} skipped")
    for row in result["skipped"]:
        if not args.json:
            console.print(f"  skipped {row['message_id']}: {row['why']}", highlight=False)
    for line in copy_lines(result.get("jobs", []), bool(args.dry_run)):
        if not args.json:
            console.print(line, highlight=False, soft_wrap=True)
    return 0


def _out(data: Any, as_json: bool, line: str) -> None:
    if as_json:
        print(json.dumps(data, ensure_ascii=False, default=str))
    else:
        console.print(line, highlight=False)


def _snapshot(args: argparse.Namespace, snaps: Snapshots) -> int:
    if args.snapshot_action == "list":
        rows = snaps.list()
        _out(rows, args.json, "\n".join(
            f"{r['name']} ({r['topic']}) expires {r['expire_time']}" for r in rows)
            or "no snapshots")
        return 0
    if not args.name:
        raise ReplayRefused(f"snapshot {args.snapshot_action} needs a name")
    if args.snapshot_action == "create":
        if not args.subscription:
            raise ReplayRefused("snapshot create needs --subscription")
        row = snaps.create(args.name, args.subscription)
        _out(row, args.json, f"snapshot {row['name']} of {args.subscription} "
             f"expires {row['expire_time']}")
    else:
        snaps.delete(args.name)
        _out({"deleted": args.name}, args.json, f"snapshot {args.name} deleted")
    return 0


def _publisher(emulator_host: str | None = None) -> Any:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    options = pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    if emulator_host is None:
        return pubsub_v1.PublisherClient(publisher_options=options)
    # The local stack's emulator while this process reads production: the client's own
    # emulator switch is the environment, which names the source, so an explicit channel.
    import grpc
    from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

    transport = PublisherGrpcTransport(channel=grpc.insecure_channel(emulator_host))
    return pubsub_v1.PublisherClient(publisher_options=options, transport=transport)


def _publish(client: Any, topic_path: str, m: Replayed, data: bytes | None = None,
             attributes: dict[str, str] | None = None) -> None:
    extra = {"ordering_key": m.ordering_key} if m.ordering_key else {}
    client.publish(topic_path, m.data if data is None else data, **extra,
                   **(m.attributes if attributes is None else attributes)).result(30)


def republish_local(messages: list[Replayed], target: LocalTarget, source_project: str,
                    firestore: Any, dry_run: bool) -> dict[str, Any]:
    """First the record of each job the messages name, copied into the local Firestore
    (jiwa.replay_local: what is copied, reset and never copied), so a replayed request
    finds a job to start; then every message, undecodable ones too (reproducing a
    malformed one is the point), into the same-named topic of the local stack."""
    jobs = copy_jobs(named_jobs(messages), firestore, source_project, target,
                     at=datetime.now(UTC), dry_run=dry_run)
    client = None if dry_run else _publisher(target.pubsub)
    for m in messages:
        if client is not None:
            _publish(client, client.topic_path(target.project, m.topic), m)
    return {"to": "local", "project": target.project, "dry_run": dry_run,
            "sent": len(messages), "skipped": [], "jobs": jobs}


def copy_lines(rows: list[dict[str, Any]], dry_run: bool) -> list[str]:
    """What `--to local` did (or would do) with each job's record, for a person."""
    verb = "would copy" if dry_run else "copied"
    lines = []
    for row in rows:
        if not row["found"]:
            lines.append(f"  {row['job_id']}: no record in the source project; not copied")
            continue
        lines.append(f"  {verb} {row['job_id']} ({row['source_status']} there) as "
                     f"{row['status']} run {row['run']} dispatch {row['dispatch']}: "
                     f"{', '.join(row['copied'])}; reset or kept under replayOf: "
                     f"{', '.join(row['not_carried']) or 'nothing'}")
        lines.append(f"    instagramToken: {row['token']}")
    return lines


def consumer_plan(messages: list[Replayed], to: str,
                  guard_status: dict[str, str | None], force: bool,
                  ) -> tuple[list[tuple[Replayed, ProgressEvent | OnboardingRequested]],
                             list[dict[str, str]]]:
    """What goes to the consumer, and what does not and why. Without `force` a notifier
    event its guard records as handled is skipped here too (the guard would drop it)."""
    wanted = ProgressEvent if to == "notifier" else OnboardingRequested
    chosen: list[tuple[Replayed, ProgressEvent | OnboardingRequested]] = []
    skipped: list[dict[str, str]] = []
    planned: set[str] = set()
    for m in messages:
        event = m.event
        if not isinstance(event, wanted):
            why = "undecodable" if event is None else f"not a {wanted.__name__}"
            skipped.append({"message_id": m.message_id, "why": why})
        elif event.event_id in planned:
            skipped.append({"message_id": m.message_id, "why": "duplicate in window"})
        elif not force and guard_status.get(event.event_id) in ("sent", "rejected", "held"):
            skipped.append({"message_id": m.message_id,
                            "why": f"already {guard_status[event.event_id]}"})
        else:
            planned.add(event.event_id)
            chosen.append((m, event))
    return chosen, skipped


def to_consumer(messages: list[Replayed], to: str, settings: Settings, firestore: Any,
                dry_run: bool, force: bool) -> dict[str, Any]:
    """Republish to our own topic, so the consumer sees them through its guards: the
    notifier's send guard (`notifications/{eventId}`) and the dispatcher's claim on the
    job's run, which no flag can lift (rerun a job with `jiwa rerun`)."""
    if to == "dispatcher" and force:
        raise ReplayRefused("--force is for the notifier; the dispatcher's guard is the "
                            "job's state: use `jiwa rerun`")
    guards = firestore.collection("notifications")
    status: dict[str, str | None] = {}
    if to == "notifier":
        for m in messages:
            event = m.event
            if isinstance(event, ProgressEvent):
                snap = guards.document(document_id(event.event_id)).get()
                status[event.event_id] = (snap.to_dict() or {}).get("status")
    chosen, skipped = consumer_plan(messages, to, status, force)
    if not dry_run and chosen:
        client = _publisher()
        topic = settings.progress_topic if to == "notifier" else settings.requested_topic
        path = client.topic_path(settings.project, topic)
        for m, event in chosen:
            if force and to == "notifier":
                guards.document(document_id(event.event_id)).delete()
            data, attributes = encode(event)  # a fresh, canonical message for the consumer
            _publish(client, path, m, data, attributes)
    return {"to": to, "dry_run": dry_run, "force": force, "sent": len(chosen),
            "event_ids": [e.event_id for _, e in chosen], "skipped": skipped}
