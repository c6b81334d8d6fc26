"""Spreading activation over the memory-concept graph: the pure functions of the recall's associative stage.

The graph is a sparse bipartite incidence ``A`` (``[M, C]``, memories x concept units): ``A[m, c]``
is the Hebbian memory-concept synapse, learned in one shot when memory ``m`` is stored and
weighted by the concept's specificity (:func:`specificity`). Activation alternates between the
two layers, a personalised-PageRank walk with restart to the seeds:

.. math::
    c_t = P_{mc}^\\top x_{t-1} + \\gamma\\, q, \\qquad
    x_t = (1 - r)\\, P_{cm}^\\top c_t + r\\, p_0, \\qquad t = 1..T

with ``P_{mc} = D_m^{-1} A`` (a memory passes its activation to its concepts in proportion to their
synapses), ``P_{cm} = D_c^{-1} A^\\top`` (a concept passes its activation to its memories),
``p_0`` the seed distribution (fused first-stage scores of the best memories, summing to 1),
``q`` the query's own concept activation (concepts the query mentions, by specificity, summing to
1), ``γ`` its weight, ``r`` the restart probability and ``T`` a fixed small number of steps. The
walk is two sparse matrix-vector products per step, so it maps onto two Dense layers (memory ->
concept -> memory) run for ``2T`` time steps on a neuromorphic target.

Example:
    >>> import numpy as np
    >>> a = incidence([[0, 1], [1], [2]], n_concepts=3, weights=np.ones(3))
    >>> x, c = spread(a, np.array([1.0, 0, 0]), np.zeros(3), steps=1, restart=0.5, query_weight=0.0)
    >>> np.round(x, 3).tolist()
    [0.875, 0.125, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidInputError


def specificity(df: np.ndarray, n: np.ndarray | int, *, max_df: int) -> np.ndarray:
    """Synapse weight of each concept from how many memories hold it: ``log(1 + n / df)``, 0 for hubs.

    A concept held by more than ``max_df`` memories of its namespace (a speaker's name, a
    generic phrase) identifies nothing and is cut; a concept held by one memory links nothing
    but still lets a query that mentions it reach that memory.

    Args:
        df: ``[C]`` memories holding each concept.
        n: memories in the concept's namespace (scalar or ``[C]``).
        max_df: the hub cut.

    Example:
        >>> specificity(np.array([1, 2, 9]), 8, max_df=4).round(3).tolist()
        [2.197, 1.609, 0.0]
    """
    df = np.asarray(df, dtype=np.float64)
    w = np.log1p(np.asarray(n, dtype=np.float64) / np.maximum(df, 1.0))
    w[(df > max_df) | (df < 1)] = 0.0
    return w


def incidence(concepts: Sequence[Sequence[int]], n_concepts: int, weights: np.ndarray) -> sp.csr_matrix:
    """``A[m, c] = weights[c]`` for every concept ``c`` of memory ``m`` (zero-weight concepts dropped)."""
    rows = np.repeat(np.arange(len(concepts)), [len(c) for c in concepts])
    cols = np.fromiter((c for cs in concepts for c in cs), dtype=np.int64, count=len(rows))
    if len(cols) and (cols.min() < 0 or cols.max() >= n_concepts):
        raise InvalidInputError(f"concept index out of range [0, {n_concepts})")
    vals = np.asarray(weights, dtype=np.float64)[cols]
    keep = vals > 0
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(len(concepts), n_concepts))


def transitions(a: sp.spmatrix) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``(P_mc^T, P_cm^T)``: column-stochastic-ish maps concept <- memory and memory <- concept."""
    a = sp.csr_matrix(a)
    dm = np.asarray(a.sum(axis=1)).ravel()
    dc = np.asarray(a.sum(axis=0)).ravel()
    inv_m = np.divide(1.0, dm, out=np.zeros_like(dm), where=dm > 0)
    inv_c = np.divide(1.0, dc, out=np.zeros_like(dc), where=dc > 0)
    p_mc = sp.diags(inv_m) @ a          # [M, C] rows sum to 1
    p_cm = (a @ sp.diags(inv_c)).T      # [C, M] rows sum to 1
    return sp.csr_matrix(p_mc.T), sp.csr_matrix(p_cm.T)


def spread(
    a: sp.spmatrix | tuple[sp.csr_matrix, sp.csr_matrix],
    seeds: np.ndarray,
    query: np.ndarray,
    *,
    steps: int,
    restart: float,
    query_weight: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``steps`` of the memory -> concept -> memory walk; returns ``(x_T [M], c_T [C])``.

    Args:
        a: the incidence ``[M, C]``, or its :func:`transitions` (cached by the caller).
        seeds: ``[M]`` non-negative seed activation (normalised here to sum 1).
        query: ``[C]`` non-negative query concept activation (normalised here to sum 1).
        steps: ``T >= 1``.
        restart: ``r`` in [0, 1].
        query_weight: ``γ >= 0``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise InvalidInputError(f"steps must be an int >= 1, got {steps!r}")
    if not 0.0 <= restart <= 1.0:
        raise InvalidInputError(f"restart must be in [0, 1], got {restart!r}")
    t_mc, t_cm = a if isinstance(a, tuple) else transitions(a)
    p0 = _unit_mass(seeds)
    q = _unit_mass(query) * query_weight
    x = p0
    c = q
    for _ in range(steps):
        c = t_mc @ x + q
        x = (1.0 - restart) * (t_cm @ c) + restart * p0
    return x, c


def _unit_mass(v: np.ndarray) -> np.ndarray:
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, None)
    s = v.sum()
    return v / s if s > 0 else v
