"""The progress display of long operations, on standard error so `--json` output stays
clean. Drawn only on a terminal (rich's own detection; FORCE_COLOR forces it)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

Update = Callable[[int, str], None]  # (steps done, what is happening now)


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Update]:
    """A bar of `total` steps (a spinner when None), cleared when the operation ends."""
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    if total is not None:
        columns[2:2] = [BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done, text: bar.update(task, completed=done, description=text)
