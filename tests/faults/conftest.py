"""The fault-injection suite: each scenario adds a row to the results table printed at
the end of the run (scenario, runs, messages expected / delivered / duplicated, status).

`expected` counts the messages the scenario requires (tests/conversations.py), never what
arrived; `delivered` counts those of them that arrived."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import pytest
from conversations import Expected, duplicates
from harness import Harness


@dataclass
class Row:
    scenario: str
    runs: int
    expected: int
    delivered: int
    duplicated: int
    final: str


class Recorder:
    """Adds the test's row to its report (`user_properties`): reports travel from pytest-xdist
    workers to the process that prints the table (tests/conftest.py)."""

    def __init__(self, node: pytest.Item) -> None:
        self._node = node

    def add(self, row: Row) -> None:
        self._node.user_properties.append(("fault_row", asdict(row)))

    def job(self, scenario: str, h: Harness, job_id: str, expected: Expected,
            texts: Sequence[str]) -> None:
        """The row of one job's scenario, from the conversation the user received."""
        self.add(Row(scenario, len(h.job_processes(job_id)), len(expected.texts),
                     expected.delivered(texts), duplicates(texts),
                     str(h.store.require(job_id).status)))


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    yield Recorder(request.node)
