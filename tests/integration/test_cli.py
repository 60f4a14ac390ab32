"""The `jiwa` operator command against the emulators: a completed job, a failed one
(replayed and rerun), a dead-lettered message, and the event tap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from harness import Harness, new_phone, wait_for

from jiwa.events import OnboardingRequested, ProgressEvent, ProgressKind

JIWA = str(Path(sys.executable).parent / "jiwa")


def jiwa(h: Harness, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **{k: h.env[k] for k in (
        "GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST",
        "PHONE_DIGEST_KEY")},
        "COLUMNS": "200", **env_vars}
    return subprocess.run([JIWA, *args], env=env, capture_output=True, text=True, timeout=90,
                          check=False)


def jiwa_json(h: Harness, *args: str):
    result = jiwa(h, *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _run(h: Harness, phone: str, *statuses: str, **rules):
    h.control(phone, **rules)
    job = h.queued_job(phone)
    h.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                        job_id=job.id))
    return h.wait_status(job.id, *statuses, timeout=60)


def test_jobs_list_and_show_a_completed_job(harness: Harness) -> None:
    phone = new_phone()
    job = _run(harness, phone, "COMPLETED")
    listed = jiwa_json(harness, "jobs", "list", "--status", "COMPLETED", "--limit", "500")
    assert job.id in [j["id"] for j in listed]
    assert all("instagramToken" not in j for j in listed)
    assert [j["id"] for j in jiwa_json(harness, "jobs", "list", "--phone", phone)] == [job.id]
    shown = jiwa_json(harness, "jobs", "show", job.id)
    assert shown["job"]["status"] == "COMPLETED"
    assert [w["wave"] for w in shown["timeline"]] == list(range(1, 10))
    assert all(w["seconds"] is not None and w["seconds"] >= 0 for w in shown["timeline"])
    assert shown["events"][-1]["kind"] == "completed"
    human = jiwa(harness, "jobs", "show", job.id)
    assert human.returncode == 0 and job.id in human.stdout and "COMPLETED" in human.stdout
    assert "influencers" in human.stdout
    assert jiwa(harness, "jobs", "show", "job_missing").returncode == 2


def test_failed_job_replayed_dry_then_rerun_from_the_failed_wave(harness: Harness) -> None:
    phone = new_phone()
    failed = _run(harness, phone, "FAILED", fail_at_wave=4)
    shown = jiwa_json(harness, "jobs", "show", failed.id)
    assert shown["job"]["error"]["code"] == "test_failure"
    texts = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("Sorry") and t,
                     30)
    replay = jiwa_json(harness, "replay", "--job", failed.id, "--dry-run")
    assert [line.split("] ", 1)[1] for line in replay["conversation"]] == texts
    assert replay["republished"] == 0
    republished = jiwa_json(harness, "replay", "--job", failed.id, "--to", "notifier")
    assert republished["republished"] == len(texts)
    harness.barrier(failed.id)  # every republished event has been handled
    assert harness.texts(phone) == texts  # the send guard kept the user from a repeat
    harness.control(phone)  # the cause is fixed
    # --wait follows the rerun to its end; FORCE_COLOR makes rich draw its progress bar
    # although stderr is a pipe here.
    waited = jiwa(harness, "rerun", "--job", failed.id, "--from-wave", "4", "--wait",
                  "--json", FORCE_COLOR="1")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == {"job_id": failed.id, "run": 2, "from_wave": 4,
                                         "status": "QUEUED", "final_status": "COMPLETED"}
    assert "queued" in waited.stderr and "3/9" in waited.stderr  # waves 1-3 were kept
    assert "9/9" in waited.stderr
    done = harness.wait_status(failed.id, "COMPLETED", timeout=5)
    assert done.run == 2
    waves = harness.store.checkpoints(failed.id)
    assert sorted(waves) == list(range(1, 10))
    after = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("Done!") and t,
                     30)
    assert after[:len(texts)] == texts
    assert after[len(texts)] == "Preparing your products…"  # resumed at wave 4
    refused = jiwa(harness, "rerun", "--job", harness.queued_job(new_phone()).id,
                   "--from-wave", "1")
    assert refused.returncode == 2 and "rerun only a finished job" in refused.stdout


def test_replay_to_notifier_with_force_sends_again(harness: Harness) -> None:
    phone = new_phone()
    job = _run(harness, phone, "COMPLETED")
    before = wait_for(lambda: (t := harness.texts(phone)) and t[-1].startswith("Done!") and t,
                      30)
    since = harness.store.events(job.id)[-1]["created_at"]
    result = jiwa_json(harness, "replay", "--job", job.id, "--since", since, "--to",
                       "notifier", "--force")
    assert result["republished"] == 1
    wait_for(lambda: len(harness.texts(phone)) == len(before) + 1, 30)
    assert harness.texts(phone)[-1] == before[-1]


def test_dlq_list_show_and_redrive(harness: Harness) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    harness.standin_faults(whatsapp=[{"status": 503, "code": 131000, "times": 1000}])
    try:
        harness.publisher().publish_progress(ProgressEvent(
            event_id=ProgressEvent.make_id(job.id, 1, 0), job_id=job.id, seq=0,
            kind=ProgressKind.ACCEPTED, payload={"handle": "kopisenja.id"}))
        listed = wait_for(lambda: [m for m in jiwa_json(harness, "dlq", "list")
                                   if m["job_id"] == job.id], 90, "the dead letter")
    finally:
        harness.standin_faults(whatsapp=[])
    message_id = listed[0]["message_id"]
    shown = jiwa_json(harness, "dlq", "show", "--message", message_id)
    assert json.loads(shown[0]["data"])["event_id"] == listed[0]["event_id"]
    redriven = jiwa_json(harness, "dlq", "redrive", "--message", message_id)
    assert [m["message_id"] for m in redriven] == [message_id]
    wait_for(lambda: harness.texts(phone), 30, "the redriven message")
    assert jiwa(harness, "dlq", "list", "--topic", "nope").returncode == 2


def test_events_tail_follows_the_tap(harness: Harness) -> None:
    phone = new_phone()
    job = harness.queued_job(phone)
    # The tap gets all the topic gets, a poison message too: published before the job's
    # events, the tail meets it first, tells of it and goes on.
    garbage = pubsub_v1.PublisherClient()
    poison = garbage.publish(garbage.topic_path(harness.env["GOOGLE_CLOUD_PROJECT"],
                                                "onboarding-progress"),
                             b"\xffnot json", jobId=job.id).result(30)
    harness.publisher().publish_requested(OnboardingRequested(event_id=f"{job.id}-req",
                                                              job_id=job.id))
    harness.wait_status(job.id, "COMPLETED", timeout=60)
    count = len(harness.store.events(job.id))
    result = jiwa(harness, "events", "tail", "--job", job.id, "--count", str(count),
                  "--timeout", "40", "--json")
    assert result.returncode == 0, result.stderr
    events = json.loads("[" + result.stdout.replace("}\n{", "},\n{") + "]")
    assert len(events) == count and {e["job_id"] for e in events} == {job.id}
    assert f"skipped message {poison}: not a ProgressEvent (json_invalid)" in result.stderr


def test_simulate_plays_a_whatsapp_user(harness: Harness, stack) -> None:
    """`./emulator.sh simulate` (a development tool: not in the operator's `jiwa`)."""
    phone = new_phone()
    result = subprocess.run(
        [sys.executable, "-m", "jiwa.dev.simulate", "--state-dir", str(stack.state_dir),
         "--phone", phone, "/status"], capture_output=True, text=True, timeout=90,
        check=False)
    assert result.returncode == 0, result.stderr
    assert "You ▸ /status" in result.stdout
    assert "WhatsApp ▸ Belum ada onboarding. Kirim /daftar untuk mulai." in result.stdout
