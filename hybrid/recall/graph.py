"""The memory-concept graph: concept cells with one-shot Hebbian memory-concept synapses, kept in the store.

When a memory is stored, each of its concepts (:func:`~hybrid.recall.concepts.extract_concepts`)
gets one synapse to it (table ``concept_synapses``, written in the same transaction as the
memory's keys when it goes through :class:`~hybrid.memory.Memory`). A concept cell is scoped to
the namespace: ``"ruiz"`` in two namespaces is two cells. Deleting a memory removes its synapses
(``ON DELETE CASCADE``), updating its text relearns them. Links between memories (sequence order,
explicit ``link`` calls; table ``assoc_links``) are read from the same database.

Each process keeps an in-memory copy and brings it up to date from the store's change log, as
the retriever does with keys, so another process's writes are seen without reopening. A memory
found without synapses (a store written before concept cells existed, or by a plain
:meth:`Store.add <hybrid.store.Store.add>`) has them learned on the next sync.

Synapse weights are applied at recall time: ``A[m, c] = spec(c)`` with
:func:`~hybrid.recall.spread.specificity` over the concept's document frequency in its
namespace, so they follow the store as it grows.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from .concepts import extract_concepts
from .spread import incidence, specificity, transitions

SCHEMA = """
CREATE TABLE IF NOT EXISTS concept_synapses (
    memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    concept TEXT NOT NULL,
    PRIMARY KEY (memory_id, concept)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS concept_synapses_concept ON concept_synapses(concept);
"""


def ensure_schema(conn: Any) -> None:
    """Create the concept table if missing (idempotent)."""
    for stmt in filter(str.strip, SCHEMA.split(";")):
        conn.execute(stmt)


def write_synapses(conn: Any, ids: Sequence[int], texts: Sequence[str]) -> dict[int, list[str]]:
    """Learn the concepts of memories inside an open transaction ``conn``; returns them per id."""
    ensure_schema(conn)
    learned = {int(m): extract_concepts(t) for m, t in zip(ids, texts)}
    conn.executemany("DELETE FROM concept_synapses WHERE memory_id = ?", [(m,) for m in learned])
    conn.executemany("INSERT OR IGNORE INTO concept_synapses(memory_id, concept) VALUES (?, ?)",
                     [(m, c) for m, cs in learned.items() for c in cs])
    return learned


class ConceptGraph:
    """In-memory copy of a store's concept synapses and links, with the sparse matrices of the spread.

    Args:
        store: an open :class:`~hybrid.store.Store`.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._lock = threading.RLock()
        self._concepts: dict[int, list[str]] = {}   # memory id -> its concepts
        self._ns: dict[int, str] = {}               # memory id -> namespace
        self._links: dict[int, set[int]] = {}       # memory id -> linked memory ids (both directions)
        self._link_seq = -1
        self._cache: dict[Any, Any] = {}  # derived matrices and the links snapshot, dropped on change
        with store.transaction() as conn:
            ensure_schema(conn)
        self._load_all()

    # ------------------------------------------------------------------ sync
    def _load_all(self) -> None:
        rows = self.store.query("SELECT id, namespace FROM memories")
        self._ns = {int(m): ns for m, ns in rows}
        self._concepts = {m: [] for m in self._ns}
        for m, c in self.store.query("SELECT memory_id, concept FROM concept_synapses"):
            if int(m) in self._concepts:
                self._concepts[int(m)].append(c)
        missing = [m for m, cs in self._concepts.items() if not cs]
        if missing:
            self._learn_missing(missing)
        self._load_links()
        self._cache.clear()

    def _learn_missing(self, ids: Sequence[int]) -> None:
        """Learn synapses for memories that have none (older stores, plain Store.add)."""
        recs = self.store.get_many(sorted(ids))
        if not recs:
            return
        try:
            with self.store.transaction() as conn:
                learned = write_synapses(conn, [r.id for r in recs], [r.text for r in recs])
        except Exception:  # read-only store: learn in memory only
            learned = {r.id: extract_concepts(r.text) for r in recs}
        for m, cs in learned.items():
            self._concepts[m] = cs

    def _link_log_position(self) -> int | None:
        """The last link-log sequence number (0: empty log), or None while the store has no link tables."""
        if not self.store.has_table("assoc_log"):
            return None
        seq = self.store.query("SELECT MAX(seq) FROM assoc_log")
        return int(seq[0][0]) if seq[0][0] is not None else 0

    def _load_links(self, position: int | None = None) -> None:
        """Read every link (both directions) as of the link-log ``position``."""
        position = self._link_log_position() if position is None else position
        self._links = {}
        self._link_seq = 0 if position is None else position
        if position is None:
            return
        for a, b in self.store.query("SELECT src, dst FROM assoc_links"):
            self._links.setdefault(int(a), set()).add(int(b))
            self._links.setdefault(int(b), set()).add(int(a))

    def sync(self, changed: Iterable[int]) -> None:
        """Apply memory changes (added, updated, deleted) and any link changes since the last sync."""
        changed = sorted({int(m) for m in changed})
        with self._lock:
            if changed:
                recs = {r.id: r for r in self.store.get_many(changed)}
                for m in changed:
                    self._concepts.pop(m, None)
                    self._ns.pop(m, None)
                    if m not in recs:  # deleted: its links went with it (ON DELETE CASCADE)
                        for other in self._links.pop(m, set()):
                            self._links.get(other, set()).discard(m)
                present = sorted(recs)
                if present:
                    for start in range(0, len(present), 900):
                        part = present[start:start + 900]
                        marks = ",".join("?" * len(part))
                        for m in part:
                            self._concepts[m] = []
                            self._ns[m] = recs[m].namespace
                        for m, c in self.store.query(
                                f"SELECT memory_id, concept FROM concept_synapses WHERE memory_id IN ({marks})", part):
                            self._concepts[int(m)].append(c)
                    missing = [m for m in present if not self._concepts[m]]
                    if missing:
                        self._learn_missing(missing)
                self._cache.clear()
            position = self._link_log_position()
            if (position or 0) != self._link_seq:  # links made or removed (by any process)
                self._load_links(position)
                self._cache.clear()

    # ----------------------------------------------------------------- reads
    def concepts_of(self, memory_id: int) -> list[str]:
        with self._lock:
            return list(self._concepts.get(int(memory_id), []))

    def links(self) -> dict[int, tuple[int, ...]]:
        """Linked memories of each memory (either direction): a snapshot, cached until the graph changes."""
        with self._lock:
            hit = self._cache.get("links")
            if hit is None:
                hit = self._cache["links"] = {m: tuple(sorted(v)) for m, v in self._links.items() if v}
            return hit

    def __len__(self) -> int:
        return len(self._concepts)

    def matrices(self, max_df: int) -> GraphMatrices:
        """The weighted incidence and its transitions for the current graph (cached until a change)."""
        with self._lock:
            key = ("m", max_df)
            hit = self._cache.get(key)
            if hit is None:
                hit = self._cache[key] = GraphMatrices.build(self._concepts, self._ns, max_df)
            return hit

    def stats(self) -> dict[str, int]:
        with self._lock:
            cells = {(self._ns.get(m), c) for m, cs in self._concepts.items() for c in cs}
            return {
                "memories": len(self._concepts),
                "concept_cells": len(cells),
                "synapses": sum(len(cs) for cs in self._concepts.values()),
                "links": sum(len(v) for v in self._links.values()) // 2,
            }


class GraphMatrices:
    """Row/column maps, specificity weights, incidence ``A`` and transitions of one graph state."""

    def __init__(self, ids: np.ndarray, cols: dict[tuple[str, str], int], names: list[tuple[str, str]],
                 weights: np.ndarray, a: sp.csr_matrix) -> None:
        self.ids = ids
        self.row = {int(m): r for r, m in enumerate(ids.tolist())}
        self.cols = cols
        self.names = names
        self.weights = weights
        self.by_name: dict[str, list[int]] = {}
        for j, (_, name) in enumerate(names):
            self.by_name.setdefault(name, []).append(j)
        self.a = a
        self.t_mc, self.t_cm = transitions(a)
        # Memories holding a concept that another memory holds too: only they can be reached
        # through the graph (a concept of one memory just returns its activation to it).
        shared = (np.asarray((a > 0).sum(axis=0)).ravel() >= 2).astype(np.float64)
        self.linked = (a > 0).astype(np.float64) @ shared > 0 if a.shape[0] else np.zeros(0, dtype=bool)

    @classmethod
    def build(cls, concepts: dict[int, list[str]], namespaces: dict[int, str], max_df: int) -> GraphMatrices:
        ids = np.array(sorted(concepts), dtype=np.int64)
        cols: dict[tuple[str, str], int] = {}
        per_row = []
        for m in ids.tolist():
            ns = namespaces.get(m, "")
            per_row.append([cols.setdefault((ns, c), len(cols)) for c in concepts[m]])
        names = [None] * len(cols)
        for key, j in cols.items():
            names[j] = key
        df = np.zeros(len(cols))
        for cs in per_row:
            df[cs] += 1
        ns_size: dict[str, int] = {}
        for m in ids.tolist():
            ns_size[namespaces.get(m, "")] = ns_size.get(namespaces.get(m, ""), 0) + 1
        n_of_col = np.array([ns_size[ns] for ns, _ in names], dtype=np.float64) if names else np.zeros(0)
        weights = specificity(df, n_of_col, max_df=max_df)
        a = incidence(per_row, len(cols), weights)
        return cls(ids, cols, names, weights, a)

    def chain(self, start: int, hops: int) -> list[tuple[int, float, str]]:
        """Follow associations through concept cells: from ``start``, ``hops`` times the unvisited
        memory most strongly associated to the current one, ``Σ_c A[cur, c] A[m, c]`` over their
        shared concepts (ties: the older memory); stops where nothing is shared.

        Returns ``(memory id, strength, the shared concept that weighs most)`` per hop.
        """
        out: list[tuple[int, float, str]] = []
        cur = self.row.get(int(start))
        visited = {cur}
        while cur is not None and len(out) < hops:
            own = self.a.getrow(cur)
            strength = np.asarray((self.a @ own.T).todense()).ravel()
            strength[list(visited)] = 0.0
            nxt = int(np.argmax(strength))
            if strength[nxt] <= 0:
                break
            other = self.a.getrow(nxt)
            shared = np.intersect1d(own.indices, other.indices)
            concept = self.names[int(shared[np.argmax(self.weights[shared])])][1]
            out.append((int(self.ids[nxt]), float(strength[nxt]), concept))
            visited.add(nxt)
            cur = nxt
        return out

    def query_vector(self, concepts: Sequence[str], namespace: str | None) -> np.ndarray:
        """``q``: the query's concepts that exist as cells (in ``namespace``, or any), by specificity."""
        q = np.zeros(len(self.names))
        for c in concepts:
            cols = self.by_name.get(c, ())
            for j in cols:
                if namespace is None or self.names[j][0] == namespace:
                    q[j] = self.weights[j]
        return q
