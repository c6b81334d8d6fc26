"""What a namespace or metadata filter costs a search (docs/performance.md, "Filtered searches").

A store of the bench's 20 000 synthetic vectors (seed 0, d = 384) in two namespaces of 10 000,
stored with the hash stand-in encoder (the vectors are given directly, so the encoder only names
the store), 1 thread. For 50 queries near stored vectors, the median µs of
``Memory.search_ids(v, 10, ...)``:

- without a filter;
- in one namespace, with the filter mask cache (the default);
- in one namespace, with the cache emptied before every search (what every filtered search cost
  before the cache: an SQL query listing the namespace's ids, then the mask);
- the SQL id listing alone (``Store.ids_matching``).

Run from the repository root: ``.venv/bin/python docs/scripts/profile_filtered_search.py``.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import torch

from hybrid import HashEncoder, Memory
from hybrid.bench.latency import near_queries, synthetic_vectors

N, DIM, QUERIES = 20000, 384, 50


def median_us(fn, queries: np.ndarray) -> float:
    times = []
    for v in queries:
        t0 = time.perf_counter()
        fn(v[None, :])
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e6


def main() -> None:
    torch.set_num_threads(1)
    x = synthetic_vectors(N, DIM, seed=0)
    queries = near_queries(x, QUERIES, seed=1)
    with tempfile.TemporaryDirectory() as folder, Memory.open(folder, encoder=HashEncoder(DIM), device="cpu") as mem:
        half = N // 2
        mem.add([f"memory {i}" for i in range(half)], vectors=x[:half], namespace="a")
        mem.add([f"memory {i}" for i in range(half, N)], vectors=x[half:], namespace="b")

        def uncached(v):
            mem._masks.clear()
            return mem.search_ids(v, 10, namespace="a")

        rows = [
            ("no filter", median_us(lambda v: mem.search_ids(v, 10), queries)),
            ("namespace, mask cache (default)", median_us(lambda v: mem.search_ids(v, 10, namespace="a"), queries)),
            ("namespace, cache emptied before each search", median_us(uncached, queries)),
            ("Store.ids_matching(namespace) alone", median_us(lambda v: mem.store.ids_matching(namespace="a"), queries)),
        ]
    print(f"N = {N} in 2 namespaces, {QUERIES} queries, 1 thread, median µs")
    print("| search | µs |\n|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} |")


if __name__ == "__main__":
    main()
