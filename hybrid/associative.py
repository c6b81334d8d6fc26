"""Associative memory: pattern separation, a Hebbian association matrix and multi-hop recall.

Two layers:

- :class:`AssociativeIndex` — pure in-memory structure: the seeded ±1 projection ``P``, the sparse
  binary code (k-WTA winners) of every registered memory, the set of directed associations
  (edges) and the integer matrix ``W`` learned from them, with chain recall and associative
  spread. It calls the reference functions of :mod:`hybrid.functional` (or fast equivalents that
  are tested against them).
- :class:`StoreAssociations` — keeps an :class:`AssociativeIndex` in sync with a
  :class:`~hybrid.store.Store`: links live in the store's SQLite database (tables ``assoc_links``,
  ``assoc_log``, ``assoc_terms``; created if missing) and a checkpoint of the projection, codes
  and ``W`` is written atomically to ``<store>/associations.safetensors``.

Equations (``x`` a unit embedding, ``N`` the code dimension, ``k`` winners):

.. math::
    c(x) = \\mathcal{W}_k(P\\,\\mathrm{round}(127 x)), \\qquad
    W \\mathrel{+}= c(b)\\,c(a)^\\top \\text{ for every association } a \\to b \\text{ (saturating uint8)}

    \\text{hop: } h = \\min(W, w_{cap})^\\top c, \\quad c' = \\mathcal{W}_k(h), \\quad
    m^* = \\arg\\max_m |c' \\cap c(m)|

See ``docs/associative.md`` for the design, the measurements behind the defaults and the exact
reference for the Lava deployment.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import functional as F
from ._numba import load_kernels
from .errors import InvalidInputError, NotFoundError, StoreCorruptError
from .store import file_hash
from .validation import memory_ids as checked_ids

#: File of the checkpoint inside a store folder.
ASSOC_FILE = "associations.safetensors"
#: ``store_meta`` key recording the checkpoint written from this database: ``{"blake2b", "link_seq",
#: "change_seq"}``. A checkpoint whose hash differs (the database was restored from a backup, the
#: file was damaged or written from another state) is not trusted: the index is rebuilt.
CHECKPOINT_META_KEY = "associations_checkpoint"
#: Version of the checkpoint layout. 2: ``W`` may be saved sparse (``w_index``/``w_value``) and the
#: seeded projection is not saved (rebuilt from the seed, checked against ``projection_sha256``).
#: Version-1 files (dense ``w``, saved ``projection``) are still read.
ASSOC_FORMAT_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS assoc_links (
    src INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    dst INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (src, dst, source)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assoc_links_dst ON assoc_links(dst);
CREATE TABLE IF NOT EXISTS assoc_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    src INTEGER NOT NULL,
    dst INTEGER NOT NULL,
    op TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS assoc_terms (
    term TEXT NOT NULL,
    memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
    PRIMARY KEY (term, memory_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS assoc_terms_memory ON assoc_terms(memory_id);
"""


