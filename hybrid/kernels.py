"""The compiled kernels (numba), at module level so that ``cache=True`` hits in every process.

Each kernel has a NumPy twin with the same results (:mod:`hybrid.functional`,
:mod:`hybrid.associative`, :mod:`hybrid.encoder`); this module is imported only through
:func:`hybrid._numba.load_kernels`, which sets up the cache folder first and returns None without
numba or with ``HHMEM_NO_NUMBA=1``. Kernels call each other directly as module globals: a jitted
function captured in a closure gets a new cache key in every process (numba issue 6264), so the
cache would never hit.
"""
from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)
#: ``fastmath`` lets LLVM reorder float sums (vectorised dot products); results then differ from a
#: sequential sum by rounding only.
_jit_fast = numba.njit(cache=True, nogil=True, fastmath=True)


# ====================================================================== row normalisation (encoder)
@_jit
def unit_rows(a):
    """Rows of a float32 ``[n, d]`` array divided by their norm (summed in float64), and ``-1``; or
    the first row whose squared norm is not finite and positive (the NumPy path then reports it)."""
    n, d = a.shape
    out = np.empty((n, d), dtype=np.float32)
    for i in range(n):
        s = 0.0
        for j in range(d):
            s += np.float64(a[i, j]) * np.float64(a[i, j])
        if not (s > 0.0 and s < np.inf):
            return out, i
        inv = 1.0 / np.sqrt(s)
        for j in range(d):
            out[i, j] = a[i, j] * inv
    return out, -1


# ====================================================================== stage 1 and 2 (functional, retriever)
@_jit_fast
def _dot(a, b):
    acc = np.float32(0.0)
    for t in range(a.shape[0]):
        acc += a[t] * b[t]
    return acc


@_jit
def _push(out_s, out_r, b, cnt, kk, v, i):
    """Insert ``(v, i)`` into row ``b`` of a best-first buffer holding ``cnt`` entries (after
    equal values, so equal values stay in row order); returns the new count."""
    pos = cnt if cnt < kk else kk - 1
    while pos > 0 and out_s[b, pos - 1] < v:
        out_s[b, pos] = out_s[b, pos - 1]
        out_r[b, pos] = out_r[b, pos - 1]
        pos -= 1
    out_s[b, pos] = v
    out_r[b, pos] = i
    return cnt + 1 if cnt < kk else cnt


@_jit
def topk_sorted(sims, kk):
    """The ``kk`` largest entries of each row of ``sims [B, N]``, best first, equal values in
    row order; ``-inf`` entries are never taken (``-inf`` / ``-1`` fill the rest)."""
    b_n, n = sims.shape
    out_s = np.full((b_n, kk), -np.inf, dtype=np.float32)
    out_r = np.full((b_n, kk), -1, dtype=np.int64)
    for b in range(b_n):
        cnt = 0
        thr = np.float32(-np.inf)
        for i in range(n):
            v = sims[b, i]
            if v > thr:  # -inf (masked) and NaN never pass
                cnt = _push(out_s, out_r, b, cnt, kk, v, i)
                if cnt == kk:
                    thr = out_s[b, kk - 1]
    return out_s, out_r


@_jit
def scan_topk(keys, q, mask, kk):
    """Stage 1 without the ``[B, N]`` score matrix: ``topk_sorted(Q Xᵀ)`` in one pass over the
    float32 keys (each key row is read once for the whole batch). ``mask [N]`` bool, or
    empty for none; ``False`` rows are skipped."""
    b_n = q.shape[0]
    n = keys.shape[0]
    out_s = np.full((b_n, kk), -np.inf, dtype=np.float32)
    out_r = np.full((b_n, kk), -1, dtype=np.int64)
    cnt = np.zeros(b_n, dtype=np.int64)
    thr = np.full(b_n, -np.inf, dtype=np.float32)
    masked = mask.shape[0] == n
    for i in range(n):
        if masked and not mask[i]:
            continue
        row = keys[i]
        for b in range(b_n):
            v = _dot(row, q[b])
            if v > thr[b]:
                cnt[b] = _push(out_s, out_r, b, cnt[b], kk, v, i)
                if cnt[b] == kk:
                    thr[b] = out_s[b, kk - 1]
    return out_s, out_r


