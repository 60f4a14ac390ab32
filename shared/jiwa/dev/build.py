"""Assembles what Terraform deploys: `build/<function>/` = `functions/<function>/main.py`
+ a copy of the `jiwa` package (without `jiwa/dev` and the operator CLI `jiwa/cli`)
+ a `requirements.txt` exported from uv.lock: every runtime package, direct or not, pinned
to the locked version with its hashes (so the Cloud Functions build installs exactly the
tested set, in pip's hash-checking mode). `infra/functions.tf` zips each folder and names
the object by its hash.

    python -m jiwa.dev.build [--out build]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from jiwa.dev.stack import ROOT

# The runtime set of uv.lock: no dev group, not the project itself (its code is copied).
# --locked: a lock out of date with pyproject.toml is an error, never a silent re-lock.
EXPORT = ["export", "--locked", "--no-dev", "--no-emit-project", "--format",
          "requirements-txt", "--no-header", "--quiet"]
HEADER = ("# Exported from uv.lock by jiwa-build (uv export --no-dev --no-emit-project).\n"
          "# Do not edit: change pyproject.toml, run `.jiwa/uv/bin/uv lock`, then\n"
          "# `./emulator.sh build`.\n")


def uv() -> str:
    """The uv that `./emulator.sh` bootstraps into .jiwa/uv, else one on PATH."""
    local = ROOT / ".jiwa" / "uv" / "bin" / "uv"
    if local.exists():
        return str(local)
    found = shutil.which("uv")
    if found is None:
        raise SystemExit("jiwa-build: uv not found: run ./emulator.sh build "
                         "(it installs the pinned uv into .jiwa/uv)")
    return found


def requirements() -> str:
    # uv checks the lock against pyproject.toml with this interpreter (the project's 3.12).
    result = subprocess.run([uv(), *EXPORT, "--python", sys.executable], cwd=ROOT,
                            capture_output=True, text=True, check=False,
                            env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    if result.returncode != 0:
        raise SystemExit(f"jiwa-build: uv export from uv.lock failed:\n{result.stderr}")
    return HEADER + result.stdout


def build(out: Path) -> list[Path]:
    package = ROOT / "shared" / "jiwa"
    pinned = requirements()
    built = []
    for function in sorted(p for p in (ROOT / "functions").iterdir() if p.is_dir()):
        target = out / function.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(function, target, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(package, target / "jiwa",
                        ignore=shutil.ignore_patterns("__pycache__", "dev", "cli"))
        (target / "requirements.txt").write_text(pinned)
        built.append(target)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="jiwa-build", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args(argv)
    for target in build(args.out):
        print(f"built {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