@dataclass(frozen=True)
class AssociativeConfig:
    """Pattern separation and association settings.

    Attributes:
        code_dim: N, units of the sparse code layer.
        k: winners per code (sparsity k/N).
        seed: seed of the ±1 projection P.
        w_cap: synaptic cap of a hop, ``W_eff = min(W, w_cap)`` (1 = binary Willshaw matrix).
        spread_width: associates one memory can pass on in one search hop; the spread uses
            ``kwta(h, k * spread_width)``.
        min_strength: smallest association strength (0..1) a spread result needs.
        hop_decay: factor applied to a score at each hop of a multi-hop search.
        quant_scale: scale s of the quantisation of embeddings, ``x_q = round(s x)`` (int16;
            default ``2^15 - 1``, a 16-bit graded payload on Loihi 2). Checkpoints written with the
            former 8-bit scale 127 record it in their config and keep using it when loaded.
        center: subtract a fixed centre (the mean embedding of the store when the index was
            created, saved with the projection) before projecting; sentence embeddings share a
            large common component, and removing it is what makes the codes of similar memories
            separable (measured in docs/associative.md).
    """

    code_dim: int = 8192
    k: int = 16
    seed: int = 0
    w_cap: int = 1
    spread_width: int = 4
    min_strength: float = 0.5
    hop_decay: float = 0.7
    quant_scale: int = F.QUANT_SCALE
    center: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.code_dim, int) or self.code_dim < 2:
            raise InvalidInputError(f"AssociativeConfig.code_dim must be an int >= 2, got {self.code_dim!r}")
        if not isinstance(self.k, int) or not 1 <= self.k <= self.code_dim:
            raise InvalidInputError(f"AssociativeConfig.k must be an int in [1, code_dim={self.code_dim}], got {self.k!r}")
        if not isinstance(self.w_cap, int) or not 1 <= self.w_cap <= F.W_SATURATION:
            raise InvalidInputError(f"AssociativeConfig.w_cap must be an int in [1, {F.W_SATURATION}], got {self.w_cap!r}")
        if not isinstance(self.spread_width, int) or self.spread_width < 1 or self.k * self.spread_width > self.code_dim:
            raise InvalidInputError(
                f"AssociativeConfig.spread_width must be an int >= 1 with k*spread_width <= code_dim, got {self.spread_width!r}"
            )
        if not (0.0 < self.min_strength <= 1.0):
            raise InvalidInputError(f"AssociativeConfig.min_strength must be in (0, 1], got {self.min_strength!r}")
        if not (0.0 < self.hop_decay <= 1.0):
            raise InvalidInputError(f"AssociativeConfig.hop_decay must be in (0, 1], got {self.hop_decay!r}")
        if (
            isinstance(self.quant_scale, bool)
            or not isinstance(self.quant_scale, int)
            or not 1 <= self.quant_scale <= F.MAX_QUANT_SCALE
        ):
            raise InvalidInputError(
                f"AssociativeConfig.quant_scale must be an int in [1, {F.MAX_QUANT_SCALE}], got {self.quant_scale!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Hop:
    """One step of a recalled chain.

    Attributes:
        hop: 1 for the first association after the start memory.
        id: recalled memory id (``-1`` when nothing was recalled).
        score: overlap of the recalled code with the memory's code, divided by k (1.0 = exact).
        path: ids from the start memory to this one.
    """

    hop: int
    id: int
    score: float
    path: list[int]


def kwta_np(h: np.ndarray, k: int) -> np.ndarray:
    """NumPy twin of :func:`functional.kwta` for integer ``h [B, N]``: same winners, same tie rule.

    The composite key ``h·N + (N-1-i)`` is unique per entry, so the ``k`` largest keys are the
    ``k`` largest values with ties going to the lower index.
    """
    b, n = h.shape
    key = h.astype(np.int64) * n + np.arange(n - 1, -1, -1, dtype=np.int64)
    top = np.argpartition(key, n - k, axis=1)[:, n - k :] if k < n else np.tile(np.arange(n), (b, 1))
    return np.sort(top, axis=1)


# ====================================================================== compiled recall kernels
# Optional numba kernels for the hop input and the spread (docs/performance.md, "Multi-hop
# cost"). They compute exactly what the NumPy path below computes (integer arithmetic, same tie
# rule); without numba, or with HHMEM_NO_NUMBA=1, the NumPy path runs. They live in
# hybrid/kernels.py, compiled once per machine into the user's cache folder (hybrid/_numba.py).
def _bit_lut() -> np.ndarray:
    """``[256]`` uint64: byte ``v`` spread to one byte per bit (bit j of v -> byte j, little-endian)."""
    v = np.arange(256, dtype=np.uint64)
    out = np.zeros(256, dtype=np.uint64)
    for j in range(8):
        out |= ((v >> np.uint64(j)) & np.uint64(1)) << np.uint64(8 * j)
    return out


#: Byte -> 8 bytes of 0/1 (little-endian): summing these uint64 words adds 8 uint8 counters at once.
_BIT_LUT = _bit_lut()
#: The byte-lane trick needs the uint64 view to put byte j of a word at unit 8b + j.
_LITTLE = np.little_endian


def _load_numba_kernels() -> dict[str, Any] | None:
    kn = load_kernels()
    if kn is None:
        return None
    return {"hop_input_bits": kn.hop_input_bits, "spread_bits": kn.spread_bits, "spread_bytes": kn.spread_bytes}


#: The compiled kernels (:mod:`hybrid.kernels`), or None (NumPy path). Tests set it to None to run
#: the NumPy path.
_NB: dict[str, Any] | None = _load_numba_kernels()


class AssociativeIndex:
    """Projection, sparse codes, association edges and the Hebbian matrix ``W`` (in memory).

    ``W`` is a dense ``uint8 [N, N]`` matrix (rows presynaptic), allocated on the first link:
    measured faster per hop than a sparse CSR matrix and bounded in size (``N²`` bytes; 64 MiB at
    the default N = 8192), see ``docs/associative.md``.

    Args:
        dim: embedding dimension d.
        config: :class:`AssociativeConfig`.
        projection: optional ``[N, d]`` int8 ±1 matrix (otherwise ``sign_projection(d, N, seed)``).

    Example:
        >>> idx = AssociativeIndex(8, AssociativeConfig(code_dim=256, k=8))
        >>> v = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
        >>> idx.set_codes([1, 2, 3], v)
        >>> idx.link([(1, 2), (2, 3)])
        2
        >>> [h.id for h in idx.chain(1, hops=2)]
        [2, 3]
    """

    def __init__(self, dim: int, config: AssociativeConfig | None = None, *, projection: torch.Tensor | None = None):
        self.dim = int(dim)
        self.config = config or AssociativeConfig()
        n = self.config.code_dim
        if projection is None:
            projection = F.sign_projection(self.dim, n, self.config.seed)
        if tuple(projection.shape) != (n, self.dim) or projection.dtype != torch.int8:
            raise InvalidInputError(f"projection must be int8 [{n}, {self.dim}], got {projection.dtype} {tuple(projection.shape)}")
        self.projection = projection
        self._proj_f = projection.float()
        #: Fixed centre subtracted before projecting (zeros until :meth:`fit_centre`).
        self.centre = np.zeros(self.dim, dtype=np.float32)
        self.w: torch.Tensor | None = None
        self._saturated = False
        self._codes = torch.empty((0, self.config.k), dtype=torch.int64)
        self._row_ids = np.empty(0, dtype=np.int64)
        self._size = 0
        self._row_of: dict[int, int] = {}
        self._out: dict[int, set[int]] = {}
        self._in: dict[int, set[int]] = {}
        self._n_edges = 0
        # Inverted index unit -> rows for rows [0, _main_rows); rows past it are scanned directly.
        self._main_rows = 0
        self._inv_ptr = np.zeros(n + 1, dtype=np.int64)
        self._inv_rows = np.empty(0, dtype=np.int32)
        # Bit-packed copy of (W > 0), rows presynaptic, little bit order ([N, ceil(N/8)] uint8,
        # N²/8 bytes): with w_cap = 1 a hop reads k packed rows instead of k rows of N bytes.
        self._wbits: np.ndarray | None = None
        # Work arrays of the compiled spread (one caller at a time).
        self._scratch = (np.zeros(0, dtype=np.uint16), np.empty(1, dtype=np.int32))
        self._scratch_lock = threading.Lock()

    # ------------------------------------------------------------------ codes
    @property
    def code_dim(self) -> int:
        return self.config.code_dim

    @property
    def k(self) -> int:
        return self.config.k

    def __len__(self) -> int:
        """Number of memories with a code."""
        return len(self._row_of)

    @property
    def n_edges(self) -> int:
        return self._n_edges

    def __contains__(self, memory_id: int) -> bool:
        return int(memory_id) in self._row_of

    def fit_centre(self, vectors: np.ndarray) -> None:
        """Set the centre to the mean of ``vectors [n, d]`` (only before any code exists; no-op
        when ``config.center`` is off or fewer than 2 vectors are given)."""
        if self._size:
            raise InvalidInputError("the centre can only be set before the first code is registered")
        v = np.asarray(vectors, dtype=np.float32)
        if self.config.center and v.ndim == 2 and v.shape[0] >= 2:
            self.centre = v.mean(axis=0).astype(np.float32)

    def centred(self, vectors: np.ndarray) -> np.ndarray:
        """``(x - μ) / ‖x - μ‖`` (rows equal to the centre stay as they are)."""
        x = np.asarray(vectors, dtype=np.float32)
        if not self.centre.any():
            return x
        y = x - self.centre
        n = np.linalg.norm(y, axis=1, keepdims=True)
        return np.where(n > 1e-6, y / np.maximum(n, 1e-12), x).astype(np.float32)

    def encode(self, vectors: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Winners ``[n, k]`` (int64, sorted) of unit embeddings ``[n, d]`` (pattern separation)."""
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != self.dim:
            raise InvalidInputError(f"vectors must be [n, {self.dim}], got shape {tuple(arr.shape)}")
        x = torch.from_numpy(self.centred(arr))
        if x.shape[0] == 0:
            return torch.empty((0, self.k), dtype=torch.int64)
        out = []
        for s in range(0, x.shape[0], 1024):  # bounded temporary memory
            xq = F.quantize_unit(x[s : s + 1024], self.config.quant_scale)
            h = (xq.float() @ self._proj_f.T).round_().to(torch.int32)  # = F.project_int, exact
            out.append(F.kwta(h, self.k))
        return torch.cat(out)

    def code_of(self, memory_id: int) -> torch.Tensor:
        """Winners ``[k]`` of a registered memory."""
        row = self._row_of.get(int(memory_id))
        if row is None:
            raise NotFoundError(f"memory {memory_id} has no code in the associative index")
        return self._codes[row]

    def set_codes(self, ids: Sequence[int], vectors: np.ndarray | torch.Tensor) -> None:
        """Register (or replace) the codes of memories from their embeddings ``[n, d]``.

        A memory whose code changes keeps its associations: they are unlearned with the old code
        and learned again with the new one.
        """
        ids = [int(i) for i in ids]
        winners = self.encode(vectors)
        if winners.shape[0] != len(ids):
            raise InvalidInputError(f"ids has {len(ids)} entries for {winners.shape[0]} vectors")
        self.set_winners(ids, winners)

    def set_winners(self, ids: Sequence[int], winners: torch.Tensor) -> None:
        """Register codes given directly as winners ``[n, k]`` (sorted, in ``[0, N)``)."""
        ids = [int(i) for i in ids]
        if len(set(ids)) != len(ids):
            raise InvalidInputError("ids must be distinct")
        if len(ids) == 0:
            return
        winners = winners.to(torch.int64)
        changed = [i for i in ids if i in self._row_of]
        touched = self._edges_of(changed)
        if touched:
            self._learn(touched, sign=-1)
        self._remove_rows(changed)
        m = len(ids)
        self._grow(m)
        s = self._size
        self._codes[s : s + m] = winners
        self._row_ids[s : s + m] = ids
        for j, mid in enumerate(ids):
            self._row_of[mid] = s + j
        self._size += m
        if touched:
            self._learn(touched, sign=1)
        self._maybe_reindex()

    def _grow(self, extra: int) -> None:
        need = self._size + extra
        cap = self._codes.shape[0]
        if need <= cap:
            return
        new_cap = max(need, int(cap * 1.5) + 1024)
        codes = torch.full((new_cap, self.k), self.code_dim, dtype=torch.int64)
        codes[: self._size] = self._codes[: self._size]
        row_ids = np.full(new_cap, -1, dtype=np.int64)
        row_ids[: self._size] = self._row_ids[: self._size]
        self._codes, self._row_ids = codes, row_ids

    def _remove_rows(self, ids: Iterable[int]) -> None:
        for mid in ids:
            row = self._row_of.pop(int(mid), None)
            if row is not None:
                self._codes[row] = self.code_dim  # sentinel unit: overlaps nothing
                self._row_ids[row] = -1

    def remove(self, ids: Iterable[int]) -> int:
        """Forget memories: unlearn every association touching them and drop their codes."""
        ids = [int(i) for i in ids if int(i) in self._row_of]
        if not ids:
            return 0
        touched = self._edges_of(ids)
        if touched:
            self._learn(touched, sign=-1)
            for a, b in touched:
                self._drop_edge(a, b)
        self._remove_rows(ids)
        self._maybe_reindex()
        return len(ids)

    def _maybe_reindex(self) -> None:
        dead = self._size - len(self._row_of)
        if dead > max(1024, self._size // 4):
            self._compact()
        if self._size - self._main_rows > max(1024, self._main_rows // 8):
            self._reindex()

    def _compact(self) -> None:
        live = self._row_ids[: self._size] >= 0
        rows = np.flatnonzero(live)
        n = len(rows)
        self._codes[:n] = self._codes[torch.from_numpy(rows)]
        self._codes[n:] = self.code_dim
        self._row_ids[:n] = self._row_ids[rows]
        self._row_ids[n:] = -1
        self._size = n
        self._row_of = {int(m): r for r, m in enumerate(self._row_ids[:n])}
        self._reindex()

    def _reindex(self) -> None:
        """Rebuild the unit -> rows inverted index over all current rows (amortised, like compaction)."""
        flat = self._codes[: self._size].reshape(-1).numpy()
        order = np.argsort(flat, kind="stable")
        counts = np.bincount(flat, minlength=self.code_dim + 1)[: self.code_dim]
        self._inv_ptr = np.zeros(self.code_dim + 1, dtype=np.int64)
        np.cumsum(counts, out=self._inv_ptr[1:])
        self._inv_rows = (order // self.k)[: self._inv_ptr[-1]].astype(np.int32)
        self._main_rows = self._size

    # ------------------------------------------------------------------ edges
    def _edges_of(self, ids: Iterable[int]) -> list[tuple[int, int]]:
        out: set[tuple[int, int]] = set()
        for mid in ids:
            out.update((mid, b) for b in self._out.get(mid, ()))
            out.update((a, mid) for a in self._in.get(mid, ()))
        return sorted(out)

    def has_edge(self, a: int, b: int) -> bool:
        return int(b) in self._out.get(int(a), ())

    def edges(self) -> list[tuple[int, int]]:
        """Every stored association ``(pre, post)``, sorted."""
        return sorted((a, b) for a, bs in self._out.items() for b in bs)

    def _drop_edge(self, a: int, b: int) -> None:
        self._out[a].discard(b)
        self._in[b].discard(a)
        if not self._out[a]:
            del self._out[a]
        if not self._in[b]:
            del self._in[b]
        self._n_edges -= 1

    def _ensure_w(self) -> torch.Tensor:
        if self.w is None:
            self.w = torch.zeros((self.code_dim, self.code_dim), dtype=torch.uint8)
        return self.w

    def _learn(self, pairs: Sequence[tuple[int, int]], sign: int) -> None:
        if not pairs:
            return
        if sign < 0 and self._saturated:
            self._rebuild_w(exclude=set(pairs))
            return
        w = self._ensure_w()
        pre = self._codes[[self._row_of[a] for a, _ in pairs]]
        post = self._codes[[self._row_of[b] for _, b in pairs]]
        for s in range(0, len(pairs), 4096):
            F.hebbian_update_(w, pre[s : s + 4096], post[s : s + 4096], sign=sign)
        self._sync_bits(np.unique(pre.numpy()))
        if sign > 0 and not self._saturated:
            self._saturated = bool((w == F.W_SATURATION).any())

    def _rebuild_w(self, exclude: set[tuple[int, int]] = frozenset()) -> None:
        """Learn ``W`` again from the edge set (only needed when a count saturated)."""
        if self.w is not None:
            self.w.zero_()
            self._sync_bits()
        self._saturated = False
        pairs = [e for e in self.edges() if e not in exclude]
        self._learn(pairs, sign=1)

    def _sync_bits(self, rows: np.ndarray | None = None) -> None:
        """Refresh the packed ``W > 0`` rows ``rows`` (all rows when None); only kept for ``w_cap = 1``."""
        if self.w is None or self.config.w_cap != 1:
            self._wbits = None
            return
        wn = self.w.numpy()
        if self._wbits is None:
            self._wbits = np.packbits(wn > 0, axis=1, bitorder="little")
        elif rows is None:
            self._wbits[:] = np.packbits(wn > 0, axis=1, bitorder="little")
        elif len(rows):
            self._wbits[rows] = np.packbits(wn[rows] > 0, axis=1, bitorder="little")

    def link(self, pairs: Iterable[tuple[int, int]]) -> int:
        """Learn directed associations ``pre -> post``; returns how many were new.

        Both memories need a code (:meth:`set_codes`). A pair already stored is not learned
        twice (an association is binary), and self-links are ignored.
        """
        new: list[tuple[int, int]] = []
        seen: set[tuple[int, int]] = set()
        for a, b in pairs:
            a, b = int(a), int(b)
            for mid in (a, b):
                if mid not in self._row_of:
                    raise NotFoundError(f"memory {mid} has no code in the associative index; register it first")
            if a == b or self.has_edge(a, b) or (a, b) in seen:
                continue
            seen.add((a, b))
            new.append((a, b))
        for a, b in new:
            self._out.setdefault(a, set()).add(b)
            self._in.setdefault(b, set()).add(a)
        self._n_edges += len(new)
        self._learn(new, sign=1)
        return len(new)

    def unlink(self, pairs: Iterable[tuple[int, int]]) -> int:
        """Unlearn directed associations; returns how many existed."""
        gone = sorted({(int(a), int(b)) for a, b in pairs if self.has_edge(int(a), int(b))})
        self._learn(gone, sign=-1)
        for a, b in gone:
            self._drop_edge(a, b)
        return len(gone)

    # ----------------------------------------------------------------- recall
    # Everything below is NumPy on the calling thread: these are small operations (k rows of W,
    # a few thousand postings) for which torch's per-op and intra-op threading overhead cost far
    # more than the work on a loaded 2-core CPU. Every function is exact (integer arithmetic) and
    # keeps the reference tie rule (lower index / lower row wins); tests compare them with
    # ``functional.hop_step`` / ``functional.cleanup`` and with a brute-force spread.
    def _hop_input_np(self, codes: np.ndarray) -> np.ndarray:
        """``h = min(W, w_cap)ᵀ c`` for winner sets ``codes [B, k]`` -> ``[B, N]``.

        With ``w_cap = 1`` (default) it sums the ``k`` packed rows of ``W > 0`` (``k · N/8`` bytes
        read per code instead of ``k · N``); the result is uint8 whenever ``k · w_cap <= 255``
        (no overflow possible), int32 otherwise.
        """
        assert self.w is not None
        n, kk = self.code_dim, codes.shape[1]
        small = kk * self.config.w_cap <= 255
        if self._wbits is not None and small:
            if _NB is not None and _LITTLE and codes.size and 0 <= codes.min() and codes.max() < n:
                # Compiled: each packed byte becomes one uint64 of 8 one-byte counters
                # (_BIT_LUT); adding the k words adds 8 units at once, carry-free because every
                # counter stays <= k <= 255. (The kernel does no bounds checks, hence the test.)
                words = _NB["hop_input_bits"](self._wbits, np.ascontiguousarray(codes), _BIT_LUT)
                return words.view(np.uint8)[:, :n]
            bits = np.unpackbits(self._wbits[codes], axis=2, count=n, bitorder="little")
            return bits.sum(axis=1, dtype=np.uint8)
        rows = self.w.numpy()[codes]  # [B, k, N] uint8
        if self.config.w_cap < F.W_SATURATION:
            np.minimum(rows, self.config.w_cap, out=rows)
        return rows.sum(axis=1, dtype=np.uint8 if small else np.int32)

    @staticmethod
    def _kwta_ranked(h: np.ndarray, k: int) -> np.ndarray:
        """Winners ``[B, k]`` of ``h [B, N]`` in rank order (largest first; equal values: lower index first).

        The same set as :func:`functional.kwta` (which returns it sorted). For uint8 input a stable
        sort of ``255 - h`` is a linear-time radix sort whose order is exactly the tie rule.
        """
        if h.dtype == np.uint8:
            return np.argsort(~h, axis=1, kind="stable")[:, :k]
        top = kwta_np(h, k)
        key = np.take_along_axis(h, top, axis=1).astype(np.int64) * h.shape[1] - top
        return np.take_along_axis(top, np.argsort(-key, axis=1, kind="stable"), axis=1)

    def hop_winners(self, winners: torch.Tensor, k: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``W`` then k-WTA: ``(next winners [B, k'], active [B, k'])`` (see :func:`functional.hop_step`)."""
        kk = k or self.k
        if self.w is None:
            z = torch.zeros((winners.shape[0], kk), dtype=torch.int64)
            return z, torch.zeros_like(z, dtype=torch.bool)
        win = winners.numpy() if isinstance(winners, torch.Tensor) else np.asarray(winners)
        h = self._hop_input_np(win.astype(np.int64, copy=False))
        nxt = np.sort(self._kwta_ranked(h, kk), axis=1)
        return torch.from_numpy(nxt), torch.from_numpy(np.take_along_axis(h, nxt, axis=1) > 0)

    def _hop_input(self, winners: torch.Tensor) -> torch.Tensor:
        """Same result as :func:`functional.hop_input` (int32 ``[B, N]``), computed with NumPy."""
        win = winners.numpy() if isinstance(winners, torch.Tensor) else np.asarray(winners)
        return torch.from_numpy(self._hop_input_np(win.astype(np.int64, copy=False)).astype(np.int32))

    def _postings(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows listed by the inverted index for ``units [U]``: ``(rows, lengths [U])`` (one pass, no Python loop)."""
        ptr = self._inv_ptr
        start = ptr[units]
        lens = ptr[units + 1] - start
        total = int(lens.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64), lens
        offs = np.repeat(start - (np.cumsum(lens) - lens), lens)
        return self._inv_rows[np.arange(total, dtype=np.int64) + offs], lens

    def overlaps(self, winners: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """``[size]`` (weighted) overlap of one recalled winner set with every stored code row.

        ``overlap_m = Σ_{i ∈ winners ∩ code_m} weight_i`` (weights default to 1); dead rows give 0.
        Uses the inverted index, plus a direct scan of rows added since it was built.
        """
        winners = np.asarray(winners, dtype=np.int64)
        wts = np.ones(len(winners), dtype=np.int64) if weights is None else np.asarray(weights, dtype=np.int64)
        counts = np.zeros(self._size, dtype=np.int64)
        if self._main_rows and len(winners):
            rows, lens = self._postings(winners)
            if rows.size:
                if weights is None:
                    counts += np.bincount(rows, minlength=self._size)[: self._size]
                else:
                    counts += np.bincount(rows, weights=np.repeat(wts, lens), minlength=self._size)[: self._size].astype(np.int64)
        if self._size > self._main_rows and len(winners):
            lut = np.zeros(self.code_dim + 1, dtype=np.int64)
            lut[winners] = wts
            tail = self._codes[self._main_rows : self._size].numpy()
            counts[self._main_rows :] += lut[tail].sum(axis=1)
        counts[self._row_ids[: self._size] < 0] = 0
        return counts

    def _best(self, counts: np.ndarray, m: int) -> list[tuple[int, int]]:
        """``m`` rows of largest count, ties to the lower row, as ``(memory id, count)``; zeros skipped.

        Only the non-zero rows are ranked (a handful next to all stored rows).
        """
        if m == 1:
            r = int(np.argmax(counts)) if counts.size else 0  # first maximum = lowest row
            return [(int(self._row_ids[r]), int(counts[r]))] if counts.size and counts[r] > 0 else []
        cand = np.flatnonzero(counts)
        top = cand[np.lexsort((cand, -counts[cand]))[:m]]
        return [(int(self._row_ids[r]), int(counts[r])) for r in top]

    def cleanup(self, winners: torch.Tensor, active: torch.Tensor | None = None, m: int = 1) -> list[list[tuple[int, int]]]:
        """Nearest stored memories to recalled codes ``[B, k]``: per row a list of ``(id, overlap)``."""
        out = []
        wn = np.asarray(winners)
        an = None if active is None else np.asarray(active)
        for b in range(wn.shape[0]):
            w = wn[b] if an is None else wn[b][an[b]]
            out.append(self._best(self.overlaps(w), m))
        return out

    def chain(self, start: int | torch.Tensor, hops: int) -> list[Hop]:
        """Recall a chain: from a memory (or a winner set ``[k]``), ``hops`` times W → k-WTA → clean-up.

        Each hop starts from the stored code of the memory recalled at the previous hop. The
        chain stops early (shorter list) when a hop recalls nothing.
        """
        if not isinstance(hops, int) or hops < 0:
            raise InvalidInputError(f"hops must be an int >= 0, got {hops!r}")
        if isinstance(start, torch.Tensor):
            cur, path = start.reshape(1, -1).to(torch.int64).numpy(), []
        else:
            cur, path = self.code_of(int(start)).reshape(1, -1).numpy(), [int(start)]
        out: list[Hop] = []
        if self.w is None:
            return out
        codes = self._codes.numpy()
        for h in range(1, hops + 1):
            hin = self._hop_input_np(cur)
            nxt = self._kwta_ranked(hin, self.k)[0]
            nxt = nxt[hin[0, nxt] > 0]  # active winners only (a winner with h = 0 just fills k)
            best = self._best(self.overlaps(nxt), 1)
            if not best:
                break
            mid, ov = best[0]
            path = path + [mid]
            out.append(Hop(h, mid, ov / self.k, path))
            cur = codes[self._row_of[mid]][None]
        return out

    def spread(self, sources: Sequence[int], m: int) -> list[list[tuple[int, float]]]:
        """Associates of each source memory: ``(id, strength)`` lists, strongest first.

        One hop with ``k' = k * spread_width`` winners so that a memory can recall several
        associates at once: ``h = min(W, w_cap)ᵀ c``, ``c' = kwta(h, k')``, and

        .. math::
            \\mathrm{strength}(m) = \\frac{\\sum_{i \\in c' \\cap c(m),\\, h_i > 0} h_i}{k^2 \\, w_{cap}}

        which is 1 for an associate whose whole code was recalled. Results below
        ``min_strength`` and the source itself are dropped; sources without a code get ``[]``.
        Equal strengths are ordered by stored row (the lower row first).

        With numba (the default install) one compiled pass per source does the hop input, the
        k-WTA, the walk over the inverted-index postings of the active winners and the ranking
        (``spread_bits`` for the packed ``W > 0`` of ``w_cap = 1``, ``spread_bytes`` otherwise).
        The NumPy fallback does all sources in one vectorised pass: one ``h`` for the batch, one
        k-WTA, one gather of the postings and one weighted ``bincount`` over (source, row) pairs.
        Either way only rows that share a winner are touched and only those reaching
        ``min_strength`` are ranked.
        """
        out: list[list[tuple[int, float]]] = [[] for _ in sources]
        have = [i for i, s in enumerate(sources) if int(s) in self._row_of and int(s) in self._out]
        if not have or self.w is None or m < 1:
            return out
        size = self._size
        src_rows = np.fromiter((self._row_of[int(sources[i])] for i in have), dtype=np.int64, count=len(have))
        codes = self._codes.numpy()
        kk = min(self.k * self.config.spread_width, self.code_dim)
        norm = float(self.k * self.k * self.config.w_cap)
        # Integer pre-filter, below every count whose strength min(1, c / norm) can pass; the exact
        # float test is then applied to the few rows above it.
        c_min = max(1, int(np.floor(self.config.min_strength * norm)) - 1)
        if _NB is not None and self.k * self.config.w_cap <= 255:
            return self._spread_compiled(out, sources, have, src_rows, codes, kk, norm, c_min, m)
        h = self._hop_input_np(codes[src_rows])
        win = self._kwta_ranked(h, kk)
        hv = np.take_along_axis(h, win, axis=1).astype(np.int64)
        b_idx, j_idx = np.nonzero(hv > 0)
        units, wts = win[b_idx, j_idx], hv[b_idx, j_idx]
        nb = len(have)
        cb_parts, cr_parts, cv_parts = [], [], []
        if self._main_rows and units.size:
            rows, lens = self._postings(units)
            if rows.size:
                key = np.repeat(b_idx * size, lens) + rows
                cnt = np.bincount(key, weights=np.repeat(wts, lens))
                cand = np.flatnonzero(cnt >= c_min)
                cb_parts.append(cand // size)
                cr_parts.append(cand % size)
                cv_parts.append(cnt[cand].astype(np.int64))
        if size > self._main_rows and units.size:
            lut = np.zeros((nb, self.code_dim + 1), dtype=np.int64)
            lut[b_idx, units] = wts
            tail = lut[:, codes[self._main_rows : size]].sum(axis=2)  # [nb, rows past the index]
            tb, tr = np.nonzero(tail >= c_min)
            cb_parts.append(tb)
            cr_parts.append(tr + self._main_rows)
            cv_parts.append(tail[tb, tr])
        if not cb_parts:
            return out
        cb, cr, cv = np.concatenate(cb_parts), np.concatenate(cr_parts), np.concatenate(cv_parts)
        return self._spread_rank(out, sources, have, cb, cr, cv, norm, m)

    def _spread_compiled(self, out, sources, have, src_rows, codes, kk, norm, c_min, m):
        """The numba spread: the ``m`` best rows of each source, then ``(id, strength)`` lists."""
        c_req = c_min  # smallest count whose strength min(1, c / norm) passes min_strength
        while min(1.0, c_req / norm) < self.config.min_strength:
            c_req += 1
        size = self._size
        with self._scratch_lock:
            cnt, touched = self._scratch_for(size)
            common = (self._inv_ptr, self._inv_rows, self._main_rows, size, c_req, self._row_ids, cnt, touched, m)
            if self._wbits is not None and self.code_dim % 64 == 0 and _LITTLE:
                n_planes = (self.k * self.config.w_cap).bit_length()
                w64 = self._wbits.view(np.uint64)
                rows, counts = _NB["spread_bits"](w64, codes, src_rows, kk, n_planes, *common)
            else:
                h = np.ascontiguousarray(self._hop_input_np(codes[src_rows]))
                rows, counts = _NB["spread_bytes"](h, codes, src_rows, kk, *common)
        mids = self._row_ids[np.maximum(rows, 0)].tolist()
        for slot, i in enumerate(have):
            out[i] = [(mid, min(1.0, c / norm)) for r, mid, c in zip(rows[slot].tolist(), mids[slot], counts[slot].tolist())
                      if r >= 0]
        return out

    def _scratch_for(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Per-index work arrays of the compiled spread (kept all-zero between calls), grown on demand."""
        cnt, touched = self._scratch
        if cnt.shape[0] < size:
            dtype = np.uint16 if self.k * self.k * self.config.w_cap <= np.iinfo(np.uint16).max else np.int32
            cap = max(size, 2 * cnt.shape[0])
            cnt, touched = np.zeros(cap, dtype=dtype), np.empty(cap + 1, dtype=np.int32)
            self._scratch = (cnt, touched)
        return cnt, touched

    def _spread_rank(
        self,
        out: list[list[tuple[int, float]]],
        sources: Sequence[int],
        have: list[int],
        cb: np.ndarray,
        cr: np.ndarray,
        cv: np.ndarray,
        norm: float,
        m: int,
    ) -> list[list[tuple[int, float]]]:
        """Exact strength test and ranking of candidate ``(source slot, row, count)`` triples."""
        keep = (np.minimum(1.0, cv / norm) >= self.config.min_strength) & (self._row_ids[cr] >= 0)
        cb, cr, cv = cb[keep], cr[keep], cv[keep]
        order = np.lexsort((cr, -cv, cb))
        mids = self._row_ids[cr]
        for j in order.tolist():
            i = have[int(cb[j])]
            mid = int(mids[j])
            if mid != int(sources[i]) and len(out[i]) < m:
                out[i].append((mid, min(1.0, int(cv[j]) / norm)))
        return out

    # ------------------------------------------------------------- accounting
    def nbytes(self) -> dict[str, int]:
        """Bytes held in memory by ``W`` (and its packed bits), the codes and the projection."""
        return {
            "w": 0 if self.w is None else self.w.numel() * self.w.element_size(),
            "w_bits": 0 if self._wbits is None else self._wbits.nbytes,
            "codes": self._size * self.k * 8 + self._row_ids[: self._size].nbytes,
            "inverted_index": self._inv_ptr.nbytes + self._inv_rows.nbytes,
            "projection": self.projection.numel(),
        }

    # ------------------------------------------------------------ persistence
    def seeded_projection(self) -> bool:
        """Whether the projection is the one :func:`~hybrid.functional.sign_projection` gives for the seed."""
        return torch.equal(self.projection, F.sign_projection(self.dim, self.code_dim, self.config.seed))

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The checkpoint's tensors. ``W`` is saved sparse (flat indices int32 and values uint8 of
        its non-zero entries, 5 bytes each) while that is smaller than ``N²`` dense bytes, so a
        checkpoint grows with the associations instead of starting at 64 MiB; a seeded projection
        is left out (see :meth:`save`)."""
        live = self._row_ids[: self._size] >= 0
        rows = torch.from_numpy(np.flatnonzero(live))
        edges = self.edges()
        t = {
            "code_ids": torch.from_numpy(self._row_ids[: self._size][live].copy()),
            "code_winners": self._codes[rows].to(torch.int32).contiguous(),
            "edges": torch.tensor(edges, dtype=torch.int64).reshape(-1, 2),
            "centre": torch.from_numpy(self.centre.copy()),
        }
        if not self.seeded_projection():
            t["projection"] = self.projection.contiguous()
        if self.w is not None:
            flat = self.w.reshape(-1)
            nz = torch.nonzero(flat).reshape(-1)
            if len(nz) * 5 < flat.numel() and flat.numel() < 2**31:
                t["w_index"] = nz.to(torch.int32).contiguous()
                t["w_value"] = flat[nz].contiguous()
            else:
                t["w"] = self.w.contiguous()
        return t

    def save(self, path: str | os.PathLike, extra: dict[str, str] | None = None) -> None:
        """Write the index to one safetensors file atomically (temporary file, fsync, rename)."""
        from safetensors.torch import save_file

        p = Path(path)
        meta = {
            "format": "hhmem-associations",
            "format_version": str(ASSOC_FORMAT_VERSION),
            "dim": str(self.dim),
            "config": json.dumps(self.config.to_dict(), sort_keys=True),
            "saturated": "1" if self._saturated else "0",
            "projection_sha256": _sha256(self.projection),
            **(extra or {}),
        }
        tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
        save_file(self.state_tensors(), str(tmp), metadata=meta)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)

    @classmethod
    def load(cls, path: str | os.PathLike) -> tuple[AssociativeIndex, dict[str, str]]:
        """Read a file written by :meth:`save`; returns ``(index, metadata)``.

        Raises:
            StoreCorruptError: truncated, damaged or foreign file (the message names the path).
        """
        from safetensors import safe_open

        p = Path(path)
        try:
            with safe_open(str(p), framework="pt") as fh:
                meta = fh.metadata() or {}
                tensors = {name: fh.get_tensor(name) for name in fh.keys()}  # noqa: SIM118
        except FileNotFoundError:
            raise
        except Exception as exc:  # safetensors raises its own error types
            raise StoreCorruptError(f"{p}: not a readable safetensors file ({exc})") from None
        if meta.get("format") != "hhmem-associations":
            raise StoreCorruptError(f"{p}: not an hhmem associations file")
        if int(meta.get("format_version", "0")) > ASSOC_FORMAT_VERSION:
            raise StoreCorruptError(f"{p}: format version {meta.get('format_version')} is newer than supported")
        try:
            config = AssociativeConfig(**json.loads(meta["config"]))
            projection = tensors.get("projection")
            if projection is None:  # seeded: rebuilt, and checked against the hash saved with it
                projection = F.sign_projection(int(meta["dim"]), config.code_dim, config.seed)
                if _sha256(projection) != meta.get("projection_sha256"):
                    raise ValueError("the projection rebuilt from its seed differs from the saved one")
            idx = cls(int(meta["dim"]), config, projection=projection)
            _check_state(tensors, config, idx.dim)
            idx.centre = tensors["centre"].numpy().astype(np.float32)
            ids = tensors["code_ids"].tolist()
            idx.set_winners(ids, tensors["code_winners"].to(torch.int64))
            idx._reindex()
            edges = [tuple(e) for e in tensors["edges"].tolist()]
            for a, b in edges:
                idx._out.setdefault(a, set()).add(b)
                idx._in.setdefault(b, set()).add(a)
            idx._n_edges = len(edges)
            if "w" in tensors:
                idx.w = tensors["w"].clone()
                idx._sync_bits()
            elif "w_index" in tensors:
                idx.w = torch.zeros((config.code_dim, config.code_dim), dtype=torch.uint8)
                idx.w.view(-1)[tensors["w_index"].to(torch.int64)] = tensors["w_value"].to(torch.uint8)
                idx._sync_bits()
            elif edges:
                idx._rebuild_w()
            idx._saturated = meta.get("saturated") == "1"
        except Exception as exc:  # any inconsistency of a derived file: the caller rebuilds it
            raise StoreCorruptError(f"{p}: associations file is damaged ({type(exc).__name__}: {exc})") from None
        return idx, meta


def _sha256(t: torch.Tensor) -> str:
    import hashlib

    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def _check_state(t: dict[str, torch.Tensor], config: AssociativeConfig, dim: int) -> None:
    """Shapes and ranges of the tensors of a checkpoint (ValueError on the first inconsistency)."""
    n, k = config.code_dim, config.k
    winners, ids, edges = t["code_winners"], t["code_ids"], t["edges"]
    if winners.ndim != 2 or winners.shape[1] != k or ids.shape != (winners.shape[0],):
        raise ValueError(f"code_winners {tuple(winners.shape)} / code_ids {tuple(ids.shape)} do not match k={k}")
    if winners.numel() and (int(winners.min()) < 0 or int(winners.max()) >= n):
        raise ValueError(f"a winner index is outside [0, {n})")
    if edges.ndim != 2 or edges.shape[1] != 2 or not set(edges.unique().tolist()) <= set(ids.tolist()):
        raise ValueError("an edge joins a memory that has no code")
    if tuple(t["centre"].shape) != (dim,):
        raise ValueError(f"centre has shape {tuple(t['centre'].shape)}, expected ({dim},)")
    if "w" in t and tuple(t["w"].shape) != (n, n):
        raise ValueError(f"w has shape {tuple(t['w'].shape)}, expected ({n}, {n})")


# ============================================================================ store glue


class StoreAssociations:
    """An :class:`AssociativeIndex` kept in sync with a store (links in SQLite, checkpoint on disk).

    Only memories that take part in an association get a code; they are the only ones an
    associative hop can reach. Writes go to the database first (one transaction), then the
    in-memory index replays the link log (``assoc_log``), so links written by another process
    are picked up the same way as our own.
    """

    def __init__(self, store: Any, config: AssociativeConfig | None = None) -> None:
        self.store = store
        # A store in a database server keeps no files: the index is rebuilt from the database.
        self.path = None if store.folder is None else store.folder / ASSOC_FILE
        ensure_schema(store)
        self._from_file = False
        self._rewrite = False
        self.index, self._link_seq, self._change_seq = self._open(config)
        self._dirty = self._rewrite or (not self._from_file and self.index.n_edges > 0)
        self.catch_up()
        self.sync([])

    def _open(self, config: AssociativeConfig | None) -> tuple[AssociativeIndex, int, int]:
        if self.path is not None and self.path.is_file():
            loaded = self._load_checkpoint(config)
            if loaded is not None:
                self._from_file = True
                return loaded
            self._rewrite = True  # replace the untrusted checkpoint at the next save
        idx = AssociativeIndex(self.store.dim, config)
        mids, vecs = self.store.all_keys()
        if len(mids):
            _, first = np.unique(mids, return_index=True)
            idx.fit_centre(vecs[first])  # frozen from now on (saved in the checkpoint)
        link_seq = int(self.store.query("SELECT COALESCE(MAX(seq), 0) FROM assoc_log")[0][0])
        change_seq = self.store.last_change()
        edges = [(int(a), int(b)) for a, b in self.store.query("SELECT DISTINCT src, dst FROM assoc_links")]
        if edges:
            self._register(idx, sorted({m for e in edges for m in e}))
            idx.link(edges)
        return idx, link_seq, change_seq

    def _load_checkpoint(self, config: AssociativeConfig | None) -> tuple[AssociativeIndex, int, int] | None:
        """The checkpoint, when it is the one this database recorded at its last save and it loads;
        None (with a warning) otherwise: the database is the source of truth."""
        try:
            recorded = json.loads(self.store.get_meta(CHECKPOINT_META_KEY) or "{}")
        except ValueError:
            recorded = {}
        reason = None
        if not isinstance(recorded, dict) or recorded.get("blake2b") != file_hash(self.path):
            reason = ("it was not written from this database's current state (a database restored from a backup, "
                      "or a damaged or foreign file)")
        else:
            try:
                idx, meta = AssociativeIndex.load(self.path)
            except StoreCorruptError as exc:
                reason = str(exc)
        if reason is not None:
            warnings.warn(f"{self.path}: association checkpoint not used: {reason}; rebuilding it from the database",
                          RuntimeWarning, stacklevel=4)
            return None
        if (config is not None and idx.config != config) or idx.dim != self.store.dim:
            return None
        return idx, int(meta.get("link_seq", 0)), int(meta.get("change_seq", 0))

    def _register(self, idx: AssociativeIndex, ids: Sequence[int]) -> None:
        """Compute codes from each memory's primary (``text``) key."""
        mids, vecs = self.store.keys_of(list(ids))
        _, first = np.unique(mids, return_index=True)
        idx.set_codes(mids[first].tolist(), vecs[first])

    # ----------------------------------------------------------------- writes
    def link(self, pairs: Sequence[tuple[int, int]], source: str) -> int:
        """Store directed links (in one transaction) and learn them; returns how many rows were new."""
        new = write_links(self.store, pairs, source)
        self.sync([])
        return new

    def unlink(self, pairs: Sequence[tuple[int, int]], source: str | None = None) -> int:
        """Remove links (of one source, or all sources); returns rows removed."""
        removed = 0
        with self.store.transaction() as conn:
            for a, b in pairs:
                sql, params = "DELETE FROM assoc_links WHERE src = ? AND dst = ?", [int(a), int(b)]
                if source is not None:
                    sql += " AND source = ?"
                    params.append(source)
                n = conn.execute(sql, params).rowcount
                if n:
                    removed += n
                    conn.execute("INSERT INTO assoc_log(src, dst, op) VALUES (?, ?, 'unlink')", (int(a), int(b)))
        self.sync([])
        return removed

    # ------------------------------------------------------------------- sync
    def sync(self, changed: Sequence[int]) -> None:
        """Apply memory changes (deleted -> forget, re-encoded -> new code) and new link log entries."""
        idx = self.index
        if changed:
            self._apply_memory_changes([int(c) for c in changed])
        rows = self.store.query("SELECT seq, src, dst FROM assoc_log WHERE seq > ? ORDER BY seq", (self._link_seq,))
        if rows:
            self._link_seq = int(rows[-1][0])
            pairs = sorted({(int(a), int(b)) for _, a, b in rows})
            present = set()
            for a, b in pairs:
                if self.store.query("SELECT 1 FROM assoc_links WHERE src = ? AND dst = ? LIMIT 1", (a, b)):
                    present.add((a, b))
            to_add = [p for p in pairs if p in present and not idx.has_edge(*p)]
            to_del = [p for p in pairs if p not in present and idx.has_edge(*p)]
            need = sorted({m for p in to_add for m in p if m not in idx})
            if need:
                self._register(idx, need)
            to_add = [p for p in to_add if p[0] in idx and p[1] in idx]
            idx.link(to_add)
            idx.unlink(to_del)
            self._dirty = True

    def _apply_memory_changes(self, changed: list[int]) -> None:
        idx = self.index
        known = [m for m in changed if m in idx]
        if known:
            exists = {rec.id for rec in self.store.get_many(known)}
            gone = [m for m in known if m not in exists]
            idx.remove(gone)
            alive = [m for m in known if m in exists]
            if alive:
                self._register(idx, alive)
            self._dirty = True
        self._change_seq = max(self._change_seq, self.store.last_change())

    def catch_up(self) -> None:
        """Replay memory changes committed since the checkpoint was written (used after loading it)."""
        seq, changed = self.store.changes_since(self._change_seq)
        if changed:
            self._apply_memory_changes(changed)
        self._change_seq = seq

    def save(self) -> None:
        """Write the checkpoint (only when something changed since the last one)."""
        if not self._dirty or self.path is None:
            return
        self.index.save(self.path, {"link_seq": str(self._link_seq), "change_seq": str(self._change_seq)})
        # Bind the file to this database: a later open trusts it only while the hashes agree.
        self.store.set_meta(CHECKPOINT_META_KEY, json.dumps(
            {"blake2b": file_hash(self.path), "link_seq": self._link_seq, "change_seq": self._change_seq}))
        self._dirty = False


__all__ = [
    "ASSOC_FILE",
    "AssociativeConfig",
    "AssociativeIndex",
    "Hop",
    "StoreAssociations",
]


# ====================================================================== helpers for Memory


def write_links(store: Any, pairs: Sequence[tuple[int, int]], source: str,
                created_at: Sequence[float] | None = None) -> int:
    """Insert directed links and their log rows in one transaction; returns how many were new.

    ``created_at``: one time per pair (epoch seconds; default now), e.g. when importing.

    Raises:
        NotFoundError: a memory of a pair does not exist (nothing is written).
    """
    pairs = [checked_ids(p, "link: memory id") for p in pairs]
    now = time.time()
    times = [now] * len(pairs) if created_at is None else [float(t) for t in created_at]
    if len(times) != len(pairs):
        raise InvalidInputError(f"write_links: {len(times)} times for {len(pairs)} pairs")
    timed = [((int(a), int(b)), t) for (a, b), t in zip(pairs, times) if int(a) != int(b)]
    pairs = [p for p, _ in timed]
    if not pairs:
        return 0
    ensure_schema(store)
    ids = sorted({m for p in pairs for m in p})
    new = 0
    with store.transaction() as conn:
        found: set[int] = set()
        for s in range(0, len(ids), 900):
            part = ids[s : s + 900]
            found.update(r[0] for r in conn.execute(f"SELECT id FROM memories WHERE id IN ({','.join('?' * len(part))})", part))
        missing = [m for m in ids if m not in found]
        if missing:
            raise NotFoundError(f"cannot link: memory {missing[0]} not found in {store.path}")
        for (a, b), at in timed:
            cur = conn.execute(
                "INSERT OR IGNORE INTO assoc_links(src, dst, source, created_at) VALUES (?,?,?,?)", (a, b, source, at)
            )
            if cur.rowcount:
                new += 1
                conn.execute("INSERT INTO assoc_log(src, dst, op) VALUES (?, ?, 'link')", (a, b))
    return new


_SCHEMA_READY: set[str] = set()


def ensure_schema(store: Any) -> None:
    """Create the association tables if missing (idempotent; once per store path and process)."""
    key = str(store.path if store.folder is None else Path(store.path).resolve())
    if key in _SCHEMA_READY:
        return
    with store.transaction() as conn:
        for stmt in filter(str.strip, _SCHEMA.split(";")):
            conn.execute(stmt)
    _SCHEMA_READY.add(key)


def entity_pairs(store: Any, ids: Sequence[int], texts: Sequence[str], namespace: str, cfg: Any) -> list[tuple[int, int]]:
    """Record the terms of new memories and return both-way links to earlier memories sharing a rare term."""
    from .linking import extract_terms

    ensure_schema(store)
    rows: list[tuple[str, int]] = []
    per_mem: list[set[str]] = []
    for mid, text in zip(ids, texts):
        terms = {f"{namespace}\x1f{t}" for t in extract_terms(text, min_word_len=cfg.min_word_len)}
        per_mem.append(terms)
        rows += [(t, int(mid)) for t in terms]
    if rows:
        with store.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO assoc_terms(term, memory_id) VALUES (?, ?)", rows)
    holders: dict[str, list[int]] = {}
    for t in sorted({t for ts in per_mem for t in ts}):
        r = store.query("SELECT memory_id FROM assoc_terms WHERE term = ? ORDER BY memory_id DESC LIMIT ?", (t, cfg.max_df + 1))
        holders[t] = [int(x[0]) for x in r]
    pairs: set[tuple[int, int]] = set()
    for mid, terms in zip(ids, per_mem):
        for t in terms:
            h = holders[t]
            if len(h) > cfg.max_df:
                continue
            earlier = [o for o in h if o < int(mid)][: cfg.max_links_per_term]
            for o in earlier:
                pairs.add((int(mid), o))
                pairs.add((o, int(mid)))
    return sorted(pairs)


def multi_hop(
    index: AssociativeIndex,
    scores: np.ndarray,
    ids: np.ndarray,
    k: int,
    hops: int,
    *,
    decay: float,
    allowed: set[int] | None = None,
    prune: bool = True,
) -> tuple[np.ndarray, np.ndarray, list[list[int]], list[list[list[int]]]]:
    """Blend single-hop recall with associative spread through ``W``.

    Hop 0 is the Hopfield result (``scores``, ``ids`` ``[n, m]``). At hop ``h`` every memory
    reached at hop ``h-1`` (best ``k`` of them) spreads to its associates (:meth:`AssociativeIndex.spread`):

    .. math::
        s(b) = s(a) \\cdot \\delta \\cdot \\mathrm{strength}(a \\to b)

    with δ the per-hop decay. Each memory keeps its best score (and the hop and path that gave
    it); the ``k`` best of all hops are returned.

    With ``prune`` (default) a frontier memory ``a`` is not spread when nothing it or its
    descendants could reach can enter the result: scores only shrink along a path (``0 < δ <= 1``,
    ``min_strength <= strength <= 1``), so when ``max(s(a)·δ, s(a)·δ·min_strength)`` is below the
    current k-th best score, every memory reached through ``a`` scores below the final k-th best
    too. The returned scores, ids, hops and paths are identical to ``prune=False`` (tested); only
    work that cannot change them is skipped.

    Returns:
        ``(scores [n, k], ids [n, k], hops per result, paths per result)``; padding ``-inf``/``-1``.
    """
    n = ids.shape[0]
    floor = index.config.min_strength  # the weakest strength a spread result can have
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_h: list[list[int]] = []
    out_p: list[list[list[int]]] = []
    for q in range(n):
        best: dict[int, tuple[float, int, list[int]]] = {}
        for s, i in zip(scores[q], ids[q]):
            if i >= 0:
                best[int(i)] = (float(s), 0, [int(i)])
        frontier = sorted(best, key=lambda m: -best[m][0])[:k]
        for h in range(1, hops + 1):
            if prune and len(best) >= k:
                kth = sorted((v[0] for v in best.values()), reverse=True)[k - 1]
                frontier = [a for a in frontier if max(best[a][0] * decay, best[a][0] * decay * floor) >= kth]
                if not frontier:
                    break
            spread = index.spread(frontier, m=k)
            reached: list[int] = []
            for src, assoc in zip(frontier, spread):
                s_src, _, p_src = best[src]
                for dst, strength in assoc:
                    if allowed is not None and dst not in allowed:
                        continue
                    s = s_src * decay * strength
                    if dst not in best or best[dst][0] < s:
                        best[dst] = (s, h, p_src + [dst])
                        reached.append(dst)
            frontier = sorted(set(reached), key=lambda m: -best[m][0])[:k]
            if not frontier:
                break
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
        for j, (mid, (s, _, _)) in enumerate(ranked):
            out_s[q, j] = s
            out_i[q, j] = mid
        out_h.append([v[1] for _, v in ranked])
        out_p.append([v[2] for _, v in ranked])
    return out_s, out_i, out_h, out_p
