"""Pure functions of the production path: exact top-k, the modern-Hopfield settle, two-stage search.

Every function here is stateless and works on torch tensors on whatever device they live on;
the classes in :mod:`hybrid.retriever` only hold parameters and buffers and call these.

Symbols (as in Ramsauer et al., "Hopfield Networks is All You Need", 2020):

- ``X``: stored patterns, one per row, shape ``[N, d]`` (L2-normalised keys).
- ``ξ`` (xi): state pattern(s), shape ``[B, d]``; the query is the initial state.
- ``β``: inverse temperature of the softmax.
"""

from __future__ import annotations

import numpy as np
import torch

#: Score used to pad results when fewer than ``k`` stored patterns exist.
PAD_SCORE = float("-inf")
#: Id used to pad results when fewer than ``k`` stored patterns exist.
PAD_ID = -1


def topk_padded(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` of each row of ``scores``, padded with ``-inf`` / ``-1`` past the row length.

    Entries equal to ``-inf`` (masked out) are reported as padding too.

    Args:
        scores: ``[B, N]`` similarity matrix.
        k: number of results per row (``k >= 1``).

    Returns:
        ``(values, indices)``, both ``[B, k]``; ``indices`` is int64 with ``-1`` for padding.

    Example:
        >>> v, i = topk_padded(torch.tensor([[0.1, 0.9]]), 3)
        >>> i.tolist()
        [[1, 0, -1]]
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    b, n = scores.shape
    kk = min(k, n)
    values = torch.full((b, k), PAD_SCORE, dtype=torch.float32, device=scores.device)
    indices = torch.full((b, k), PAD_ID, dtype=torch.int64, device=scores.device)
    if kk > 0:
        v, i = torch.topk(scores, kk, dim=1, largest=True, sorted=True)
        v = v.float()
        i = torch.where(torch.isneginf(v), torch.full_like(i, PAD_ID), i)
        values[:, :kk] = v
        indices[:, :kk] = i
    return values, indices


#: Chunk size of :func:`topk_unsorted`'s two-level selection.
TOPK_CHUNK = 64


def topk_unsorted(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest entries of each row of ``scores`` ``[B, N]``, in no particular order.

    For long rows a two-level selection is used: the row is cut into ``m = ⌊N / c⌋`` strided
    chunks ``C_j = {j + m t : t < c}`` (``c`` = :data:`TOPK_CHUNK`), the ``k`` chunks with the
    largest maxima are kept and the top-``k`` is taken among their ``k c`` members (plus the
    ``N − m c`` tail entries). It is exact: an entry of the top-``k`` lying in a chunk outside the
    ``k`` best would be beaten by ``k`` chunk maxima, i.e. by ``k`` other entries (ties may be
    resolved differently from :func:`torch.topk`). Strided chunks make the chunk maxima a
    contiguous, vectorised reduction.

    Args:
        scores: ``[B, N]``, ``k <= N``.
        k: entries per row.

    Returns:
        ``(values, indices)``, both ``[B, k]`` (indices int64 into the rows of ``scores``).

    Example:
        >>> v, i = topk_unsorted(torch.arange(10.0)[None], 2)
        >>> sorted(i[0].tolist())
        [8, 9]
    """
    b, n = scores.shape
    c = TOPK_CHUNK
    m = n // c
    if n < 8192 or m < 4 * k or (b == 1 and n < 65536) or not scores.is_contiguous():  # measured: plain top-k wins there
        return torch.topk(scores, k, dim=1, largest=True, sorted=False)
    chunks = scores.as_strided((b, c, m), (scores.stride(0), m, 1))  # chunks[:, t, j] = scores[:, j + m t]
    best = torch.topk(chunks.amax(dim=1), k, dim=1, largest=True, sorted=False).indices  # [B, k]
    members = (best.unsqueeze(2) + torch.arange(0, m * c, m, device=scores.device)).view(b, k * c)
    if m * c < n:
        tail = torch.arange(m * c, n, device=scores.device).expand(b, -1)
        members = torch.cat([members, tail], dim=1)
    values, pos = torch.topk(torch.gather(scores, 1, members), k, dim=1, largest=True, sorted=False)
    return values, torch.gather(members, 1, pos)


def hopfield_step(xi: torch.Tensor, patterns: torch.Tensor, beta: float) -> torch.Tensor:
    """One modern-Hopfield update of a batch of state patterns over per-query candidates.

    .. math::
        \\xi^{new} = X^\\top \\operatorname{softmax}(\\beta X \\xi)

    Args:
        xi: state patterns ``[B, d]``.
        patterns: per-query stored patterns ``[B, K, d]``; rows that are all zero (padding)
            must be excluded by the caller through ``-inf`` logits (see :func:`hopfield_settle`).
        beta: inverse temperature ``β > 0``.

    Returns:
        The new state patterns, ``[B, d]``.
    """
    logits = beta * torch.einsum("bkd,bd->bk", patterns, xi)
    attn = torch.softmax(logits, dim=1)
    return torch.einsum("bk,bkd->bd", attn, patterns)


def hopfield_settle(
    xi: torch.Tensor,
    patterns: torch.Tensor,
    beta: float,
    max_steps: int,
    eps: float,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterate the modern-Hopfield update until ``‖Δξ‖ < eps`` or ``max_steps`` updates.

    .. math::
        \\xi_{t+1} = X^\\top \\operatorname{softmax}(\\beta X \\xi_t), \\qquad
        \\text{stop when } \\max_b \\lVert \\xi_{t+1,b} - \\xi_{t,b} \\rVert_2 < \\varepsilon

    Args:
        xi: initial state patterns (the queries) ``[B, d]``.
        patterns: candidate stored patterns per query ``[B, K, d]``.
        beta: inverse temperature ``β``.
        max_steps: upper bound on updates (``0`` returns ``xi`` unchanged).
        eps: stop threshold on the L2 norm of the state change.
        valid: optional ``[B, K]`` bool mask; invalid candidates get zero attention.

    Returns:
        ``(state, steps)``: the settled states ``[B, d]`` and the number of updates made
        (a 0-d int64 tensor; the batch stops together).
    """
    if valid is not None:
        # Push invalid rows far away: their logit becomes -inf through the mask below.
        neg = torch.zeros(valid.shape, dtype=patterns.dtype, device=patterns.device)
        neg = neg.masked_fill(~valid, float("-inf"))
    steps = 0
    for _ in range(max_steps):
        logits = beta * torch.einsum("bkd,bd->bk", patterns, xi)
        if valid is not None:
            logits = logits + neg
        attn = torch.softmax(logits, dim=1)
        attn = torch.nan_to_num(attn, nan=0.0)
        new = torch.einsum("bk,bkd->bd", attn, patterns)
        # A row with no valid candidate keeps its state.
        if valid is not None:
            new = torch.where(valid.any(dim=1, keepdim=True), new, xi)
        delta = torch.linalg.vector_norm(new - xi, dim=1).max()
        xi = new
        steps += 1
        if float(delta) < eps:
            break
    return xi, torch.tensor(steps, dtype=torch.int64)


def cosine_to_state(patterns: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each candidate ``[B, K, d]`` to its settled state ``[B, d]`` -> ``[B, K]``."""
    norm = torch.linalg.vector_norm(state, dim=1, keepdim=True).clamp_min(1e-12)
    return torch.einsum("bkd,bd->bk", patterns, state / norm)


def hopfield_settle_gram(
    xi: torch.Tensor,
    patterns: torch.Tensor,
    beta: float,
    max_steps: int,
    eps: float,
    valid: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`hopfield_settle` run in the ``K``-dimensional span of the candidates; returns cosines.

    Every state after the first update is a convex combination of the candidates,
    ``ξ_t = Xᵀ a_t`` with ``a_t = softmax(β X ξ_{t-1})``, so with the Gram matrix ``G = X Xᵀ``
    (``[B, K, K]``, computed once) the whole iteration lives in ``K`` dimensions:

    .. math::
        s_0 = X \\xi_0, \\qquad a_{t+1} = \\operatorname{softmax}(\\beta s_t), \\qquad
        s_{t+1} = X \\xi_{t+1} = G a_{t+1}

        \\lVert \\xi_{t+1} - \\xi_t \\rVert^2 = (a_{t+1} - a_t)^\\top G (a_{t+1} - a_t) \\ (t \\ge 1),
        \\qquad \\cos(x_i, \\xi^*) = \\frac{s_{T,i}}{\\sqrt{a_T^\\top s_T}}

    The first change ``‖Xᵀ a_1 − ξ_0‖`` is computed in ``d`` dimensions (the quadratic form would
    lose it to cancellation). Each update then costs ``O(K²)`` instead of ``O(K d)``; results equal
    ``cosine_to_state(patterns, hopfield_settle(...)[0])`` up to float rounding.

    Args:
        xi: initial states (the queries) ``[B, d]``, float32.
        patterns: candidates ``[B, K, d]``, float32 (rows need not be unit norm).
        beta, max_steps, eps: as in :func:`hopfield_settle`.
        valid: optional ``[B, K]`` bool; invalid candidates get zero attention.

    Returns:
        ``(cosines, steps)``: ``[B, K]`` cosine of each candidate to the settled state (for a row
        without valid candidate the values are meaningless: mask them) and the update count
        (0-d int64 tensor).

    Example:
        >>> c, n = hopfield_settle_gram(torch.tensor([[1.0, 0.0]]), torch.eye(2)[None], 10.0, 3, 1e-4)
        >>> c.argmax(1).tolist()
        [0]
    """
    s = torch.bmm(patterns, xi.unsqueeze(2)).squeeze(2)  # s_0 = X ξ_0   [B, K]
    if max_steps <= 0:
        norm = torch.linalg.vector_norm(xi, dim=1, keepdim=True).clamp_min(1e-12)
        return s / norm, torch.tensor(0, dtype=torch.int64)
    gram = torch.bmm(patterns, patterns.transpose(1, 2))  # G = X Xᵀ   [B, K, K]
    neg = None
    if valid is not None:
        neg = torch.zeros(valid.shape, dtype=s.dtype, device=s.device).masked_fill_(~valid, float("-inf"))
        any_valid = valid.any(dim=1)
    a = a_prev = s
    steps = 0
    eps2 = float(eps) * float(eps)
    for t in range(max_steps):
        logits = s * beta if neg is None else s * beta + neg
        a = torch.softmax(logits, dim=1)
        if neg is not None:
            a = torch.nan_to_num(a, nan=0.0)
        if t == 0:
            diff = torch.bmm(a.unsqueeze(1), patterns).squeeze(1) - xi  # ξ_1 − ξ_0   [B, d]
            d2 = (diff * diff).sum(dim=1)
            if neg is not None:
                d2 = torch.where(any_valid, d2, torch.zeros_like(d2))  # such a row keeps its state
        s_new = torch.bmm(gram, a.unsqueeze(2)).squeeze(2)
        if t > 0:
            da = a - a_prev
            d2 = (da * (s_new - s)).sum(dim=1)  # δᵀ G δ with G δ = s_{t+1} − s_t
        s, a_prev = s_new, a
        steps += 1
        if float(d2.max()) < eps2:
            break
    norm = (a * s).sum(dim=1, keepdim=True).clamp_min(1e-24).sqrt()  # ‖ξ_T‖ = √(a_Tᵀ G a_T)
    return s / norm, torch.tensor(steps, dtype=torch.int64)


def inner_products(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Stage-1 scores ``S = Q Xᵀ`` ``[B, N]`` (float32, contiguous), computed in the storage type of ``keys``.

    The query is cast to the key type so the product runs on the half-size matrix (on CPUs with
    AMX, bfloat16 products are several times faster than float32); for one bfloat16 query on CPU
    the matrix-vector form ``X q`` is used, which measured faster there (docs/performance.md).
    """
    q = queries.to(dtype=keys.dtype)
    if q.shape[0] == 1 and keys.dtype == torch.bfloat16 and keys.device.type == "cpu":
        return (keys @ q[0]).float().unsqueeze(0)
    return (q @ keys.T).float()


def two_stage_search(
    queries: torch.Tensor,
    keys: torch.Tensor,
    k: int,
    *,
    candidates: int,
    beta: float,
    max_steps: int,
    eps: float,
    mask: torch.Tensor | None = None,
    state_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 1 exact top-``K`` by inner product, stage 2 Hopfield settle and re-ranking.

    Stage 1 scores every stored key, ``s = X q``, and keeps the ``K = max(candidates, k)`` best.
    Stage 2 settles the query over those ``K`` candidates and ranks them by cosine similarity to
    the settled state ``ξ*`` (:func:`hopfield_settle_gram`, the ``K``-space form of
    :func:`hopfield_settle` followed by :func:`cosine_to_state`). With ``max_steps = 0`` the result
    is the exact top-``k`` (the settled state is the query itself).

    Stage 1 runs in the storage type of ``keys`` (float16 storage: float16 scores); stage 2
    re-reads the ``K`` candidates in float32.

    Args:
        queries: ``[B, d]`` L2-normalised queries (same dtype/device as ``keys`` or castable).
        keys: ``[N, d]`` stored patterns.
        k: results per query.
        candidates: ``K`` of stage 1.
        beta, max_steps, eps: settle parameters.
        mask: optional ``[N]`` or ``[B, N]`` bool; ``False`` keys are never returned.

    Returns:
        ``(scores, rows, steps)``: ``[B, k]`` float32 scores (cosine to ``ξ*``, ``-inf`` padding),
        ``[B, k]`` int64 row indices into ``keys`` (``-1`` padding) and the settle step count.
    """
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(
            f"queries must be [B, d] and keys [N, d] with the same d; got {tuple(queries.shape)} "
            f"and {tuple(keys.shape)}"
        )
    n = keys.shape[0]
    if n == 0:
        return take_k(queries.new_empty((queries.shape[0], 0)), queries.new_empty((queries.shape[0], 0), dtype=torch.int64), k) + (
            torch.tensor(0),
        )
    sims = inner_products(queries, keys)
    if mask is not None:
        sims = sims.masked_fill(~mask, float("-inf"))
    return rerank_candidates(
        sims, queries, keys, k, candidates=candidates, beta=beta, max_steps=max_steps, eps=eps, state_weight=state_weight
    )


def rerank_candidates(
    sims: torch.Tensor,
    queries: torch.Tensor,
    keys: torch.Tensor,
    k: int,
    *,
    candidates: int,
    beta: float,
    max_steps: int,
    eps: float,
    rows: torch.Tensor | None = None,
    state_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 2 of :func:`two_stage_search` from stage-1 scores.

    The final score of candidate ``i`` blends its stage-1 score with its cosine to the settled
    state, ``(1 - α) x_iᵀ q + α cos(x_i, ξ*)`` with ``α = state_weight``; ``α = 1`` ranks by the
    settled state alone, ``α = 0`` skips the settle (exact top-``k``).

    Args:
        sims: ``[B, N]`` stage-1 scores (``-inf`` = excluded), or ``[B, m]`` scores of the rows
            ``rows`` when stage 1 already returned candidates (an approximate index).
        queries: ``[B, d]`` queries; keys: ``[N, d]`` stored patterns.
        k, candidates, beta, max_steps, eps: as in :func:`two_stage_search`.
        rows: optional ``[B, m]`` int64 row indices (``-1`` = none) that ``sims`` refers to.
        state_weight: ``α`` in ``[0, 1]``.

    Returns:
        ``(scores, rows, steps)`` as in :func:`two_stage_search`.
    """
    if not 0.0 <= state_weight <= 1.0:
        raise ValueError(f"state_weight must be in [0, 1], got {state_weight}")
    if state_weight == 0.0:
        max_steps = 0
    kk = min(max(candidates, k), sims.shape[1])
    if kk == 0:
        b = sims.shape[0]
        return take_k(sims.new_empty((b, 0)), torch.empty((b, 0), dtype=torch.int64, device=sims.device), k) + (
            torch.tensor(0),
        )
    small_cpu = sims.device.type == "cpu" and sims.shape[0] <= SMALL_BATCH_NUMPY
    if small_cpu and _STAGE2_NB is not None:
        return _stage2_compiled(sims, rows, queries, keys, k, kk, beta, max_steps, eps, state_weight)
    cand_scores, cand_rows = topk_unsorted(sims, kk)
    if rows is not None:
        cand_rows = torch.gather(rows, 1, cand_rows)
    if small_cpu:
        return _stage2_numpy(cand_scores, cand_rows, queries, keys, k, beta, max_steps, eps, state_weight)
    if max_steps <= 0:
        cand_scores, order = torch.sort(cand_scores, dim=1, descending=True, stable=True)
        cand_rows = torch.gather(cand_rows, 1, order)
    invalid = torch.isneginf(cand_scores) | (cand_rows < 0)
    has_invalid = bool(invalid.any())
    if has_invalid:
        cand_rows = cand_rows.masked_fill(invalid, PAD_ID)
        cand_scores = cand_scores.masked_fill(invalid, PAD_SCORE)
    if max_steps <= 0:
        return take_k(cand_scores.float(), cand_rows, k) + (torch.tensor(0),)
    valid = ~invalid if has_invalid else None
    flat = (cand_rows.clamp_min(0) if has_invalid else cand_rows).reshape(-1)
    cand = keys.index_select(0, flat).view(cand_rows.shape[0], kk, keys.shape[1]).float()  # [B, K, d]
    rescored, steps = hopfield_settle_gram(queries.float(), cand, beta, max_steps, eps, valid)
    if state_weight < 1.0:
        rescored = (1.0 - state_weight) * cand_scores.float() + state_weight * rescored
    if has_invalid:
        rescored = rescored.masked_fill(invalid, PAD_SCORE)
    scores, order = torch.sort(rescored, dim=1, descending=True, stable=True)
    rows_out = torch.gather(cand_rows, 1, order)
    if has_invalid:
        rows_out = rows_out.masked_fill(torch.isneginf(scores), PAD_ID)
    return take_k(scores, rows_out, k) + (steps,)


#: On CPU, batches up to this size run stage 2 in NumPy (per-operation overhead ~1 µs instead of
#: ~5 µs for torch on these ``[B, K]`` / ``[B, K, K]`` arrays; see docs/performance.md).
SMALL_BATCH_NUMPY = 8


def settle_gram_numpy(
    xi: np.ndarray, patterns: np.ndarray, beta: float, max_steps: int, eps: float, valid: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """NumPy twin of :func:`hopfield_settle_gram` (same equations and stop rule), float32.

    Args:
        xi: ``[B, d]``; patterns: ``[B, K, d]``; valid: optional ``[B, K]`` bool.

    Returns:
        ``(cosines [B, K], steps)``.
    """
    s = np.matmul(patterns, xi[:, :, None])[:, :, 0]
    if max_steps <= 0:
        return s / np.maximum(np.linalg.norm(xi, axis=1, keepdims=True), 1e-12), 0
    gram = np.matmul(patterns, patterns.transpose(0, 2, 1))
    neg = None
    if valid is not None:
        neg = np.where(valid, np.float32(0), np.float32(-np.inf))
        any_valid = valid.any(axis=1)
    a = a_prev = s
    steps = 0
    eps2 = float(eps) * float(eps)
    with np.errstate(invalid="ignore", divide="ignore"):
        for t in range(max_steps):
            logits = s * np.float32(beta) if neg is None else s * np.float32(beta) + neg
            top = logits.max(axis=1, keepdims=True)
            if neg is not None:
                top = np.where(np.isfinite(top), top, np.float32(0))
            e = np.exp(logits - top)
            a = e / e.sum(axis=1, keepdims=True)
            if neg is not None:
                a = np.nan_to_num(a, nan=0.0)
            if t == 0:
                diff = np.matmul(a[:, None, :], patterns)[:, 0] - xi
                d2 = (diff * diff).sum(axis=1)
                if neg is not None:
                    d2 = np.where(any_valid, d2, np.float32(0))
            s_new = np.matmul(gram, a[:, :, None])[:, :, 0]
            if t > 0:
                d2 = ((a - a_prev) * (s_new - s)).sum(axis=1)
            s, a_prev = s_new, a
            steps += 1
            if float(d2.max()) < eps2:
                break
    norm = np.sqrt(np.maximum((a * s).sum(axis=1, keepdims=True), np.float32(1e-24)))
    return s / norm, steps


def _stage2_numpy(
    cand_scores: torch.Tensor, cand_rows: torch.Tensor, queries: torch.Tensor, keys: torch.Tensor,
    k: int, beta: float, max_steps: int, eps: float, state_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 2 of :func:`rerank_candidates` for small CPU batches, in NumPy; same results."""
    cs = cand_scores.numpy()
    cr = cand_rows.numpy()
    invalid = np.isneginf(cs) | (cr < 0)
    has_invalid = bool(invalid.any())
    if has_invalid:
        cr = np.where(invalid, PAD_ID, cr)
        cs = np.where(invalid, np.float32(PAD_SCORE), cs)
    steps = 0
    if max_steps <= 0:
        scores = cs
    else:
        b, kk = cr.shape
        safe = np.maximum(cr, 0) if has_invalid else cr
        if keys.dtype == torch.float32:
            cand = keys.numpy()[safe]
        else:
            cand = keys.index_select(0, torch.from_numpy(safe.reshape(-1))).float().numpy().reshape(b, kk, -1)
        xi = queries.float().numpy()
        scores, steps = settle_gram_numpy(xi, cand, beta, max_steps, eps, ~invalid if has_invalid else None)
        if state_weight < 1.0:
            scores = np.float32(1.0 - state_weight) * cs.astype(np.float32) + np.float32(state_weight) * scores
        if has_invalid:
            scores = np.where(invalid, np.float32(PAD_SCORE), scores)
    order = np.argsort(-scores, axis=1, kind="stable")
    scores = np.take_along_axis(scores, order, axis=1).astype(np.float32, copy=False)
    rows = np.take_along_axis(cr, order, axis=1)
    if has_invalid:
        rows = np.where(np.isneginf(scores), PAD_ID, rows)
    return take_k(torch.from_numpy(scores), torch.from_numpy(rows), k) + (torch.tensor(steps, dtype=torch.int64),)


def _stage2_compiled(
    sims: torch.Tensor, rows: torch.Tensor | None, queries: torch.Tensor, keys: torch.Tensor,
    k: int, kk: int, beta: float, max_steps: int, eps: float, state_weight: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stage 2 for small CPU batches with the numba kernels; the results of :func:`_stage2_numpy`."""
    cs, cr = _STAGE2_NB["topk_sorted"](np.ascontiguousarray(sims.float().numpy()), kk)
    if rows is not None:
        cr = np.where(cr >= 0, np.take_along_axis(rows.numpy(), np.maximum(cr, 0), axis=1), -1)
    b = cr.shape[0]
    if max_steps > 0:
        safe = np.maximum(cr, 0)
        if keys.dtype == torch.float32:
            cand = keys.numpy()[safe]
        else:
            cand = keys.index_select(0, torch.from_numpy(safe.reshape(-1))).float().numpy().reshape(b, kk, -1)
        q = queries.float().numpy()
        s0 = np.matmul(cand, q[:, :, None])[:, :, 0]
        gram = np.matmul(cand, cand.transpose(0, 2, 1))
    else:
        cand, q = np.zeros((b, kk, 1), dtype=np.float32), np.zeros((b, 1), dtype=np.float32)
        s0, gram = np.zeros((b, kk), dtype=np.float32), np.zeros((b, kk, kk), dtype=np.float32)
    scores, out_rows, steps = _STAGE2_NB["settle_rank"](cand, gram, s0, cs, cr, q, float(beta), int(max_steps),
                                                        float(eps), float(state_weight))
    return take_k(torch.from_numpy(scores), torch.from_numpy(out_rows), k) + (torch.tensor(steps, dtype=torch.int64),)


def take_k(scores: torch.Tensor, rows: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut or pad ``[B, m]`` results to exactly ``[B, k]``."""
    b, m = scores.shape
    if m >= k:
        return scores[:, :k].float(), rows[:, :k]
    pad_s = torch.full((b, k - m), PAD_SCORE, dtype=torch.float32, device=scores.device)
    pad_r = torch.full((b, k - m), PAD_ID, dtype=torch.int64, device=rows.device)
    return torch.cat([scores.float(), pad_s], 1), torch.cat([rows, pad_r], 1)


def first_per_id(scores: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep each id's best entry in rows already sorted best-first; later duplicates become padding.

    Args:
        scores: ``[B, m]`` sorted descending per row.
        ids: ``[B, m]`` ids (``-1`` = padding).

    Returns:
        ``(scores, ids)`` ``[B, m]``, still sorted, each id at most once per row, padding last.
    """
    m = ids.shape[1]
    same = ids[:, :, None] == ids[:, None, :]  # [B, m, m]
    earlier = torch.ones(m, m, dtype=torch.bool, device=ids.device).tril(-1)
    dup = (same & earlier).any(dim=2) | (ids < 0)
    scores = scores.masked_fill(dup, PAD_SCORE)
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    scores = torch.gather(scores, 1, order)
    ids = torch.gather(ids, 1, order)
    return scores, torch.where(torch.isneginf(scores), torch.full_like(ids, PAD_ID), ids)


# --------------------------------------------------------------------------------------------
# Pattern separation (random projection + k-winner-take-all) and the Hebbian outer product.
# These are the reference the Lava deployment (deploy_loihi/) must reproduce.
# --------------------------------------------------------------------------------------------


def sign_projection(dim_in: int, code_dim: int, seed: int) -> torch.Tensor:
    """A seeded Rademacher (±1) projection matrix ``P`` of shape ``[code_dim, dim_in]`` (int8).

    ±1 entries keep the projection exact in integer arithmetic (on Loihi 2 the synaptic weights
    are scaled to ±2 because mixed-sign 8-bit weights lose their lowest bit).

    Example:
        >>> P = sign_projection(4, 8, seed=0)
        >>> P.shape, P.dtype, sorted(P.unique().tolist())
        (torch.Size([8, 4]), torch.int8, [-1, 1])
    """
    if dim_in < 1 or code_dim < 1:
        raise ValueError(f"dim_in and code_dim must be >= 1, got {dim_in} and {code_dim}")
    gen = torch.Generator().manual_seed(int(seed))
    bits = torch.randint(0, 2, (code_dim, dim_in), generator=gen, dtype=torch.int8)
    return bits * 2 - 1


def kwta(h: torch.Tensor, k: int) -> torch.Tensor:
    """k-winner-take-all: indices of the ``k`` largest entries of each row, ties to the lower index.

    .. math::
        \\mathcal{W}(h) = \\{\\, i : |\\{ j : h_j > h_i \\lor (h_j = h_i \\land j < i) \\}| < k \\,\\}

    Args:
        h: ``[B, N]`` pre-activations (any real or integer dtype).
        k: winners per row, ``1 <= k <= N``.

    Returns:
        ``[B, k]`` int64 winner indices, sorted ascending (a canonical form for comparisons).

    Example:
        >>> kwta(torch.tensor([[0.5, 2.0, 2.0, -1.0]]), 2).tolist()
        [[1, 2]]
    """
    if h.ndim != 2:
        raise ValueError(f"h must be [B, N], got shape {tuple(h.shape)}")
    if not 1 <= k <= h.shape[1]:
        raise ValueError(f"k must be in [1, {h.shape[1]}], got {k}")
    if h.dtype in (torch.int8, torch.uint8, torch.int16, torch.int32):
        # Integer input: a unique composite key (value first, then lower index) makes top-k exact
        # and much faster than a full stable sort; the result is identical.
        n = h.shape[1]
        rank = torch.arange(n - 1, -1, -1, dtype=torch.int64, device=h.device)
        order = torch.topk(h.to(torch.int64) * n + rank, k, dim=1, sorted=False).indices
    else:
        order = torch.sort(h, dim=1, descending=True, stable=True).indices[:, :k]
    return torch.sort(order, dim=1).values


def winners_to_code(winners: torch.Tensor, code_dim: int) -> torch.Tensor:
    """Binary sparse codes ``[B, code_dim]`` (float32 0/1) from winner indices ``[B, k]``."""
    code = torch.zeros((winners.shape[0], code_dim), dtype=torch.float32, device=winners.device)
    return code.scatter_(1, winners, 1.0)


def hebbian_outer(pre: torch.Tensor, post: torch.Tensor) -> torch.Tensor:
    """Hebbian outer product summed over a batch of pairs: ``ΔW = Σ_b post_b pre_bᵀ`` ``[N_post, N_pre]``.

    .. math::
        \\Delta W_{ij} = \\sum_b y_{b,i} \\, x_{b,j}

    With binary codes every entry is a count of co-active (post, pre) pairs: integer-exact.
    """
    if pre.ndim != 2 or post.ndim != 2 or pre.shape[0] != post.shape[0]:
        raise ValueError(f"pre and post must be [B, N] with the same B, got {tuple(pre.shape)} and {tuple(post.shape)}")
    return post.T.float() @ pre.float()


# --------------------------------------------------------------------------------------------
# Integer-exact forms of pattern separation and the Hebbian association matrix (hybrid.associative).
#
# Data types (the Lava fixed-point twin must use the same):
#   x_q  int16  [B, d]     quantised unit embedding, round-half-even(s x) with s = QUANT_SCALE = 2^15 - 1
#                          (a 16-bit graded-spike payload), clipped to [-s, s]; the product s x is formed
#                          in float64, which is exact for float32 inputs
#   P    int8   [N, d]     ±1 projection (sign_projection)
#   h    int32  [B, N]     P x_q, exact. Bounds: |h_i| <= Σ_j |x_q,j| <= s ‖x‖_1 + d/2 <= s √d + d/2 for a
#                          unit vector (642 282 for d = 384: fits the 24-bit neuron state, |h| <= 2^23 - 1,
#                          and float32 accumulation is exact, every partial sum < 2^24); worst case for
#                          arbitrary inputs s d (12 582 528 for d = 384): still float32-exact (< 2^24) but
#                          beyond the 24-bit saturating current. project_int checks the exact bound per row.
#   winners int64 [B, k]   kwta(h, k), sorted ascending, ties to the lower index
#   W    uint8  [N, N]     W[j, i] = number of stored associations whose pre code has unit j and
#                          whose post code has unit i (row = presynaptic), saturating at 255
#   W_eff = min(W, w_cap)  the synaptic weight actually used by a hop (w_cap = 1: binary Willshaw)
# --------------------------------------------------------------------------------------------

#: Bits of the signed graded payload that carries a quantised embedding (Loihi 2 graded spikes carry
#: up to 24 bits; 16 bits make the integer codes agree with the float reference, docs/loihi.md).
QUANT_BITS = 16
#: Scale of the quantisation of unit embeddings, ``2^(QUANT_BITS-1) - 1``.
QUANT_SCALE = (1 << (QUANT_BITS - 1)) - 1
#: Largest accepted scale (int16 storage). Stores saved with the former 8-bit scale 127 keep it
#: (the scale is recorded in the association checkpoint's config).
MAX_QUANT_SCALE = (1 << 15) - 1
#: Scale used by association checkpoints written before the 16-bit payload (8-bit graded spikes).
LEGACY_QUANT_SCALE = 127
#: Partial sums of the float32 projection must stay below this to be exact integers.
FLOAT32_EXACT_INT = 1 << 24
#: Saturation value of the uint8 association counts.
W_SATURATION = 255


def quantize_unit(x: torch.Tensor, scale: int = QUANT_SCALE) -> torch.Tensor:
    """Quantise L2-normalised embeddings to signed integers (int16): ``x_q = clip(round(s x), -s, s)``.

    .. math::
        x_{q,j} = \\operatorname{clip}\\big(\\operatorname{round}(s \\, x_j), -s, s\\big)

    The product is formed in float64 (exact for float32 inputs) and rounded half-to-even, the same
    arithmetic as ``deploy_loihi.fixed.quantize_graded(x, bits)`` with ``s = 2^(bits-1) - 1``, so the
    Lava graded-spike encoder sends exactly these integers. Default ``s = QUANT_SCALE = 32767``
    (16-bit payload); ``s = 127`` reproduces the former int8 codes.

    Example:
        >>> quantize_unit(torch.tensor([[0.5, -0.25, 1.0]]), 127).tolist()
        [[64, -32, 127]]
        >>> quantize_unit(torch.tensor([[0.5, -0.25, 1.0]])).tolist()
        [[16384, -8192, 32767]]
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= MAX_QUANT_SCALE:
        raise ValueError(f"scale must be an int in [1, {MAX_QUANT_SCALE}], got {scale!r}")
    return torch.round(x.to(torch.float64) * scale).clamp_(-scale, scale).to(torch.int16)


def project_int(x_q: torch.Tensor, projection: torch.Tensor) -> torch.Tensor:
    """Integer pre-activations of the code layer, ``h = P x_q`` (int32 ``[B, N]``).

    .. math::
        h_i = \\sum_{j=1}^{d} P_{ij} \\, x_{q,j}

    Computed in float32, which is exact when every partial sum is an integer of magnitude below
    ``2^24``; that holds when ``max_b Σ_j |x_{q,bj}| < 2^24`` (checked here), whatever the
    summation order. For unit vectors quantised with scale ``s`` the bound is ``s √d + d/2``
    (642 282 at ``s = 32767, d = 384``, also inside the 24-bit neuron state); arbitrary
    inputs reach ``s d``.
    """
    if x_q.ndim != 2 or projection.ndim != 2 or x_q.shape[1] != projection.shape[1]:
        raise ValueError(
            f"x_q must be [B, d] and projection [N, d] with the same d; got {tuple(x_q.shape)} and {tuple(projection.shape)}"
        )
    if x_q.shape[0] and int(x_q.to(torch.int64).abs().sum(dim=1).max()) >= FLOAT32_EXACT_INT:
        raise ValueError(
            f"x_q rows have L1 norm >= 2^24 (d = {x_q.shape[1]}): too large for exact float32 accumulation"
        )
    return (x_q.float() @ projection.float().T).round_().to(torch.int32)


def pattern_separate(
    x: torch.Tensor, projection: torch.Tensor, k: int, scale: int = QUANT_SCALE, centre: torch.Tensor | None = None
) -> torch.Tensor:
    """Sparse code of embeddings: ``kwta(P · quantize(unit(x - μ)), k)`` -> winners ``[B, k]`` (sorted, int64).

    .. math::
        \\mathrm{code}(x) = \\mathcal{W}_k\\Big(P \\, \\mathrm{clip}\\big(\\mathrm{round}\\big(s \\tfrac{x - \\mu}{\\lVert x - \\mu \\rVert}\\big)\\big)\\Big)

    ``μ`` (``centre``, default 0) is the fixed centre saved with the projection.

    Example:
        >>> P = sign_projection(8, 64, seed=0)
        >>> pattern_separate(torch.nn.functional.normalize(torch.ones(1, 8), dim=1), P, 4).shape
        torch.Size([1, 4])
    """
    if centre is not None:
        y = x.float() - centre.float()
        n = torch.linalg.vector_norm(y, dim=1, keepdim=True)
        x = torch.where(n > 1e-6, y / n.clamp_min(1e-12), x.float())
    return kwta(project_int(quantize_unit(x, scale), projection), k)


def hebbian_update_(
    w: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, *, sign: int = 1, saturation: int = W_SATURATION
) -> torch.Tensor:
    """In-place integer Hebbian update of ``W [N_pre, N_post]`` for a batch of (pre, post) winner sets.

    .. math::
        W_{ji} \\leftarrow \\mathrm{clip}\\Big(W_{ji} + \\sigma \\sum_b [j \\in \\mathrm{pre}_b][i \\in \\mathrm{post}_b],
        \\; 0, \\; W_{sat}\\Big)

    ``σ = +1`` learns, ``σ = -1`` unlearns (used to delete an association exactly, as long as no
    entry it touches had saturated). The update is computed in int32 and then clipped, so it does
    not depend on the order of the pairs.

    Args:
        w: ``[N, N]`` uint8 (or any integer) counts; modified in place and returned.
        pre: ``[B, k]`` presynaptic winner indices.
        post: ``[B, k]`` postsynaptic winner indices.
        sign: ``+1`` or ``-1``.
        saturation: largest count kept.
    """
    if sign not in (1, -1):
        raise ValueError(f"sign must be +1 or -1, got {sign}")
    if pre.ndim != 2 or post.ndim != 2 or pre.shape[0] != post.shape[0]:
        raise ValueError(f"pre and post must be [B, k] with the same B, got {tuple(pre.shape)} and {tuple(post.shape)}")
    if pre.shape[0] == 0:
        return w
    n_post = w.shape[1]
    flat = (pre[:, :, None] * n_post + post[:, None, :]).reshape(-1)
    uniq, counts = torch.unique(flat, return_counts=True)
    rows, cols = uniq // n_post, uniq % n_post
    cur = w[rows, cols].to(torch.int32) + sign * counts.to(torch.int32)
    w[rows, cols] = cur.clamp_(0, saturation).to(w.dtype)
    return w


def hebbian_update(
    w: torch.Tensor, pre: torch.Tensor, post: torch.Tensor, *, sign: int = 1, saturation: int = W_SATURATION
) -> torch.Tensor:
    """Pure form of :func:`hebbian_update_`: returns a new matrix, ``w`` is left unchanged."""
    return hebbian_update_(w.clone(), pre, post, sign=sign, saturation=saturation)


def hop_input(w: torch.Tensor, winners: torch.Tensor, w_cap: int) -> torch.Tensor:
    """Dendritic input of the code layer after one hop: ``h = min(W, w_cap)ᵀ · code`` (int32 ``[B, N]``).

    .. math::
        h_i = \\sum_{j \\in \\mathrm{winners}} \\min(W_{ji}, w_{cap})

    The cap is the normalisation that keeps a hop's input bounded (``h_i <= k w_cap``) however
    many associations share a synapse; ``w_cap = 1`` is the binary (Willshaw) matrix.
    """
    if w_cap < 1:
        raise ValueError(f"w_cap must be >= 1, got {w_cap}")
    rows = w[winners]  # [B, k, N]
    if w_cap < W_SATURATION:
        rows = rows.clamp(max=w_cap)
    return rows.to(torch.int32).sum(dim=1)


def hop_step(w: torch.Tensor, winners: torch.Tensor, k: int, w_cap: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One associative hop: ``winners' = kwta(min(W, w_cap)ᵀ code, k)``.

    Returns:
        ``(next_winners, active)``: ``[B, k]`` sorted winners and a ``[B, k]`` bool telling which
        winners received a non-zero input (a winner with ``h = 0`` is only there to fill ``k``;
        clean-up ignores it).
    """
    h = hop_input(w, winners, w_cap)
    nxt = kwta(h, k)
    return nxt, torch.gather(h, 1, nxt) > 0


def code_overlap(winners: torch.Tensor, active: torch.Tensor | None, stored: torch.Tensor, code_dim: int) -> torch.Tensor:
    """Overlap ``|code ∩ stored_m|`` of recalled codes with every stored code (int32 ``[B, M]``).

    Args:
        winners: ``[B, k]`` recalled winners.
        active: optional ``[B, k]`` bool; inactive winners do not count.
        stored: ``[M, k]`` winners of the stored codes.
        code_dim: ``N``.
    """
    b = winners.shape[0]
    mask = torch.zeros((b, code_dim + 1), dtype=torch.bool, device=winners.device)
    idx = winners if active is None else torch.where(active, winners, torch.full_like(winners, code_dim))
    mask.scatter_(1, idx, True)
    mask[:, code_dim] = False
    if stored.shape[0] == 0:
        return torch.zeros((b, 0), dtype=torch.int32, device=winners.device)
    return mask[:, stored].sum(dim=2, dtype=torch.int32)


def cleanup(
    winners: torch.Tensor, active: torch.Tensor | None, stored: torch.Tensor, code_dim: int, m: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean-up of a recalled code to the ``m`` stored codes of largest overlap (ties to the lower row).

    This is the β → ∞ limit of one modern-Hopfield step over the stored binary codes.

    Returns:
        ``(overlaps, rows)``: ``[B, m]`` int32 overlaps and int64 rows into ``stored`` (``-1`` if
        fewer than ``m`` codes are stored).
    """
    ov = code_overlap(winners, active, stored, code_dim)
    mm = min(m, ov.shape[1])
    rows = torch.full((ov.shape[0], m), PAD_ID, dtype=torch.int64, device=ov.device)
    vals = torch.zeros((ov.shape[0], m), dtype=torch.int32, device=ov.device)
    if mm:
        order = torch.sort(ov, dim=1, descending=True, stable=True).indices[:, :mm]
        rows[:, :mm] = order
        vals[:, :mm] = torch.gather(ov, 1, order)
    return vals, rows


# ====================================================================== compiled stage 2
# For one query (or a few) on CPU, what follows the stage-1 product costs more in per-operation
# overhead than in arithmetic: ~20 NumPy calls on [B, K] arrays. Two numba kernels do the same
# work in one call each (docs/performance.md, "Single-query overhead"): the top-K selection and
# the settle + ranking (hybrid/kernels.py). The NumPy path above is their twin and runs without numba.
def _load_stage2_kernels() -> dict | None:
    from ._numba import load_kernels

    kn = load_kernels()
    if kn is None:
        return None
    return {"topk_sorted": kn.topk_sorted, "settle_rank": kn.settle_rank, "search_f32": kn.search_f32,
            "rerank_f32": kn.rerank_f32}


#: The compiled stage-2 kernels (:mod:`hybrid.kernels`), or None (NumPy path). Tests set it to None
#: to run the NumPy path.
_STAGE2_NB = _load_stage2_kernels()
