"""KWTA models against the exact top-k gold standard (ties to the lower index)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.fixed import STATE_MAX, topk_mask  # noqa: E402
from deploy_loihi.network import Precision, run_kwta  # noqa: E402
from deploy_loihi.reference import kwta_winners, project  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.timeout(120)]

#: Fraction of cues whose Lava winners must equal the reference exactly (same integers / same floats).
MIN_EXACT_FRACTION = 1.0
K = 5


def _projection(d: int, n: int) -> np.ndarray:
    return np.random.default_rng(3).choice([-1, 1], size=(n, d)).astype(np.int8)


@pytest.mark.parametrize("precision", list(Precision))
def test_matches_reference(precision, unit_vectors):
    p = _projection(unit_vectors.shape[1], 48)
    res = run_kwta(unit_vectors, p, K, precision=precision)
    ref = kwta_winners(project(unit_vectors, p, fixed=precision is Precision.FIXED), K)
    exact = np.mean(np.all(res.winners == ref, axis=1))
    assert exact >= MIN_EXACT_FRACTION, f"{precision.value}: exact fraction {exact} < {MIN_EXACT_FRACTION}"
    assert res.num_steps == unit_vectors.shape[0] + 1


def test_ties_go_to_lower_index_and_zero_input_is_silent():
    # Identity projection on a hand-made input with ties: winners {1, 2} of [0, 5, 5, 5, -1, ...].
    x = np.zeros((2, 8))
    x[0, 1:4] = 0.5
    x[0, 4] = -0.25
    p = np.eye(8, dtype=np.int8) * 2 - 1  # ±1: h = 2 x_i - Σ x
    res = run_kwta(x, p, 2, precision=Precision.FIXED)
    assert res.winners[0].tolist() == [1, 2], f"tie-break to the lower index failed: {res.winners[0]}"
    assert res.winners[1].tolist() == [-1, -1], "an all-zero input must not spike"


def test_topk_mask_gold():
    h = np.array([3, 7, 7, -2, 7, STATE_MAX])
    assert np.flatnonzero(topk_mask(h, 3)).tolist() == [1, 2, 5]
