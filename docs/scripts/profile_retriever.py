"""Component timings behind the retriever optimisations (the profile tables in docs/performance.md).

Process CPU time per call, median of repeated calls, 1 thread for torch and FAISS, N = 20 000 random
unit vectors (d = 384). Run from the repository root:
``.venv/bin/python docs/scripts/profile_retriever.py``.
"""

from __future__ import annotations

import time

import faiss
import numpy as np
import torch

from hybrid import functional as F


def cpu_us(fn, n: int) -> float:
    ts = []
    for _ in range(n):
        t = time.process_time()
        fn()
        ts.append(time.process_time() - t)
    return float(np.median(ts)) * 1e6


def reference_stage2(q, keys, sims, beta=20.0, steps=3, eps=1e-4):
    """The foundation's stage 2: top-K, gather, settle in d dimensions, cosine, stable sort."""
    v, rows = F.topk_padded(sims, 20)
    valid = rows >= 0
    cand = keys[rows.clamp_min(0)].float()
    state, _ = F.hopfield_settle(q, cand, beta, steps, eps, valid)
    r = F.cosine_to_state(cand, state).masked_fill(~valid, float("-inf"))
    order = torch.argsort(r, dim=1, descending=True, stable=True)
    return torch.gather(r, 1, order), torch.gather(rows, 1, order)


def main() -> None:
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    n, d = 20000, 384
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    xt = torch.from_numpy(x)
    rows = []
    for b in (1, 64):
        q = torch.nn.functional.normalize(xt[:b] + 0.1 * torch.randn(b, d), dim=1)
        reps = 300 if b == 1 else 30
        for name, dt in (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16)):
            kd = xt.to(dt)
            rows.append((f"stage-1 product Q Xᵀ, {name} storage", b, cpu_us(lambda kd=kd, q=q: F.inner_products(q, kd), reps)))
        sims = q @ xt.T
        rows.append(("torch.topk K=20 over N", b, cpu_us(lambda s=sims: torch.topk(s, 20, dim=1, sorted=False), reps)))
        rows.append(("two-level exact top-K (topk_unsorted)", b, cpu_us(lambda s=sims: F.topk_unsorted(s, 20), reps)))
        rows.append(("stage 2, foundation (d-space settle, torch)", b, cpu_us(lambda q=q, s=sims: reference_stage2(q, xt, s), reps)))
        rows.append(("stage 2, now (K-space settle; NumPy for B<=8)", b, cpu_us(
            lambda q=q, s=sims: F.rerank_candidates(s, q, xt, 10, candidates=20, beta=20.0, max_steps=3, eps=1e-4), reps)))
        index = faiss.IndexFlatIP(d)
        index.add(x)
        qn = q.numpy()
        for th, label in ((1 << 30, "SIMD path"), (1, "BLAS path")):
            faiss.cvar.distance_compute_blas_threshold = th
            rows.append((f"FAISS IndexFlatIP.search, {label}", b, cpu_us(lambda qn=qn, ix=index: ix.search(qn, 10), reps)))
    print("| component | batch | CPU µs/call |\n|---|---|---|")
    for name, b, us in rows:
        print(f"| {name} | {b} | {us:.0f} |")


if __name__ == "__main__":
    main()
