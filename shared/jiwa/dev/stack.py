"""The local stack: GCP emulators, stand-ins, Pub/Sub wiring and the four functions.

Used by `./emulator.sh` (through `jiwa-stack`) and by the test suite, so both run the
same thing. Every process starts in its own process group and is stopped by that group
(never by name); the job processes a local dispatcher starts belong to its group.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jiwa.crypto import TokenCipher
from jiwa.topology import RETENTION_SECONDS, routes

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = {"whatsapp_webhook": "http", "instagram_oauth": "http",
             "dispatcher": "cloudevent", "notifier": "cloudevent", "sweeper": "http"}


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sdk_root() -> Path:
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise StackError("gcloud not found: install the Google Cloud CLI with the "
                         "pubsub and firestore emulator components")
    out = subprocess.run([gcloud, "info", "--format=value(installation.sdk_root)"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "CLOUDSDK_CONFIG": str(ROOT / ".jiwa/gcloud")})
    return Path(out.stdout.strip())


def emulator_commands(pubsub_port: int, firestore_port: int,
                      firestore_import: Path | None = None) -> dict[str, list[str]]:
    """How to start each emulator; `firestore_import` seeds Firestore from an export."""
    if shutil.which("java") is None:
        raise StackError("java not found: the emulators need Java 17 or newer")
    platform = sdk_root() / "platform"
    jars = sorted((platform / "pubsub-emulator/lib").glob("cloud-pubsub-emulator-*-all.jar"))
    fs_jar = platform / "cloud-firestore-emulator/cloud-firestore-emulator.jar"
    if not jars or not fs_jar.exists():
        raise StackError(f"emulator jars missing under {platform}: install the gcloud "
                         "components pubsub-emulator and cloud-firestore-emulator")
    return {
        "pubsub": ["java", "-jar", str(jars[-1]), "--host=127.0.0.1", f"--port={pubsub_port}"],
        "firestore": ["java", "-cp", str(fs_jar),
                      "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
                      "--host=127.0.0.1", f"--port={firestore_port}",
                      f"--websocket_port={free_port()}", f"--rules={ROOT / 'firestore.rules'}",
                      *([f"--import-data={firestore_import}"] if firestore_import else [])],
    }


@dataclass
class StackState:
    project: str
    ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    log_dir: str = ""

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"


class Stack:
    def __init__(self, state_dir: Path, *, project: str = "jiwa-local",
                 extra_env: dict[str, str] | None = None, retry_min_seconds: float = 1.0,
                 claude_latency_ms: float = 0, fal_latency_ms: float = 0,
                 sweep_seconds: float = 60) -> None:
        self.state_dir = state_dir
        self.extra_env = extra_env or {}
        self.retry_min_seconds = retry_min_seconds
        self.latencies = (claude_latency_ms, fal_latency_ms)
        self.sweep_seconds = sweep_seconds
        names = ["pubsub", "firestore", "meta", "anthropic", "fal", "site", *FUNCTIONS]
        self.state = StackState(project, {n: free_port() for n in names},
                                log_dir=str(state_dir / "logs"))

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> StackState:
        Path(self.state.log_dir).mkdir(parents=True, exist_ok=True)
        try:
            for name, cmd in emulator_commands(self.state.ports["pubsub"],
                                               self.state.ports["firestore"]).items():
                self._spawn(name, cmd, os.environ.copy())
            self.state.env = self.function_env()
            ports = self.state.ports
            self._spawn("standins", [
                sys.executable, "-m", "jiwa.dev.standins", "--meta-port", str(ports["meta"]),
                "--anthropic-port", str(ports["anthropic"]), "--fal-port", str(ports["fal"]),
                "--site-port", str(ports["site"]),
                "--claude-latency-ms", str(self.latencies[0]),
                "--fal-latency-ms", str(self.latencies[1]),
                "--sweeper-url", self.state.url("sweeper") + "/",
                "--sweep-seconds", str(self.sweep_seconds)], self.state.env)
            for name, kind in FUNCTIONS.items():
                self._spawn(name, [sys.executable, "-m", "functions_framework",
                                   "--target", "handle", "--signature-type", kind,
                                   "--source", str(ROOT / "functions" / name / "main.py"),
                                   "--host", "127.0.0.1", "--port", str(self.state.ports[name])],
                            self.state.env)
            for name in ("pubsub", "firestore", "meta", "anthropic", "fal", "site", *FUNCTIONS):
                self._wait_http(name)
            self.create_pubsub()
        except BaseException:
            self.stop()
            raise
        self._save()
        return self.state

    def stop(self) -> None:
        for name, pid in reversed(list(self.state.pids.items())):
            stop_group(pid)
            self.state.pids.pop(name, None)
        with contextlib.suppress(FileNotFoundError):
            (self.state_dir / "stack.json").unlink()

    @contextlib.contextmanager
    def outage(self, name: str) -> Iterator[None]:
        """Emulator `name` dies abruptly (SIGKILL) on entry and is started again on the same
        port on exit, so clients see an outage and must reconnect.

        Firestore comes back with its data (exported just before the kill, imported at
        start), as the real service would. The Pub/Sub emulator keeps nothing across a
        restart, so its topics and subscriptions are created again: a message in flight at
        the moment of the kill is lost, which the real service would not do.
        """
        if name not in ("firestore", "pubsub"):
            raise ValueError(f"no emulator called {name!r}")
        export = self._export_firestore() if name == "firestore" else None
        stop_group(self.state.pids.pop(name), grace=0, sig=signal.SIGKILL)
        try:
            yield
        finally:
            commands = emulator_commands(self.state.ports["pubsub"],
                                         self.state.ports["firestore"], export)
            self._spawn(name, commands[name], os.environ.copy())
            self._save()
            self._wait_http(name)
            if name == "pubsub":
                self.create_pubsub()

    def _export_firestore(self) -> Path:
        """Everything in the Firestore emulator, written to a new folder; the metadata
        file to import it from."""
        folder = self.state_dir / "firestore-exports" / f"{time.time_ns()}"
        folder.mkdir(parents=True)
        response = httpx.post(
            f"{self.state.url('firestore')}/emulator/v1/projects/{self.state.project}:export",
            json={"database": f"projects/{self.state.project}/databases/(default)",
                  "export_directory": str(folder)}, timeout=60)
        response.raise_for_status()
        found = sorted(folder.glob("*/*.overall_export_metadata"))
        if not found:
            raise StackError(f"the Firestore emulator wrote no export into {folder}")
        return found[0]

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str]) -> None:
        log = open(Path(self.state.log_dir) / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=str(ROOT))
        self.state.pids[name] = process.pid

    def _wait_http(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.state.pids.get(name)
            if pid is not None and not _alive(pid):
                raise StackError(f"{name} exited at start; see {self.state.log_dir}/{name}.log")
            try:
                httpx.get(self.state.url(name) + "/", timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise StackError(f"{name} did not answer within {timeout:.0f}s")

    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "stack.json").write_text(json.dumps(asdict(self.state), indent=2))

    # -- configuration ---------------------------------------------------------------
    def function_env(self) -> dict[str, str]:
        s, meta = self.state, self.state.url("meta")
        pythonpath = os.pathsep.join(filter(None, [str(ROOT / "shared"),
                                                   self.extra_env.get("PYTHONPATH", "")]))
        return {
            **os.environ,
            "GOOGLE_CLOUD_PROJECT": s.project,
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{s.ports['pubsub']}",
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{s.ports['firestore']}",
            "WHATSAPP_ACCESS_TOKEN": "local-whatsapp-token",
            "WHATSAPP_PHONE_NUMBER_ID": "100000000000001",
            "WHATSAPP_APP_SECRET": "local-app-secret",
            "WHATSAPP_VERIFY_TOKEN": "local-verify-token",
            "META_GRAPH_URL": meta,
            "INSTAGRAM_APP_ID": "local-instagram-app",
            "INSTAGRAM_APP_SECRET": "local-instagram-secret",
            "INSTAGRAM_REDIRECT_URI": s.url("instagram_oauth") + "/",
            "INSTAGRAM_AUTH_URL": meta, "INSTAGRAM_API_URL": meta, "INSTAGRAM_GRAPH_URL": meta,
            "OAUTH_STATE_SECRET": "local-state-secret-" + os.urandom(8).hex(),
            "TOKEN_ENCRYPTION_KEY": TokenCipher.generate_key(),
            "ANTHROPIC_API_KEY": "local-anthropic-key",
            "ANTHROPIC_BASE_URL": s.url("anthropic"),
            "FAL_KEY": "local-fal-key",
            "FAL_BASE_URL": s.url("fal"),
            "JIWA_SCRAPE_ALLOW_HOSTS": f"127.0.0.1:{s.ports['site']}",
            "JIWA_HEARTBEAT_SECONDS": "2",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
            "PYTHONPATH": pythonpath,
        }

    def create_pubsub(self) -> None:
        from google.cloud import pubsub_v1  # type: ignore[attr-defined]
        from google.protobuf import duration_pb2

        env_host = f"127.0.0.1:{self.state.ports['pubsub']}"
        with _env("PUBSUB_EMULATOR_HOST", env_host):
            publisher = pubsub_v1.PublisherClient()
            subscriber = pubsub_v1.SubscriberClient()
        p = self.state.project
        retention = duration_pb2.Duration(seconds=RETENTION_SECONDS)
        for route in routes():
            for topic in (route.topic, route.dead_letter_topic):
                publisher.create_topic(name=publisher.topic_path(p, topic))
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(p, route.subscription),
                "topic": publisher.topic_path(p, route.topic),
                "push_config": {"push_endpoint": self.state.url(route.function) + "/"},
                "ack_deadline_seconds": route.ack_deadline_seconds,
                "enable_message_ordering": route.ordered,
                "retain_acked_messages": True,
                "message_retention_duration": retention,
                "retry_policy": {
                    "minimum_backoff": duration_pb2.Duration(
                        seconds=int(self.retry_min_seconds),
                        nanos=int((self.retry_min_seconds % 1) * 1e9)),
                    "maximum_backoff": duration_pb2.Duration(seconds=30)},
                # No dead_letter_policy here: the emulator's push loop crashes when it
                # dead-letters; our consumers do it (jiwa.handlers.poison, decision 0002).
            })
            for name, topic in ((route.tap_subscription, route.topic),
                                (route.dead_letter_subscription, route.dead_letter_topic)):
                subscriber.create_subscription(request={
                    "name": subscriber.subscription_path(p, name),
                    "topic": publisher.topic_path(p, topic),
                    "retain_acked_messages": True,
                    "message_retention_duration": retention})


@contextlib.contextmanager
def _env(key: str, value: str) -> Any:
    old = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def stop_group(pid: int, grace: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the process group led by `pid`; SIGKILL what is left after `grace`
    seconds, and return once the group is gone (its ports free again)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return
    if not _group_gone(pid, grace):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        _group_gone(pid, 5.0)


def _group_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while True:
        _alive(pid)  # reap our own child so the group can disappear
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


# -- command line (`jiwa-stack`, used by emulator.sh) -------------------------------------
def _load(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / "stack.json"
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jiwa-stack")
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    parser.add_argument("--state-dir", default=str(ROOT / ".jiwa"))
    parser.add_argument("--claude-latency-ms", type=float, default=0,
                        help="the Anthropic stand-in's answer time (up)")
    parser.add_argument("--fal-latency-ms", type=float, default=0,
                        help="the fal stand-in's time per image (up)")
    args = parser.parse_args(argv)
    state_dir = Path(args.state_dir)
    existing = _load(state_dir)
    if args.command == "up":
        if existing and all(_alive(pid) for pid in existing["pids"].values()):
            print("stack already running (./emulator.sh down to stop it)")
            return 0
        state = Stack(state_dir, claude_latency_ms=args.claude_latency_ms,
                      fal_latency_ms=args.fal_latency_ms).start()
        print(f"stack up: project {state.project}; logs in {state.log_dir}")
        return 0
    if existing is None:
        print("stack not running")
        return 0 if args.command in ("down", "status") else 1
    if args.command == "down":
        for name, pid in reversed(list(existing["pids"].items())):
            stop_group(pid)
            print(f"stopped {name} (process group {pid})")
        (state_dir / "stack.json").unlink()
        return 0
    if args.command == "status":
        for name, pid in existing["pids"].items():
            port = existing["ports"].get(name)
            where = f" on 127.0.0.1:{port}" if port else ""
            print(f"{name:18} pid {pid:<8} {'up' if _alive(pid) else 'DOWN'}{where}")
        return 0
    state = StackState(**existing)
    env = existing["env"]
    for key, value in {
        "GOOGLE_CLOUD_PROJECT": state.project,
        "PUBSUB_EMULATOR_HOST": env["PUBSUB_EMULATOR_HOST"],
        "FIRESTORE_EMULATOR_HOST": env["FIRESTORE_EMULATOR_HOST"],
        "JIWA_WEBHOOK_URL": state.url("whatsapp_webhook") + "/",
        "JIWA_OAUTH_CALLBACK_URL": state.url("instagram_oauth") + "/",
        "JIWA_STANDIN_URL": state.url("meta"),
        "JIWA_ANTHROPIC_STANDIN_URL": state.url("anthropic"),
        "JIWA_FAL_STANDIN_URL": state.url("fal"),
        "JIWA_SAMPLE_SITE_URL": state.url("site"),
        "WHATSAPP_APP_SECRET": env["WHATSAPP_APP_SECRET"],
        "WHATSAPP_VERIFY_TOKEN": env["WHATSAPP_VERIFY_TOKEN"],
    }.items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
