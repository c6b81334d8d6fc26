"""Loihi 2 resource estimate of the multi-hop recall network for a given number of memories.

Published per-chip limits (Intel, *Taking Neuromorphic Computing to the Next Level with Loihi 2*,
technology brief, 2021): 128 neuro cores, up to 1 M neurons and up to 120 M synapses per chip.
Per-core figures are **estimates**: 8,192 neurons per core is 1 M / 128; 128 KiB of synaptic
memory per core is the commonly quoted figure (the brief does not break core memory down into
synapse and neuron-state shares). Weight bits per synapse follow the encodings the fixed-point
models use: ±1 projection → 2 bits (sign + magnitude), clean-up and relay synapses 1 bit,
association ``min(W, cap)`` → ``ceil(log2(cap + 1))`` bits; sparse connections pay an
estimated index overhead (:data:`SPARSE_INDEX_BITS` per synapse).

The deployed (recurrent) mapping keeps one copy of each layer: code layer (N), clean-up layer
(M), relay layer (N), with hops executed over time (3 steps per hop); the Lava simulation unrolls
the hops (``H + 1`` copies), which is also reported.

.. math::
    \\text{cores} = \\max\\Big(\\Big\\lceil \\frac{\\text{neurons}}{8192} \\Big\\rceil,
    \\Big\\lceil \\frac{\\text{synaptic bits}}{8 \\cdot 131072} \\Big\\rceil\\Big) \\;\\text{per layer, summed}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

#: Per-chip limits from Intel's Loihi 2 brief.
CORES_PER_CHIP = 128
NEURONS_PER_CHIP = 1_048_576
SYNAPSES_PER_CHIP = 120_000_000
#: Per-core estimates (see module docstring).
NEURONS_PER_CORE = 8_192
SYNAPTIC_BYTES_PER_CORE = 128 * 1024
#: Estimated bits of index per synapse for sparse connectivity.
SPARSE_INDEX_BITS = 16
SOURCES = {
    "cores_per_chip": "Intel Loihi 2 technology brief (2021): 128 neuromorphic cores",
    "neurons_per_chip": "Intel Loihi 2 brief: up to 1M neurons per chip",
    "synapses_per_chip": "Intel Loihi 2 brief: up to 120M synapses per chip",
    "neurons_per_core": "estimate: 1M neurons / 128 cores = 8,192",
    "synaptic_bytes_per_core": "estimate: ~128 KiB synaptic memory per core (not broken down in the brief)",
    "sparse_index_bits": "estimate: 16-bit index per sparse synapse",
}


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    neurons: int
    synapses: int
    weight_bits: int
    cores: int


def expected_w_nnz(n: int, k: int, pairs: int) -> int:
    """Expected non-zero entries of ``W`` after ``pairs`` random associations of ``k``-of-``n`` codes.

    .. math::
        \\mathbb{E}[nnz] = n^2 \\big(1 - (1 - k^2/n^2)^{pairs}\\big)
    """
    p = (k * k) / (n * n)
    return int(round(n * n * (1.0 - (1.0 - p) ** pairs)))


def _cores(neurons: int, bits: int) -> int:
    return max(math.ceil(neurons / NEURONS_PER_CORE), math.ceil(bits / (8 * SYNAPTIC_BYTES_PER_CORE)), 1)


def estimate(memories: int, *, code_dim: int, k: int, dim_in: int, hops: int, w_cap: int = 1,
             pairs: int | None = None, unrolled: bool = False) -> dict:
    """Neurons, synapses, weight memory and cores of the recall network for ``memories`` memories."""
    if memories < 1 or code_dim < 1 or k < 1 or dim_in < 1 or hops < 1:
        raise ValueError("memories, code_dim, k, dim_in and hops must all be >= 1")
    pairs = memories if pairs is None else pairs
    w_bits = max(1, math.ceil(math.log2(w_cap + 1)))
    nnz_w = expected_w_nnz(code_dim, k, pairs)
    dense_w_bits = code_dim * code_dim * w_bits
    sparse_w_bits = nnz_w * (w_bits + SPARSE_INDEX_BITS)
    copies = hops + 1 if unrolled else 1
    layers = [
        LayerEstimate("projection+code (P: dense ±1)", code_dim, code_dim * dim_in, code_dim * dim_in * 2,
                      _cores(code_dim, code_dim * dim_in * 2)),
        LayerEstimate("clean-up (C: sparse 1-bit)", memories, memories * k, memories * k * (1 + SPARSE_INDEX_BITS),
                      _cores(memories, memories * k * (1 + SPARSE_INDEX_BITS))),
        LayerEstimate("relay (Cᵀ: sparse 1-bit)", code_dim, memories * k, memories * k * (1 + SPARSE_INDEX_BITS),
                      _cores(code_dim, memories * k * (1 + SPARSE_INDEX_BITS))),
        LayerEstimate(f"association (min(W,{w_cap}): {'dense' if dense_w_bits <= sparse_w_bits else 'sparse'})",
                      0, nnz_w, min(dense_w_bits, sparse_w_bits), _cores(0, min(dense_w_bits, sparse_w_bits))),
    ]
    neurons = sum(layer.neurons for layer in layers) * copies
    synapses = sum(layer.synapses for layer in layers) * copies
    bits = sum(layer.weight_bits for layer in layers) * copies
    cores = sum(layer.cores for layer in layers) * copies
    chips = max(math.ceil(cores / CORES_PER_CHIP), math.ceil(neurons / NEURONS_PER_CHIP),
                math.ceil(synapses / SYNAPSES_PER_CHIP))
    return {
        "memories": memories, "code_dim": code_dim, "k": k, "dim_in": dim_in, "hops": hops, "w_cap": w_cap,
        "associations": pairs, "unrolled": unrolled, "neurons": neurons, "synapses": synapses,
        "weight_memory_bytes": bits // 8, "cores": cores, "chips": chips,
        "fits_one_chip": chips == 1, "layers": [asdict(layer) for layer in layers],
    }


def limits() -> dict:
    """The limits used, with their sources."""
    return {
        "cores_per_chip": CORES_PER_CHIP, "neurons_per_chip": NEURONS_PER_CHIP,
        "synapses_per_chip": SYNAPSES_PER_CHIP, "neurons_per_core": NEURONS_PER_CORE,
        "synaptic_bytes_per_core": SYNAPTIC_BYTES_PER_CORE, "sparse_index_bits": SPARSE_INDEX_BITS,
        "sources": SOURCES,
    }
