"""`jiwa-job`, the Cloud Run Job's command (and `python -m jiwa.job.start`, the local
supervisor's): the job's code is imported with the cyclic garbage collector paused
(jiwa.startup), then jiwa.job.__main__ runs the job."""

from __future__ import annotations

import importlib
from types import ModuleType

from jiwa.startup import bulk_imports


def job_module() -> ModuleType:
    """jiwa.job.__main__, imported as a cold start imports it."""
    with bulk_imports():
        return importlib.import_module("jiwa.job.__main__")


def main() -> None:
    job_module().main()


if __name__ == "__main__":
    main()
