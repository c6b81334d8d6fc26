"""Sweep settle steps and β on the handwritten paraphrase set (the table in docs/hopfield.md).

Run from the repository root: ``.venv/bin/python docs/scripts/beta_sweep.py``.
"""

from __future__ import annotations

import numpy as np

from hybrid import HopfieldConfig, HopfieldRetriever, data
from hybrid.encoder import load_encoder


def main() -> None:
    enc = load_encoder("default", device="cpu")
    pairs, distractors = data.paraphrase_pairs(), data.distractors()
    demo = [m["text"] for m in data.demo_corpus()]
    keys = enc.encode([p["fact"] for p in pairs] + distractors + demo)
    queries = enc.encode([p["question"] for p in pairs])
    gold = np.arange(len(pairs))
    print(f"{len(keys)} memories, {len(pairs)} questions")
    print("| settle steps | β | top-1 | recall@5 | recall@10 | MRR |\n|---|---|---|---|---|---|")
    for steps in (0, 1, 2, 3, 5):
        for beta in (5, 10, 20, 40, 80):
            if steps == 0 and beta != 5:
                continue
            r = HopfieldRetriever(384, HopfieldConfig(beta=beta, max_steps=steps, candidates=20, state_weight=1.0), device="cpu")
            r.add(keys, np.arange(len(keys)))
            _, ids = r.search(queries, 10)
            rank = [list(row).index(g) + 1 if g in row else None for g, row in zip(gold, ids)]
            top1 = np.mean([x == 1 for x in rank])
            r5 = np.mean([x is not None and x <= 5 for x in rank])
            r10 = np.mean([x is not None for x in rank])
            mrr = np.mean([1 / x if x else 0.0 for x in rank])
            label = "0 (exact top-k) | –" if steps == 0 else f"{steps} | {beta}"
            print(f"| {label} | {top1:.3f} | {r5:.3f} | {r10:.3f} | {mrr:.3f} |")


if __name__ == "__main__":
    main()
