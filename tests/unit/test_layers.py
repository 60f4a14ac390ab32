"""The layers hold: an import contract over the package's source (what import-linter would
check, without another tool: every import, lazy ones inside functions included).

- production code never imports the development tools (`jiwa.dev`);
- clients and handlers never import the job runner: failures live in `jiwa.failures`;
- the waves receive their services (`WaveServices`), not the client container;
- the bottom modules (failures, messages, events, lifecycle, queries, buttons) import nothing of
  ours above them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "shared" / "jiwa"
BOTTOM = {"jiwa.failures", "jiwa.messages", "jiwa.events", "jiwa.lifecycle", "jiwa.queries",
          "jiwa.buttons"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {name for name in found if name == "jiwa" or name.startswith("jiwa.")}


MODULES = {_module(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _offenders(importers: set[str], forbidden: str) -> dict[str, list[str]]:
    return {m: sorted(i for i in MODULES[m] if i == forbidden or i.startswith(forbidden + "."))
            for m in importers
            if any(i == forbidden or i.startswith(forbidden + ".") for i in MODULES[m])}


def _under(prefix: str) -> set[str]:
    return {m for m in MODULES if m == prefix or m.startswith(prefix + ".")}


def test_the_contract_sees_the_package() -> None:
    assert {"jiwa.ai", "jiwa.handlers.sweeper", "jiwa.waves.brand", "jiwa.dev.stack"} <= set(
        MODULES)
    assert "jiwa.failures" in MODULES["jiwa.ai"]  # imports are read, lazy ones included


def test_production_code_never_imports_the_development_tools() -> None:
    assert _offenders(set(MODULES) - _under("jiwa.dev"), "jiwa.dev") == {}


@pytest.mark.parametrize("layer", ["jiwa.ai", "jiwa.handlers", "jiwa.clients", "jiwa.app"])
def test_clients_and_handlers_do_not_import_the_job_runner(layer: str) -> None:
    assert _offenders(_under(layer), "jiwa.job") == {}


def test_waves_receive_their_services_not_the_client_container() -> None:
    waves = _under("jiwa.waves") - {"jiwa.waves", "jiwa.waves.services"}
    assert _offenders(waves, "jiwa.clients") == {}


@pytest.mark.parametrize("module", sorted(BOTTOM))
def test_bottom_modules_import_only_the_bottom(module: str) -> None:
    above = {i for i in MODULES[module] if i.rsplit(".", 1)[0] not in BOTTOM and i not in BOTTOM}
    assert above == set(), f"{module} imports {above}"