@_jit
def settle_rank(cand, gram, s0, cs, cr, q, beta, max_steps, eps, alpha):
    """Settle over the candidates and rank them (the equations of :func:`settle_gram_numpy`).

    ``cand [B, K, d]``, their Gram matrices ``gram [B, K, K]`` and first scores
    ``s0 = X q`` ``[B, K]`` (float32, from BLAS like the NumPy twin); ``cs [B, K]`` stage-1
    scores and ``cr [B, K]`` rows, best first (``-inf`` / ``-1`` = none). Returns ``(scores,
    rows, steps)`` sorted best first, equal scores in candidate order; K-space sums in float64.
    """
    b_n, kk, d = cand.shape
    valid = np.empty((b_n, kk), dtype=np.bool_)
    for b in range(b_n):
        for j in range(kk):
            valid[b, j] = cs[b, j] > -np.inf and cr[b, j] >= 0
    scores = np.empty((b_n, kk), dtype=np.float32)
    steps = 0
    if max_steps <= 0:
        for b in range(b_n):
            for j in range(kk):
                scores[b, j] = cs[b, j] if valid[b, j] else -np.inf
    else:
        s = s0.astype(np.float64)
        a = np.zeros((b_n, kk))
        a_prev = np.zeros((b_n, kk))
        s_new = np.zeros((b_n, kk))
        diff = np.empty(d, dtype=np.float32)
        eps2 = eps * eps
        for it in range(max_steps):
            worst = 0.0
            for b in range(b_n):
                top = -np.inf
                for j in range(kk):
                    if valid[b, j] and s[b, j] * beta > top:
                        top = s[b, j] * beta
                tot = 0.0
                for j in range(kk):
                    e = np.exp(s[b, j] * beta - top) if valid[b, j] else 0.0
                    a[b, j] = e
                    tot += e
                for j in range(kk):
                    a[b, j] = a[b, j] / tot if tot > 0.0 else 0.0
                for i in range(kk):
                    acc = 0.0
                    for j in range(kk):
                        acc += np.float64(gram[b, i, j]) * a[b, j]
                    s_new[b, i] = acc
                d2 = 0.0
                if it == 0:
                    if tot > 0.0:  # first change in d dimensions: the K-space form cancels
                        for t in range(d):
                            diff[t] = -q[b, t]
                        for j in range(kk):
                            aj = np.float32(a[b, j])
                            for t in range(d):
                                diff[t] += aj * cand[b, j, t]
                        for t in range(d):
                            d2 += np.float64(diff[t]) * np.float64(diff[t])
                else:
                    for j in range(kk):
                        d2 += (a[b, j] - a_prev[b, j]) * (s_new[b, j] - s[b, j])
                worst = max(worst, d2)
                for j in range(kk):
                    s[b, j] = s_new[b, j]
                    a_prev[b, j] = a[b, j]
            steps += 1
            if worst < eps2:
                break
        for b in range(b_n):
            acc = 0.0
            for j in range(kk):
                acc += a[b, j] * s[b, j]
            norm = np.sqrt(max(acc, 1e-24))
            for j in range(kk):
                if not valid[b, j]:
                    scores[b, j] = -np.inf
                else:
                    c = np.float32(s[b, j] / norm)
                    scores[b, j] = c if alpha >= 1.0 else np.float32(1.0 - alpha) * cs[b, j] + np.float32(alpha) * c
    rows = np.empty((b_n, kk), dtype=np.int64)
    order = np.empty(kk, dtype=np.int64)
    for b in range(b_n):
        for j in range(kk):  # stable insertion sort, best first
            pos = j
            while pos > 0 and scores[b, order[pos - 1]] < scores[b, j]:
                order[pos] = order[pos - 1]
                pos -= 1
            order[pos] = j
        tmp = scores[b].copy()
        for j in range(kk):
            scores[b, j] = tmp[order[j]]
            rows[b, j] = cr[b, order[j]] if tmp[order[j]] > -np.inf else -1
    return scores, rows, steps


@_jit
def _finish_f32(keys, ids, q, cs, cr, k, beta, max_steps, eps, alpha):
    """Stage 2 from best-first candidates ``cs``/``cr`` over float32 keys, ids mapped, ``[B, k]``."""
    b_n, kk = cr.shape
    d = q.shape[1]
    cand = np.zeros((b_n, kk, d), dtype=np.float32)
    gram = np.zeros((b_n, kk, kk), dtype=np.float32)
    s0 = np.zeros((b_n, kk), dtype=np.float32)
    if max_steps > 0:
        for b in range(b_n):
            for j in range(kk):
                if cr[b, j] >= 0:
                    cand[b, j] = keys[cr[b, j]]
            for i in range(kk):
                s0[b, i] = _dot(cand[b, i], q[b])
                for j in range(i + 1):
                    g = _dot(cand[b, i], cand[b, j])
                    gram[b, i, j] = g
                    gram[b, j, i] = g
    scores, rows, steps = settle_rank(cand, gram, s0, cs, cr, q, beta, max_steps, eps, alpha)
    out_s = np.full((b_n, k), -np.inf, dtype=np.float32)
    out_i = np.full((b_n, k), -1, dtype=np.int64)
    for b in range(b_n):
        for j in range(min(k, kk)):
            if rows[b, j] >= 0:
                out_s[b, j] = scores[b, j]
                out_i[b, j] = ids[rows[b, j]]
    return out_s, out_i, steps


