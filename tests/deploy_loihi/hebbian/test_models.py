"""HebbianAssociation learns the exact production outer product (floating and fixed point)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.network import Precision, learn_hebbian  # noqa: E402
from deploy_loihi.reference import W_SATURATION, hebbian_counts  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.timeout(150)]

N, K, PAIRS = 48, 4, 12
#: Fixed-point weights saturate where the production uint8 counts do.
SATURATION = W_SATURATION


def _pairs(seed: int = 0):
    rng = np.random.default_rng(seed)
    pre = np.sort(np.stack([rng.choice(N, K, replace=False) for _ in range(PAIRS)]), axis=1)
    post = np.sort(np.stack([rng.choice(N, K, replace=False) for _ in range(PAIRS)]), axis=1)
    post[3], pre[3] = post[2], pre[2]  # a repeated pair gives counts of 2
    return pre, post


@pytest.mark.parametrize("precision", list(Precision))
def test_learns_production_counts(precision):
    torch = pytest.importorskip("torch")
    from hybrid.functional import hebbian_outer, winners_to_code

    pre, post = _pairs()
    res = learn_hebbian(pre, post, N, precision=precision)
    ref = hebbian_counts(pre, post, N)
    prod = hebbian_outer(winners_to_code(torch.from_numpy(post), N), winners_to_code(torch.from_numpy(pre), N))
    assert np.array_equal(res.weights, ref), f"{precision.value}: learned W differs from the reference counts"
    assert np.array_equal(ref, prod.numpy().astype(np.int64)), "reference differs from hybrid.functional"
    assert res.weights.max() >= 2, "the repeated pair must give counts of at least 2"


def test_fixed_point_saturates_like_production():
    pre = np.array([[0, 1]] * (SATURATION + 3))
    post = np.array([[2, 3]] * (SATURATION + 3))
    res = learn_hebbian(pre, post, 4, precision=Precision.FIXED)
    assert res.weights[0, 2] == SATURATION, f"fixed-point weights must saturate at {SATURATION}, got {res.weights[0, 2]}"
    assert np.array_equal(res.weights, hebbian_counts(pre, post, 4))


def test_bad_pairs():
    with pytest.raises(ValueError, match="same number"):
        learn_hebbian(np.zeros((2, 1), int), np.zeros((3, 1), int), 4)
