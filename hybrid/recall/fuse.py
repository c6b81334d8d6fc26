"""Fusion of ranked lists and the link spread: pure functions of the recall's first stages.

Score fusion (the default), a convex combination of each list's scores on a common scale:

.. math::
    s(m) = \\sum_{l} w_l\\, \\hat s_l(m), \\qquad
    \\hat s_l(m) = \\max(\\cos_l(m), 0) \\ \\text{(dense lists)}, \\quad
    \\hat s_l(m) = s_l(m) / \\max_{m'} s_l(m') \\ \\text{(BM25)}

(0 for a memory a list did not rank), so a decisive dense match keeps its lead; weighted
reciprocal rank fusion (rank from 1) is the alternative, which sees only ranks:

.. math::
    s(m) = \\sum_{l} \\frac{w_l}{k_0 + \\mathrm{rank}_l(m)}

and the link spread, where ``L(m)`` are the memories linked to ``m`` (sequence order, explicit links):

.. math::
    s'(m) = s(m) + \\gamma \\max_{n \\in L(m)} s(n)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

import numpy as np

from ..errors import InvalidInputError


class ScoreKind(str, Enum):
    """How a list's scores are put on the common scale of :func:`score_fusion`."""

    COSINE = "cosine"        # already in [-1, 1]: negative similarity counts as none
    UNBOUNDED = "unbounded"  # BM25 and the like: divided by the best score of the query


def score_fusion(
    id_lists: Sequence[np.ndarray], score_lists: Sequence[np.ndarray], weights: Sequence[float],
    kinds: Sequence[ScoreKind],
) -> list[dict[int, float]]:
    """Weighted sum of each list's scaled scores -> one ``{id: score}`` per row (``-1`` padding ignored).

    Example:
        >>> ids = [np.array([[7, 8]]), np.array([[8, -1]])]
        >>> out = score_fusion(ids, [np.array([[0.8, -0.2]]), np.array([[4.0, 0.0]])], [1.0, 0.5],
        ...                    [ScoreKind.COSINE, ScoreKind.UNBOUNDED])
        >>> {k: round(v, 3) for k, v in sorted(out[0].items())}
        {7: 0.8, 8: 0.5}
    """
    if not len(id_lists) == len(score_lists) == len(weights) == len(kinds):
        raise InvalidInputError(f"got {len(id_lists)} lists, {len(score_lists)} score lists, {len(weights)} "
                                f"weights and {len(kinds)} kinds")
    b = id_lists[0].shape[0] if id_lists else 0
    out: list[dict[int, float]] = [{} for _ in range(b)]
    for ids, sc, w, kind in zip(id_lists, score_lists, weights, kinds):
        if w == 0:
            continue
        for r, (row, vals) in enumerate(zip(ids.tolist(), sc.tolist())):
            acc = out[r]
            live = [(i, v) for i, v in zip(row, vals) if i >= 0 and np.isfinite(v)]
            scale = 1.0
            if kind is ScoreKind.UNBOUNDED:
                top = max((v for _, v in live), default=0.0)
                scale = 1.0 / top if top > 0 else 0.0
            for i, v in live:
                acc[i] = acc.get(i, 0.0) + w * max(v, 0.0) * scale
    return out


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
