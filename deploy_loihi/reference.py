"""NumPy reference of the production path that the Lava networks must reproduce.

It follows the integer equations of ``hybrid.functional`` (``sign_projection``, ``kwta``, the
quantisation ``quantize_unit`` (16-bit payload by default), the uint8 Hebbian counts, ``hop_input`` with its weight cap
and ``cleanup``), written here in NumPy so that the parity checks do not depend on torch dtypes.
The parity tests also compare this module with the torch functions themselves.

Chain recall (``H`` hops) of a cue ``x`` over stored codes ``C`` (winners ``[M, k]``):

.. math::
    c_0 = \\mathcal{W}_k(P \\, q(x)), \\qquad m_0 = \\operatorname{cleanup}(c_0)

    h^{(t)}_i = \\sum_{j \\in C_{m_{t-1}}} \\min(W_{ji}, w_{cap}), \\qquad
    c_t = \\mathcal{W}_k(h^{(t)}) \\cap \\{ i : h^{(t)}_i > 0 \\}, \\qquad m_t = \\operatorname{cleanup}(c_t)

where ``cleanup(c) = argmax_m |c ∩ C_m|`` (ties to the lower row) and ``-1`` when every
overlap is 0 (nothing recalled; the chain stops).
"""

from __future__ import annotations

import numpy as np

from deploy_loihi.fixed import DEFAULT_MESSAGE_BITS, quantize_graded, topk_mask

#: Saturation of the Hebbian counts (unsigned 8-bit synaptic weights).
W_SATURATION = 255


def kwta_winners(h: np.ndarray, k: int) -> np.ndarray:
    """``[B, N] -> [B, k]`` sorted winner indices, ties to the lower index."""
    h = np.asarray(h)
    order = np.argsort(-h, axis=1, kind="stable")[:, :k]
    return np.sort(order, axis=1)


def project(
    x: np.ndarray, projection: np.ndarray, *, fixed: bool, num_message_bits: int = DEFAULT_MESSAGE_BITS
) -> np.ndarray:
    """Projection currents ``[B, N]``: ``P q(x)`` (int64) in fixed point, ``P x`` (float64) otherwise."""
    p = np.asarray(projection, dtype=np.int64)
    if fixed:
        return quantize_graded(x, num_message_bits).astype(np.int64) @ p.T
    return np.asarray(x, dtype=np.float64) @ p.T.astype(np.float64)


def winners_to_mask(winners: np.ndarray, n: int) -> np.ndarray:
    """``[B, k]`` indices (``-1`` ignored) to a ``[B, n]`` bool mask."""
    w = np.asarray(winners)
    mask = np.zeros((w.shape[0], n + 1), dtype=bool)
    mask[np.arange(w.shape[0])[:, None], np.where(w >= 0, w, n)] = True
    return mask[:, :n]


def hebbian_counts(pre: np.ndarray, post: np.ndarray, n: int, *, saturation: int = W_SATURATION) -> np.ndarray:
    """Association counts ``W [n_pre, n_post]`` from winner pairs ``pre, post [B, k]``, saturating.

    .. math::
        W_{ji} = \\min\\Big(\\sum_b [j \\in pre_b][i \\in post_b], \\; W_{sat}\\Big)
    """
    a = winners_to_mask(pre, n).astype(np.int64)
    b = winners_to_mask(post, n).astype(np.int64)
    return np.minimum(a.T @ b, saturation)


def cleanup(code_mask: np.ndarray, stored_mask: np.ndarray) -> np.ndarray:
    """Row of the stored code with the largest overlap (ties to the lower row), ``-1`` if all overlaps are 0."""
    ov = code_mask.astype(np.int64) @ stored_mask.astype(np.int64).T  # [B, M]
    best = np.argmax(ov, axis=1)
    return np.where(ov[np.arange(ov.shape[0]), best] > 0, best, -1)


def chain_recall(
    x: np.ndarray,
    projection: np.ndarray,
    stored_winners: np.ndarray,
    w: np.ndarray,
    *,
    k: int,
    hops: int,
    w_cap: int,
    fixed: bool,
    num_message_bits: int = DEFAULT_MESSAGE_BITS,
) -> tuple[list[np.ndarray], np.ndarray]:
    """Reference chain recall of cues ``x [B, d]``.

    Returns:
        ``(codes, memories)``: ``codes[t]`` is a ``[B, N]`` bool mask of hop ``t``'s spiking
        winners (``t = 0`` is the cue's code) and ``memories [B, hops + 1]`` the cleaned-up rows
        (``-1``: nothing recalled).
    """
    n = projection.shape[0]
    stored = winners_to_mask(stored_winners, n)
    w_eff = np.minimum(np.asarray(w, dtype=np.int64), w_cap)
    h0 = project(x, projection, fixed=fixed, num_message_bits=num_message_bits)
    code = winners_to_mask(kwta_winners(h0, k), n)
    mem = cleanup(code, stored)
    codes, mems = [code], [mem]
    for _ in range(hops):
        prev = np.where(mem[:, None] >= 0, stored[np.maximum(mem, 0)], False)
        h = prev.astype(np.int64) @ w_eff  # [B, N_post]
        code = np.stack([topk_mask(row, k) for row in h]) & (h > 0)
        mem = cleanup(code, stored)
        codes.append(code)
        mems.append(mem)
    return codes, np.stack(mems, axis=1)
