"""`jiwa pubsub replay --to local`: the jobs the replayed messages name, copied from the
source project's Firestore (production, say) into the local stack's, so that a replayed
`onboarding-requested` finds a job the local dispatcher can start.

What a copy holds, and why (the pure part, `local_record`):
- Kept: who and what the job is for (`phone`, `language`, `instagramHandle`,
  `createdAt`), so the local notifier writes to the same number (on the local WhatsApp
  stand-in) in the same language; and, under `replayOf`, the source's own state
  (status, wave, attempt, run, dispatch, error, execution, times) for the debugger. The
  phone's lock (`activePhones`, keyed by the local PHONE_DIGEST_KEY when the local
  stack's settings are known) points at the copy, as it does at a job the webhook made.
- A job that a replayed request names is reset to what the dispatcher claims: QUEUED,
  with the run and dispatch of the earliest replayed request for it and no
  `dispatchedKey` (store.JobStore.claim_for_dispatch claims exactly that), a fresh
  `queuedAt` (the local sweeper re-dispatches a QUEUED job only once it has waited
  JIWA_QUEUED_TIMEOUT_SECONDS from then), and nothing of the source's run: no attempt,
  wave, execution, error, heartbeat, usage or business. Later requests in the window for
  the same job find it claimed, as a duplicate delivery would.
- A job named only by progress events is copied so the local notifier can address them,
  but never runs here: it keeps a COMPLETED or FAILED source status, and is otherwise
  marked FAILED (`not_run_here`), since a QUEUED or RUNNING copy would be re-dispatched
  by the local sweeper.
- Never copied: the Instagram token (sealed to the production key pair, decision 0012;
  the local job could not open it, and it is a secret). A job that runs here gets a
  token minted by the local Instagram stand-in, sealed to the local stack's public key.
- Not copied either: the checkpoints (`waves/*`), kept images, event log and send
  guards. A local run from wave 1 is what reproduces a bug through the local stand-ins;
  the checkpoints' outputs point at production's Cloud Storage objects and business
  record, which the local stack cannot read. To debug a later wave: let the copy run,
  then `jiwa rerun --job ID --from-wave N` against the local stack (its own checkpoints).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jiwa.clients import emulator_env
from jiwa.events import OnboardingRequested
from jiwa.pubsub_replay import Replayed

KEPT = ("id", "phone", "language", "instagramHandle", "createdAt")
SOURCE_STATE = ("status", "currentWave", "attempt", "run", "dispatch", "error", "execution",
                "startedAt", "completedAt", "redispatches")
TERMINAL = ("COMPLETED", "FAILED")


class TargetRefused(ValueError):
    """A local target that is not a local emulator, or a setting it lacks."""


def emulator_host(value: str | None, flag: str) -> str:
    """`value` as HOST:PORT on this machine's loopback, or refused: the copy writes with no
    credentials over a plain channel, and only an emulator is meant to take that."""
    if not value:
        raise TargetRefused(f"--to local needs {flag} (HOST:PORT of the local emulator)")
    host, sep, port = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit():
        raise TargetRefused(f"{flag} {value!r} is not HOST:PORT")
    if not _loopback(host):
        raise TargetRefused(f"{flag} {value!r} is not a local emulator (127.0.0.1, ::1 or "
                            "localhost): --to local never writes into a real project")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def local_url(value: str, name: str) -> str:
    """A stand-in URL of the local stack; refused unless on loopback (never real Meta)."""
    host = urlsplit(value).hostname or ""
    if not _loopback(host):
        raise TargetRefused(f"{name} {value!r} is not on this machine: the stand-in token "
                            "is minted by the local Instagram stand-in only")
    return value


@dataclass(frozen=True)
class LocalTarget:
    project: str
    pubsub: str  # HOST:PORT of the Pub/Sub emulator
    firestore: str  # HOST:PORT of the Firestore emulator
    stack_env: dict[str, str]  # the local stack's settings (stack.json), or {}

    @property
    def public_key(self) -> str:
        return self.stack_env.get("TOKEN_PUBLIC_KEY", "")


def local_target(stack_dir: str | None, project: str | None, pubsub: str | None,
                 firestore: str | None) -> LocalTarget:
    """The target from the local stack's state file (`./emulator.sh up` writes
    .jiwa/stack.json), each part overridable by its own flag."""
    env: dict[str, str] = {}
    if stack_dir:
        import json

        path = Path(stack_dir) / "stack.json"
        if not path.exists():
            raise TargetRefused(f"no local stack at {stack_dir} ({path} missing: "
                                "./emulator.sh up)")
        state = json.loads(path.read_text())
        env = {str(k): str(v) for k, v in state.get("env", {}).items()}
        project = project or state.get("project")
    if not project:
        raise TargetRefused("--to local needs --local-stack DIR or --local-project")
    return LocalTarget(project,
                       emulator_host(pubsub or env.get("PUBSUB_EMULATOR_HOST"),
                                     "--local-emulator"),
                       emulator_host(firestore or env.get("FIRESTORE_EMULATOR_HOST"),
                                     "--local-firestore"),
                       env)


def named_jobs(messages: list[Replayed]) -> dict[str, OnboardingRequested | None]:
    """Each job the messages name, in order of first mention, with the earliest request
    for it in publish order (None: named by progress events, or undecodable, only)."""
    jobs: dict[str, OnboardingRequested | None] = {}
    for m in messages:
        job_id = m.job_id
        if not job_id:
            continue
        event = m.event
        if isinstance(event, OnboardingRequested):
            if jobs.get(job_id) is None:
                jobs[job_id] = event
        else:
            jobs.setdefault(job_id, None)
    return jobs


def local_record(source: dict[str, Any], request: OnboardingRequested | None, *,
                 source_project: str, at: datetime, token: str | None) -> dict[str, Any]:
    """The local copy of job document `source` (module docstring: what and why)."""
    record: dict[str, Any] = {k: source[k] for k in KEPT if k in source}
    record["replayOf"] = {"project": source_project, "copiedAt": at,
                          **{k: source[k] for k in SOURCE_STATE if k in source}}
    record["instagramToken"] = token
    if request is not None:
        return {**record, "status": "QUEUED", "run": request.run,
                "dispatch": request.dispatch, "dispatchedKey": None, "queuedAt": at,
                "currentWave": 0, "attempt": 0, "redispatches": 0}
    status = source.get("status")
    if status in TERMINAL:
        return {**record, "status": status, "run": source.get("run", 1),
                "dispatch": source.get("dispatch", 0), "currentWave": 0}
    return {**record, "status": "FAILED", "run": source.get("run", 1),
            "dispatch": source.get("dispatch", 0), "currentWave": 0,
            "error": {"code": "not_run_here",
                      "message": "copied for its replayed progress events only; the "
                                 "window held no onboarding-requested for it"}}


def not_carried(source: dict[str, Any]) -> list[str]:
    """The source's fields the copy does not carry as they were: reset, replaced (the
    token), or only recorded under `replayOf`."""
    return sorted(k for k in source if k not in KEPT)


def local_firestore(target: LocalTarget) -> Any:
    """A Firestore client for the local emulator, beside the source's. The client picks
    the emulator (plain channel, no credentials) from FIRESTORE_EMULATOR_HOST when it is
    built (google-cloud-firestore, base_client.BaseClient.__init__), so it is built with
    the variable naming the local emulator, then put back for the source's."""
    from google.cloud import firestore

    with emulator_env("FIRESTORE_EMULATOR_HOST", target.firestore):
        return firestore.Client(project=target.project)


