"""``hhmem bench latency``: retrieval latency, recall, memory and ingest cost against FAISS and hnswlib.

Measured in one run, on the same vectors and queries, with the same thread count for every
library (``--threads``):

- **exact**: FAISS ``IndexFlatIP`` (the peer; its faster code path for each batch size is used,
  see ``faiss_blas_threshold`` in the report), hhmem stage 1 alone (``max_steps = 0``) and the
  two-stage Hopfield retriever in float32 and bfloat16 storage;
- **approximate**: hnswlib (the peer) and hhmem with the FAISS HNSW stage 1 (``backend="hnsw"``)
  and with the hnswlib stage 1 (``backend="hnswlib"``; the peer then queries that same graph)
  over a sweep of ``ef_search``, and hhmem with the FAISS IVF stage 1 (``backend="ivf"``) over a
  sweep of ``nprobe``; each with its recall@10 against exact search;
- **multi-hop**: ``Memory.search_ids(..., hops=H)`` at ``--hop-size`` memories; cost per extra hop;
- **memory**: bytes per stored memory of the key matrix (float32/float16/bfloat16), of the
  association structures (codes, ``W``) and the process's resident-set growth;
- **ingest**: ``Memory.add`` throughput relative to the raw encoder's on the same texts.

Latency is taken per call (``time.perf_counter``, wall) and as process CPU time
(``time.process_time``); methods are interleaved round by round and every ratio is the median
over rounds of the per-round ratio of medians, so drift in a shared machine's load cancels.
"""

from __future__ import annotations

import contextlib
import json
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._version import __version__
from ..config import HopfieldConfig
from ..retriever import HNSWConfig, HopfieldRetriever, IVFConfig

K = 10


@dataclass(frozen=True)
class LatencyConfig:
    """Settings of ``hhmem bench latency``.

    Attributes:
        sizes: stored memories ``N`` of the synthetic sets.
        ann_sizes: sizes at which the approximate methods are built (HNSW builds are slow).
        minilm: size of the real-MiniLM set (0: skip).
        queries: single queries timed per round and method; batches: batches per round.
        batch: batch size of the throughput measurement.
        rounds: interleaved repetitions (medians over rounds).
        threads: threads for torch, FAISS and hnswlib alike.
        device: where hhmem's retriever lives (``cpu`` or ``cuda``).
        hnsw_m, hnsw_ef_construction: graph parameters of both HNSW implementations.
        ef_search: the ``ef_search`` sweep (hnswlib and hhmem's HNSW stage 1).
        ann_backends: hhmem's approximate stage 1 backends to measure (``hnsw``, ``ivf``,
            ``hnswlib``; with ``hnswlib`` the peer is that backend's own graph).
        nprobe: the ``nprobe`` sweep of the IVF stage 1; ivf_nlist: its lists (0: automatic).
        ann_cache: save each built approximate index under ``cache`` and load it in later runs
            over the same vectors and build parameters (a 1M graph takes ~20 min on 2 cores);
            the report then gives the build time measured when it was built.
        hop_size: memories of the multi-hop measurement (0: skip); hops: hop counts.
        ingest_texts: texts of the ingest measurement (0: skip).
        postgres: the shared-store row at each of ``ann_sizes`` (:mod:`hybrid.bench.shared_store`):
            ``""`` skips it, ``"auto"`` starts a temporary pgserver, a ``postgresql://`` URI names
            a server on which the bench may create (and drop) databases.
    """

    seed: int = 0
    sizes: tuple[int, ...] = (20000, 100000, 1000000)
    ann_sizes: tuple[int, ...] = (20000, 100000)
    minilm: int = 20000
    dim: int = 384
    queries: int = 100
    batch: int = 64
    batches: int = 3
    rounds: int = 3
    threads: int = 1
    device: str = "cpu"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    ef_search: tuple[int, ...] = (16, 32, 64, 128, 256)
    ann_backends: tuple[str, ...] = ("hnsw", "ivf", "hnswlib")
    nprobe: tuple[int, ...] = (4, 8, 16, 32, 64)
    ivf_nlist: int = 0
    hop_size: int = 20000
    hops: tuple[int, ...] = (1, 2, 3)
    ingest_texts: int = 1000
    model: str = "default"
    cache: str = "reports/cache"
    ann_cache: bool = False
    hopfield: dict = field(default_factory=lambda: HopfieldConfig(state_weight=1.0).to_dict())
    postgres: str = ""

    def __post_init__(self) -> None:
        if not self.sizes or min(self.sizes) < 100:
            raise ValueError(f"sizes must be >= 100, got {self.sizes}")
        for name in ("queries", "batch", "batches", "rounds", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but CUDA is not available")
        if self.postgres not in ("", "auto") and not self.postgres.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"postgres must be '', 'auto' or a postgresql:// URI, got {self.postgres!r}")
        if not set(self.ann_backends) <= {"hnsw", "ivf", "hnswlib"}:
            raise ValueError(f"ann_backends must be among 'hnsw', 'ivf', 'hnswlib', got {self.ann_backends}")


