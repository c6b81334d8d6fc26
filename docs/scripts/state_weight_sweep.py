"""Ranking by the cue versus by the settled state on LoCoMo dev (the α table in docs/hopfield.md).

Run from the repository root: ``.venv/bin/python docs/scripts/state_weight_sweep.py [LOCOMO_JSON]``.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from hybrid import functional as F
from hybrid.encoder import load_encoder
from hybrid.eval.cache import CachedEncoder
from hybrid.eval.locomo import load_locomo

K = 40


def recall_all_at_10(parts, rank) -> float:
    hits = []
    for p in parts:
        ids = [d.id for d in p.docs]
        for q, row in zip(p.queries, rank(p)):
            gold = [g for g in q.gold if g in set(ids)]
            if gold:
                got = {ids[i] for i in row[:10]}
                hits.append(all(g in got for g in gold))
    return float(np.mean(hits))


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/locomo/locomo_dev.json"
    enc = CachedEncoder(load_encoder("default", device="cpu"), progress_min=None)
    parts = load_locomo(path).partitions

    def ranker(beta: float, alpha: float, mode: str = "blend"):
        def rank(p):
            docs = torch.from_numpy(enc.encode([d.text for d in p.docs]))
            qs = torch.from_numpy(enc.encode([q.text for q in p.queries]))
            cs, cr = torch.topk(qs @ docs.T, min(K, len(p.docs)), dim=1)
            cand = docs[cr]
            if mode == "cue-input":
                xi = qs.clone()
                for _ in range(3):
                    xi = 0.7 * qs + 0.3 * F.hopfield_step(xi, cand, beta)
                score = F.cosine_to_state(cand, xi)
            else:
                state, _ = F.hopfield_settle(qs, cand, beta, 3, 1e-4)
                to_state = F.cosine_to_state(cand, state)
                if mode == "attractor-first":
                    score = cs.clone()
                    score[torch.arange(len(qs)), to_state.argmax(1)] = 10.0
                else:
                    score = (1 - alpha) * cs + alpha * to_state
            return torch.gather(cr, 1, torch.argsort(score, 1, descending=True)).tolist()
        return rank

    rows = [("cue only (α = 0)", ranker(20, 0.0))]
    rows += [(f"α = {a}, β = 20", ranker(20, a)) for a in (0.05, 0.1, 0.25, 0.5, 1.0)]
    rows += [("α = 0.25, β = 40", ranker(40, 0.25)), ("cue kept as input, β = 20", ranker(20, 0, "cue-input")),
             ("attractor first, β = 20", ranker(20, 0, "attractor-first"))]
    print("| ranking | conv 0–1 | conv 2–4 |\n|---|---|---|")
    for label, rank in rows:
        print(f"| {label} | {recall_all_at_10(parts[:2], rank):.3f} | {recall_all_at_10(parts[2:], rank):.3f} |")


if __name__ == "__main__":
    main()
