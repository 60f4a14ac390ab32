"""The fault-injection suite: each scenario adds a row to the results table printed at
the end of the run (scenario, runs, messages expected / delivered / duplicated, status).

`expected` counts the messages the scenario requires (tests/conversations.py), never what
arrived; `delivered` counts those of them that arrived."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from conversations import Expected, duplicates
from harness import Harness
from integration.conftest import harness, real, stack  # noqa: F401  (the same local stack)


@dataclass
class Row:
    scenario: str
    runs: int
    expected: int
    delivered: int
    duplicated: int
    final: str


ROWS: list[Row] = []


class Recorder:
    def add(self, row: Row) -> None:
        ROWS.append(row)

    def job(self, scenario: str, h: Harness, job_id: str, expected: Expected,
            texts: Sequence[str]) -> None:
        """The row of one job's scenario, from the conversation the user received."""
        self.add(Row(scenario, len(h.job_processes(job_id)), len(expected.texts),
                     expected.delivered(texts), duplicates(texts),
                     str(h.store.require(job_id).status)))


@pytest.fixture
def record() -> Iterator[Recorder]:
    yield Recorder()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not ROWS:
        return
    write = terminalreporter.write_line
    write("")
    write("fault-injection results")
    write(f"{'scenario':52} {'runs':>4} {'expected':>8} {'delivered':>9} {'dup':>4}  final")
    for r in ROWS:
        write(f"{r.scenario:52} {r.runs:>4} {r.expected:>8} {r.delivered:>9} "
              f"{r.duplicated:>4}  {r.final}")
    lost = sum(max(r.expected - r.delivered, 0) for r in ROWS)
    write(f"lost {lost}, duplicated {sum(r.duplicated for r in ROWS)}")
