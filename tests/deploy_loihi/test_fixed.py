"""Loihi 2 number formats (``deploy_loihi.fixed``): payload scales, quantiser parity, threshold search."""

from __future__ import annotations

import numpy as np
import pytest

from deploy_loihi.fixed import (
    DEFAULT_MESSAGE_BITS,
    MAX_MESSAGE_BITS,
    STATE_MAX,
    message_bits_for_scale,
    quantize_graded,
    scale_for_message_bits,
    threshold_search,
    topk_mask,
)

SEED = 5


def test_default_payload_is_the_production_quantisation():
    torch = pytest.importorskip("torch")
    from hybrid import functional as F

    assert scale_for_message_bits(DEFAULT_MESSAGE_BITS) == F.QUANT_SCALE, "Lava payload and production scale differ"
    assert DEFAULT_MESSAGE_BITS == F.QUANT_BITS
    assert message_bits_for_scale(F.QUANT_SCALE) == 16 and message_bits_for_scale(F.LEGACY_QUANT_SCALE) == 8
    x = np.random.default_rng(SEED).standard_normal((40, 384)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    for bits in (8, 16):
        want = F.quantize_unit(torch.from_numpy(x), scale_for_message_bits(bits)).numpy()
        assert np.array_equal(quantize_graded(x, bits), want), f"{bits}-bit graded payload != quantize_unit"
    # |h| of unit vectors stays inside the 24-bit neuron state at the default payload.
    p = np.random.default_rng(SEED).choice([-1, 1], size=(256, 384))
    assert np.abs(quantize_graded(x).astype(np.int64) @ p.T).max() <= STATE_MAX


@pytest.mark.parametrize("bad", [1, MAX_MESSAGE_BITS + 1, 2.0, True])
def test_scale_for_bad_bits(bad):
    with pytest.raises(ValueError, match="bits must be"):
        scale_for_message_bits(bad)


def test_message_bits_for_bad_scale():
    with pytest.raises(ValueError, match="scale must be"):
        message_bits_for_scale(100)


def test_threshold_search_finds_kth_largest():
    v = np.array([5, -3, 9, 9, 0, 2, 7])
    theta, steps = threshold_search(v, 3, 8)
    assert (theta, steps) == (7, 8)
    assert np.flatnonzero(topk_mask(v, 3)).tolist() == [2, 3, 6]