def standin_token(env: dict[str, str]) -> str:
    """A long-lived token from the local Instagram stand-in, through the same login a user
    goes through (authorize -> code -> short-lived -> long-lived, Business Login for
    Instagram): the stand-in, like Instagram, answers only tokens it issued."""
    import httpx

    from jiwa.instagram import InstagramClient

    urls = {name: local_url(env.get(name, ""), name) for name in
            ("INSTAGRAM_AUTH_URL", "INSTAGRAM_API_URL", "INSTAGRAM_GRAPH_URL")}
    with httpx.Client(timeout=10) as http:
        client = InstagramClient(
            http, app_id=env.get("INSTAGRAM_APP_ID", ""),
            app_secret=env.get("INSTAGRAM_APP_SECRET", ""),
            redirect_uri=env.get("INSTAGRAM_REDIRECT_URI", ""),
            auth_url=urls["INSTAGRAM_AUTH_URL"], api_url=urls["INSTAGRAM_API_URL"],
            graph_url=urls["INSTAGRAM_GRAPH_URL"], version=env.get("META_GRAPH_VERSION", ""))
        # the user's "Allow": the stand-in redirects to our callback with a code, which
        # is not followed (the callback's state check is not what is wanted here)
        answer = http.get(client.authorize_url(secrets.token_urlsafe(8)))
        codes = parse_qs(urlsplit(answer.headers.get("location", "")).query).get("code")
        if not codes:
            raise TargetRefused("the local Instagram stand-in gave no login code "
                                f"(HTTP {answer.status_code})")
        return client.exchange_code(codes[0])


