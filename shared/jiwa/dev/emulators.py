"""The Firestore and Pub/Sub emulators of the Google Cloud CLI and the Cloud Storage
emulator: how to start them, how to export Firestore's data, and the Pub/Sub topology
our functions expect."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from jiwa.clients import emulator_env
from jiwa.dev.processes import free_port
from jiwa.topology import RETENTION_SECONDS, routes

ROOT = Path(__file__).resolve().parents[3]


class StackError(RuntimeError):
    pass


def sdk_root() -> Path:
    """The Cloud SDK's installation folder, found as the `gcloud` script finds it
    (bin/gcloud's _cloudsdk_root_dir: CLOUDSDK_ROOT_DIR, else its own path with symlinks
    followed, up from bin/). `gcloud info` says the same but costs 1.2 s of CPU, paid at
    every stack start and emulator restart; it stays as the fallback for a layout without
    platform/ beside bin/."""
    if root := os.environ.get("CLOUDSDK_ROOT_DIR"):
        return Path(root)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise StackError("gcloud not found: install the Google Cloud CLI with the "
                         "pubsub and firestore emulator components")
    beside = Path(gcloud).resolve().parent.parent
    if (beside / "platform").is_dir():
        return beside
    out = subprocess.run([gcloud, "info", "--format=value(installation.sdk_root)"],
                         capture_output=True, text=True, check=True,
                         env={**os.environ, "CLOUDSDK_CONFIG": str(ROOT / ".jiwa/gcloud")})
    return Path(out.stdout.strip())


# The emulators live minutes (a test run, a developer's session) on small machines: the
# C1 compiler alone and the serial collector cut their CPU by about 40 % (a Firestore and
# Pub/Sub workload of 1,500 transactions, queries and publishes: 30.8 -> 17.3 s and
# 6.4 -> 3.5 s of CPU, at the same wall time), as C2's compilations never pay back in
# that time. Standard HotSpot options (java -X / -XX, JDK 17).
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


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
        "pubsub": ["java", *JVM_OPTIONS, "-jar", str(jars[-1]), "--host=127.0.0.1",
                   f"--port={pubsub_port}"],
        "firestore": ["java", *JVM_OPTIONS, "-cp", str(fs_jar),
                      "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
                      "--host=127.0.0.1", f"--port={firestore_port}",
                      f"--websocket_port={free_port()}", f"--rules={ROOT / 'firestore.rules'}",
                      *([f"--import-data={firestore_import}"] if firestore_import else [])],
    }


IMAGE_BUCKET = "jiwa-images-local"


def storage_command(port: int, bucket: str = IMAGE_BUCKET) -> list[str]:
    """gcp-storage-emulator (in .venv): a local GCS speaking the JSON API that
    google-cloud-storage uses; it creates `bucket` at start. In memory, as the
    Pub/Sub emulator is: the stack's data does not outlive it."""
    return [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
            "--port", str(port), "--default-bucket", bucket, "--in-memory", "--quiet"]


def export_firestore(url: str, project: str, folder: Path) -> Path:
    """Everything in the Firestore emulator at `url`, written under the new `folder`; the
    metadata file to import it from."""
    folder.mkdir(parents=True)
    response = httpx.post(f"{url}/emulator/v1/projects/{project}:export",
                          json={"database": f"projects/{project}/databases/(default)",
                                "export_directory": str(folder)}, timeout=60)
    response.raise_for_status()
    found = sorted(folder.glob("*/*.overall_export_metadata"))
    if not found:
        raise StackError(f"the Firestore emulator wrote no export into {folder}")
    return found[0]


def create_topology(pubsub_host: str, project: str, push_url: Callable[[str], str],
                    retry_min_seconds: float) -> None:
    """Every route's topic, dead-letter topic, push subscription (to `push_url(function)`),
    tap and dead-letter subscription, on the emulator at `pubsub_host`."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]
    from google.protobuf import duration_pb2

    with emulator_env("PUBSUB_EMULATOR_HOST", pubsub_host):
        publisher = pubsub_v1.PublisherClient()
        subscriber = pubsub_v1.SubscriberClient()
    retention = duration_pb2.Duration(seconds=RETENTION_SECONDS)
    for route in routes():
        for topic in (route.topic, route.dead_letter_topic):
            publisher.create_topic(name=publisher.topic_path(project, topic))
        subscriber.create_subscription(request={
            "name": subscriber.subscription_path(project, route.subscription),
            "topic": publisher.topic_path(project, route.topic),
            "push_config": {"push_endpoint": push_url(route.function)},
            "ack_deadline_seconds": route.ack_deadline_seconds,
            "enable_message_ordering": route.ordered,
            "retain_acked_messages": True,
            "message_retention_duration": retention,
            "retry_policy": {
                "minimum_backoff": duration_pb2.Duration(
                    seconds=int(retry_min_seconds), nanos=int((retry_min_seconds % 1) * 1e9)),
                "maximum_backoff": duration_pb2.Duration(seconds=30)},
            # No dead_letter_policy here: the emulator's push loop crashes when it
            # dead-letters; our consumers do it (jiwa.handlers.poison, decision 0002).
        })
        for name, topic in ((route.tap_subscription, route.topic),
                            (route.dead_letter_subscription, route.dead_letter_topic)):
            subscriber.create_subscription(request={
                "name": subscriber.subscription_path(project, name),
                "topic": publisher.topic_path(project, topic),
                "retain_acked_messages": True,
                "message_retention_duration": retention})

