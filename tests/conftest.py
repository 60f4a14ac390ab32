"""Shared fixtures: the environment is restored after each test; one local stack (real
emulators, stand-ins and functions-framework processes) serves the integration tests.

Two tiers: `-m "not integration"` (`./emulator.sh test --fast`) runs in seconds with no
emulator, process or tool beyond this Python; everything else is marked `integration`
here, by folder, by fixture and by name, so no test file has to remember to."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
# Every test in these folders drives the local stack.
STACK_FOLDERS = {"integration", "faults"}
# The fixtures that start the stack (below; tests/stacks.py).
STACK_FIXTURES = {"stack", "harness", "real"}
# Tests elsewhere that need more than this Python and its packages, or minutes:
# a file (relative to tests/) or a file::test, with the reason.
NOT_FAST = {
    "infra/test_infra.py::test_checkov_passes": "checkov's own tools venv (.jiwa/tools)",
    "security/test_fuzz.py": "3000 generated inputs per test: a minute or more (the fast "
                             "tier fuzzes the webhook function with fewer)",
}


@pytest.fixture(autouse=True)
def isolate_environment() -> Iterator[None]:
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


# The stack's fixtures live here, once: a fixture imported into a folder's conftest is a
# second fixture there, with a session stack of its own on every worker (each worker ran
# two or three stacks). Their modules are imported when a test first asks, so the fast
# tier, which never does, does not load the dev stack.
@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from stacks import running_test_stack

    yield from running_test_stack(tmp_path_factory.mktemp("stack"))


@pytest.fixture
def harness(stack: Any) -> Iterator[Any]:
    from stacks import harness_for

    yield from harness_for(stack)


@pytest.fixture
def real(harness: Any) -> Iterator[Any]:
    """Starts an onboarding that runs the real nine waves; resets provider faults after."""
    from stacks import real_onboardings

    yield from real_onboardings(harness)


def integration_tier(item: pytest.Item) -> bool:
    try:
        relative = item.path.relative_to(TESTS)
    except ValueError:
        return False
    name = f"{relative.as_posix()}::{getattr(item, 'originalname', item.name)}"
    return (relative.parts[0] in STACK_FOLDERS
            or bool(STACK_FIXTURES & set(getattr(item, "fixturenames", ())))
            or relative.as_posix() in NOT_FAST or name in NOT_FAST)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast tier (`-m "not integration"`) never runs a test in the stack's folders, so
    it does not import them either: their harness and the dev stack took a third of its
    time to collect."""
    if (config.getoption("markexpr") == "not integration"
            and collection_path.parent == TESTS and collection_path.name in STACK_FOLDERS):
        return True
    return None


# The full run's order. pytest-xdist (`--dist loadgroup --no-loadscope-reorder`,
# emulator.sh) hands each worker its next test as it finishes one, in this order: the
# slowest first, longest first (this stop's full runs, setup included), so no worker is
# left with one of them at the end while the other idles; the unit tests, milliseconds
# each, come last and fill the gaps. A file or a file::test (any parameters).
SLOWEST_FIRST = (
    "faults/test_faults.py::test_burst_of_1000_webhooks_from_200_phones",        # 85-120 s
    "faults/test_emulator_restarts.py",                    # 35-60 s each, with its stack
    "integration/test_replay_to_local.py",                                       # 30-55 s
    "integration/test_emulator_sh.py::test_up_status_demo_down",                 # 40-45 s
    "security/test_fuzz.py",                                                # 2 x 25-35 s
    "integration/test_pubsub_replay.py",                                    # 30 s, 17 s
    "faults/test_quotas.py::test_claude_quota",                             # 2 x 12-25 s
    "integration/test_admission_stack.py",                                       # 20-25 s
    "faults/test_dead_letters_and_shutdown.py",                                  # 10-30 s
    "faults/test_providers.py::test_claude_failing_for_good_fails_cleanly",      # 15-19 s
)


def run_order(item: pytest.Item) -> int:
    relative = item.path.relative_to(TESTS).as_posix() if TESTS in item.path.parents else ""
    name = f"{relative}::{getattr(item, 'originalname', item.name)}"
    for rank, entry in enumerate(SLOWEST_FIRST):
        if entry in (relative, name):
            return rank
    return len(SLOWEST_FIRST) + (0 if item.get_closest_marker("integration") else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if integration_tier(item):
            item.add_marker(pytest.mark.integration)
    items.sort(key=run_order)  # stable: within a rank, the files' own order


# -- the fault table (tests/faults): rows arrive on the test reports, from every worker ----
FAULT_ROWS: list[dict[str, Any]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        FAULT_ROWS.extend(value for key, value in report.user_properties if key == "fault_row")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    if not FAULT_ROWS:
        return
    write = terminalreporter.write_line
    write("")
    write("fault-injection results")
    write(f"{'scenario':52} {'runs':>4} {'expected':>8} {'delivered':>9} {'dup':>4}  final")
    for r in FAULT_ROWS:
        write(f"{r['scenario']:52} {r['runs']:>4} {r['expected']:>8} {r['delivered']:>9} "
              f"{r['duplicated']:>4}  {r['final']}")
    lost = sum(max(r["expected"] - r["delivered"], 0) for r in FAULT_ROWS)
    write(f"lost {lost}, duplicated {sum(r['duplicated'] for r in FAULT_ROWS)}")
