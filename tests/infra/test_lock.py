"""One lock everywhere (docs/decisions/0004-one-lock.md): the functions' requirements.txt
and the job image install exactly uv.lock, every package pinned with its hashes, and the
image has no jiwa/dev.

There is no Docker engine here: the image is checked by reading the Dockerfile and
.dockerignore, and by building the wheel the image builds from the context Docker sends."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

from jiwa.dev.build import build, requirements

ROOT = Path(__file__).resolve().parents[2]
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
PACKAGES: dict[str, dict[str, Any]] = {p["name"]: p for p in LOCK["package"]}
PROJECT = "jiwa-onboard"
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _runtime_closure() -> set[str]:
    """Every package the project needs at run time, per uv.lock (no dependency groups)."""
    names: set[str] = set()
    seen: set[tuple[str, str]] = set()
    todo = [(PROJECT, "")]  # (package, one of its extras or "" for its dependencies)
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        names.add(name)
        package = PACKAGES[name]
        deps = (package.get("optional-dependencies", {}).get(extra, []) if extra
                else package.get("dependencies", []))
        for dep in deps:
            todo.append((dep["name"], ""))
            todo += [(dep["name"], e) for e in dep.get("extra", [])]
    return names


def _pins(text: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) of a requirements file as pip reads it (joined lines)."""
    pins = {}
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9._-]+)==(\S+)", line)
        assert match, f"not pinned with ==: {line}"
        pins[match[1].lower()] = (match[2], re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return pins


def test_function_requirements_pin_the_locked_runtime_set_with_hashes(tmp_path: Path) -> None:
    built = build(tmp_path)
    text = (built[0] / "requirements.txt").read_text()
    assert all((b / "requirements.txt").read_text() == text for b in built)
    pins = _pins(text)
    # Exactly the runtime closure of uv.lock: nothing from the dev group, not the project.
    assert set(pins) == _runtime_closure() - {PROJECT}
    for name in ("pytest", "ruff", "mypy", "pip-audit", "hypothesis", "setuptools", PROJECT):
        assert name not in pins
    for name, (version, hashes) in pins.items():
        locked = PACKAGES[name]
        assert version == locked["version"], name
        # Every hash is one of the lock's files, and each of the lock's files is allowed.
        files = [locked.get("sdist", {}), *locked.get("wheels", [])]
        locked_hashes = {f["hash"].removeprefix("sha256:") for f in files if "hash" in f}
        assert hashes and set(hashes) == locked_hashes, name
    # The Cloud Functions buildpack looks for `^functions-framework` in requirements.txt;
    # found, it injects no framework of its own (unpinned) beside ours.
    assert re.search(r"(?m)^functions-framework==", text)


def test_requirements_come_from_the_lock_not_pyproject_ranges() -> None:
    text = requirements()
    assert ">=" not in text.split("\n# ")[-1]
    assert "uv.lock" in text.splitlines()[0]


def test_the_image_installs_the_lock_with_hashes_and_no_dependencies() -> None:
    final = DOCKERFILE.split("\nFROM ")[-1]  # the stage that becomes the image
    assert final.startswith("python:3.12-slim")
    installs = [i.strip() for i in re.findall(r"pip install ([^\n&\\]*)", final)]
    assert installs[0].split() == ["--compile", "--require-hashes", "--no-deps", "-r",
                                   "/tmp/jiwa/requirements.txt"]
    assert all("--no-deps" in line for line in installs)
    # Bytecode compiled at build time: the job's user cannot write it at each cold start.
    assert all("--compile" in line.split() for line in installs)
    # The requirements are exported from uv.lock, --locked, without the dev group.
    export = re.search(r"uv export ([^\n\\]*)[\\\s]*--output-file /out/requirements.txt",
                       DOCKERFILE)
    assert export and {"--locked", "--no-dev", "--no-emit-project"} <= set(export[1].split())
    # The image copies no source, only the first stage's wheel and requirements.
    assert re.findall(r"(?m)^COPY .*", final) == ["COPY --from=wheel /out /tmp/jiwa"]
    # The wheel is built with the locked setuptools, installed by hash.
    assert "--only-group build" in DOCKERFILE
    assert "pip install --require-hashes --no-deps -r /tmp/build-requirements.txt" in DOCKERFILE
    assert "pip wheel --no-deps --no-build-isolation" in DOCKERFILE


def test_the_image_and_emulator_sh_use_the_same_uv() -> None:
    script = (ROOT / "emulator.sh").read_text()
    version = re.search(r"(?m)^UV_VERSION=(\S+)", script)
    assert version
    assert f"pip install uv=={version[1]}\n" in DOCKERFILE


def _dockerignored(relative: str, patterns: list[str]) -> bool:
    """Docker's rule for our .dockerignore: the last pattern matching the path or one of
    its parents wins; `!` lets in again. (`**/x` matches x at any depth.)"""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        if pattern.startswith("**/"):
            tail = pattern[3:]
            hit = any(fnmatch.fnmatchcase(part, tail) for part in parts)
        else:
            hit = any(fnmatch.fnmatchcase(prefix, pattern)
                      and prefix.count("/") == pattern.count("/") for prefix in prefixes)
        if hit:
            excluded = not negate
    return excluded


def _docker_context(target: Path) -> None:
    """Copies into target what `docker build .` sends as the build context."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert "shared/jiwa/dev" in patterns
    reincluded = [p[1:] for p in patterns if p.startswith("!")]
    for folder, dirs, files in os.walk(ROOT):
        base = Path(folder).relative_to(ROOT).as_posix().removeprefix(".")
        # Skip an excluded folder unless a `!` pattern lets something under it in again.
        dirs[:] = [d for d in dirs if not _dockerignored(f"{base}/{d}".lstrip("/"), patterns)
                   or any(r.startswith(f"{base}/{d}".lstrip("/") + "/") for r in reincluded)]
        for name in files:
            relative = f"{base}/{name}".lstrip("/")
            if not _dockerignored(relative, patterns):
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / relative, target / relative)


def test_jiwa_dev_is_not_in_the_build_context_nor_in_the_wheel(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    _docker_context(context)
    sent = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    assert {"pyproject.toml", "uv.lock", "shared/jiwa/job/__main__.py"} <= sent
    assert not [p for p in sent if p.startswith("shared/jiwa/dev/") or "__pycache__" in p]
    assert sorted(p for p in sent if not p.startswith("shared/")) == ["pyproject.toml", "uv.lock"]
    # The wheel the image builds (setuptools' build backend, as `pip wheel .` calls it).
    out = tmp_path / "wheel"
    out.mkdir()
    backend = ("import sys; from setuptools import build_meta\n"
               "print(build_meta.build_wheel(sys.argv[1]))")
    result = subprocess.run([sys.executable, "-c", backend, str(out)], cwd=context,
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    wheel = out / result.stdout.strip().splitlines()[-1]
    names = zipfile.ZipFile(wheel).namelist()
    assert "jiwa/job/__main__.py" in names and "jiwa/data/personas.json" in names
    assert not [n for n in names if n.startswith("jiwa/dev/")]
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "jiwa-job = jiwa.job.start:main" in zipfile.ZipFile(wheel).read(
        entry_points).decode()


def test_the_local_install_still_has_the_dev_tools() -> None:
    # The editable install of the project (uv sync) keeps jiwa.dev: the stack and tests use it.
    import jiwa.dev.stack

    assert Path(jiwa.dev.stack.__file__).is_relative_to(ROOT / "shared" / "jiwa" / "dev")


def test_python_is_312_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["requires-python"] == ">=3.12"
    assert project["tool"]["ruff"]["target-version"] == "py312"
    assert project["tool"]["mypy"]["python_version"] == "3.12"
    assert sys.version_info[:2] == (3, 12)
    assert 'runtime     = "python312"' in (ROOT / "infra" / "functions.tf").read_text()
    assert DOCKERFILE.count("FROM python:3.12-slim") == 2
