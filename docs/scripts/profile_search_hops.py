"""Where a single query and a multi-hop search spend their time (docs/performance.md).

Two measurements on the bench's synthetic 20 000-memory store (seed 0, d = 384, 1 thread):

1. *single query, step by step*: the pieces of the tensor path of ``HopfieldRetriever.search``
   timed one after another inside each query, so every piece sees the cold caches that follow
   the 30 MB stage-1 scan, next to the whole search (the one-call compiled path where numba is
   installed);
2. *multi-hop*: ``Memory.search_ids(q, 10, hops=H)`` with the exact frontier pruning of
   ``associative.multi_hop`` (the default) and without it, plus how many memories a search spreads.

Run from the repository root: ``.venv/bin/python docs/scripts/profile_search_hops.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import hybrid.associative as A
import hybrid.memory as M
from hybrid import functional as F
from hybrid.bench.latency import (
    LatencyConfig,
    _retriever,
    count_spread_sources,
    linked_store,
    near_queries,
    synthetic_vectors,
)
from hybrid.config import HopfieldConfig
from hybrid.encoder import normalize_rows

N, K, QUERIES, ROUNDS = 20000, 10, 100, 5


def single_query_steps(x: np.ndarray, q: np.ndarray) -> dict[str, float]:
    r = _retriever(x, LatencyConfig())
    keys = r._keys[:N]
    settle = dict(candidates=20, beta=20.0, max_steps=3, eps=1e-4, state_weight=1.0)
    out: dict[str, list[float]] = {}

    def mark(name: str, t0: float) -> float:
        t = time.perf_counter()
        out.setdefault(name, []).append(t - t0)
        return t

    for _ in range(ROUNDS):
        for i in range(QUERIES):
            b = q[i : i + 1]
            t = time.perf_counter()
            qt = torch.from_numpy(normalize_rows(b, name="queries", dim=x.shape[1]))
            t = mark("prepare query", t)
            sims = F.inner_products(qt, keys)
            t = mark("stage-1 product", t)
            cs, cr = F.topk_unsorted(sims, 20)
            t = mark("top-K", t)
            s, rows, _ = F._stage2_numpy(cs, cr, qt, keys, K * 2, 20.0, 3, 1e-4, 1.0)
            t = mark("stage 2 (NumPy)", t)
            ids = torch.where(rows >= 0, r._ids[:N][rows.clamp_min(0)], rows)
            res = F.take_k(s, ids, K)
            res[0].numpy(), res[1].numpy()
            t = mark("ids, cut, to NumPy", t)
            r.search(b, K)
            mark("whole search()", t)
            t = time.perf_counter()
            F.two_stage_search(qt, keys, K, **settle)
            mark("two_stage_search (tensor path)", t)
    return {k: float(np.median(v)) * 1e6 for k, v in out.items()}


def hop_costs(x: np.ndarray, q: np.ndarray) -> None:
    mem, _, _ = linked_store(x, Path(tempfile.mkdtemp()) / "store", HopfieldConfig(state_weight=1.0), 3)
    singles = [q[i : i + 1] for i in range(QUERIES)]
    for label, prune in (("pruned (default)", True), ("not pruned", False)):
        M.multi_hop = lambda *args, p=prune, **kw: A.multi_hop(*args, **{**kw, "prune": p})
        spread_per_query = count_spread_sources(mem, singles, 3)
        med = {}
        for h in (0, 1, 2, 3):
            ts = []
            for _ in range(3):
                for i in range(QUERIES):
                    t0 = time.perf_counter()
                    mem.search_ids(q[i : i + 1], K, hops=h)
                    ts.append(time.perf_counter() - t0)
            med[h] = float(np.median(ts)) * 1e3
        per_hop = ", ".join(f"H={h}: {(med[h] - med[0]) / h:.3f}" for h in (1, 2, 3))
        print(f"multi-hop {label}: hops 0-3 median ms {[round(v, 3) for v in med.values()]}; per extra hop ms {per_hop}; "
              f"memories spread per 3-hop query {spread_per_query:.2f}")
    M.multi_hop = A.multi_hop
    mem.close()


def main() -> None:
    torch.set_num_threads(1)
    x = synthetic_vectors(N, 384, 0)
    q = near_queries(x, QUERIES, 1)
    print(f"single query at N = {N} (median µs, pieces timed in sequence inside each query):")
    for k, v in single_query_steps(x, q).items():
        print(f"  {k:34s} {v:8.1f}")
    hop_costs(x, q)


if __name__ == "__main__":
    main()