def copy_jobs(jobs: dict[str, OnboardingRequested | None], source_db: Any,
              source_project: str, target: LocalTarget, *, at: datetime,
              dry_run: bool, local_db: Any = None,
              mint: Callable[[dict[str, str]], str] = standin_token) -> list[dict[str, Any]]:
    """Copies each job's record into the local Firestore (nothing with `dry_run`); one row
    per job saying what was copied. Refuses, before writing anything, a job the local
    project has already (a second replay would meet the first one's checkpoints and send
    guards, and send nothing) and a job to run with no local key to seal its token to.
    `local_db` and `mint` (the stand-in token) are the emulator's client and
    `standin_token` unless given."""
    from jiwa.crypto import PhoneDigest
    from jiwa.sealed_tokens import TokenSealer
    from jiwa.store import JOBS

    sources = {job_id: source_db.collection(JOBS).document(job_id).get()
               for job_id in jobs}
    runs = [j for j, request in jobs.items() if request is not None and sources[j].exists]
    if runs and not target.public_key:
        raise TargetRefused("the local stack's TOKEN_PUBLIC_KEY is unknown, so the copied "
                            "jobs could get no token they can open: give --local-stack DIR")
    local = None if dry_run else (local_db or local_firestore(target))
    if local is not None:
        there = [j for j in jobs if sources[j].exists
                 and local.collection(JOBS).document(j).get().exists]
        if there:
            raise TargetRefused(f"local project {target.project} already has "
                                f"{', '.join(there)} (an earlier replay?); replay into a "
                                "fresh stack (./emulator.sh down; ./emulator.sh up)")
    # every stand-in token first: a login that fails leaves nothing half copied
    tokens = {} if local is None else {
        j: TokenSealer(target.public_key).encrypt(mint(target.stack_env), j) for j in runs}
    digest_key = target.stack_env.get("PHONE_DIGEST_KEY", "")
    phones = PhoneDigest(digest_key) if len(digest_key) >= 16 else None
    rows = []
    latest: dict[str, dict[str, Any]] = {}  # phone -> its newest copied job
    for job_id, request in jobs.items():
        snap = sources[job_id]
        if not snap.exists:
            rows.append({"job_id": job_id, "found": False})
            continue
        source = snap.to_dict() or {}
        record = local_record(source, request, source_project=source_project, at=at,
                              token=tokens.get(job_id))
        if local is not None:
            local.collection(JOBS).document(job_id).create(record)
            newest = latest.get(source.get("phone", ""))
            if newest is None or _created(source) >= _created(newest):
                latest[source.get("phone", "")] = {**source, "id": job_id}
        rows.append({
            "job_id": job_id, "found": True, "source_status": source.get("status"),
            "status": record["status"], "run": record["run"], "dispatch": record["dispatch"],
            "copied": [k for k in KEPT if k in source], "not_carried": not_carried(source),
            "token": ("production token dropped; a local Instagram stand-in token sealed to "
                      "the local stack's key" if request is not None else
                      "production token dropped; none given (not run here)")})
    if local is not None and phones is not None:
        # each phone's lock points at its newest job, as open_for_phone leaves it, so the
        # local webhook and `jiwa jobs list --phone` find the copy (local key: its digest)
        for phone, source in latest.items():
            if phone:
                local.collection("activePhones").document(phones(phone)).set(
                    {"jobId": source["id"], "updatedAt": at})
    return rows


def _created(source: dict[str, Any]) -> str:
    # comparable whether Firestore gave a datetime or a test a string
    created = source.get("createdAt")
    return created.isoformat() if isinstance(created, datetime) else str(created or "")
