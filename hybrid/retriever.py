"""The two-stage modern-Hopfield retriever: an in-memory key matrix with the ``search`` contract.

``HopfieldRetriever.search(queries, k) -> (scores, ids)``, both ``[n, k]``, padded with
``-inf`` / ``-1``. Several keys may carry the same id (paraphrase keys of one memory): results are
per id, each id scored by its best key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import functional as F
from .config import HopfieldConfig, StorageDType
from .encoder import normalize_rows, resolve_device
from .errors import InvalidInputError, StoreCorruptError
from .store import file_hash as _file_hash

_TORCH_DTYPES = {
    StorageDType.FLOAT32: torch.float32,
    StorageDType.FLOAT16: torch.float16,
    StorageDType.BFLOAT16: torch.bfloat16,
}


#: Share of the rows a filter (a namespace/metadata mask, removed rows) must keep for an
#: approximate stage 1 to serve a search; with fewer, stage 1 scans the kept rows exactly.
ANN_MIN_KEPT = 0.25
#: Rows inserted into an approximate index per call while building (progress is reported per block).
ANN_BUILD_BLOCK = 16384


class Backend(str, Enum):
    """How stage 1 finds the ``K`` candidates."""

    EXACT = "exact"  #: score every stored key (``S = Q Xᵀ``), exact top-K
    HNSW = "hnsw"  #: FAISS ``IndexHNSWFlat`` (approximate, CPU), then the same stage 2
    IVF = "ivf"  #: FAISS ``IndexIVFFlat`` (approximate, CPU), then the same stage 2
    HNSWLIB = "hnswlib"  #: hnswlib's HNSW graph (approximate, CPU), then the same stage 2
    PGVECTOR = "pgvector"  #: in PostgreSQL (pgvector HNSW or exact scan), same stage 2 (hybrid/pgsearch.py)


@dataclass(frozen=True)
class HNSWConfig:
    """Parameters of the HNSW stage 1 (``"hnsw"``: FAISS's graph; ``"hnswlib"``: hnswlib's;
    both with the inner-product metric).

    Attributes:
        m: graph degree ``M`` (links per node per layer; ``2M`` on the bottom layer).
        ef_construction: candidate list size while inserting.
        ef_search: candidate list size while searching (raised to ``K`` when smaller); the
            recall/latency knob.
        seed: seed of hnswlib's level draws (FAISS's graph uses its own fixed seed).
    """

    m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("m", 1), ("ef_construction", 1), ("ef_search", 1), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise InvalidInputError(f"HNSWConfig.{name} must be an int >= {low}, got {v!r}")


@dataclass(frozen=True)
class IVFConfig:
    """Parameters of the inverted-file stage 1 (FAISS ``IndexIVFFlat``, inner-product metric).

    The keys are clustered by k-means into ``nlist`` lists (trained at the first search on a
    seeded sample of ``64 · nlist`` keys); a query scans the ``nprobe`` lists whose centroids
    score highest. Keys added later join the list of their nearest centroid; a compaction
    retrains.

    Attributes:
        nlist: number of lists; ``0`` = automatic, the power of two nearest ``4 √N`` (at most
            ``N / 39``, FAISS's smallest training sample per centroid).
        nprobe: lists scanned per query; the recall/latency knob.
        seed: seed of the training sample and of k-means.
    """

    nlist: int = 0
    nprobe: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("nlist", 0), ("nprobe", 1), ("seed", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise InvalidInputError(f"IVFConfig.{name} must be an int >= {low}, got {v!r}")

    def lists_for(self, n: int) -> int:
        """``nlist`` for ``n`` stored keys."""
        cap = max(1, n // 39)
        if self.nlist:
            return min(self.nlist, max(1, n))
        return int(min(cap, 2 ** round(np.log2(max(1.0, 4.0 * np.sqrt(n))))))


class HopfieldRetriever:
    """Exact top-K over all stored keys, then Hopfield settle over the K candidates.

    Args:
        dim: key dimension ``d``.
        config: settle parameters (:class:`HopfieldConfig`).
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
        dtype: storage type of the key matrix (``float32``, ``float16`` or ``bfloat16``).
        backend: stage 1, ``"exact"`` (default), ``"hnsw"``, ``"ivf"`` or ``"hnswlib"``
            (approximate; the first two need ``faiss``, the last ``hnswlib``; a search with a
            ``mask`` uses the index when the mask keeps at least ``ANN_MIN_KEPT`` of the rows,
            exact stage 1 otherwise).
        hnsw: parameters of the ``"hnsw"`` and ``"hnswlib"`` backends.
        ivf: parameters of the ``"ivf"`` backend.

    Example:
        >>> r = HopfieldRetriever(dim=3, device="cpu")
        >>> r.add(np.eye(3), ids=[10, 11, 12])
        >>> scores, ids = r.search(np.array([[1.0, 0.1, 0.0]]), k=2)
        >>> ids.tolist()
        [[10, 11]]
    """

    def __init__(
        self,
        dim: int,
        config: HopfieldConfig | None = None,
        *,
        device: str = "auto",
        dtype: StorageDType | str = StorageDType.FLOAT32,
        backend: Backend | str = Backend.EXACT,
        hnsw: HNSWConfig | None = None,
        ivf: IVFConfig | None = None,
    ) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise InvalidInputError(f"dim must be a positive int, got {dim!r}")
        self.dim = dim
        self.config = config or HopfieldConfig()
        self.device = torch.device(resolve_device(device))
        try:
            self.dtype = StorageDType(dtype)
        except ValueError:
            allowed = ", ".join(d.value for d in StorageDType)
            raise InvalidInputError(f"dtype must be one of {allowed}; got {dtype!r}") from None
        try:
            self.backend = Backend(backend)
        except ValueError:
            allowed = ", ".join(b.value for b in Backend)
            raise InvalidInputError(f"backend must be one of {allowed}; got {backend!r}") from None
        if self.backend is Backend.PGVECTOR:
            raise InvalidInputError("backend='pgvector' keeps the keys in PostgreSQL: open a postgresql:// store "
                                    "through Memory (hybrid.pgsearch.PgRetriever), not a HopfieldRetriever")
        self.hnsw_config = hnsw or HNSWConfig()
        self.ivf_config = ivf or IVFConfig()
        self._ann = None  # approximate index over rows [0, self._ann_rows) of the key buffer
        self._ann_rows = 0
        self._ann_params: dict[tuple[str, int], object] = {}
        if self.backend is not Backend.EXACT:
            module = "hnswlib" if self.backend is Backend.HNSWLIB else "faiss"
            try:
                __import__(module)
            except ImportError as exc:
                raise InvalidInputError(f"backend={self.backend.value!r} needs {module} (pip install 'hhmem[bench]')") from exc
        tdt = _TORCH_DTYPES[self.dtype]
        self._keys = torch.empty((0, dim), dtype=tdt, device=self.device)
        self._ids = torch.empty((0,), dtype=torch.int64, device=self.device)
        self._alive = torch.empty((0,), dtype=torch.bool, device=self.device)
        self._size = 0  # rows used in the buffers (alive or dead)
        self._n_dead = 0
        self._max_keys_per_id: int | None = 1
        self._np_views: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.last_settle_steps = 0

    # ----------------------------------------------------------------- contents
    def __len__(self) -> int:
        """Number of live keys."""
        return self._size - self._n_dead

    #: The key matrix lives in this process (``Memory`` loads the store's keys into it).
    holds_keys = True

    @property
    def key_bytes(self) -> int:
        """Bytes of the live keys in this process."""
        return int(len(self) * self.dim * self._keys.element_size())

    @property
    def keys(self) -> torch.Tensor:
        """Live keys ``[n, d]`` (a view; compacts first)."""
        self.compact()
        return self._keys[: self._size]

    @property
    def ids(self) -> torch.Tensor:
        """Ids of the live keys ``[n]``."""
        self.compact()
        return self._ids[: self._size]

    def _grow(self, extra: int) -> None:
        need = self._size + extra
        cap = self._keys.shape[0]
        if need <= cap:
            return
        new_cap = max(need, int(cap * 1.5) + 1024)
        keys = torch.empty((new_cap, self.dim), dtype=self._keys.dtype, device=self.device)
        ids = torch.empty((new_cap,), dtype=torch.int64, device=self.device)
        alive = torch.zeros((new_cap,), dtype=torch.bool, device=self.device)
        keys[: self._size] = self._keys[: self._size]
        ids[: self._size] = self._ids[: self._size]
        alive[: self._size] = self._alive[: self._size]
        self._keys, self._ids, self._alive = keys, ids, alive
        self._np_views = None

    def add(self, vectors: np.ndarray | torch.Tensor, ids: np.ndarray | list[int] | torch.Tensor) -> None:
        """Append keys ``[m, d]`` with their ids ``[m]`` (ids may repeat: several keys per id).

        Raises:
            InvalidInputError: wrong shape or dimension, NaN/inf, zero vectors, negative ids.
        """
        if isinstance(vectors, torch.Tensor):
            vectors = vectors.detach().cpu().numpy()
        vec = normalize_rows(vectors, name="vectors", dim=self.dim)
        id_arr = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64).reshape(-1)
        if id_arr.shape[0] != vec.shape[0]:
            raise InvalidInputError(f"ids has {id_arr.shape[0]} entries for {vec.shape[0]} vectors")
        if (id_arr < 0).any():
            raise InvalidInputError("ids must be >= 0 (-1 is the padding id)")
        m = vec.shape[0]
        if m == 0:
            return
        self._grow(m)
        s = self._size
        self._keys[s : s + m] = torch.from_numpy(vec).to(self.device, self._keys.dtype)
        self._ids[s : s + m] = torch.from_numpy(id_arr).to(self.device)
        self._alive[s : s + m] = True
        self._size += m
        self._max_keys_per_id = None  # recomputed lazily

    def remove(self, ids: np.ndarray | list[int]) -> int:
        """Drop every key whose id is in ``ids``; returns the number of keys removed."""
        id_t = torch.as_tensor(np.asarray(ids, dtype=np.int64).reshape(-1), device=self.device)
        if id_t.numel() == 0 or self._size == 0:
            return 0
        hit = torch.isin(self._ids[: self._size], id_t) & self._alive[: self._size]
        n = int(hit.sum())
        if n:
            self._alive[: self._size] &= ~hit
            self._n_dead += n
            self._max_keys_per_id = None
            if self._n_dead > max(1024, self._size // 4):
                self.compact()
        return n

    def compact(self) -> None:
        """Physically drop removed keys (done automatically once a quarter of rows are dead)."""
        if self._n_dead == 0:
            return
        live = self._alive[: self._size]
        keys = self._keys[: self._size][live]
        ids = self._ids[: self._size][live]
        self._size = keys.shape[0]
        self._ann, self._ann_rows = None, 0  # row numbers changed: the graph is rebuilt on demand
        self._keys[: self._size] = keys
        self._ids[: self._size] = ids
        self._alive[: self._size] = True
        self._alive[self._size :] = False
        self._n_dead = 0

    def max_keys_per_id(self) -> int:
        """Largest number of live keys sharing one id."""
        if self._max_keys_per_id is None:
            if len(self) == 0:
                self._max_keys_per_id = 1
            else:
                # From the live rows in place: compacting here would renumber rows under a
                # search whose row count and masks were already taken.
                live = self._ids[: self._size][self._alive[: self._size]]
                _, counts = torch.unique(live, return_counts=True)
                self._max_keys_per_id = int(counts.max())
        return self._max_keys_per_id

    # ------------------------------------------------------------------ search
    def id_mask(self, allowed_ids: np.ndarray | list[int]) -> torch.Tensor:
        """A row mask for :meth:`search` that keeps only keys whose id is in ``allowed_ids``."""
        allowed = torch.as_tensor(np.asarray(allowed_ids, dtype=np.int64).reshape(-1), device=self.device)
        return torch.isin(self._ids[: self._size], allowed)

    def filter_mask(self, store: Any, namespace: str | None, where: Mapping[str, Any], since: float | None,
                    until: float | None) -> torch.Tensor:
        """The row mask of the memories of ``store`` that pass a namespace/metadata/time filter."""
        return self.id_mask(store.ids_matching(namespace=namespace, where=where, since=since, until=until))

    def prepare_queries(self, queries: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Validate and normalise queries ``[n, d]`` (or ``[d]``) into a float32 tensor on the device."""
        if isinstance(queries, torch.Tensor):
            queries = queries.detach().cpu().numpy()
        q = normalize_rows(queries, name="queries", dim=self.dim)
        return torch.from_numpy(q).to(self.device)

    def search(
        self,
        queries: np.ndarray | torch.Tensor,
        k: int,
        *,
        mask: torch.Tensor | None = None,
        config: HopfieldConfig | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two-stage search.

        Args:
            queries: ``[n, d]`` (or ``[d]``) query vectors; normalised here.
            k: results per query (``>= 1``).
            mask: optional row mask from :meth:`id_mask`; ``False`` rows are never returned.
            config: per-call override of the settle parameters.

        Returns:
            ``(scores, ids)``: float32 and int64 arrays ``[n, k]``, best first, padded with
            ``-inf`` / ``-1``.
        """
        if isinstance(queries, torch.Tensor):
            queries = queries.detach().cpu().numpy()
        q = normalize_rows(queries, name="queries", dim=self.dim)
        fast = self._search_compiled(q, k, mask, config)
        if fast is not None:
            return fast
        s, i = self._search_torch(torch.from_numpy(q).to(self.device), k, mask, config)
        return s.cpu().numpy(), i.cpu().numpy()

    def search_tensors(
        self,
        q: torch.Tensor,
        k: int,
        *,
        mask: torch.Tensor | None = None,
        config: HopfieldConfig | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`search` on prepared queries, returning tensors on the retriever's device."""
        fast = self._search_compiled(q.float().numpy() if q.device.type == "cpu" else None, k, mask, config)
        if fast is not None:
            return torch.from_numpy(fast[0]), torch.from_numpy(fast[1])
        return self._search_torch(q, k, mask, config)

    def _search_torch(
        self, q: torch.Tensor, k: int, mask: torch.Tensor | None, config: HopfieldConfig | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The tensor path of :meth:`search_tensors` (any device, storage type and batch size)."""
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be an int >= 1, got {k!r}")
        cfg = config or self.config
        n = self._size
        row_mask = self._row_mask(mask)
        per_id = self.max_keys_per_id()
        want = k * per_id
        settle = {"candidates": max(cfg.candidates, want), "beta": cfg.beta, "max_steps": cfg.max_steps, "eps": cfg.eps,
                  "state_weight": cfg.state_weight}
        plan = self._ann_keep(row_mask)
        cand = None if plan is None else self._ann_candidates(q.float().cpu().numpy(), max(cfg.candidates, want), *plan)
        if cand is not None:
            sims, cand_rows = (torch.from_numpy(a).to(self.device) for a in cand)
            scores, rows, steps = F.rerank_candidates(sims, q, self._keys[:n], want, rows=cand_rows, **settle)
        else:
            scores, rows, steps = F.two_stage_search(q, self._keys[:n], want, mask=row_mask, **settle)
        self.last_settle_steps = int(steps)
        ids = torch.where(rows >= 0, self._ids[:n][rows.clamp_min(0)] if n else rows, rows)
        if per_id > 1:
            scores, ids = F.first_per_id(scores, ids)
        return F.take_k(scores, ids, k)

    def _row_mask(self, mask: torch.Tensor | None) -> torch.Tensor | None:
        """The caller's mask combined with the live rows (None: every row)."""
        n = self._size
        row_mask = self._alive[:n] if self._n_dead else None
        if mask is not None:
            if mask.shape[-1] != n:
                raise InvalidInputError(f"mask has {mask.shape[-1]} rows; the retriever has {n}")
            row_mask = mask if row_mask is None else (mask & row_mask)
        return row_mask

    def _search_compiled(
        self, q: np.ndarray | None, k: int, mask: torch.Tensor | None, config: HopfieldConfig | None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """One compiled call for a small CPU batch of normalised float32 queries ``q`` over
        float32 keys (``functional.search_f32``, or ``rerank_f32`` after an approximate stage 1):
        the same results as the tensor path, without its per-operation overhead after the scan
        (docs/performance.md). None when the call does not qualify (GPU, other storage types,
        several keys per id, per-query masks, no numba)."""
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be an int >= 1, got {k!r}")
        n = self._size
        if (
            q is None or F._STAGE2_NB is None or n == 0 or self.device.type != "cpu" or self._keys.dtype != torch.float32
            or q.shape[0] > F.SMALL_BATCH_NUMPY or (mask is not None and mask.ndim != 1) or self.max_keys_per_id() > 1
        ):
            return None
        cfg = config or self.config
        steps = cfg.max_steps if cfg.state_weight > 0.0 else 0
        kk = min(max(cfg.candidates, k), n)
        keys, ids, alive = self._cpu_views()
        keys, ids = keys[:n], ids[:n]
        settle = (k, float(cfg.beta), int(steps), float(cfg.eps), float(cfg.state_weight))
        row_mask = self._row_mask(mask)
        plan = self._ann_keep(row_mask)
        cand = None if plan is None else self._ann_candidates(q, kk, *plan)
        if cand is not None:
            scores, out_ids, n_steps = F._STAGE2_NB["rerank_f32"](keys, ids, alive[:0], q, cand[0], cand[1], kk, *settle)
        else:
            scores, out_ids, n_steps = F._STAGE2_NB["search_f32"](
                keys, ids, q, alive[:0] if row_mask is None else row_mask.numpy(), kk, *settle
            )
        self.last_settle_steps = int(n_steps)
        return scores, out_ids

    def _cpu_views(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """NumPy views of the whole CPU key, id and alive buffers, made once per buffer: the first
        torch call after a long scan or graph walk costs tens of µs (cold instruction caches)."""
        if self._np_views is None:
            self._np_views = (self._keys.numpy(), self._ids.numpy(), self._alive.numpy())
        return self._np_views

    # ----------------------------------------------------------- approximate stage 1
    def _ann_index(self, progress: Callable[[int, int], None] | None = None):
        """The HNSW graph or trained IVF index over all rows, extended with rows added since the
        last search; ``progress(done, total)`` after each block of rows."""
        if self._ann is None:
            if self.backend is Backend.IVF:
                self._ann = self._trained_ivf()
            elif self.backend is Backend.HNSWLIB:
                import hnswlib

                cfg = self.hnsw_config
                self._ann = hnswlib.Index(space="ip", dim=self.dim)
                self._ann.init_index(max_elements=max(self._size, 1024), M=cfg.m,
                                     ef_construction=cfg.ef_construction, random_seed=cfg.seed)
            else:
                import faiss

                cfg = self.hnsw_config
                self._ann = faiss.IndexHNSWFlat(self.dim, cfg.m, faiss.METRIC_INNER_PRODUCT)
                self._ann.hnsw.efConstruction = cfg.ef_construction
            self._ann_rows = 0
        if self._ann_rows < self._size and self.backend is Backend.HNSWLIB and self._size > self._ann.get_max_elements():
            self._ann.resize_index(max(self._size, int(self._ann.get_max_elements() * 1.5)))
        while self._ann_rows < self._size:  # in blocks, so a long build can report progress
            start, stop = self._ann_rows, min(self._size, self._ann_rows + ANN_BUILD_BLOCK)
            new = np.ascontiguousarray(self._keys[start:stop].float().cpu().numpy())
            if self.backend is Backend.HNSWLIB:
                # Small inserts in one thread: the same graph every time (parallel insertion order
                # varies); large builds use every core.
                self._ann.add_items(new, np.arange(start, stop), num_threads=1 if stop - start < 4096 else -1)
            else:
                self._ann.add(new)
            self._ann_rows = stop
            if progress is not None:
                progress(stop, self._size)
        return self._ann

    def _trained_ivf(self):
        """An empty ``IndexIVFFlat`` whose k-means centroids are trained on a sample of the keys."""
        import faiss

        cfg = self.ivf_config
        n = self._size
        nlist = cfg.lists_for(n)
        quantizer = faiss.IndexFlatIP(self.dim)
        index = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = cfg.seed
        take = min(n, 64 * nlist)
        rows = np.sort(np.random.default_rng(cfg.seed).choice(n, take, replace=False)) if take < n else np.arange(n)
        index.train(np.ascontiguousarray(self._keys[torch.from_numpy(rows)].float().cpu().numpy()))
        return index

    @property
    def rows(self) -> int:
        """Rows in the key buffer, removed ones included until compaction."""
        return self._size

    @property
    def index_rows(self) -> int:
        """Rows the approximate index covers now (0: not built; it is built or extended at the
        next approximate search)."""
        return self._ann_rows if self._ann is not None else 0

    def build_index(self, progress: Callable[[int, int], None] | None = None) -> None:
        """Build (or extend) the approximate stage-1 index now instead of at the first search;
        ``progress(rows_done, rows_total)`` is called after each block of ``ANN_BUILD_BLOCK`` rows."""
        if self.backend is not Backend.EXACT and self._size:
            self._ann_index(progress)

    # ------------------------------------------------------- saved approximate index
    def _ann_fingerprint(self) -> dict:
        """What a saved index must match: backend, its build parameters, the key count and a
        hash of every key and id in the buffer (removed rows included: they are in the index)."""
        h = hashlib.blake2b(digest_size=16)
        n = self._size
        h.update(self._keys[:n].cpu().contiguous().view(torch.uint8).numpy().data if n else b"")
        h.update(self._ids[:n].cpu().numpy().tobytes())
        cfg = (self.ivf_config if self.backend is Backend.IVF else self.hnsw_config)
        params = {k: v for k, v in asdict(cfg).items() if k not in ("ef_search", "nprobe")}  # search-time knobs
        return {"backend": self.backend.value, "params": params, "dim": self.dim, "dtype": self.dtype.value,
                "rows": n, "keys_blake2b": h.hexdigest()}

    def save_index(self, path: str | os.PathLike) -> None:
        """Write the approximate stage-1 index (built first if needed) to ``path``, with a sidecar
        ``path.json`` holding the fingerprint of the keys it was built over and the index file's
        hash. Both are written to temporary names and renamed, the sidecar last, so a killed
        process (or two processes saving at once) leaves either a matching pair or one that
        :meth:`load_index` rejects.

        Raises:
            InvalidInputError: the backend is ``"exact"`` (nothing to save) or the retriever is empty.
        """
        if self.backend is Backend.EXACT or self._size == 0:
            raise InvalidInputError(f"save_index needs an approximate backend and keys (backend={self.backend.value!r}, "
                                    f"{self._size} keys)")
        index = self._ann_index()
        path = Path(path)
        _remove_stale_temporaries(path)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # per process: two closing writers never share one
        if self.backend is Backend.HNSWLIB:
            index.save_index(str(tmp))
        else:
            import faiss

            faiss.write_index(index, str(tmp))
        side = {**self._ann_fingerprint(), "index_blake2b": _file_hash(tmp), "index_bytes": tmp.stat().st_size}
        os.replace(tmp, path)
        side_tmp = path.with_name(f"{path.name}.json.{os.getpid()}.tmp")
        side_tmp.write_text(json.dumps(side, indent=1))
        os.replace(side_tmp, path.with_name(path.name + ".json"))

    def load_index(self, path: str | os.PathLike) -> bool:
        """Use the index saved at ``path`` when it was built over exactly the current keys with
        the same backend and build parameters; returns False (nothing changed; the index is
        built on demand as usual) when it is absent or was built over other keys.

        Raises:
            StoreCorruptError: the index file is truncated or damaged (its hash differs from
                the sidecar's, or the library cannot read it); the retriever is unchanged.
        """
        path = Path(path)
        side_path = path.with_name(path.name + ".json")
        if self.backend is Backend.EXACT or not path.exists() or not side_path.exists():
            return False
        try:
            side = json.loads(side_path.read_text())
        except (OSError, ValueError) as exc:
            raise StoreCorruptError(f"saved index sidecar {side_path} is unreadable: {exc}") from exc
        if not isinstance(side, dict):
            raise StoreCorruptError(f"saved index sidecar {side_path} holds a JSON {type(side).__name__}, not an object")
        want = self._ann_fingerprint()
        if {k: side.get(k) for k in want} != want:
            return False
        if path.stat().st_size != side.get("index_bytes") or _file_hash(path) != side.get("index_blake2b"):
            raise StoreCorruptError(f"saved index {path} is truncated or damaged (size or hash differs from {side_path.name})")
        try:
            if self.backend is Backend.HNSWLIB:
                import hnswlib

                index = hnswlib.Index(space="ip", dim=self.dim)
                index.load_index(str(path), max_elements=max(self._size, 1024))
            else:
                import faiss

                index = faiss.read_index(str(path))
        except (RuntimeError, ValueError) as exc:
            raise StoreCorruptError(f"saved index {path} cannot be read: {exc}") from exc
        self._ann, self._ann_rows = index, self._size
        return True

    def _ann_keep(self, row_mask: torch.Tensor | None) -> tuple[np.ndarray, int] | None:
        """Which rows an approximate stage 1 may return for this search, given the combined row
        mask of :meth:`_row_mask`: ``(keep, kept)`` with ``keep`` an empty array when every row
        may (else a boolean row filter) and ``kept`` the number of rows it keeps; or None when
        stage 1 should be exact instead (exact backend, per-query masks, or a filter keeping fewer
        than ``ANN_MIN_KEPT`` of the rows: the graph would have to be walked far to find enough)."""
        n = self._size
        if self.backend is Backend.EXACT or n == 0 or (row_mask is not None and row_mask.ndim != 1):
            return None
        if row_mask is None:
            return np.empty(0, dtype=np.bool_), n
        keep = row_mask.cpu().numpy()
        kept = int(np.count_nonzero(keep))
        if kept == n:
            return np.empty(0, dtype=np.bool_), n
        return (keep, kept) if kept >= ANN_MIN_KEPT * n else None

    def _ann_candidates(self, q: np.ndarray, kk: int, keep: np.ndarray, kept: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Stage 1 through the approximate index: ``(scores, rows)`` ``[B, m]`` with ``-inf`` /
        ``-1`` where a row is missing or filtered out by ``keep`` (``kept`` rows kept; see
        :meth:`_ann_keep`).

        With a filter keeping a share ``f`` of the rows, ``2 kk / f`` rows are asked for; when a
        query still ends with fewer than ``kk`` (or than the kept rows, if fewer), None: the
        caller runs exact stage 1, so a filter never makes a search return less than exact search.
        """
        n = self._size
        want = kk if kept == n else int(np.ceil(2 * kk * n / max(kept, 1)))
        sims, rows = self._ann_search(q, min(want, n))
        if keep.size == 0 and rows.min() >= 0:
            return sims, rows  # the common case in one NumPy call: nothing missing, nothing filtered
        ok = rows >= 0
        if keep.size:
            ok &= keep[np.maximum(rows, 0)]
        if (np.count_nonzero(ok, axis=1) < min(kk, kept)).any():
            return None
        return np.where(ok, sims, np.float32(-np.inf)), np.where(ok, rows, -1)

    def _ann_search(self, q: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
        """The approximate index's ``want`` best ``(scores, rows)`` ``[B, want]`` (``-1`` = none),
        removed rows included (they stay in the index until compaction)."""
        index = self._ann_index()
        q = np.ascontiguousarray(q, dtype=np.float32)
        if self.backend is Backend.HNSWLIB:
            return self._hnswlib_search(index, q, want)
        import faiss

        if self.backend is Backend.IVF:
            key = ("ivf", min(self.ivf_config.nprobe, index.nlist))
        else:
            key = ("hnsw", max(self.hnsw_config.ef_search, want))
        params = self._ann_params.get(key)
        if params is None:  # built once per setting: a SWIG object per call costs as much as a small search
            params = (faiss.SearchParametersIVF(nprobe=key[1]) if key[0] == "ivf"
                      else faiss.SearchParametersHNSW(efSearch=key[1]))
            self._ann_params[key] = params
        return index.search(q, want, params=params)

    def _hnswlib_search(self, index, q: np.ndarray, want: int) -> tuple[np.ndarray, np.ndarray]:
        """hnswlib's ``want`` best rows and inner products (hnswlib returns ``1 − q·x``). When the
        graph cannot return ``want`` rows, hnswlib raises; every row is then reported missing, and
        :meth:`_ann_candidates` hands the search to exact stage 1 rather than losing results."""
        index.set_ef(max(self.hnsw_config.ef_search, want))  # per call: variants may share one graph
        try:
            rows, dist = index.knn_query(q, k=want)
        except RuntimeError:
            return np.full((q.shape[0], want), -np.inf, dtype=np.float32), np.full((q.shape[0], want), -1, dtype=np.int64)
        # labels are uint64 row numbers < 2^63: the same bits as int64
        return np.subtract(np.float32(1.0), dist, out=dist), rows.view(np.int64)


def _remove_stale_temporaries(path: Path) -> None:
    """Delete ``path``'s temporary files left by processes that died while saving (their pid is in
    the name; a large index would otherwise leave gigabytes behind in the store folder)."""
    for tmp in list(path.parent.glob(f"{path.name}.*.tmp")) + list(path.parent.glob(f"{path.name}.json.*.tmp")):
        pid = tmp.name[: -len(".tmp")].rsplit(".", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's process
