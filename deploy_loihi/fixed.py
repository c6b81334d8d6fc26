"""Loihi 2 number formats used by the bit-accurate (``fixed_pt``) models, as pure NumPy functions.

The limits below are what the ``fixed_pt`` models enforce. Sources:

- Intel, *Taking Neuromorphic Computing to the Next Level with Loihi 2* (technology brief, 2021):
  up to 128 neuro cores per chip, up to 1 M neurons and 120 M synapses per chip, programmable
  neurons, graded spikes with an integer payload of up to 32 bits (our models use 24 bits, the
  width of the neuron state; see below), synaptic weights of 1–8 bits with a shared exponent.
- lava-nc 0.10.0's own bit-accurate models (``lava/proc/dense/models.py``,
  ``lava/proc/lif/models.py``, ``lava/utils/weightutils.py``): 8-bit weight mantissa (mixed-sign
  weights keep 7 bits of magnitude plus sign: the lowest bit is dropped, range ``[-256, 254]``),
  ``weight_exp`` as an arithmetic shift of the accumulated current, and 24-bit current ``u`` and
  voltage ``v`` in the LIF model (``u``/``v`` wrap/saturate at ``2**23``).

What is not published per core (neurons per core 8,192 and ~128 kB synaptic memory per core) is
taken from Intel's published figures and is marked as an estimate in :mod:`deploy_loihi.resources`.
"""

from __future__ import annotations

import math

import numpy as np

#: Bits of the neuron state (membrane voltage / synaptic current) in the fixed-point models.
STATE_BITS = 24
#: Saturation bounds of a signed :data:`STATE_BITS` value.
STATE_MIN = -(1 << (STATE_BITS - 1))
STATE_MAX = (1 << (STATE_BITS - 1)) - 1
#: Bits of a synaptic weight mantissa on Loihi 2 (1–8 selectable).
WEIGHT_BITS = 8
#: Default payload bits of the graded spikes carrying the embedding (signed): 16, the production
#: quantisation ``hybrid.functional.QUANT_BITS`` (scale ``2^15 - 1``; checked by the tests).
DEFAULT_MESSAGE_BITS = 16
#: Largest graded-spike payload the fixed-point models accept (bits, signed).
MAX_MESSAGE_BITS = 24
#: Weight of a ±1 projection synapse on Loihi 2: mixed-sign 8-bit weights lose their lowest bit,
#: so ±1 would become {0, -2}; ±2 with ``weight_exp = -1`` gives the exact ±1 sum.
PROJECTION_WEIGHT = 2
PROJECTION_WEIGHT_EXP = -1
#: Largest unsigned 8-bit weight (all-positive weights keep all 8 bits).
MAX_UNSIGNED_WEIGHT = (1 << WEIGHT_BITS) - 1


def saturate(x: np.ndarray, bits: int = STATE_BITS) -> np.ndarray:
    """Clip integers to the signed ``bits``-bit range ``[-2^{bits-1}, 2^{bits-1}-1]`` (int32 out)."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(np.asarray(x, dtype=np.int64), lo, hi).astype(np.int32)


def quantize_graded(x: np.ndarray, bits: int = DEFAULT_MESSAGE_BITS) -> np.ndarray:
    """Quantise values in ``[-1, 1]`` (unit-norm embeddings, binary codes) to signed graded-spike payloads.

    .. math::
        q = \\operatorname{clip}\\big(\\operatorname{round}(x \\, (2^{b-1}-1)),\\; -(2^{b-1}-1),\\; 2^{b-1}-1\\big)

    with round-half-to-even of the float64 product. For ``b = 16`` (the default) this is the
    production ``hybrid.functional.quantize_unit`` (scale ``2^15 - 1``), for ``b = 8`` its legacy
    scale 127, so the fixed-point projection sees exactly the production integers. ``b = 2``
    carries binary codes (0/1) unchanged.

    Args:
        x: ``[d]`` or ``[B, d]`` real values (entries outside ``[-1, 1]`` are clipped).
        bits: payload bits including sign, ``2 <= bits <= 24``.

    Returns:
        int32 array of the same shape.
    """
    if isinstance(bits, bool) or not 2 <= int(bits) <= MAX_MESSAGE_BITS:
        raise ValueError(f"bits must be in [2, {MAX_MESSAGE_BITS}], got {bits}")
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x contains NaN or infinite values")
    qmax = (1 << (int(bits) - 1)) - 1
    return np.clip(np.rint(x * qmax), -qmax, qmax).astype(np.int32)


def scale_for_message_bits(bits: int) -> int:
    """Quantisation scale ``2^{bits-1} - 1`` of a signed ``bits``-bit graded payload."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 2 <= bits <= MAX_MESSAGE_BITS:
        raise ValueError(f"bits must be an int in [2, {MAX_MESSAGE_BITS}], got {bits!r}")
    return (1 << (int(bits) - 1)) - 1


