"""Rank fusion and the link spread: pure functions of the recall's first stages.

Weighted reciprocal rank fusion of ranked lists (rank from 1):

.. math::
    s(m) = \\sum_{l} \\frac{w_l}{k_0 + \\mathrm{rank}_l(m)}

and the link spread, where ``L(m)`` are the memories linked to ``m`` (sequence order, explicit links):

.. math::
    s'(m) = s(m) + \\gamma \\max_{n \\in L(m)} s(n)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import InvalidInputError


def reciprocal_rank_fusion(
    id_lists: Sequence[np.ndarray], weights: Sequence[float], k0: float,
    score_lists: Sequence[np.ndarray | None] | None = None,
) -> list[dict[int, float]]:
    """Weighted RRF of several ``[B, m]`` id arrays (``-1`` padding ignored) -> one ``{id: score}`` per row.

    With ``score_lists`` (the lists' own ``[B, m]`` scores, best first; ``None`` for a list without
    them), items a list scores equally share the rank of the first of them (competition ranking),
    so a tie's order, which is arbitrary, decides nothing.

    Example:
        >>> out = reciprocal_rank_fusion([np.array([[7, 8]]), np.array([[8, -1]])], [1.0, 1.0], 0.0)
        >>> sorted(out[0].items())
        [(7, 1.0), (8, 1.5)]
        >>> tied = reciprocal_rank_fusion([np.array([[7, 8]])], [1.0], 0.0, [np.array([[0.5, 0.5]])])
        >>> sorted(tied[0].items())
        [(7, 1.0), (8, 1.0)]
    """
    if len(id_lists) != len(weights):
        raise InvalidInputError(f"got {len(id_lists)} lists and {len(weights)} weights")
    scores_of = list(score_lists) if score_lists is not None else [None] * len(id_lists)
    if len(scores_of) != len(id_lists):
        raise InvalidInputError(f"got {len(id_lists)} lists and {len(scores_of)} score lists")
    b = id_lists[0].shape[0] if id_lists else 0
    out: list[dict[int, float]] = [{} for _ in range(b)]
    for ids, w, sc in zip(id_lists, weights, scores_of):
        if w == 0:
            continue
        for r, row in enumerate(ids):
            acc = out[r]
            vals = None if sc is None else sc[r].tolist()
            tie_rank = 0
            for rank, i in enumerate(row.tolist()):
                if vals is not None and rank > 0 and vals[rank] != vals[rank - 1]:
                    tie_rank = rank
                if i >= 0:
                    acc[i] = acc.get(i, 0.0) + w / (k0 + (rank if vals is None else tie_rank) + 1)
    return out


def order_spread(scores: Mapping[int, float], neighbours: Mapping[int, Sequence[int]], gamma: float) -> dict[int, float]:
    """``s'(m) = s(m) + γ max_{n ∈ N(m)} s(n)`` over the memories with a score or a scored neighbour.

    Example:
        >>> order_spread({1: 1.0}, {1: [2], 2: [1, 3], 3: [2]}, 0.5)
        {1: 1.0, 2: 0.5}
    """
    if gamma == 0:
        return dict(scores)
    touched = set(scores)
    for m in scores:
        touched.update(neighbours.get(m, ()))
    out = {}
    for m in touched:
        best = max((scores.get(n, 0.0) for n in neighbours.get(m, ())), default=0.0)
        out[m] = scores.get(m, 0.0) + gamma * max(best, 0.0)
    return out


def top_k(scores: Mapping[int, float], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` of ``{id: score}`` as ``([k] float32, [k] int64)``, ties by smaller id, padded ``-inf``/``-1``."""
    items = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    s = np.full(k, -np.inf, dtype=np.float32)
    i = np.full(k, -1, dtype=np.int64)
    for j, (mid, sc) in enumerate(items):
        s[j], i[j] = sc, mid
    return s, i
