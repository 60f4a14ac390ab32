"""Assembles what Terraform deploys: `build/<function>/` = `functions/<function>/main.py`
+ a copy of the `jiwa` package (without `jiwa/dev` and the operator CLI `jiwa/cli`)
+ a `requirements.txt` generated from pyproject.toml's dependencies.
`infra/functions.tf` zips each folder and names the object by its hash.

    python -m jiwa.dev.build [--out build]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tomllib
from pathlib import Path

from jiwa.dev.stack import ROOT


def requirements() -> str:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return "\n".join(project["dependencies"]) + "\n"


def build(out: Path) -> list[Path]:
    package = ROOT / "shared" / "jiwa"
    built = []
    for function in sorted(p for p in (ROOT / "functions").iterdir() if p.is_dir()):
        target = out / function.name
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(function, target, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copytree(package, target / "jiwa",
                        ignore=shutil.ignore_patterns("__pycache__", "dev", "cli"))
        (target / "requirements.txt").write_text(requirements())
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
