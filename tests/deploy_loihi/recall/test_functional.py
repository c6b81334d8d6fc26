"""Pure functions of the recall network: weight slices, the Dense arithmetic, selection, the seed table."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from deploy_loihi.fixed import threshold_kwta
from deploy_loihi.recall_functional import (
    EXP_LEN,
    EXP_STEPS,
    WALK_FRAC,
    FixedMath,
    FloatMath,
    RecallParams,
    Schedule,
    Search,
    ThresholdSearch,
    exp_table,
    pool_keys,
    search_length,
    top_mask,
)
from deploy_loihi.recall_weights import split_weights

#: One 8-bit slice of a weight in [-1, 1] is within this of the real value (half a step of 2^-6).
ATOL_ONE_SLICE = 2.0**-7
#: Two slices: 7 more bits.
ATOL_TWO_SLICES = 2.0**-13
#: The seed table's relative error at any entry.
RTOL_EXP = 1e-6


@pytest.fixture
def rng():
    return np.random.default_rng(3)


@pytest.mark.parametrize(("parts", "atol"), [(1, ATOL_ONE_SLICE), (2, ATOL_TWO_SLICES)])
def test_split_weights_reconstruct(rng, parts, atol):
    w = rng.uniform(-1, 1, (20, 30))
    q = split_weights(w, input_frac=0, output_frac=0, parts=parts)
    b = -q.slices[0][1]
    back = sum(wj * 2.0**e for wj, e in q.slices) * 1.0
    assert np.abs(back - w).max() <= atol, f"{parts} slice(s) reconstruct within {atol}"
    for wj, _ in q.slices:
        assert np.abs(wj).max() <= 254 and np.all(wj % 2 == 0), "mixed-sign slices are even 8-bit values"
    assert b >= 7


def test_split_weights_excitatory_keeps_all_bits(rng):
    w = sp.random(40, 50, density=0.1, random_state=1, format="csr")
    q = split_weights(w, input_frac=20, output_frac=20, parts=1)
    w0 = q.slices[0][0]
    assert w0.min() >= 0 and w0.max() >= 128 and np.any(w0 % 2 == 1), "non-negative weights keep all 8 bits"


def test_quantized_dense_matches_real_product(rng):
    w = rng.uniform(-0.3, 0.3, (50, 64))
    x = rng.standard_normal(64)
    x /= np.linalg.norm(x)
    q = split_weights(w, input_frac=15, output_frac=16, parts=2)
    got = q.apply(np.rint(x * (1 << 15)).astype(np.int64)) / 2.0**16
    assert np.abs(got - w @ x).max() < 1e-3


def test_split_weights_rejects_bad_input():
    with pytest.raises(ValueError, match="parts"):
        split_weights(np.ones((2, 2)), input_frac=0, output_frac=0, parts=4)
    with pytest.raises(ValueError, match="NaN"):
        split_weights(np.array([[np.nan]]), input_frac=0, output_frac=0, parts=1)


def test_top_mask_ties_to_lower_index():
    v = np.array([1.0, 3.0, 3.0, 2.0, 3.0])
    assert np.flatnonzero(top_mask(v, 2, np.ones(5, dtype=bool))).tolist() == [1, 2]
    assert np.flatnonzero(top_mask(v, 9, v < 3)).tolist() == [0, 3], "never more than the eligible ones"


def test_pool_keys_takes_each_memory_best_key():
    cur = np.array([0.1, 0.9, 0.4, -0.2])
    assert pool_keys(cur, np.array([0, 0, 1, 2]), 3).tolist() == [0.9, 0.4, -0.2]
    assert pool_keys(np.array([5, 7, 1]), np.array([1, 1, 0]), 2).tolist() == [1, 7]


def test_exp_table():
    t = exp_table()
    assert t.shape == (EXP_LEN,) and t[0] == 1 << WALK_FRAC
    want = (1 << WALK_FRAC) * np.exp(-np.arange(EXP_LEN) / EXP_STEPS)
    assert np.all(np.abs(t - want) <= np.maximum(0.5, RTOL_EXP * want))


def test_schedule():
    s = Schedule(lists=3, steps=2)
    assert (s.link_send, s.seed, s.concept_steps(), s.walk_steps(), s.result) == (4, 5, [6, 8], [7, 9], 9)
    assert s.phase(1) == (0, 1) and s.phase(9) == (0, 9) and s.phase(10) == (1, 1)
    s = Schedule(lists=3, steps=2, iterations=10)
    assert [s.list_arrival(j) for j in range(3)] == [2, 13, 24]
    assert (s.link_send, s.seed, s.concept_steps(), s.walk_steps(), s.result) == (34, 45, [46, 48], [47, 49], 69)


@pytest.mark.parametrize("seed", range(5))
def test_stepped_search_is_the_threshold_search(seed):
    """One iteration per step gives the exact top-k of integers, ties to the lower index, as the reference does."""
    r = np.random.default_rng(seed)
    v = r.integers(-50, 50, 40)
    eligible = r.random(40) < 0.8
    ts = ThresholdSearch(Search(v, 7, eligible), fixed=True)
    steps = 0
    while not ts.done:
        ts.step()
        steps += 1
    assert steps == search_length(40) == 24 + 6
    assert np.array_equal(ts.mask, top_mask(v, 7, eligible))
    mask, _, _ = threshold_kwta(np.where(eligible, v, -(1 << 23)), 7, 24)
    assert np.array_equal(ts.mask, mask & eligible)
    assert ts.spikes > 0


def _one_question(math_, scores_per_list, lexical):
    st = math_.start(len(lexical))
    math_.lexical_list(st, lexical)
    for s in scores_per_list:
        math_.dense_list(st, s, 1.0)
    return st


def test_fixed_stages_track_float(rng):
    """The integer stages follow the real-valued ones within their quantisation step."""
    p = RecallParams(depth=5, seeds=3)
    fl, fx = FloatMath(p), FixedMath(p)
    cos = rng.uniform(-0.2, 0.9, (2, 12))
    lex = np.where(rng.random(12) < 0.5, rng.uniform(0.5, 6, 12), 0.0)
    a = _one_question(fl, cos, lex)
    b = _one_question(fx, np.rint(cos * 2**16).astype(np.int64), np.rint(lex * 2**16).astype(np.int64))
    assert np.array_equal(a.touched, b.touched)
    assert np.abs(a.score - b.score / 2**16).max() < 1e-3
    fl.seed(a)
    fx.seed(b)
    assert np.abs(a.p0 - b.p0 / 2**WALK_FRAC).max() < 2e-2, "seed softmax from the lookup table"
    assert a.p0.sum() == pytest.approx(1.0) and abs(b.p0.sum() / 2**WALK_FRAC - 1) < 1e-4


def test_params_refuse_what_the_network_lacks():
    with pytest.raises(ValueError, match="score fusion"):
        RecallParams.from_config({"fusion": "rank"})
    with pytest.raises(ValueError, match="settle"):
        RecallParams.from_config({"fusion": "score", "settle": True})