def message_bits_for_scale(scale: int) -> int:
    """Payload bits ``b`` with ``2^{b-1} - 1 = scale`` (e.g. a store's ``AssociativeConfig.quant_scale``).

    Raises:
        ValueError: ``scale`` is not of that form (127 -> 8, 32767 -> 16).
    """
    for b in range(2, MAX_MESSAGE_BITS + 1):
        if scale_for_message_bits(b) == scale:
            return b
    raise ValueError(f"scale must be 2^(b-1) - 1 for b in [2, {MAX_MESSAGE_BITS}], got {scale!r}")


def topk_mask(h: np.ndarray, k: int) -> np.ndarray:
    """Binary k-WTA of one vector, ties to the lower index (the production ``kwta`` rule).

    .. math::
        s_i = [\\, |\\{ j : h_j > h_i \\lor (h_j = h_i \\land j < i) \\}| < k \\,]

    Args:
        h: ``[N]`` input currents (real or integer).
        k: winners, ``0 <= k <= N``.

    Returns:
        ``[N]`` bool mask with exactly ``k`` True entries.
    """
    h = np.asarray(h).reshape(-1)
    mask = np.zeros(h.shape[0], dtype=bool)
    if k > 0:
        order = np.argsort(-h, kind="stable")  # stable: equal values keep index order
        mask[order[:k]] = True
    return mask


def index_bits_for(n: int) -> int:
    """Bits of the tie phase's index threshold ``J`` of a search over ``n`` neurons: ``J`` must reach ``n``, so ``ceil(log2(n + 1))``."""
    return max(1, math.ceil(math.log2(int(n) + 1)))


def threshold_search(values: np.ndarray, k: int, bits: int) -> tuple[np.ndarray, int]:
    """Bit-serial threshold search: the largest ``θ`` with ``|\\{i: v_i ≥ θ\\}| ≥ k``, MSB first.

    Each step tests one bit of ``θ`` (a broadcast threshold) against a population count of the
    neurons at or above it:

    .. math::
        θ \\leftarrow θ + 2^b \\;\\text{ if }\\; |\\{ i : v_i \\ge θ + 2^b \\}| \\ge k,
        \\qquad b = bits-1, \\dots, 0

    starting from ``θ = -2^{bits-1}``. Values must be signed ``bits``-bit integers.

    Returns:
        ``(theta, steps)`` with ``steps == bits``.
    """
    v = np.asarray(values, dtype=np.int64)
    theta = -(1 << (bits - 1))
    for b in range(bits - 1, -1, -1):
        trial = theta + (1 << b)
        if int(np.count_nonzero(v >= trial)) >= k:
            theta = trial
    return theta, bits


def threshold_kwta(
    values: np.ndarray, k: int, value_bits: int, *, frac_bits: int = 0, tie_break: bool = True
) -> tuple[np.ndarray, float, int]:
    """NumPy reference of :class:`deploy_loihi.kwta_dynamics.process.ThresholdKWTA` for one input.

    Value phase: the bit-serial search of :func:`threshold_search` on the grid ``u = 2^{-frac_bits}``
    (integer inputs: ``frac_bits = 0``). Tie phase: the largest index threshold ``J`` (MSB first,
    ``ceil(log2(n+1))`` bits) with ``|\\{i : v_i ≥ θ + u\\} ∪ \\{i : v_i ≥ θ, i < J\\}| ≤ k``.

    Returns:
        ``(mask [n] bool, theta, iterations)``; with ``tie_break`` the mask has exactly ``k``
        entries and equals :func:`topk_mask` for integer inputs inside the ``value_bits`` range.
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = v.shape[0]
    theta = float(-(1 << (value_bits - 1)))
    for b in range(value_bits - 1, -frac_bits - 1, -1):
        trial = theta + 2.0**b
        if int(np.count_nonzero(v >= trial)) >= k:
            theta = trial
    iters = value_bits + frac_bits
    if not tie_break:
        return v >= theta, theta, iters
    unit = 2.0**-frac_bits
    above, at = v >= theta + unit, v >= theta
    idx = np.arange(n)
    ib = index_bits_for(n)
    j = 0
    for c in range(ib - 1, -1, -1):
        if int(np.count_nonzero(above | (at & (idx < j + (1 << c))))) <= k:
            j += 1 << c
    return above | (at & (idx < j)), theta, iters + ib
