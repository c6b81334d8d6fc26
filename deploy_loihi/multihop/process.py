"""Hierarchical multi-hop chain recall: encoder → projection → k-WTA → clean-up → W → k-WTA …"""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi.fixed import DEFAULT_MESSAGE_BITS, MAX_MESSAGE_BITS, MAX_UNSIGNED_WEIGHT

#: Time steps between a layer and the next one (one synaptic delay of ``Dense``).
STEPS_PER_LAYER = 1
#: Layers per hop: relay (stored code) → code k-WTA → memory clean-up.
LAYERS_PER_HOP = 3


def code_step(cue: int, hop: int) -> int:
    """1-based time step at which hop ``hop``'s code layer spikes for cue ``cue`` (streamed one per step)."""
    return cue + 2 + LAYERS_PER_HOP * hop


def memory_step(cue: int, hop: int) -> int:
    """1-based time step at which hop ``hop``'s clean-up (memory) layer spikes for cue ``cue``."""
    return code_step(cue, hop) + 1


def num_steps_for(num_cues: int, hops: int) -> int:
    """Steps needed to stream ``num_cues`` cues through ``hops`` hops."""
    return memory_step(num_cues - 1, hops)


class MultiHopRecall(AbstractProcess):
    """Chain recall of ``B`` cues over ``M`` stored memories, ``H`` hops, one cue per time step.

    Layers (each ``Dense`` adds one step of delay; the network is unrolled over hops, so it is a
    pipeline that takes a new cue every step):

    .. code-block:: text

        GradedEncoder(x_b) ─Dense(P)→ code_0 ─Dense(C)→ memory_0 ─Dense(Cᵀ)→ relay_1 ─Dense(min(W,cap)ᵀ)→
        code_1 ─Dense(C)→ memory_1 ─Dense(Cᵀ)→ relay_2 → … → code_H → memory_H

    - ``code_0``: :class:`~deploy_loihi.kwta.process.KWTA` (``k``) of the projection ``P x``.
    - ``memory_t``: k-WTA with ``k = 1`` over the overlaps ``C c`` = clean-up to the stored code
      of largest overlap (ties to the lower row; silent when every overlap is 0).
    - ``relay_t``: re-emits the stored code of the recalled memory (exactly ``k`` units).
    - ``code_t`` (``t >= 1``): k-WTA of ``h = min(W, cap)ᵀ c_{m_{t-1}}``, positive currents only.

    .. math::
        c_t = \\mathcal{W}_k\\big(\\textstyle\\sum_{j \\in C_{m_{t-1}}} \\min(W_{j\\cdot}, w_{cap})\\big),
        \\qquad m_t = \\arg\\max_m |c_t \\cap C_m|

    Each layer has a :class:`~deploy_loihi.readout.process.WinnerReadout`; their records are
    aliased here as Vars ``code_winners_<t>`` ``[num_steps, k]`` and ``memory_winners_<t>``
    ``[num_steps, 1]``. Cue ``b``'s hop-``t`` code is row ``code_step(b, t) - 1``.

    Parameters
    ----------
    vectors : array ``[B, d]``
        Cue embeddings (unit norm).
    projection : array ``[N, d]``
        ±1 projection (``hybrid.functional.sign_projection``). Sent to ``Dense`` as ±2 with
        ``weight_exp = -1`` (mixed-sign 8-bit weights lose their lowest bit on Loihi 2).
    stored_winners : array ``[M, k]``
        Winner indices of the stored codes.
    weights : array ``[N, N]``
        Hebbian counts ``W[pre, post]`` (integers 0–255).
    k, hops, w_cap : int
        Winners per code, hops ``H >= 1``, weight cap ``1 <= w_cap <= 255``.
    num_message_bits : int, optional
        Graded-spike payload of the embedding (fixed point), default 16 (the production quantisation).
    """

    def __init__(
        self,
        *,
        vectors: np.ndarray,
        projection: np.ndarray,
        stored_winners: np.ndarray,
        weights: np.ndarray,
        k: int,
        hops: int,
        w_cap: int = 1,
        num_message_bits: int = DEFAULT_MESSAGE_BITS,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        x = np.asarray(vectors, dtype=np.float64)
        p = np.asarray(projection)
        c = np.asarray(stored_winners)
        w = np.asarray(weights)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ValueError(f"vectors must be a non-empty [B, d] array, got shape {x.shape}")
        if p.ndim != 2 or p.shape[1] != x.shape[1] or not np.all(np.isin(p, (-1, 1))):
            raise ValueError(f"projection must be a ±1 [N, {x.shape[1]}] array, got shape {p.shape}")
        n = p.shape[0]
        for label, v, lo, hi in (("k", k, 1, n), ("hops", hops, 1, 64), ("w_cap", w_cap, 1, MAX_UNSIGNED_WEIGHT),
                                 ("num_message_bits", num_message_bits, 2, MAX_MESSAGE_BITS)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ValueError(f"{label} must be an int in [{lo}, {hi}], got {v!r}")
        if c.ndim != 2 or c.shape[1] != k or c.shape[0] < 1 or c.min() < 0 or c.max() >= n:
            raise ValueError(f"stored_winners must be a non-empty [M, {k}] array of indices in [0, {n}), got shape {c.shape}")
        if any(len(set(row.tolist())) != k for row in c):
            raise ValueError("stored_winners rows must hold k distinct indices")
        if w.shape != (n, n) or w.min() < 0 or w.max() > MAX_UNSIGNED_WEIGHT or np.any(w != np.rint(w)):
            raise ValueError(f"weights must be an [{n}, {n}] array of integers in [0, {MAX_UNSIGNED_WEIGHT}], got shape {w.shape}")
        b = x.shape[0]
        steps = num_steps_for(b, int(hops))
        super().__init__(
            vectors=x, projection=p.astype(np.int8), stored_winners=c.astype(np.int64), weights=w.astype(np.int64),
            k=int(k), hops=int(hops), w_cap=int(w_cap), num_message_bits=int(num_message_bits), num_steps=steps,
            name=name, log_config=log_config,
        )
        self.num_steps = steps
        for t in range(int(hops) + 1):
            setattr(self, f"code_winners_{t}", Var(shape=(steps, int(k)), init=-1))
            setattr(self, f"memory_winners_{t}", Var(shape=(steps, 1), init=-1))
