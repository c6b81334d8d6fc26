"""hybrid.fusion: RRF, order spread, context keys, the synced BM25 index and the fused search."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.errors import InvalidInputError
from hybrid.fusion import (
    CONTEXT_NEXT,
    CONTEXT_PREV,
    FusionConfig,
    FusionSearcher,
    add_with_context,
    context_texts,
    order_spread,
    reciprocal_rank_fusion,
)

ATOL = 1e-12


def test_rrf_hand_values():
    a = np.array([[5, 6, 7]])
    b = np.array([[7, 5, -1]])
    out = reciprocal_rank_fusion([a, b], [1.0, 2.0], 10.0)[0]
    # 5: 1/11 + 2/12 ; 6: 1/12 ; 7: 1/13 + 2/11
    assert out[5] == pytest.approx(1 / 11 + 2 / 12, abs=ATOL)
    assert out[6] == pytest.approx(1 / 12, abs=ATOL)
    assert out[7] == pytest.approx(1 / 13 + 2 / 11, abs=ATOL)
    assert -1 not in out


def test_order_spread_hand_values():
    nb = {1: [2], 2: [1, 3], 3: [2]}
    out = order_spread({1: 1.0, 3: 0.4}, nb, 0.5)
    assert out == {1: 1.0, 2: pytest.approx(0.5), 3: 0.4}
    assert order_spread({1: 1.0}, nb, 0.0) == {1: 1.0}


def test_context_texts_respect_sequences():
    out = context_texts(["a", "b", "c", "d"], [1, 1, 1, 2])
    assert out[0] == [(CONTEXT_NEXT, "a b")]
    assert out[1] == [(CONTEXT_PREV, "a b"), (CONTEXT_NEXT, "b c")]
    assert out[2] == [(CONTEXT_PREV, "b c")]
    assert out[3] == []
    with pytest.raises(InvalidInputError, match="sequences"):
        context_texts(["a"], [])


def test_config_validation():
    with pytest.raises(InvalidInputError, match="rrf_k"):
        FusionConfig(rrf_k=-1)
    with pytest.raises(InvalidInputError, match="both be 0"):
        FusionConfig(dense_weight=0, lexical_weight=0)


def _conversation(mem):
    texts = ["Did you see the zeppelin over the harbour?", "Yes, it was silver and huge.",
             "I bought new running shoes.", "Which brand?", "Mizuno, they are light."]
    meta = [{"session": "s1", "position": i} for i in range(3)] + [{"session": "s2", "position": i} for i in range(2)]
    return add_with_context(mem, texts, metadata=meta)


def test_add_with_context_keys_and_lexical_search(hash_memory):
    ids = _conversation(hash_memory)
    rec = hash_memory.store.get(ids[1], with_keys=True)
    kinds = sorted(k.kind for k in rec.keys)
    assert kinds == sorted(["text", CONTEXT_PREV, CONTEXT_NEXT])
    fs = FusionSearcher(hash_memory, FusionConfig(dense_weight=0.0, spread=0.0))
    _, got = fs.search_ids(["zeppelin"], 3)
    assert got[0, 0] == ids[0] and (got[0, 1:] == -1).all(), "BM25 alone returns only word matches"
    # The BM25 index follows the store: a new memory becomes searchable without a new searcher.
    new = hash_memory.add(["A zeppelin landed in Ohio."])[0]
    _, got = fs.search_ids(["zeppelin"], 3)
    assert set(got[0, :2].tolist()) == {ids[0], new}


def test_spread_lifts_the_answer_turn(hash_memory):
    ids = _conversation(hash_memory)
    fs = FusionSearcher(hash_memory, FusionConfig(dense_weight=0.0, spread=0.5))
    s, got = fs.search_ids(["zeppelin"], 3)
    assert got[0, 0] == ids[0] and got[0, 1] == ids[1], "the neighbour of the hit comes second"
    assert s[0, 1] == pytest.approx(0.5 * s[0, 0], abs=1e-6)
    assert ids[2] not in got[0, :2].tolist()
    res = fs.search("zeppelin", 2)
    assert [r.id for r in res] == [ids[0], ids[1]]


def test_fused_search_contract_and_namespace(hash_memory):
    ids = _conversation(hash_memory)
    other = hash_memory.add(["The zeppelin museum opens at nine."], namespace="other")[0]
    fs = FusionSearcher(hash_memory)
    s, got = fs.search_ids(["zeppelin harbour", "running shoes"], 8)
    assert got.shape == (2, 8) and s.shape == (2, 8)
    assert got[0, 0] == ids[0] and got[1, 0] == ids[2]
    valid = got[0] >= 0
    assert np.all(np.diff(s[0][valid]) <= 0), "scores are sorted best first"
    _, only = fs.search_ids(["zeppelin"], 8, namespace="other")
    assert only[0, 0] == other and (only[0, 1:] == -1).all()
    with pytest.raises(InvalidInputError, match="k must be"):
        fs.search_ids(["x"], 0)
