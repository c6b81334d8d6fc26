"""ThresholdKWTA models against exact top-k and the NumPy reference of the search."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.fixed import threshold_kwta  # noqa: E402
from deploy_loihi.network import Precision, run_kwta_dynamics  # noqa: E402
from deploy_loihi.reference import kwta_winners, project  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.timeout(120)]

#: With the tie phase, integer currents give exactly the production top-k (ties to the lower index).
MIN_EXACT_WITH_TIE_BREAK = 1.0
#: Lava runs must reproduce the NumPy reference of the search on every cue.
MIN_MATCH_NUMPY_REFERENCE = 1.0
K = 6
N = 96
#: Value bits that hold |P q(x)| for these 64-d unit vectors at the 16-bit payload (32767·√64 < 2^19).
VALUE_BITS = 20


def _projection(d: int, n: int) -> np.ndarray:
    return np.random.default_rng(11).choice([-1, 1], size=(n, d)).astype(np.int8)


@pytest.mark.parametrize("tie_break", [True, False])
def test_fixed_point_search(unit_vectors, tie_break):
    x = unit_vectors[:8]
    p = _projection(x.shape[1], N)
    res = run_kwta_dynamics(x, p, K, precision=Precision.FIXED, value_bits=VALUE_BITS, tie_break=tie_break)
    h = project(x, p, fixed=True)
    assert res.dropped == 0 and res.steps_per_search == VALUE_BITS + (7 if tie_break else 0)
    got = [w[w >= 0].tolist() for w in res.winners]
    want = [np.flatnonzero(threshold_kwta(r, K, VALUE_BITS, tie_break=tie_break)[0]).tolist() for r in h]
    match = np.mean([a == b for a, b in zip(got, want)])
    assert match >= MIN_MATCH_NUMPY_REFERENCE, f"Lava vs NumPy search: {match} < {MIN_MATCH_NUMPY_REFERENCE}"
    if tie_break:
        exact = np.mean([a == b.tolist() for a, b in zip(got, kwta_winners(h, K))])
        assert exact >= MIN_EXACT_WITH_TIE_BREAK, f"exact top-k fraction {exact} < {MIN_EXACT_WITH_TIE_BREAK}"
        assert res.counts.tolist() == [K] * len(x), "the tie phase must leave exactly k winners"


def test_ties_resolved_by_index_and_threshold_only_keeps_all_tied():
    # Identity-like projection: h = 2 x_i - Σ x on a hand-made input with a three-way tie at the k-th value.
    x = np.zeros((1, 8))
    x[0, [1, 3, 5]] = 0.5
    x[0, 6] = 0.75
    p = np.eye(8, dtype=np.int8) * 2 - 1
    h = project(x, p, fixed=True)[0]
    tb = run_kwta_dynamics(x, p, 2, precision=Precision.FIXED, value_bits=VALUE_BITS)
    assert tb.winners[0][tb.winners[0] >= 0].tolist() == [1, 6], f"ties must go to the lower index, h = {h}"
    th = run_kwta_dynamics(x, p, 2, precision=Precision.FIXED, value_bits=VALUE_BITS, tie_break=False)
    assert th.winners[0][th.winners[0] >= 0].tolist() == [1, 3, 5, 6] and th.counts[0] == 4


def test_floating_point_search_with_fraction_bits(unit_vectors):
    x = unit_vectors[:6]
    p = _projection(x.shape[1], N)
    # Lava's floating Dense ignores weight_exp: currents are 2 P x, |2 P x| <= 2·√64 = 16 < 2^(6-1).
    res = run_kwta_dynamics(x, p, K, precision=Precision.FLOATING, value_bits=6, frac_bits=16)
    ref = kwta_winners(project(x, p, fixed=False), K)
    exact = np.mean([w[w >= 0].tolist() == r.tolist() for w, r in zip(res.winners, ref)])
    assert exact >= MIN_EXACT_WITH_TIE_BREAK, f"floating search exact fraction {exact} < {MIN_EXACT_WITH_TIE_BREAK}"
    assert res.steps_per_search == 6 + 16 + 7
