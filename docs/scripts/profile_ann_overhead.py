"""What hhmem's call adds to an hnswlib graph walk (docs/performance.md, design item 9).

On the bench's synthetic 20 000-memory set (seed 0, d = 384, M = 32, ef_construction = 80,
1 thread), one graph built by ``HopfieldRetriever(backend="hnswlib")`` is queried four ways, each
over the same 200 queries in turn (so every call follows a graph walk, as in real use):

- ``hnswlib knn_query``: the library alone (``k = 10``, the peer's call);
- ``hhmem _ann_search``: hhmem's stage-1 call (``k = K = 20`` candidates, ids and scores converted);
- ``hhmem search, settle off`` / ``on``: the public ``search(q, 10)``.

Then the pieces of the first part of ``search`` are timed inside each query after a walk:
validation + normalisation of the query by NumPy and by the compiled pass, and a first torch call.

Run from the repository root: ``.venv/bin/python docs/scripts/profile_ann_overhead.py``.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from hybrid import encoder
from hybrid.bench.latency import near_queries, synthetic_vectors
from hybrid.config import HopfieldConfig
from hybrid.retriever import HNSWConfig, HopfieldRetriever

N, DIM, QUERIES, ROUNDS, EF = 20000, 384, 200, 5, 128


def median_us(fn, queries: list[np.ndarray], walk=None) -> float:
    """Median µs of ``fn(q)`` over the queries, best of ``ROUNDS``; with ``walk``, each timed call
    follows an untimed ``walk(q)`` (the graph walk that precedes it in a real search)."""
    best = float("inf")
    for _ in range(ROUNDS):
        times = []
        for q in queries:
            if walk is not None:
                walk(q)
            t0 = time.perf_counter()
            fn(q)
            times.append(time.perf_counter() - t0)
        best = min(best, float(np.median(times)) * 1e6)
    return best


def main() -> None:
    torch.set_num_threads(1)
    x = synthetic_vectors(N, DIM, seed=0)
    queries = [q[None, :] for q in near_queries(x, QUERIES, seed=1)]
    r = HopfieldRetriever(DIM, HopfieldConfig(state_weight=1.0), device="cpu", backend="hnswlib",
                          hnsw=HNSWConfig(32, 80, EF))
    r.add(x, np.arange(N))
    r.build_index()
    graph = r._ann
    graph.set_num_threads(1)
    off = HopfieldConfig(state_weight=1.0, max_steps=0)

    def peer(q):
        graph.set_ef(EF)
        return graph.knn_query(q, 10)

    rows = [
        ("hnswlib knn_query (k = 10)", median_us(peer, queries)),
        ("hhmem _ann_search (K = 20 candidates)", median_us(lambda q: r._ann_search(q, 20), queries)),
        ("hhmem search, settle off", median_us(lambda q: r.search(q, 10, config=off), queries)),
        ("hhmem search, settle on (3 steps)", median_us(lambda q: r.search(q, 10), queries)),
    ]
    walk = peer
    compiled = encoder._UNIT_ROWS
    rows += [
        ("after a walk: NumPy validate + normalise (the earlier chain)", median_us(_numpy_normalise, queries, walk)),
        ("after a walk: compiled validate + normalise", median_us(lambda q: encoder.normalize_rows(q), queries, walk)
         if compiled is not None else float("nan")),
        ("after a walk: first torch call (keys[:n].numpy())", median_us(lambda q: r._keys[:N].numpy(), queries, walk)),
    ]
    print(f"N = {N}, ef = {EF}, 1 thread, median µs per call (best of {ROUNDS} rounds)")
    print("| call | µs |\n|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.1f} |")


def _numpy_normalise(q: np.ndarray) -> np.ndarray:
    """The NumPy chain ``normalize_rows`` used before the compiled pass (checks, norms, divide)."""
    arr = np.asarray(q).astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError("non-finite query")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("zero query")
    return arr / norms


if __name__ == "__main__":
    main()
