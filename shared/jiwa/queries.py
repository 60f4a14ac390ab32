"""The shape of each Firestore query the store runs, and the composite index it needs.

The emulator serves any query; production Firestore refuses one that has no matching
index (`FAILED_PRECONDITION: The query requires an index`). So every query the store
runs is built from a `QueryShape`, which can be recorded (`JIWA_QUERY_LOG`, a JSON-lines
file) and checked against the indexes declared in `infra/firestore.tf` by the tests.

Firestore's rules (firebase.google.com/docs/firestore/query-data/index-overview and
/query-data/order-limit-data), as they apply to our queries:
- equality filters only, or filters and orders on one single field: served by the
  automatic single-field indexes (equalities are merged), no composite index;
- otherwise a composite index: the equality fields (ascending, in any order), then the
  ordered fields with their directions — the explicit `order_by`s, then each inequality
  field not already ordered, ascending (Firestore orders by it implicitly). An index
  in the other direction does not serve the query.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass

ASCENDING, DESCENDING = "ASCENDING", "DESCENDING"
INEQUALITIES = {"<", "<=", ">", ">=", "!=", "not-in"}

IndexFields = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class QueryShape:
    collection: str
    equalities: tuple[str, ...] = ()
    inequalities: tuple[str, ...] = ()
    orders: IndexFields = ()  # explicit order_by: (field, ASCENDING|DESCENDING)

    def ordered_fields(self) -> IndexFields:
        explicit = {field for field, _ in self.orders}
        implicit = tuple((f, ASCENDING) for f in self.inequalities if f not in explicit)
        return self.orders + implicit

    def needs_composite_index(self) -> bool:
        fields = set(self.equalities) | {f for f, _ in self.ordered_fields()}
        return bool(self.ordered_fields()) and len(fields) > 1

    def served_by(self, index: IndexFields) -> bool:
        """Whether a composite index (fields with directions, in order) serves this query."""
        equal = len(self.equalities)
        head, tail = index[:equal], index[equal:]
        return ({f for f, _ in head} == set(self.equalities)
                and all(d == ASCENDING for _, d in head)
                and tail == self.ordered_fields())


class QueryLog:
    """Appends each query shape, once per process, to a JSON-lines file (tests)."""

    def __init__(self, path: str) -> None:
        self._path, self._seen = path, set[QueryShape]()
        self._lock = threading.Lock()

    def __call__(self, shape: QueryShape) -> None:
        with self._lock:
            if shape in self._seen:
                return
            self._seen.add(shape)
            with open(self._path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"pid": os.getpid(), **asdict(shape)}) + "\n")


def read_log(path: str) -> list[QueryShape]:
    shapes = []
    with open(path, encoding="utf-8") as log:
        for line in log:
            row = json.loads(line)
            shapes.append(QueryShape(
                row["collection"], tuple(row["equalities"]), tuple(row["inequalities"]),
                tuple((f, d) for f, d in row["orders"])))
    return shapes