@_jit
def search_f32(keys, ids, q, mask, kk, k, beta, max_steps, eps, alpha):
    """The whole two-stage search over float32 keys for a small batch, ids mapped, ``[B, k]``."""
    cs, cr = scan_topk(keys, q, mask, kk)
    return _finish_f32(keys, ids, q, cs, cr, k, beta, max_steps, eps, alpha)


@_jit
def rerank_f32(keys, ids, alive, q, sims, rows, kk, k, beta, max_steps, eps, alpha):
    """Stage 2 over candidates of an approximate index: ``sims``/``rows [B, m]`` (``-1`` =
    none; rows with ``alive`` False, when given, are dropped), best ``kk`` kept, ``[B, k]``."""
    b_n, m = rows.shape
    cs = np.full((b_n, kk), -np.inf, dtype=np.float32)
    cr = np.full((b_n, kk), -1, dtype=np.int64)
    check = alive.shape[0] > 0
    for b in range(b_n):
        cnt = 0
        thr = np.float32(-np.inf)
        for j in range(m):
            r = rows[b, j]
            if r < 0 or (check and not alive[r]):
                continue
            v = np.float32(sims[b, j])
            if v > thr:
                cnt = _push(cs, cr, b, cnt, kk, v, r)
                if cnt == kk:
                    thr = cs[b, kk - 1]
    return _finish_f32(keys, ids, q, cs, cr, k, beta, max_steps, eps, alpha)


# ====================================================================== hop input and spread (associative)
@_jit
def hop_input_bits(wbits, codes, lut):
    b_n, kk = codes.shape
    nb = wbits.shape[1]
    out = np.zeros((b_n, nb), dtype=np.uint64)
    for b in range(b_n):
        for j in range(kk):
            row = codes[b, j]
            for t in range(nb):
                out[b, t] += lut[wbits[row, t]]
    return out


@_jit
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@_jit
def _take_winners(units, vals, ng, kk, hist, win, weight):
    """k-WTA as a set over ``ng`` (unit, value) pairs listed in unit order: every unit above a
    threshold ``t``, then the lowest-index units at ``t`` up to ``kk`` (``t > 0`` only: a
    winner with ``h = 0`` just fills k and is ignored). Writes the winners to ``win`` and
    their values to ``weight[unit]``; returns how many there are."""
    hist[:] = 0
    for i in range(ng):
        hist[vals[i]] += 1
    above = 0
    t = hist.shape[0] - 1
    while t > 0 and above + hist[t] < kk:
        above += hist[t]
        t -= 1
    take = kk - above if t > 0 else 0
    nwin = 0
    for i in range(ng):
        v = vals[i]
        if v > t or (v == t and take > 0):
            if v == t:
                take -= 1
            win[nwin] = units[i]
            weight[units[i]] = v
            nwin += 1
    return nwin


@_jit
def _rank_rows(b, src, win, nwin, weight, inv_ptr, inv_rows, codes, main_rows, size, c_req, row_ids,
               cnt, touched, out_row, out_cnt):
    """Weighted overlap of every row sharing a winner; keep the ``m`` best that reach ``c_req``
    (count descending, then row ascending), leaving ``cnt`` all zero again.

    The first visit of a row appends it to ``touched`` without a branch (the slot is
    overwritten otherwise); rows added since the inverted index was built are scanned.
    """
    k = codes.shape[1]
    m = out_row.shape[1]
    nt = 0
    for q in range(nwin):
        u = win[q]
        w = weight[u]
        for p in range(inv_ptr[u], inv_ptr[u + 1]):
            r = inv_rows[p]
            c0 = cnt[r]
            touched[nt] = r
            nt += c0 == 0
            cnt[r] = c0 + w
    for r in range(main_rows, size):
        s = 0
        for j in range(k):
            s += weight[codes[r, j]]
        if s > 0:
            cnt[r] = s
            touched[nt] = r
            nt += 1
    found = 0
    for q in range(nt):
        r = touched[q]
        c = np.int64(cnt[r])
        cnt[r] = 0
        if c < c_req or r == src or row_ids[r] < 0:
            continue
        pos = found
        while pos > 0 and (out_cnt[b, pos - 1] < c or (out_cnt[b, pos - 1] == c and out_row[b, pos - 1] > r)):
            if pos < m:
                out_cnt[b, pos] = out_cnt[b, pos - 1]
                out_row[b, pos] = out_row[b, pos - 1]
            pos -= 1
        if pos < m:
            out_cnt[b, pos] = c
            out_row[b, pos] = r
            found = min(found + 1, m)


