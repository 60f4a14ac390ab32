"""The composite indexes declared in infra/, and the check of recorded queries against
them (used by tests/infra/test_indexes.py and by the integration stacks' teardown)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

from jiwa.queries import IndexFields, QueryShape, read_log

INFRA = Path(__file__).resolve().parents[1] / "infra"


def _resolve(value: Any, each: dict[str, Any], key: str) -> Any:
    """A value of a `for_each` resource: `${each.value.x}` / `${each.key}` / a literal."""
    text = str(value).strip('"')
    if (match := re.fullmatch(r"\$\{each\.value\.(\w+)\}", text)):
        return str(each[match.group(1)]).strip('"')
    if text == "${each.key}":
        return key
    return text


def declared_indexes(infra: Path = INFRA) -> dict[str, list[IndexFields]]:
    """Every `google_firestore_index` in `infra`, by collection, expanding `for_each` over
    a `local`."""
    docs = [hcl2.loads(path.read_text()) for path in sorted(infra.glob("*.tf"))]
    local: dict[str, Any] = {}
    for doc in docs:
        for block in doc.get("locals", []):
            local.update(block)
    found: dict[str, list[IndexFields]] = {}
    for doc in docs:
        for block in doc.get("resource", []):
            for resource in block.get('"google_firestore_index"', {}).values():
                for_each = str(resource.get("for_each", "")).strip('"${}')
                items = (local[for_each.removeprefix("local.")].items()
                         if for_each.startswith("local.") else [("", {})])
                for key, each in items:
                    collection = _resolve(resource["collection"], each, key)
                    fields = tuple((_resolve(f["field_path"], each, key),
                                    _resolve(f["order"], each, key))
                                   for f in resource["fields"])
                    found.setdefault(collection, []).append(fields)
    found.pop("__is_block__", None)
    return found


def unserved(shapes: list[QueryShape], indexes: dict[str, list[IndexFields]]) -> list[str]:
    """A line per query that needs a composite index none of `indexes` provides."""
    return [f"{shape}: needs {_needed(shape)}" for shape in dict.fromkeys(shapes)
            if shape.needs_composite_index()
            and not any(shape.served_by(i) for i in indexes.get(shape.collection, []))]


def _needed(shape: QueryShape) -> IndexFields:
    return tuple((f, "ASCENDING") for f in shape.equalities) + shape.ordered_fields()


def check_query_log(path: Path) -> list[QueryShape]:
    """The queries recorded in `path`; raises when one has no declared index."""
    shapes = read_log(str(path)) if path.exists() else []
    missing = unserved(shapes, declared_indexes())
    assert not missing, "queries with no matching index in infra/:\n" + "\n".join(missing)
    return shapes
