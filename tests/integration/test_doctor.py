"""`jiwa doctor` against the local stack: with the stack's settings every check passes;
with one setting wrong, its check fails with a reason and a fix, and the others still
pass. No secret is ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest
from harness import Harness

from jiwa.cli.doctor import examine
from jiwa.dev.cloudrun_standin import CloudRunStandIn
from jiwa.dev.processes import free_port
from jiwa.dev.stack import Stack

JIWA = str(Path(sys.executable).parent / "jiwa")
JOB = "jiwa-job"
CHECKS = ["claude ANTHROPIC_MODEL", "claude ANTHROPIC_SCORE_MODEL", "fal", "whatsapp",
          "instagram", "graph version", "firestore", "pubsub topics", "pubsub subscriptions",
          "cloud run job"]
SECRETS = ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
           "INSTAGRAM_APP_SECRET", "ANTHROPIC_API_KEY", "FAL_KEY", "OAUTH_STATE_SECRET",
           "TOKEN_ENCRYPTION_KEY", "TOKEN_PRIVATE_KEY")


@pytest.fixture(scope="module")
def cloud_run(stack: Stack) -> Iterator[str]:
    """A Cloud Run Admin API stand-in where the job is deployed."""
    standin = CloudRunStandIn()
    endpoint = standin.start()
    standin.add_job(f"projects/{stack.state.project}/locations/asia-southeast2/jobs/{JOB}")
    yield endpoint
    standin.stop()


def _environment(h: Harness, endpoint: str, overrides: dict[str, str]) -> dict[str, str]:
    """The environment the stack's functions get, the Cloud Run job, and `overrides`."""
    return {**h.env, "CLOUD_RUN_JOB_NAME": JOB, "CLOUD_RUN_REGION": "asia-southeast2",
            "CLOUD_RUN_API_ENDPOINT": endpoint, "COLUMNS": "200", **overrides}


def doctor(h: Harness, endpoint: str, *args: str,
           **overrides: str) -> subprocess.CompletedProcess[str]:
    """`jiwa doctor`, as a command, in `_environment`."""
    return subprocess.run([JIWA, "doctor", *args], env=_environment(h, endpoint, overrides),
                          capture_output=True, text=True, timeout=120, check=False)


def _no_secrets(h: Harness, output: str, *more: str) -> None:
    for value in [h.env[k] for k in SECRETS] + list(more):
        assert value not in output


def test_every_check_passes_on_the_stack(harness: Harness, cloud_run: str) -> None:
    result = doctor(harness, cloud_run, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == CHECKS
    assert {c["name"]: c["status"] for c in report["checks"]} == dict.fromkeys(CHECKS, "ok")
    by_name = {c["name"]: c for c in report["checks"]}
    assert "claude-sonnet-5-5" in by_name["claude ANTHROPIC_MODEL"]["reason"]
    assert "fal-ai/flux/schnell" in by_name["fal"]["reason"]
    assert by_name["whatsapp"]["reason"].startswith(
        f"phone number {harness.env['WHATSAPP_PHONE_NUMBER_ID']}:")
    _no_secrets(harness, result.stdout + result.stderr)


# The setting made wrong -> each check that must fail, and a word its reason must hold.
BROKEN: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "unknown model": ({"ANTHROPIC_MODEL": "claude-nonexistent-9"},
                      {"claude ANTHROPIC_MODEL": "claude-nonexistent-9 not found"}),
    # the SDK's table: retires 2026-11-30 (within 60 days of the stack's today; after it,
    # the stand-in answers 404 like the real API and the reason says "retired on")
    "retiring model": ({"ANTHROPIC_SCORE_MODEL": "claude-sonnet-4-5"},
                       {"claude ANTHROPIC_SCORE_MODEL": "2026-11-30"}),
    "wrong fal key": ({"FAL_KEY": "wrong-fal-key-123"}, {"fal": "FAL_KEY was refused (401)"}),
    "wrong whatsapp token": ({"WHATSAPP_ACCESS_TOKEN": "wrong-whatsapp-token"},
                             {"whatsapp": "code 190"}),
    "missing redirect uri": ({"INSTAGRAM_REDIRECT_URI": ""},
                             {"instagram": "INSTAGRAM_REDIRECT_URI not set"}),
    # Meta refuses a version that is none (error 2500), so WhatsApp's check fails too
    "unknown graph version": ({"META_GRAPH_VERSION": "v99.0"},
                              {"graph version": "v99.0 is not a Graph API version",
                               "whatsapp": "v99.0"}),
    "firestore down": ({"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}"},
                       {"firestore": "unreachable"}),
    # a topic nobody created: its tap subscription is missing, and the notifier's push
    # subscription is on the real topic
    "missing topic": ({"JIWA_PROGRESS_TOPIC": "onboarding-progress-missing"},
                      {"pubsub topics": "onboarding-progress-missing",
                       "pubsub subscriptions": "onboarding-progress-missing-tap"}),
    "missing cloud run job": ({"CLOUD_RUN_JOB_NAME": "jiwa-job-missing"},
                              {"cloud run job": "job jiwa-job-missing in asia-southeast2"}),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_wrong_setting_fails_its_check_alone(harness: Harness, cloud_run: str,
                                               case: str, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """In this process, through the checks `jiwa doctor` runs (the two tests above and
    below run the command itself): an interpreter per case cost 6 s of imports each."""
    overrides, failing = BROKEN[case]
    for key, value in _environment(harness, cloud_run, overrides).items():
        monkeypatch.setenv(key, value)  # the Google clients read their emulator hosts here
    checks = [asdict(c) for c in examine(os.environ, timeout=10.0)]
    by_name = {c["name"]: c for c in checks}
    assert list(by_name) == CHECKS  # one failure hides no other check
    assert {n for n, c in by_name.items() if c["status"] != "ok"} == set(failing)
    for name, words in failing.items():
        check = by_name[name]
        assert check["status"] == "FAIL" and words in check["reason"], check
        assert check["fix"], check
    _no_secrets(harness, json.dumps(checks) + caplog.text,
                *(v for k, v in overrides.items() if k in SECRETS and v))


def test_the_report_is_one_line_per_check_with_the_fix(harness: Harness,
                                                        cloud_run: str) -> None:
    result = doctor(harness, cloud_run, FAL_KEY="wrong-fal-key-456")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith(("ok ", "FAIL ", "skip "))]) == 10
    fal = next(i for i, line in enumerate(lines) if line.split()[:2] == ["FAIL", "fal"])
    assert "FAL_KEY was refused (401)" in lines[fal]
    assert lines[fal + 1].split()[0] == "fix:" and "fal.ai/dashboard/keys" in lines[fal + 1]
    assert lines[-1] == "1 of 10 checks failed"
    _no_secrets(harness, result.stdout + result.stderr, "wrong-fal-key-456")
