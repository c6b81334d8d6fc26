"""Settle math against hand-computed values; top-k padding and ties."""

from __future__ import annotations

import math

import pytest
import torch

from hybrid import functional as F

ATOL = 1e-6


def test_single_step_matches_hand_computation():
    # X = I_2, ξ0 = e1, β = ln 3: softmax(β X ξ) = (3/4, 1/4), so ξ1 = (0.75, 0.25).
    patterns = torch.eye(2)[None]
    xi = torch.tensor([[1.0, 0.0]])
    out = F.hopfield_step(xi, patterns, math.log(3))
    assert torch.allclose(out, torch.tensor([[0.75, 0.25]]), atol=ATOL), out


def test_two_steps_match_hand_computation():
    # Step 2: logits ln3·(0.75, 0.25) -> weights ∝ (3^0.75, 3^0.25) = (√3, 1)/(1+√3).
    patterns = torch.eye(2)[None]
    xi = torch.tensor([[1.0, 0.0]])
    state, steps = F.hopfield_settle(xi, patterns, math.log(3), max_steps=2, eps=0.0)
    r3 = math.sqrt(3)
    assert int(steps) == 2
    assert torch.allclose(state, torch.tensor([[r3 / (1 + r3), 1 / (1 + r3)]]), atol=ATOL), state


def test_settle_stops_on_small_change():
    # A state equal to a far-separated stored pattern is a fixed point (to float precision).
    patterns = torch.eye(3)[None] * 1.0
    xi = torch.tensor([[1.0, 0.0, 0.0]])
    state, steps = F.hopfield_settle(xi, patterns, beta=50.0, max_steps=10, eps=1e-4)
    assert int(steps) == 1, f"expected the stop rule to end after 1 step, got {int(steps)}"
    assert torch.allclose(state, xi, atol=1e-6)


def test_settle_zero_steps_returns_query():
    xi = torch.tensor([[0.6, 0.8]])
    state, steps = F.hopfield_settle(xi, torch.eye(2)[None], 1.0, max_steps=0, eps=0.0)
    assert int(steps) == 0 and torch.equal(state, xi)


def test_invalid_candidates_get_no_attention():
    patterns = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    valid = torch.tensor([[True, False]])
    out = F.hopfield_step(torch.tensor([[0.0, 1.0]]), patterns, 1.0)
    assert out[0, 1] > 0.5  # without a mask the second pattern dominates
    state, _ = F.hopfield_settle(torch.tensor([[0.0, 1.0]]), patterns, 1.0, 1, 0.0, valid)
    assert torch.allclose(state, torch.tensor([[1.0, 0.0]]), atol=ATOL)


def test_topk_padded_pads_and_orders():
    v, i = F.topk_padded(torch.tensor([[0.1, 0.9, 0.5]]), 5)
    assert i.tolist() == [[1, 2, 0, -1, -1]]
    assert v[0, :3].tolist() == pytest.approx([0.9, 0.5, 0.1])
    assert torch.isneginf(v[0, 3:]).all()


def test_topk_masked_entries_become_padding():
    v, i = F.topk_padded(torch.tensor([[0.3, float("-inf"), 0.2]]), 3)
    assert i.tolist() == [[0, 2, -1]]


def test_topk_rejects_bad_k():
    with pytest.raises(ValueError, match="k must be >= 1"):
        F.topk_padded(torch.zeros(1, 3), 0)


def test_two_stage_ties_keep_both_tied_keys():
    keys = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    scores, rows, _ = F.two_stage_search(
        torch.tensor([[1.0, 0.0]]), keys, 2, candidates=3, beta=10.0, max_steps=2, eps=0.0
    )
    assert sorted(rows[0].tolist()) == [0, 1], "both tied keys must be returned, in either order"
    assert scores[0, 0] == pytest.approx(scores[0, 1])


def test_two_stage_without_settle_is_exact_topk():
    g = torch.Generator().manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(50, 8, generator=g), dim=1)
    q = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    _, rows, steps = F.two_stage_search(q, keys, 5, candidates=20, beta=8.0, max_steps=0, eps=0.0)
    exact = torch.topk(q @ keys.T, 5).indices
    assert int(steps) == 0
    assert torch.equal(rows, exact)


def test_two_stage_pads_small_collections():
    keys = torch.eye(2)
    scores, rows, _ = F.two_stage_search(torch.tensor([[1.0, 0.0]]), keys, 4, candidates=20, beta=5.0, max_steps=3, eps=1e-4)
    assert rows.shape == (1, 4) and rows[0, 2:].tolist() == [-1, -1]
    assert torch.isneginf(scores[0, 2:]).all()


def test_two_stage_empty_collection():
    scores, rows, _ = F.two_stage_search(torch.ones(2, 3), torch.empty(0, 3), 3, candidates=5, beta=5.0, max_steps=2, eps=0.0)
    assert rows.tolist() == [[-1, -1, -1]] * 2 and torch.isneginf(scores).all()


def test_two_stage_rejects_dimension_mismatch():
    with pytest.raises(ValueError, match="same d"):
        F.two_stage_search(torch.ones(1, 3), torch.ones(4, 2), 1, candidates=2, beta=1.0, max_steps=1, eps=0.0)


def test_first_per_id_keeps_best_of_each_id():
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.6]])
    ids = torch.tensor([[5, 5, 7, 5]])
    s, i = F.first_per_id(scores, ids)
    assert i.tolist() == [[5, 7, -1, -1]]
    assert s[0, :2].tolist() == pytest.approx([0.9, 0.7])


def test_state_weight_blends_cue_and_settled_state():
    # q = (0.8, 0.6) over e1, e2: stage-1 scores (0.8, 0.6); with β = 50 the state settles on e1,
    # so cos to ξ* is (1, 0) and α = 0.5 gives (0.9, 0.3).
    q, keys = torch.tensor([[0.8, 0.6]]), torch.eye(2)
    common = {"candidates": 2, "beta": 50.0, "max_steps": 5, "eps": 0.0}
    s, rows, _ = F.two_stage_search(q, keys, 2, state_weight=0.5, **common)
    assert rows.tolist() == [[0, 1]]
    assert s[0].tolist() == pytest.approx([0.9, 0.3], abs=1e-3)
    s1, _, _ = F.two_stage_search(q, keys, 2, state_weight=1.0, **common)
    assert s1[0].tolist() == pytest.approx([1.0, 0.0], abs=1e-3)
    s0, _, steps = F.two_stage_search(q, keys, 2, state_weight=0.0, **common)
    assert int(steps) == 0 and s0[0].tolist() == pytest.approx([0.8, 0.6], abs=1e-6)
    with pytest.raises(ValueError, match="state_weight must be in"):
        F.two_stage_search(q, keys, 2, state_weight=1.5, **common)
