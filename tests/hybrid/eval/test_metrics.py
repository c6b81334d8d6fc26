"""Metrics against hand-computed values (LongMemEval's official DCG quirk included)."""

from __future__ import annotations

import math

import pytest

from hybrid.eval.metrics import (
    aggregate,
    grouped_evaluate,
    mrr_at_k,
    ndcg_at_k,
    official_dcg,
    official_evaluate,
    official_ndcg,
    official_turn_to_session,
    recall_any_all,
    score_turns,
    strip_turn,
)

ATOL = 1e-12

# Hand computations (log2(3) = 1.584962500721156):
#   official DCG of [1, 0, 1] = 1 + 0/log2(2) + 1/log2(3)
DCG_101 = 1 + 1 / 1.584962500721156
#   ranked relevances [0, 1, 1] (positions 2 and 3), ideal [1, 1, 0]: (1 + 1/log2 3) / 2
NDCG_BAC = (1 + 1 / 1.584962500721156) / 2
#   BEIR: gains a=2, b=1, ranking c, a, b: (2/log2 3 + 1/log2 4) / (2 + 1/log2 3)
BEIR_NDCG = (2 / 1.584962500721156 + 0.5) / (2 + 1 / 1.584962500721156)


def test_recall_any_all_hand_values():
    ranked = ["b", "a", "c", "d"]
    assert recall_any_all(ranked, ["a", "c"], 1) == (0.0, 0.0)
    assert recall_any_all(ranked, ["a", "c"], 2) == (1.0, 0.0)
    assert recall_any_all(ranked, ["a", "c"], 3) == (1.0, 1.0)
    # no gold: vacuous recall_all = 1 (why loaders skip such questions)
    assert recall_any_all(ranked, [], 3) == (0.0, 1.0)


def test_official_dcg_first_two_positions_both_weight_one():
    assert abs(official_dcg([1, 0, 1], 3) - DCG_101) < ATOL, f"official DCG off by more than {ATOL}"
    assert official_dcg([0, 1], 2) == 1.0, "position 2 has discount log2(2) = 1 in the official code"
    assert official_dcg([], 5) == 0.0
    assert abs(official_dcg([1, 1, 1], 2) - 2.0) < ATOL, "DCG must stop at k"


def test_official_ndcg_hand_value():
    corpus = ["a", "b", "c", "d"]
    ranking = [1, 0, 2, 3]  # b, a, c, d
    got = official_ndcg(ranking, {"a", "c"}, corpus, 3)
    assert abs(got - NDCG_BAC) < ATOL, f"ndcg {got} != hand value {NDCG_BAC} (tol {ATOL})"
    assert official_ndcg(ranking, {"z"}, corpus, 3) == 0.0, "no relevant entry: ideal DCG 0 -> 0"
    assert official_evaluate(ranking, ["a", "c"], corpus, 3) == (1.0, 1.0, pytest.approx(NDCG_BAC, abs=ATOL))


def test_official_ndcg_textbook_formula_differs():
    # Relevant item at rank 2 only: official = 1 (weight 1), textbook log2(i+2) would give 1/log2(3).
    got = official_ndcg([1, 0], {"x"}, ["y", "x"], 2)
    assert got == 1.0 and abs(got - 1 / math.log2(3)) > 0.3


def test_turn_to_session_effective_k_hand_values():
    corpus = ["s1_1", "s1_3", "s2_1", "s3_2", "s2_4"]
    ranking = [0, 1, 3, 2, 4]  # sessions s1, s1, s3, s2, s2
    # k=2: positions until 2 distinct sessions -> k'=3 ({s1, s3}): gold s2 missing
    assert official_turn_to_session(ranking, ["s2_1"], corpus, 2)[:2] == (0.0, 0.0)
    # k=3: k'=4 ({s1, s3, s2}); ndcg: ranked relevances [0,0,0,1] -> 1/log2(4) = 0.5; ideal [1,1,0,0] -> 2
    a, al, nd = official_turn_to_session(ranking, ["s2_1"], corpus, 3)
    assert (a, al) == (1.0, 1.0)
    assert abs(nd - 0.25) < ATOL, f"turn->session ndcg {nd} != 0.25 (tol {ATOL})"
    assert strip_turn("answer_ab_12") == "answer_ab"
    assert grouped_evaluate([0], ["g"], ["g"], 5) == (1.0, 1.0, 1.0), "k larger than the corpus stops at its end"


def test_beir_ndcg_and_mrr_hand_values():
    qrels = {"a": 2.0, "b": 1.0}
    got = ndcg_at_k(["c", "a", "b"], qrels, 10)
    assert abs(got - BEIR_NDCG) < ATOL, f"nDCG@10 {got} != hand value {BEIR_NDCG} (tol {ATOL})"
    assert ndcg_at_k(["a", "b"], qrels, 10) == pytest.approx(1.0, abs=ATOL)
    assert mrr_at_k(["c", "a", "b"], qrels, 10) == 0.5
    assert mrr_at_k(["c", "a"], qrels, 1) == 0.0


def test_score_turns_levels_and_aggregate():
    ids = ["s_a_1", "answer_x1_1", "noans_x1_3", "s_b_1"]
    groups = [strip_turn(i) for i in ids]
    out = score_turns(ids, groups, [2, 1, 0, 3], ["answer_x1_1"], [1, 3])
    assert out["turn"]["recall_any@1"] == 0.0 and out["turn"]["recall_all@3"] == 1.0
    assert out["turn"]["ndcg_any@3"] == 1.0, "hit at position 2 has weight 1 in the official DCG"
    assert out["session"]["recall_any@1"] == 0.0 and out["session"]["recall_any@3"] == 1.0
    agg = aggregate([{"m": 1.0}, {"m": 0.0}, {"m": 1.0}], ["x", "y", "x"])
    assert agg["overall"] == {"n": 3, "m": pytest.approx(2 / 3)}
    assert agg["x"]["m"] == 1.0 and agg["y"]["m"] == 0.0