# ----------------------------------------------------------------------------- data
def synthetic_vectors(n: int, dim: int, seed: int, *, progress: bool = False) -> np.ndarray:
    """Unit vectors with sentence-embedding-like structure: a shared mean direction, topic clusters
    of Zipf-distributed sizes and per-item noise (nearest-neighbour cosines ≈ 0.6–0.9, random
    pairs ≈ 0.1–0.3, as for MiniLM). Generated in blocks, float32 ``[n, dim]``."""
    rng = np.random.default_rng(seed)
    n_topics = max(16, n // 40)
    mean = rng.standard_normal(dim).astype(np.float32)
    mean /= np.linalg.norm(mean)
    centers = rng.standard_normal((n_topics, dim)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, n_topics + 1) ** 0.8
    weights /= weights.sum()
    out = np.empty((n, dim), dtype=np.float32)
    blocks = range(0, n, 65536)
    if progress:
        from tqdm import tqdm

        blocks = tqdm(blocks, desc=f"vectors N={n}", file=sys.stderr, leave=False)
    for s in blocks:
        e = min(n, s + 65536)
        topic = rng.choice(n_topics, size=e - s, p=weights)
        spread = rng.uniform(0.6, 1.2, size=(e - s, 1)).astype(np.float32)
        x = 0.35 * mean + 0.8 * centers[topic] + spread * rng.standard_normal((e - s, dim)).astype(np.float32) / np.sqrt(dim)
        out[s:e] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def near_queries(x: np.ndarray, n: int, seed: int, noise: float = 0.55) -> np.ndarray:
    """Queries near ``n`` random stored vectors (cosine ≈ 0.85 to their source), unit float32."""
    rng = np.random.default_rng(seed + 7)
    src = rng.choice(x.shape[0], size=n, replace=False)
    q = x[src] + noise * rng.standard_normal((n, x.shape[1])).astype(np.float32) / np.sqrt(x.shape[1])
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_topk(x: np.ndarray, q: np.ndarray, k: int = K) -> np.ndarray:
    """Brute-force top-``k`` rows by inner product (float64 re-check of the float32 scan)."""
    xt = torch.from_numpy(x)
    out = []
    for s in range(0, q.shape[0], 256):
        sims = torch.from_numpy(q[s : s + 256]) @ xt.T
        out.append(torch.topk(sims, k, dim=1).indices.numpy())
    return np.concatenate(out)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean ``|found ∩ truth| / k`` over queries (``-1`` never matches)."""
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)]))


# ---------------------------------------------------------------------------- timing
def _time_calls(fn: Callable[[np.ndarray], Any], inputs: list[np.ndarray]) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for x in inputs:
        c0, w0 = time.process_time(), time.perf_counter()
        fn(x)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def measure(methods: dict[str, Callable[[np.ndarray], Any]], inputs: list[np.ndarray], rounds: int,
            peer: str | None, seed: int) -> dict[str, dict[str, float]]:
    """Interleaved timing of several methods on the same inputs.

    Returns per method: ``median_ms``, ``p99_ms`` (wall, all calls pooled), ``cpu_median_ms`` and,
    when ``peer`` is given, ``ratio`` / ``cpu_ratio``: the median over rounds of
    ``median(method) / median(peer)``.
    """
    rng = np.random.default_rng(seed)
    names = list(methods)
    for name in names:  # warm-up
        methods[name](inputs[0])
    wall: dict[str, list[float]] = {n: [] for n in names}
    per_round: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for _ in range(rounds):
        for name in rng.permutation(names):
            w, c = _time_calls(methods[name], inputs)
            wall[name] += w
            per_round[name].append((float(np.median(w)), float(np.median(c))))
    out = {}
    for name in names:
        w = np.asarray(wall[name]) * 1e3
        row = {
            "median_ms": float(np.median(w)),
            "p99_ms": float(np.percentile(w, 99)),
            "cpu_median_ms": float(np.median([c for _, c in per_round[name]]) * 1e3),
        }
        if peer is not None:
            row["ratio"] = float(np.median([a[0] / b[0] for a, b in zip(per_round[name], per_round[peer])]))
            row["cpu_ratio"] = float(np.median([a[1] / max(b[1], 1e-9) for a, b in zip(per_round[name], per_round[peer])]))
        out[name] = row
    return out


# --------------------------------------------------------------------------- methods
def _set_threads(n: int) -> None:
    """The same thread count for every library: torch, FAISS's OpenMP and NumPy's BLAS (which
    would otherwise run a matrix-vector product on every core)."""
    torch.set_num_threads(n)
    import faiss

    faiss.omp_set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn / sentence-transformers
        return
    threadpool_limits(n)


def _faiss_flat(x: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    return index


def _pick_blas_threshold(index, q: np.ndarray) -> int:
    """FAISS flat search has a SIMD path and a BLAS path chosen by ``distance_compute_blas_threshold``;
    return the threshold that is faster for this batch size (measured)."""
    import faiss

    best, best_t = None, float("inf")
    for th in (1, 1 << 30):
        faiss.cvar.distance_compute_blas_threshold = th
        index.search(q, K)
        t = min(_timed(lambda: index.search(q, K)) for _ in range(3))
        if t < best_t:
            best, best_t = th, t
    faiss.cvar.distance_compute_blas_threshold = best
    return best


def _timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _retriever(x: np.ndarray, cfg: LatencyConfig, **kw: Any) -> HopfieldRetriever:
    r = HopfieldRetriever(x.shape[1], HopfieldConfig(**cfg.hopfield), device=cfg.device, **kw)
    for s in range(0, x.shape[0], 262144):
        r.add(x[s : s + 262144], np.arange(s, min(s + 262144, x.shape[0])))
    return r


def _no_settle(cfg: LatencyConfig) -> HopfieldConfig:
    return HopfieldConfig(**{**cfg.hopfield, "max_steps": 0})


def bench_exact(name: str, x: np.ndarray, q: np.ndarray, cfg: LatencyConfig, progress: bool) -> dict[str, Any]:
    """Exact methods on one set: single-query and batch latency, recall@10 against brute force."""
    truth = exact_topk(x, q)
    flat = _faiss_flat(x)
    hh32 = _retriever(x, cfg)
    hhbf = _retriever(x, cfg, dtype="bfloat16")
    off = _no_settle(cfg)
    methods = {
        "faiss_flat": lambda b: flat.search(b, K),
        "hhmem_stage1": lambda b: hh32.search(b, K, config=off),
        "hhmem_two_stage": lambda b: hh32.search(b, K),
        "hhmem_stage1_bf16": lambda b: hhbf.search(b, K, config=off),
        "hhmem_two_stage_bf16": lambda b: hhbf.search(b, K),
    }
    recall = {"faiss_flat": recall_at_k(flat.search(q, K)[1], truth)}
    for m in methods:
        if m != "faiss_flat":
            recall[m] = recall_at_k(methods[m](q)[1], truth)
    singles = [q[i : i + 1] for i in range(min(cfg.queries, q.shape[0]))]
    nb = min(cfg.batches, max(1, q.shape[0] // cfg.batch))
    batches = [q[(i * cfg.batch) % q.shape[0] :][: cfg.batch] for i in range(nb)]
    th1 = _pick_blas_threshold(flat, singles[0])
    if progress:
        print(f"[latency] {name}: single queries", file=sys.stderr)
    single = measure(methods, singles, cfg.rounds, "faiss_flat", cfg.seed)
    thb = _pick_blas_threshold(flat, batches[0])
    if progress:
        print(f"[latency] {name}: batch {cfg.batch}", file=sys.stderr)
    batch = measure(methods, batches, cfg.rounds, "faiss_flat", cfg.seed + 1)
    for row in batch.values():
        row["qps"] = cfg.batch / (row["median_ms"] / 1e3)
    return {
        "set": name, "n": int(x.shape[0]), "queries": int(q.shape[0]), "recall_at_10": recall,
        "single": single, "batch": batch, "faiss_blas_threshold": {"single": th1, "batch": thb},
        "settle_steps_last": int(hh32.last_settle_steps),
    }


def bench_ann(name: str, x: np.ndarray, q: np.ndarray, cfg: LatencyConfig, progress: bool) -> dict[str, Any]:
    """hnswlib against hhmem's approximate stage 1, single queries: an ``ef_search`` sweep for
    hnswlib and hhmem's HNSW stage 1s (timed together, same ``M`` and ``ef_construction``) and an
    ``nprobe`` sweep for hhmem's FAISS IVF; then the cheapest point of each reaching recall@10 ≥ 0.98.

    With the ``hnswlib`` backend the peer is hhmem's own graph queried directly (one build, the
    same graph): the ratio is then exactly what hhmem's search adds to hnswlib's."""
    import hnswlib

    truth = exact_topk(x, q)
    build: dict[str, float] = {}
    cached: dict[str, bool] = {}
    built = {}
    for backend in sorted(cfg.ann_backends, key=lambda b: b != "hnswlib"):  # hnswlib first: it may be the peer
        built[backend], build[f"hhmem_{backend}"], cached[backend] = _ann_retriever(name, x, cfg, backend)
    if "hnswlib" in built:
        peer = built["hnswlib"]._ann
        build["hnswlib"] = build["hhmem_hnswlib"]
    else:
        t0 = time.perf_counter()
        peer = hnswlib.Index(space="ip", dim=x.shape[1])
        peer.init_index(max_elements=x.shape[0], M=cfg.hnsw_m, ef_construction=cfg.hnsw_ef_construction, random_seed=cfg.seed)
        peer.set_num_threads(max(cfg.threads, 2))
        peer.add_items(x, np.arange(x.shape[0]))
        build["hnswlib"] = time.perf_counter() - t0
    peer.set_num_threads(cfg.threads)
    graphs = [b for b in ("hnsw", "hnswlib") if b in built]
    exact_hh = _retriever(x, cfg)
    hh_exact_ids = exact_hh.search(q, K)[1]
    off = _no_settle(cfg)
    singles = [q[i : i + 1] for i in range(min(cfg.queries, q.shape[0]))]

    def variant(backend: str, value: int) -> HopfieldRetriever:
        r = HopfieldRetriever.__new__(HopfieldRetriever)
        r.__dict__.update(built[backend].__dict__)
        if backend == "ivf":
            r.ivf_config = IVFConfig(nlist=cfg.ivf_nlist, nprobe=value, seed=cfg.seed)
        else:
            r.hnsw_config = HNSWConfig(cfg.hnsw_m, cfg.hnsw_ef_construction, value, seed=cfg.seed)
        return r

    def sweep_point(methods: dict[str, Callable], recall_of: dict[str, Callable], seed: int, **point: int) -> dict:
        timing = measure(methods, singles, cfg.rounds, "hnswlib" if "hnswlib" in methods else None, seed)
        rec = {m: recall_at_k(f(q), truth) for m, f in recall_of.items()}
        return {**point, "timing": timing, "recall_at_10": rec}

    def hh_methods(backend: str, r: HopfieldRetriever) -> tuple[dict, dict]:
        m = {f"hhmem_{backend}_stage1": lambda b: r.search(b, K, config=off), f"hhmem_{backend}_two_stage": lambda b: r.search(b, K)}
        return m, {name: (lambda b, f=f: f(b)[1]) for name, f in m.items()}

    def tick(values: tuple[int, ...], label: str):
        return values if not progress else __import__("tqdm").tqdm(values, desc=f"{label} sweep {name}", file=sys.stderr, leave=False)

    def peer_query(ef: int) -> Callable:
        def query(b: np.ndarray):
            peer.set_ef(ef)  # per call, as hhmem does: the graph may be shared with hhmem's backend
            return peer.knn_query(b, K)
        return query

    rows = []
    for ef in tick(cfg.ef_search, "ef"):
        query = peer_query(max(ef, K))
        methods = {"hnswlib": query}
        recall_of = {"hnswlib": lambda b, query=query: query(b)[0].astype(np.int64)}
        for backend in graphs:
            m, rec = hh_methods(backend, variant(backend, ef))
            methods.update(m)
            recall_of.update(rec)
        rows.append(sweep_point(methods, recall_of, cfg.seed + ef, ef_search=ef))
        for backend in graphs:
            rows[-1]["recall_at_10"][f"hhmem_{backend}_two_stage_vs_exact_two_stage"] = recall_at_k(
                variant(backend, ef).search(q, K)[1], hh_exact_ids)
    ivf_rows = []
    if "ivf" in built:
        for nprobe in tick(cfg.nprobe, "nprobe"):
            m, rec = hh_methods("ivf", variant("ivf", nprobe))
            ivf_rows.append(sweep_point(m, rec, cfg.seed + 7 * nprobe, nprobe=nprobe))
    out = {
        "set": name, "n": int(x.shape[0]), "hnsw_m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction,
        "build_s": build, "build_cached": cached, "peer_is_hhmem_graph": "hnswlib" in built, "sweep": rows, "ivf_sweep": ivf_rows,
        "ivf_nlist": built["ivf"]._ann.nlist if "ivf" in built else None,
    }
    peer_point = cheapest(rows, "hnswlib", 0.98)
    out["matched"] = {b: matched_recall(ivf_rows if b == "ivf" else rows, b, peer_point, 0.98) for b in built}
    return out


def _ann_retriever(name: str, x: np.ndarray, cfg: LatencyConfig, backend: str) -> tuple[HopfieldRetriever, float, bool]:
    """hhmem's retriever with its ``backend`` index built (or, with ``ann_cache``, loaded from a
    previous run over the same vectors); returns it, the build seconds and whether it was loaded."""
    import faiss

    t0 = time.perf_counter()
    r = _retriever(x, cfg, backend=backend, hnsw=HNSWConfig(cfg.hnsw_m, cfg.hnsw_ef_construction, seed=cfg.seed),
                   ivf=IVFConfig(nlist=cfg.ivf_nlist, seed=cfg.seed))
    path = Path(cfg.cache) / f"ann-{name}-{backend}-m{cfg.hnsw_m}-efc{cfg.hnsw_ef_construction}-nlist{cfg.ivf_nlist}-seed{cfg.seed}.idx"
    timing = path.with_name(path.name + ".build_s")
    if cfg.ann_cache and timing.exists() and r.load_index(path):
        return r, float(timing.read_text()), True
    faiss.omp_set_num_threads(max(cfg.threads, 2))  # builds may use both cores; searches use cfg.threads
    r.build_index()
    faiss.omp_set_num_threads(cfg.threads)
    seconds = time.perf_counter() - t0
    if cfg.ann_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        r.save_index(path)
        timing.write_text(f"{seconds:.3f}")
    return r, seconds, False


def cheapest(rows: list[dict[str, Any]], method: str, target: float) -> dict[str, Any] | None:
    """The sweep point where ``method`` reaches recall@10 ≥ ``target`` at the lowest median latency."""
    ok = [r for r in rows if r["recall_at_10"][method] >= target]
    return min(ok, key=lambda r: r["timing"][method]["median_ms"]) if ok else None


def matched_recall(rows: list[dict[str, Any]], backend: str, peer: dict[str, Any] | None, target: float) -> dict[str, Any]:
    """hhmem's ``backend`` stage 1 against hnswlib, each at its cheapest sweep point reaching
    ``target`` recall@10: parameters, latencies and their ratio (medians of the same run)."""
    method = f"hhmem_{backend}_stage1"
    a = cheapest(rows, method, target)
    knob = "nprobe" if backend == "ivf" else "ef_search"
    out: dict[str, Any] = {"target_recall": target, "knob": knob}
    if a:
        out.update({"hhmem_param": a[knob], "hhmem_ms": a["timing"][method]["median_ms"], "hhmem_recall": a["recall_at_10"][method]})
    if peer:
        out.update({"hnswlib_ef": peer["ef_search"], "hnswlib_ms": peer["timing"]["hnswlib"]["median_ms"],
                    "hnswlib_recall": peer["recall_at_10"]["hnswlib"]})
    if a and peer:
        out["ratio"] = out["hhmem_ms"] / out["hnswlib_ms"]
    return out


# ---------------------------------------------------------------------- memory, hops
def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def bench_memory(x: np.ndarray, cfg: LatencyConfig) -> dict[str, Any]:
    """Bytes per stored memory of the key matrix in each storage type (tensor sizes and RSS growth)."""
    out = {}
    for dt in ("float32", "float16", "bfloat16"):
        r0 = _rss()
        r = _retriever(x, cfg, dtype=dt)
        grown = _rss() - r0
        n = len(r)
        out[dt] = {
            "keys_bytes_per_memory": r.keys.element_size() * r.dim,
            "ids_alive_bytes_per_memory": 9,
            "buffer_bytes_per_memory": (r._keys.nbytes + r._ids.nbytes + r._alive.nbytes) / n,
            "rss_growth_bytes_per_memory": grown / n,
        }
        del r
    return out


def linked_store(x: np.ndarray, path: Path, hopfield: HopfieldConfig, seed: int, *, device: str = "cpu") -> tuple[Any, int, float]:
    """A store of the vectors ``x`` (hash-encoder texts) where every memory is linked to 2 random
    others (seeded), through ``Memory.link``: ``(memory, links, seconds to link)``."""
    from .. import Memory
    from ..encoder import HashEncoder
    from ..linking import LinkConfig

    rng = np.random.default_rng(seed)
    n = x.shape[0]
    mem = Memory.open(path, encoder=HashEncoder(x.shape[1]), device=device, hopfield=hopfield,
                      links=LinkConfig(order=False, entities=False))
    ids: list[int] = []
    for s in range(0, n, 5000):
        ids += mem.add([f"memory {i}" for i in range(s, min(n, s + 5000))], vectors=x[s : s + 5000])
    ids_a = np.asarray(ids)
    src = np.repeat(ids_a, 2)
    dst = ids_a[rng.integers(0, n, size=src.shape[0])]
    keep = src != dst
    t0 = time.perf_counter()
    mem.link(src[keep].tolist(), dst[keep].tolist())
    return mem, int(keep.sum()), time.perf_counter() - t0


def bench_hops(x: np.ndarray, cfg: LatencyConfig, progress: bool) -> dict[str, Any]:
    """Multi-hop search cost through ``Memory.search_ids(..., hops=H)`` at ``len(x)`` memories.

    Associations: every memory is linked to 2 random others (seeded), through ``Memory.link``.
    """
    n = x.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        mem, n_links, link_s = linked_store(x, Path(tmp) / "store", HopfieldConfig(**cfg.hopfield), cfg.seed + 3,
                                            device=cfg.device)
        try:
            q = near_queries(x, cfg.queries, cfg.seed + 5)
            singles = [q[i : i + 1] for i in range(q.shape[0])]
            methods = {f"hops={h}": (lambda b, h=h: mem.search_ids(b, K, hops=h)) for h in (0, *cfg.hops)}
            if progress:
                print(f"[latency] hops at N={n}", file=sys.stderr)
            assoc = mem.associations.index
            # Worst case of one hop: the whole k-memory frontier (hop-0 top k) spread, no pruning.
            frontiers = {id(b): mem.search_ids(b, K)[1][0].tolist() for b in singles}
            methods["spread of a full frontier"] = lambda b: assoc.spread(frontiers[id(b)], K)
            timing = measure(methods, singles, cfg.rounds, "hops=0", cfg.seed + 11)
            base = timing["hops=0"]
            per_hop = {h: (timing[f"hops={h}"]["median_ms"] - base["median_ms"]) / h for h in cfg.hops}
            per_hop_cpu = {h: (timing[f"hops={h}"]["cpu_median_ms"] - base["cpu_median_ms"]) / h for h in cfg.hops}
            spread_calls = count_spread_sources(mem, singles, max(cfg.hops))
            nbytes = {k: int(v) for k, v in assoc.nbytes().items()}
            return {
                "n": n, "links": n_links, "link_s": link_s, "timing": timing,
                "per_extra_hop_ms": per_hop, "per_extra_hop_cpu_ms": per_hop_cpu,
                "sources_spread_per_query": spread_calls, "frontier_size": K,
                "assoc_bytes": nbytes, "assoc_bytes_per_memory": {k: v / n for k, v in nbytes.items()},
                "assoc_config": mem.associative_config.to_dict(),
            }
        finally:
            mem.close()


def count_spread_sources(mem: Any, singles: list[np.ndarray], hops: int) -> float:
    """Mean number of memories a ``hops``-hop search spreads (the rest is pruned, see ``multi_hop``)."""
    index = mem.associations.index
    spread = index.spread
    n = 0

    def counting(sources: Any, m: int) -> Any:
        nonlocal n
        n += len(sources)
        return spread(sources, m)

    index.spread = counting
    try:
        for b in singles:
            mem.search_ids(b, K, hops=hops)
    finally:
        del index.spread
    return n / len(singles)


def bench_ingest(texts: list[str], cfg: LatencyConfig, encoder: Any, progress: bool) -> dict[str, Any]:
    """``Memory.add`` (default links, and links off) vs ``encoder.encode`` on the same texts, interleaved."""
    from .. import Memory
    from ..linking import LinkConfig

    rows: dict[str, list[float]] = {"encoder": [], "memory_add": [], "memory_add_no_links": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(cfg.rounds):
            t = time.perf_counter()
            encoder.encode(texts)
            rows["encoder"].append(time.perf_counter() - t)
            for name, links in (("memory_add", None), ("memory_add_no_links", LinkConfig(order=False, entities=False))):
                mem = Memory.open(Path(tmp) / f"{name}-{r}", encoder=encoder, device=cfg.device, links=links)
                try:
                    t = time.perf_counter()
                    for s in range(0, len(texts), 256):
                        mem.add(texts[s : s + 256])
                    rows[name].append(time.perf_counter() - t)
                finally:
                    mem.close()
            if progress:
                print(f"[latency] ingest round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in rows.items()),
                      file=sys.stderr)
    enc = rows["encoder"]
    out: dict[str, Any] = {"texts": len(texts), "add_batch": 256,
                           "encoder_texts_per_s": len(texts) / float(np.median(enc))}
    for name in ("memory_add", "memory_add_no_links"):
        out[f"{name}_texts_per_s"] = len(texts) / float(np.median(rows[name]))
        out[f"{name}_throughput_ratio"] = float(np.median([e / m for e, m in zip(enc, rows[name])]))
    out["raw_s"] = rows
    return out


# ---------------------------------------------------------------------------- report
def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def _versions() -> dict[str, str]:
    import faiss

    return {"hhmem": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
            "numpy": np.__version__, "faiss": faiss.__version__, "hnswlib": _dist_version("hnswlib"),
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"}


def _f(v: float, nd: int = 2) -> str:
    return f"{v:.{nd}f}"


def markdown(rep: dict[str, Any]) -> str:
    cfg = rep["config"]
    lines = [f"# hhmem bench latency (seed {cfg['seed']}, device {cfg['device']}, threads {cfg['threads']})", "",
             "Ratios are to the peer measured in the same run (median over interleaved rounds of the",
             "per-round ratio of medians); `cpu` = process CPU time per call.", ""]
    lines += ["## Exact search", "",
              "| set | N | mode | method | median ms | p99 ms | cpu ms | ratio vs FAISS flat | cpu ratio | recall@10 |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for e in rep["exact"]:
        for mode in ("single", "batch"):
            for m, row in e[mode].items():
                lines.append(f"| {e['set']} | {e['n']} | {mode if mode == 'single' else 'batch ' + str(cfg['batch'])} | {m} | "
                             f"{_f(row['median_ms'], 3)} | {_f(row['p99_ms'], 3)} | {_f(row['cpu_median_ms'], 3)} | "
                             f"{_f(row['ratio'])} | {_f(row['cpu_ratio'])} | {_f(e['recall_at_10'][m], 4)} |")
    if rep.get("ann"):
        lines += ["", "## Approximate stage 1 (single queries)", "",
                  "| N | parameter | method | median ms | p99 ms | ratio vs hnswlib | recall@10 vs exact |", "|---|---|---|---|---|---|---|"]
        for a in rep["ann"]:
            for r in a["sweep"] + a.get("ivf_sweep", []):
                knob = f"ef {r['ef_search']}" if "ef_search" in r else f"nprobe {r['nprobe']}"
                for m, row in r["timing"].items():
                    lines.append(f"| {a['n']} | {knob} | {m} | {_f(row['median_ms'], 3)} | {_f(row['p99_ms'], 3)} | "
                                 f"{_f(row['ratio']) if 'ratio' in row else '-'} | {_f(r['recall_at_10'][m], 4)} |")
        lines += ["", "Cheapest sweep point reaching recall@10 ≥ 0.98, hhmem's stage 1 against hnswlib:", "",
                  "| N | hhmem backend | build s (hhmem / hnswlib) | hhmem parameter | hnswlib ef | hhmem ms | hnswlib ms | ratio |",
                  "|---|---|---|---|---|---|---|---|"]
        for a in rep["ann"]:
            for backend, mt in a["matched"].items():
                hh = f"{mt['knob']} {mt['hhmem_param']}" if "hhmem_param" in mt else "not reached"
                note = " (saved graph)" if a.get("build_cached", {}).get(backend) else ""
                lines.append(f"| {a['n']} | {backend} | {_f(a['build_s'][f'hhmem_{backend}'], 1)}{note} / {_f(a['build_s']['hnswlib'], 1)} | "
                             f"{hh} | {mt.get('hnswlib_ef', 'not reached')} | {_f(mt['hhmem_ms'], 3) if 'hhmem_ms' in mt else '-'} | "
                             f"{_f(mt['hnswlib_ms'], 3) if 'hnswlib_ms' in mt else '-'} | {_f(mt['ratio']) if 'ratio' in mt else '-'} |")
    if rep.get("hops"):
        h = rep["hops"]
        lines += ["", f"## Multi-hop at N = {h['n']} ({h['links']} links)", "", "| hops | median ms | p99 ms | cpu ms |", "|---|---|---|---|"]
        for m, row in h["timing"].items():
            lines.append(f"| {m} | {_f(row['median_ms'], 3)} | {_f(row['p99_ms'], 3)} | {_f(row['cpu_median_ms'], 3)} |")
        lines.append("")
        lines.append("Per extra hop (ms, wall / cpu): " + ", ".join(
            f"H={k}: {_f(v, 3)} / {_f(h['per_extra_hop_cpu_ms'][k], 3)}" for k, v in h["per_extra_hop_ms"].items()))
        if "sources_spread_per_query" in h:
            lines.append(f"A {max(int(k) for k in h['per_extra_hop_ms'])}-hop search spread "
                         f"{_f(h['sources_spread_per_query'], 2)} memories per query (a full frontier is "
                         f"{h['frontier_size']} per hop; the rest was pruned as unable to reach the top k).")
        lines.append("")
        lines.append("Association structures, bytes per memory: " + ", ".join(f"{k} {_f(v, 1)}" for k, v in h["assoc_bytes_per_memory"].items()))
    if rep.get("memory"):
        lines += ["", f"## Resident memory per stored memory (N = {rep['memory_n']})", "",
                  "| storage | key bytes | buffer bytes (keys+ids+alive, with growth headroom) | RSS growth bytes |", "|---|---|---|---|"]
        for dt, row in rep["memory"].items():
            lines.append(f"| {dt} | {row['keys_bytes_per_memory']} | {_f(row['buffer_bytes_per_memory'], 1)} | {_f(row['rss_growth_bytes_per_memory'], 1)} |")
    if rep.get("ingest"):
        g = rep["ingest"]
        lines += ["", f"## Ingest ({g['texts']} texts, real encoder)", "",
                  "| path | texts/s | throughput / raw encoder |", "|---|---|---|",
                  f"| encoder.encode | {_f(g['encoder_texts_per_s'], 1)} | 1.00 |",
                  f"| Memory.add (default links) | {_f(g['memory_add_texts_per_s'], 1)} | {_f(g['memory_add_throughput_ratio'])} |",
                  f"| Memory.add (links off) | {_f(g['memory_add_no_links_texts_per_s'], 1)} | {_f(g['memory_add_no_links_throughput_ratio'])} |"]
    if rep.get("postgres"):
        from .shared_store import markdown_rows

        lines += markdown_rows(rep["postgres"])
    lines += ["", f"Total run time {_f(rep['elapsed_s'], 1)} s. Versions: " + ", ".join(f"{k} {v}" for k, v in rep["versions"].items())]
    return "\n".join(lines) + "\n"


def plot(rep: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3 if rep.get("ann") else 2, figsize=(15, 4.5))
    synth = [e for e in rep["exact"] if e["set"].startswith("synthetic")]
    for ax, mode in zip(axes[:2], ("single", "batch")):
        for m in synth[0][mode] if synth else []:
            ax.plot([e["n"] for e in synth], [e[mode][m]["median_ms"] for e in synth], marker="o", label=m)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("stored memories N")
        ax.set_ylabel("median latency (ms)")
        ax.set_title(f"exact, {'single query' if mode == 'single' else 'batch ' + str(rep['config']['batch'])}")
        ax.legend(fontsize=7)
    if rep.get("ann"):
        ax = axes[2]
        for a in rep["ann"]:
            for m, rows in (("hnswlib", a["sweep"]), ("hhmem_hnsw_stage1", a["sweep"]), ("hhmem_hnswlib_stage1", a["sweep"]),
                            ("hhmem_ivf_stage1", a.get("ivf_sweep", []))):
                if rows and m in rows[0]["timing"]:
                    ax.plot([r["recall_at_10"][m] for r in rows], [r["timing"][m]["median_ms"] for r in rows],
                            marker="o", label=f"{m} N={a['n']}")
        ax.axvline(0.98, color="grey", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_xlabel("recall@10 vs exact")
        ax.set_ylabel("median latency (ms)")
        ax.set_title("approximate stage 1 (ef_search / nprobe sweeps)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_latency(cfg: LatencyConfig, out: str | Path, *, progress: bool = True) -> dict[str, Any]:
    """Run the whole benchmark and write ``latency.json``, ``latency.md`` and ``latency.png`` to ``out``."""
    t_start = time.perf_counter()
    _set_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep: dict[str, Any] = {"config": asdict(cfg), "versions": _versions(), "exact": [], "ann": []}
    n_q = max(cfg.queries, cfg.batch * cfg.batches)
    small_x = None
    with contextlib.ExitStack() as stack:
        server = None
        if cfg.postgres:
            from .shared_store import postgres_server

            server = stack.enter_context(postgres_server(cfg.postgres, Path(stack.enter_context(
                tempfile.TemporaryDirectory(prefix="hhmem-pg-")))))
            rep["postgres"] = []
        for n in cfg.sizes:
            x = synthetic_vectors(n, cfg.dim, cfg.seed + n, progress=progress)
            q = near_queries(x, n_q, cfg.seed + n)
            rep["exact"].append(bench_exact(f"synthetic-{n}", x, q, cfg, progress))
            if n in cfg.ann_sizes:
                rep["ann"].append(bench_ann(f"synthetic-{n}", x, q, cfg, progress))
                if server is not None:
                    from .shared_store import bench_postgres

                    rep["postgres"].append(bench_postgres(f"synthetic-{n}", x, q, cfg, server, progress))
            if n == min(cfg.sizes):
                small_x = x
            del x
    encoder = None
    if cfg.minilm or cfg.ingest_texts:
        from .synthetic import CachedEncoder, make_corpus, paraphrase_queries

        enc = CachedEncoder(cfg.model, cfg.cache, progress)
        encoder = enc.enc
    if cfg.minilm:
        texts, facts = make_corpus(cfg.minilm, cfg.seed)
        x = enc(texts)
        queries = [t for t, _ in paraphrase_queries(facts, n_q, cfg.seed)]
        q = enc(queries)
        rep["exact"].append(bench_exact(f"minilm-{cfg.minilm}", x, q, cfg, progress))
    if cfg.hop_size and small_x is not None:
        xs = small_x if small_x.shape[0] == cfg.hop_size else synthetic_vectors(cfg.hop_size, cfg.dim, cfg.seed + 1)
        rep["hops"] = bench_hops(xs, cfg, progress)
    if small_x is not None:
        rep["memory_n"] = int(small_x.shape[0])
        rep["memory"] = bench_memory(small_x, cfg)
    if cfg.ingest_texts and encoder is not None:
        from .synthetic import make_corpus

        texts, _ = make_corpus(cfg.ingest_texts, cfg.seed + 99)
        rep["ingest"] = bench_ingest(texts, cfg, encoder, progress)
    rep["elapsed_s"] = time.perf_counter() - t_start
    paths = {"json": out / "latency.json", "markdown": out / "latency.md", "plot": out / "latency.png"}
    paths["json"].write_text(json.dumps(rep, indent=2, default=str))
    paths["markdown"].write_text(markdown(rep))
    plot(rep, paths["plot"])
    rep["paths"] = {k: str(v) for k, v in paths.items()}
    return rep


__all__ = ["LatencyConfig", "run_latency", "synthetic_vectors", "near_queries", "exact_topk", "recall_at_k", "measure"]