@_jit
def spread_bits(w64, codes, src_rows, kk, n_planes, inv_ptr, inv_rows, main_rows, size, c_req, row_ids,
                cnt, touched, m):
    """Spread of ``src_rows`` with ``w_cap = 1``, from the packed rows ``w64`` of ``W > 0``.

    ``h`` is kept bit-sliced: plane ``p`` holds bit ``p`` of every unit's count (``n_planes``
    uint64 planes of N/64 words), and each of the k source rows is added with a ripple-carry
    over the planes, 64 units per word operation. The k-WTA then only decodes the units at or
    above the highest power-of-two level that holds ``kk`` of them.
    """
    b_n = src_rows.shape[0]
    k = codes.shape[1]
    nw = w64.shape[1]
    n_units = nw * 64
    planes = np.zeros((n_planes, nw), dtype=np.uint64)
    carry = np.empty(nw, dtype=np.uint64)
    level = np.empty(nw, dtype=np.uint64)
    weight = np.zeros(n_units + 1, dtype=np.int64)
    g_unit = np.empty(n_units, dtype=np.int64)
    g_val = np.empty(n_units, dtype=np.int64)
    hist = np.zeros(1 << n_planes, dtype=np.int64)
    win = np.empty(kk, dtype=np.int64)
    out_row = np.full((b_n, m), -1, dtype=np.int64)
    out_cnt = np.zeros((b_n, m), dtype=np.int64)
    for b in range(b_n):
        src = src_rows[b]
        planes[:] = 0
        for j in range(k):
            u = codes[src, j]
            if u >= n_units:
                continue
            for t in range(nw):
                carry[t] = w64[u, t]
            for p in range(n_planes):
                for t in range(nw):
                    x = planes[p, t]
                    c = carry[t]
                    planes[p, t] = x ^ c
                    carry[t] = x & c
        # Units with h >= 2^p (the OR of planes p and above), p lowered until kk units qualify.
        level[:] = 0
        p = n_planes - 1
        while True:
            tot = 0
            for t in range(nw):
                level[t] |= planes[p, t]
                tot += _popcount(level[t])
            if tot >= kk or p == 0:
                break
            p -= 1
        ng = 0
        for t in range(nw):
            wd = level[t]
            while wd:
                low = wd & (~wd + np.uint64(1))
                bit = _popcount(low - np.uint64(1))
                v = 0
                for q in range(n_planes):
                    v |= np.int64((planes[q, t] >> bit) & np.uint64(1)) << q
                g_unit[ng] = t * 64 + np.int64(bit)
                g_val[ng] = v
                ng += 1
                wd ^= low
        nwin = _take_winners(g_unit, g_val, ng, kk, hist, win, weight)
        _rank_rows(b, src, win, nwin, weight, inv_ptr, inv_rows, codes, main_rows, size, c_req, row_ids,
                   cnt, touched, out_row, out_cnt)
        for q in range(nwin):
            weight[win[q]] = 0
    return out_row, out_cnt


@_jit
def spread_bytes(h, codes, src_rows, kk, inv_ptr, inv_rows, main_rows, size, c_req, row_ids,
                 cnt, touched, m):
    """Spread from a precomputed uint8 hop input ``h [B, N]`` (any ``w_cap`` with ``k·w_cap <= 255``)."""
    b_n, n = h.shape
    weight = np.zeros(n + 1, dtype=np.int64)
    hist = np.zeros(256, dtype=np.int64)
    win = np.empty(kk, dtype=np.int64)
    units = np.arange(n)
    out_row = np.full((b_n, m), -1, dtype=np.int64)
    out_cnt = np.zeros((b_n, m), dtype=np.int64)
    for b in range(b_n):
        nwin = _take_winners(units, h[b], n, kk, hist, win, weight)
        _rank_rows(b, src_rows[b], win, nwin, weight, inv_ptr, inv_rows, codes, main_rows, size, c_req,
                   row_ids, cnt, touched, out_row, out_cnt)
        for q in range(nwin):
            weight[win[q]] = 0
    return out_row, out_cnt
