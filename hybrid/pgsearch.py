"""Stage 1 of recall inside PostgreSQL (``backend="pgvector"``): the process holds no key matrix.

For each query ``q`` the database returns the ``K`` keys with the largest inner product
``x_iᵀ q`` (pgvector's ``<#>`` is ``-x_iᵀ q``), with the namespace, metadata and time filters in
the same SQL; the Hopfield settle then runs in the process over those ``K`` candidates, exactly
as after the in-process approximate backends:

.. math::

    C = \\operatorname{top\\text{-}K}_i\\; x_i^\\top q \\quad (\\text{SQL}), \\qquad
    \\xi^{t+1} = X_C^\\top \\operatorname{softmax}(\\beta X_C \\xi^t) \\quad (\\text{process}).

Stage 1 uses the HNSW index ``keys_hnsw`` (built by :meth:`PgRetriever.build_index`, i.e.
``hhmem --backend pgvector build-index``) with ``hnsw.ef_search = max(ef_search, K)`` for each query
(set on the connection whenever it differs from the last query's), and pgvector's iterative scan
so that a filter still leaves ``K`` rows; it scans every key exactly when the store holds fewer than :data:`EXACT_BELOW` keys, has
no index yet, or the filter is a list of ids. BM25, the concept and link spreads run in the
process as with the other backends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from . import functional as F
from .config import HopfieldConfig, StorageDType
from .encoder import normalize_rows
from .errors import InvalidInputError
from .retriever import Backend, HNSWConfig, HopfieldRetriever

#: Stores with fewer keys than this are scanned exactly even when the HNSW index exists.
EXACT_BELOW = 20_000
#: Name of the HNSW index over ``keys.vector``.
HNSW_INDEX = "keys_hnsw"
_NO_MASK = np.zeros(0, dtype=bool)
#: Seconds the index state (index present, key count estimate) is reused before it is read again.
PLAN_TTL_S = 10.0


@dataclass(frozen=True)
class SqlFilter:
    """A namespace/metadata/time filter evaluated in SQL (``Memory``'s filter mask for this backend)."""

    namespace: str | None
    where: tuple[tuple[str, Any], ...]
    since: float | None
    until: float | None


@dataclass(frozen=True)
class IdFilter:
    """Only keys of these memory ids (exact scan)."""

    ids: tuple[int, ...]


class PgRetriever:
    """Two-stage search with stage 1 in PostgreSQL (see the module docstring).

    Args:
        store: an open :class:`~hybrid.pgstore.PgStore`.
        config: settle parameters (:class:`~hybrid.config.HopfieldConfig`).
        hnsw: ``m`` and ``ef_construction`` of the index build, ``ef_search`` of the queries.

    Raises:
        InvalidInputError: ``store`` is not a PostgreSQL store.
    """

    backend = Backend.PGVECTOR
    #: The keys stay in the database: ``Memory`` loads none of them.
    holds_keys = False
    rows = 0
    key_bytes = 0
    device = torch.device("cpu")
    dtype = StorageDType.FLOAT32

    def __init__(self, store: Any, config: HopfieldConfig | None = None, *, hnsw: HNSWConfig | None = None) -> None:
        from .pgstore import PgStore

        if not isinstance(store, PgStore):
            raise InvalidInputError(f"backend='pgvector' needs a postgresql:// store; {store.path} is a folder "
                                    "(use backend 'exact', 'hnswlib', 'hnsw' or 'ivf')")
        self.store = store
        self.dim: int = store.dim
        self.config = config or HopfieldConfig()
        self.hnsw_config = hnsw or HNSWConfig()
        self._per_id: int | None = None
        self._plan: tuple[float, bool, float] | None = None  # (read at, index present, key count estimate)
        self._session: tuple[int, int] | None = None  # (connection, hnsw.ef_search set on it)
        self.last_settle_steps = 0

    # ---------------------------------------------------------------- contents
    def __len__(self) -> int:
        """Number of keys in the database."""
        return int(self.store.query("SELECT COUNT(*) FROM keys")[0][0])

    def changed(self, memory_ids: list[int]) -> None:
        """Memories were added, updated or deleted (by any process): nothing to copy; the
        keys-per-memory bound takes in the changed memories' key counts."""
        self._plan = None
        if self._per_id is not None and memory_ids:
            row = self.store.query("SELECT COALESCE(MAX(n), 1) FROM (SELECT COUNT(*) AS n FROM keys "
                                   "WHERE memory_id = ANY(?) GROUP BY memory_id) c", ([int(m) for m in memory_ids],))
            self._per_id = max(self._per_id, int(row[0][0]))

    def max_keys_per_id(self) -> int:
        """Largest number of keys of one memory (read once, then kept up to date by :meth:`add`)."""
        if self._per_id is None:
            row = self.store.query("SELECT COALESCE(MAX(n), 1) FROM (SELECT COUNT(*) AS n FROM keys GROUP BY memory_id) c")
            self._per_id = int(row[0][0])
        return self._per_id

    def id_mask(self, allowed_ids: np.ndarray | list[int]) -> IdFilter:
        return IdFilter(tuple(int(i) for i in np.asarray(allowed_ids).reshape(-1)))

    def filter_mask(self, store: Any, namespace: str | None, where: Mapping[str, Any], since: float | None,
                    until: float | None) -> SqlFilter:
        """The filter as SQL conditions (no id list is read into the process)."""
        return SqlFilter(namespace, tuple(sorted(where.items())), since, until)

    # ------------------------------------------------------------------- index
    def _index_state(self) -> tuple[bool, float]:
        now = time.monotonic()
        if self._plan is None or now - self._plan[0] > PLAN_TTL_S:
            present, rows = self.store.query(
                "SELECT to_regclass(?) IS NOT NULL, (SELECT reltuples FROM pg_class WHERE oid = to_regclass('keys'))",
                (HNSW_INDEX,))[0]
            self._plan = (now, bool(present), float(rows))
        return self._plan[1], self._plan[2]

    @property
    def index_rows(self) -> int:
        """Keys the HNSW index covers (all of them once it exists: PostgreSQL maintains it)."""
        return len(self) if self._index_state()[0] else 0

    def build_memory_mb(self, rows: int) -> int:
        """``maintenance_work_mem`` (MiB) that holds the graph of ``rows`` keys during the build:
        ``rows · (4 d + 16 m) · 1.5`` bytes (vectors, ``2m`` neighbour slots of 8 bytes on the
        bottom layer, and the upper layers, tuple headers and slack), at least 64 MiB."""
        per_row = 4 * self.dim + 16 * self.hnsw_config.m
        return max(64, int(rows * per_row * 1.5 / 2**20) + 1)

    def build_index(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Build the HNSW index (``CREATE INDEX CONCURRENTLY``: writers go on meanwhile), with
        ``maintenance_work_mem`` raised for this session to :meth:`build_memory_mb` so the graph
        is built in memory (a graph that does not fit is built on disk, many times slower)."""
        with self.store._connection() as conn:
            conn.raw.execute(f"SET maintenance_work_mem = '{self.build_memory_mb(len(self))}MB'")
            conn.raw.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {HNSW_INDEX} ON keys USING hnsw (vector vector_ip_ops) "
                f"WITH (m = {int(self.hnsw_config.m)}, ef_construction = {int(self.hnsw_config.ef_construction)})")
            conn.raw.execute("RESET maintenance_work_mem")
            conn.raw.execute("ANALYZE keys")
        self._plan = None
        if progress is not None:
            n = len(self)
            progress(n, n)

    # ------------------------------------------------------------------ search
    def search(self, queries: np.ndarray | torch.Tensor, k: int, *, mask: SqlFilter | IdFilter | None = None,
               config: HopfieldConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The retrieval contract over the database: ``(scores, ids)`` ``[n, k]``, padded with
        ``-inf`` / ``-1`` (see :meth:`HopfieldRetriever.search <hybrid.retriever.HopfieldRetriever.search>`)."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidInputError(f"k must be an int >= 1, got {k!r}")
        if isinstance(queries, torch.Tensor):
            queries = queries.detach().cpu().numpy()
        q = normalize_rows(queries, name="queries", dim=self.dim)
        cfg = config or self.config
        kk = max(cfg.candidates, k * self.max_keys_per_id())
        local = replace(cfg, candidates=kk)
        scores, ids = [], []
        for row in q:
            s, i = self._settle(row, k, *self.stage1(row, kk, mask), local)
            scores.append(s)
            ids.append(i)
        return np.concatenate(scores), np.concatenate(ids)

    def _settle(self, q: np.ndarray, k: int, cand_ids: np.ndarray, cand_keys: np.ndarray,
                cfg: HopfieldConfig) -> tuple[np.ndarray, np.ndarray]:
        """Stage 2 over the candidates of one query ``q [d]``: ``([1, k] scores, [1, k] ids)``.
        One compiled call when each memory has one key (what :class:`HopfieldRetriever` runs
        for these candidates, without building one); a retriever over them otherwise."""
        if not len(cand_ids):
            return np.full((1, k), -np.inf, np.float32), np.full((1, k), -1, np.int64)
        if F._STAGE2_NB is not None and len(np.unique(cand_ids)) == len(cand_ids):
            steps = cfg.max_steps if cfg.state_weight > 0.0 else 0
            s, i, n = F._STAGE2_NB["search_f32"](np.ascontiguousarray(cand_keys), cand_ids, q[None], _NO_MASK,
                                                 len(cand_ids), k, float(cfg.beta), int(steps), float(cfg.eps),
                                                 float(cfg.state_weight))
            self.last_settle_steps = int(n)
            return s, i
        settle = HopfieldRetriever(self.dim, cfg, device="cpu")
        settle.add(cand_keys, cand_ids)
        out = settle.search(q[None], k)
        self.last_settle_steps = settle.last_settle_steps
        return out

    def stage1(self, q: np.ndarray, kk: int, mask: SqlFilter | IdFilter | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``kk`` keys best matching ``q`` ``[d]`` within ``mask``: ``(memory ids [m], keys [m, d])``."""
        from .pgstore import PgStore

        clauses: list[str] = []
        params: list[Any] = []
        join = ""
        if isinstance(mask, SqlFilter):
            clauses, params = PgStore.filter_sql(namespace=mask.namespace, where=dict(mask.where), since=mask.since,
                                                 until=mask.until, table="m")
            join = " JOIN memories m ON m.id = keys.memory_id"
        elif isinstance(mask, IdFilter):
            clauses, params = ["keys.memory_id = ANY(?)"], [list(mask.ids)]
        indexed, rows = self._index_state()
        exact = not indexed or rows < EXACT_BELOW or isinstance(mask, IdFilter)
        # "+ 0" hides the ordering from the index: the planner then scans every row, exactly.
        order = "(keys.vector <#> ?) + 0" if exact else "keys.vector <#> ?"
        # The ranking carries key ids only; the kk vectors are read after it (sorting rows that
        # carry 4d-byte vectors costs several times the scan).
        best = (f"SELECT keys.id FROM keys{join}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
                + f" ORDER BY {order} LIMIT ?")
        sql = f"SELECT keys.memory_id, keys.vector FROM keys JOIN ({best}) best ON best.id = keys.id"
        with self.store._connection() as conn:
            ef = max(self.hnsw_config.ef_search, kk)
            if not exact and self._session != (id(conn.raw), ef):
                # Set on the connection when it changes (one round trip less per query than SET
                # LOCAL in a transaction); the iterative scan keeps walking the graph until kk
                # rows pass a filter.
                conn.execute("SELECT set_config('hnsw.ef_search', ?, false), "
                             "set_config('hnsw.iterative_scan', 'relaxed_order', false)", (str(ef),))
                self._session = (id(conn.raw), ef)
            found = conn.execute(sql, [*params, np.asarray(q, np.float32), int(kk)]).fetchall()
        mids = np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found))
        keys = np.frombuffer(b"".join(r[1] for r in found), dtype="<f4").reshape(len(found), self.dim)
        return mids, keys
