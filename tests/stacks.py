"""The local stack the tests drive, and a harness on it. The fixtures over them (`stack`,
`harness`, `real`) are defined once, in tests/conftest.py: a fixture imported into two
conftest files is two fixtures, and each started its own session stack on every worker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from harness import Harness
from indexes import check_query_log

from jiwa.dev.stack import Stack
from jiwa.queries import QueryShape

TESTS = Path(__file__).resolve().parent


def running_test_stack(state_dir: Path, env: dict[str, str] | None = None,
                       sweep_seconds: float = 2, project: str = "jiwa-test") -> Iterator[Stack]:
    """The stack the tests drive (test pipelines, a 1 s heartbeat, a sweep every 2 s, fal
    given up after 5 s; `env` on top), running until the generator is closed."""
    queries = state_dir / "queries.jsonl"
    stack = Stack(state_dir, project=project,
                  extra_env={**(env or {}),
                             "JIWA_PIPELINE": "pipelines:build", "PYTHONPATH": str(TESTS),
                             "JIWA_QUERY_LOG": str(queries),
                             "JIWA_HEARTBEAT_SECONDS": "1", "JIWA_STALE_HEARTBEAT_SECONDS": "5",
                             "JIWA_QUEUED_TIMEOUT_SECONDS": "30",
                             "JIWA_FAL_TIMEOUT_SECONDS": "5",
                             # WhatsApp's pair rate, 24 times faster (tests/faults rows)
                             "WHATSAPP_PAIR_INTERVAL_SECONDS": "0.25",
                             "WHATSAPP_PAIR_BURST": "10",
                             # the global brake lifted: the 200-phone burst row measures the
                             # webhook, and tests share the stack's minute (the brake's own
                             # tests: test_fn_webhook.py, test_store.py)
                             "JIWA_NEW_JOBS_PER_MINUTE": "100000",
                             # each job forked from one that has imported the job's code:
                             # a quarter of the suite's CPU was those imports (decision
                             # 0015); test_emulator_sh.py's stack starts them cold
                             "JIWA_LOCAL_JOB_START": "warm"},
                  retry_min_seconds=0.5, sweep_seconds=sweep_seconds,
                  # the functions forked from one process that has imported their code:
                  # half of each stack's start (decision 0018); `./emulator.sh up` starts
                  # each cold
                  fork_functions=True)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
    # Every query the functions, the job and the CLI ran against this stack has its
    # composite index declared in infra/ (the emulator would have served any query).
    recorded = check_query_log(queries)
    assert QueryShape("onboardingJobs", ("status",), ("createdAt",)) in recorded, \
        "the sweeper's queries were not recorded: the index check saw nothing"


def harness_for(stack: Stack) -> Iterator[Harness]:
    """A harness on `stack`, whose emulators this process's Google clients then use."""
    env = stack.state.env
    for key in ("GOOGLE_CLOUD_PROJECT", "PUBSUB_EMULATOR_HOST", "FIRESTORE_EMULATOR_HOST"):
        os.environ[key] = env[key]
    h = Harness(stack.state)
    yield h
    h.http.close()


def real_onboardings(harness: Harness) -> Iterator[Callable[..., str]]:
    """Starts an onboarding that runs the real nine waves; resets provider faults after."""
    def start(phone: str, command: str = "/register", **rules) -> str:
        from integration.test_end_to_end import onboard

        harness.control(phone, pipeline="real", **rules)
        return onboard(harness, phone, command)
    yield start
    for name in ("anthropic", "fal"):
        harness.http.post(harness.state.url(name) + "/_standin/faults",
                          json={"fail": [], "fail_always": 0, "low_scores": 0, "hang": 0,
                                "thinking_tokens": 0, "cut_off": 0, "refuse": 0,
                                "retired_models": []})
