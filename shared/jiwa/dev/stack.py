"""The local stack: GCP emulators, stand-ins, Pub/Sub wiring and the five functions.

Used by `./emulator.sh` (through `jiwa-stack`) and by the test suite, so both run the
same thing. Every process starts in its own process group and is stopped by that group
(never by name); the job processes a local dispatcher starts belong to its group.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx

from jiwa.crypto import TokenCipher
from jiwa.dev import functions_host, website_standin
from jiwa.dev.emulators import (
    IMAGE_BUCKET,
    ROOT,
    StackError,
    create_topology,
    emulator_commands,
    export_firestore,
    storage_command,
)
from jiwa.dev.processes import alive, free_port, stop_group, stop_groups
from jiwa.sealed_tokens import generate_keypair
from jiwa.topology import FUNCTION_CONCURRENCY

FUNCTIONS = {"whatsapp_webhook": "http", "instagram_oauth": "http",
             "dispatcher": "cloudevent", "notifier": "cloudevent", "sweeper": "http"}


STANDINS = dict.fromkeys(("meta", "anthropic", "fal", "site"), "standins")
START_ATTEMPTS = 3
# what each of our servers writes when its port is taken (Werkzeug, gunicorn, the Java
# emulators' BindException)
PORT_TAKEN = ("address already in use", "in use by another program", "bindexception")


class PortTakenError(StackError):
    """A server of the stack could not bind its port."""


def _port_taken(log: Path) -> bool:
    try:
        tail = log.read_bytes()[-4000:].decode(errors="replace").lower()
    except OSError:
        return False
    return any(marker in tail for marker in PORT_TAKEN)


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
                 sweep_seconds: float = 60, fork_functions: bool = False) -> None:
        self.state_dir = state_dir
        # fork the functions from one process that has imported their code (the test
        # stacks: jiwa.dev.functions_host); else one interpreter each, as Cloud Run starts
        self.fork_functions = fork_functions
        self.extra_env = extra_env or {}
        self.retry_min_seconds = retry_min_seconds
        self.latencies = (claude_latency_ms, fal_latency_ms)
        self.sweep_seconds = sweep_seconds
        names = ["pubsub", "firestore", "storage", "meta", "anthropic", "fal", "site",
                 *FUNCTIONS]
        self.state = StackState(project, {n: free_port() for n in names},
                                log_dir=str(state_dir / "logs"))

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> StackState:
        """Every process, ready. A server that found its port taken at start is started
        again, with the whole stack on new ports: a port free when picked can be taken
        before the server binds it (by another stack starting at the same time, or by a
        port the Firestore emulator picks for itself: CI, session 26)."""
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return self._start_once()
            except PortTakenError:
                if attempt == START_ATTEMPTS:
                    raise
                self.state.ports.update({name: free_port() for name in self.state.ports})
        raise AssertionError("unreachable")

    def _start_once(self) -> StackState:
        Path(self.state.log_dir).mkdir(parents=True, exist_ok=True)
        try:
            for name, cmd in emulator_commands(self.state.ports["pubsub"],
                                               self.state.ports["firestore"]).items():
                self._spawn(name, cmd, os.environ.copy())
            self._spawn("storage", storage_command(self.state.ports["storage"]),
                        os.environ.copy())
            self.state.env = self.function_env()
            ports = self.state.ports
            self._spawn("standins", [
                sys.executable, "-m", "jiwa.dev.standins", "--meta-port", str(ports["meta"]),
                "--anthropic-port", str(ports["anthropic"]), "--fal-port", str(ports["fal"]),
                "--site-port", str(ports["site"]),
                "--claude-latency-ms", str(self.latencies[0]),
                "--fal-latency-ms", str(self.latencies[1]),
                "--sweeper-url", self.state.url("sweeper") + "/",
                "--webhook-url", self.state.url("whatsapp_webhook") + "/",
                "--sweep-seconds", str(self.sweep_seconds)], self.state.env)
            functions = {name: ([
                "--target", "handle", "--signature-type", kind,
                "--source", str(ROOT / "functions" / name / "main.py"),
                "--host", "127.0.0.1", "--port", str(self.state.ports[name])],
                {**self.state.env, "THREADS": str(FUNCTION_CONCURRENCY[name])})
                for name, kind in FUNCTIONS.items()}
            if self.fork_functions:
                self._fork_functions(functions)
            else:
                for name, (args, env) in functions.items():
                    self._spawn(name, [sys.executable, "-m", "functions_framework", *args], env)
            for name in ("pubsub", "firestore", "storage", "meta", "anthropic", "fal", "site",
                         *FUNCTIONS):
                self._wait_http(name)
            self.create_pubsub()
            # A port taken by another HTTP server answers our probe too: a server of ours
            # that died binding it shows only here
            for name, pid in self.state.pids.items():
                if not alive(pid):
                    self._exited(name)
        except BaseException:
            self.stop()
            raise
        self._save()
        return self.state

    def stop(self) -> None:
        stop_groups(list(reversed(self.state.pids.values())))
        self.state.pids.clear()
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
        export = export_firestore(
            self.state.url("firestore"), self.state.project,
            self.state_dir / "firestore-exports" / str(time.time_ns()),
        ) if name == "firestore" else None
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

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str],
               pass_fds: tuple[int, ...] = ()) -> None:
        log = open(Path(self.state.log_dir) / f"{name}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   cwd=str(ROOT), pass_fds=pass_fds)
        self.state.pids[name] = process.pid

    def _fork_functions(self, functions: dict[str, tuple[list[str], dict[str, str]]]) -> None:
        """The functions as children of jiwa.dev.functions_host, each recorded by its own
        pid (after the host's: stopped first)."""
        specs = [{"name": name, "argv": args, "env": env,
                  "log": str(Path(self.state.log_dir) / f"{name}.log")}
                 for name, (args, env) in functions.items()]
        pids = functions_host.start(specs, Path(self.state.log_dir),
                                    lambda cmd, fd: self._spawn("functions_host", cmd,
                                                                self.state.env, (fd,)))
        if pids is None:
            self._exited("functions_host")
        self.state.pids.update(pids)

    def _wait_http(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        # one client for every probe: httpx.get builds a client, and its TLS context (40 ms
        # of CPU), each time, ten times a second per process while the stack starts
        with httpx.Client(timeout=1.0) as http:
            while time.monotonic() < deadline:
                process = STANDINS.get(name, name)  # the stand-ins share one process
                pid = self.state.pids.get(process)
                if pid is not None and not alive(pid):
                    self._exited(process)
                try:
                    http.get(self.state.url(name) + "/")
                    return
                except httpx.HTTPError:
                    time.sleep(0.1)
        raise StackError(f"{name} did not answer within {timeout:.0f}s")

    def _exited(self, process: str) -> NoReturn:
        log = Path(self.state.log_dir) / f"{process}.log"
        error = PortTakenError if _port_taken(log) else StackError
        raise error(f"{process} exited at start; see {log}")

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
            # with its scheme: google-cloud-storage reads it as the API endpoint
            # (storage/_helpers.py _get_storage_emulator_override)
            "STORAGE_EMULATOR_HOST": s.url("storage"),
            "JIWA_IMAGE_BUCKET": IMAGE_BUCKET,
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
            "PHONE_DIGEST_KEY": "local-phone-key-" + os.urandom(8).hex(),
            "TOKEN_ENCRYPTION_KEY": TokenCipher.generate_key(),
            **dict(zip(("TOKEN_PRIVATE_KEY", "TOKEN_PUBLIC_KEY"), generate_keypair(),
                       strict=True)),
            "ANTHROPIC_API_KEY": "local-anthropic-key",
            "ANTHROPIC_BASE_URL": s.url("anthropic"),
            "FAL_KEY": "local-fal-key",
            "FAL_BASE_URL": s.url("fal"),
            "JIWA_SCRAPE_ALLOW_HOSTS": f"127.0.0.1:{s.ports['site']}",
            # the sample businesses' names (s.id, linktr.ee, their sites) to the website
            # stand-in, which serves each by its Host header
            "JIWA_SCRAPE_ROUTES": ",".join(f"{host}=127.0.0.1:{s.ports['site']}"
                                           for host in website_standin.hosts()),
            "JIWA_HEARTBEAT_SECONDS": "2",
            # WhatsApp's pair rate 12 times faster, as the stand-ins' latencies are scaled
            # down: at 6 s a message, a local onboarding would wait a minute on pacing
            "WHATSAPP_PAIR_INTERVAL_SECONDS": "0.5",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
            "PYTHONPATH": pythonpath,
        }

    def create_pubsub(self) -> None:
        create_topology(f"127.0.0.1:{self.state.ports['pubsub']}", self.state.project,
                        lambda function: self.state.url(function) + "/",
                        self.retry_min_seconds)


# -- command line (`jiwa-stack`, used by emulator.sh) -------------------------------------
def load_state(state_dir: Path) -> dict[str, Any] | None:
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
    existing = load_state(state_dir)
    if args.command == "up":
        if existing and all(alive(pid) for pid in existing["pids"].values()):
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
        stop_groups(list(reversed(existing["pids"].values())))
        for name, pid in existing["pids"].items():
            print(f"stopped {name} (process group {pid})")
        (state_dir / "stack.json").unlink()
        return 0
    if args.command == "status":
        for name, pid in existing["pids"].items():
            port = existing["ports"].get(name)
            where = f" on 127.0.0.1:{port}" if port else ""
            print(f"{name:18} pid {pid:<8} {'up' if alive(pid) else 'DOWN'}{where}")
        return 0
    state = StackState(**existing)
    env = existing["env"]
    for key, value in {
        "GOOGLE_CLOUD_PROJECT": state.project,
        "PUBSUB_EMULATOR_HOST": env["PUBSUB_EMULATOR_HOST"],
        "FIRESTORE_EMULATOR_HOST": env["FIRESTORE_EMULATOR_HOST"],
        "STORAGE_EMULATOR_HOST": env["STORAGE_EMULATOR_HOST"],
        "JIWA_IMAGE_BUCKET": env["JIWA_IMAGE_BUCKET"],
        "JIWA_WEBHOOK_URL": state.url("whatsapp_webhook") + "/",
        "JIWA_OAUTH_CALLBACK_URL": state.url("instagram_oauth") + "/",
        "JIWA_STANDIN_URL": state.url("meta"),
        "JIWA_ANTHROPIC_STANDIN_URL": state.url("anthropic"),
        "JIWA_FAL_STANDIN_URL": state.url("fal"),
        "JIWA_SAMPLE_SITE_URL": state.url("site"),
        "WHATSAPP_APP_SECRET": env["WHATSAPP_APP_SECRET"],
        "WHATSAPP_VERIFY_TOKEN": env["WHATSAPP_VERIFY_TOKEN"],
        "PHONE_DIGEST_KEY": env["PHONE_DIGEST_KEY"],  # `jiwa jobs list --phone`
    }.items():
        # `source <(./emulator.sh env)` must reach the commands the shell runs next
        print(f"export {key}={shlex.quote(value)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
