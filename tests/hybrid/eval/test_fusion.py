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
    entity_spread,
    order_spread,
    reciprocal_rank_fusion,
    term_neighbours,
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


def test_term_neighbours_hand_values():
    terms = [{"e:anna", "k:pottery"}, {"e:anna"}, {"k:pottery", "n:2021"}, {"n:2021"}, {"k:pottery"}]
    # e:anna held by {0, 1}; k:pottery by {0, 2, 4}; n:2021 by {2, 3}.
    assert term_neighbours(terms, max_df=3) == [[1, 2, 4], [0], [0, 3, 4], [2], [0, 2]]
    # max_df = 2 drops k:pottery (df 3).
    assert term_neighbours(terms, max_df=2) == [[1], [0], [3], [2], []]
    # Groups (namespaces) never link: with 0, 1 in group "a" and the rest in "b", e:anna still links
    # 0-1, k:pottery has df 2 in "b" ({2, 4}) and df 1 in "a".
    assert term_neighbours(terms, max_df=2, groups=["a", "a", "b", "b", "b"]) == [[1], [0], [3, 4], [2], [2]]
    with pytest.raises(InvalidInputError, match="groups"):
        term_neighbours(terms, 2, groups=["a"])


def test_entity_spread_hand_values():
    scores = {1: 1.0, 2: 0.5, 3: 0.1}
    nb = {1: [3, 4], 2: [4], 3: [5]}
    out = entity_spread(scores, nb, 0.2, seeds=2)
    # seeds = {1, 2}: 3 gets 0.2*1.0, 4 gets 0.2*1.0 + 0.2*0.5; 3 is no seed, so 5 gets nothing.
    assert out[1] == 1.0 and out[2] == 0.5
    assert out[3] == pytest.approx(0.1 + 0.2, abs=ATOL)
    assert out[4] == pytest.approx(0.2 + 0.1, abs=ATOL)
    assert 5 not in out
    # Ties among seeds go to the smaller id; seeds = 1 picks id 1 of {1: 1.0, 2: 1.0}.
    assert entity_spread({2: 1.0, 1: 1.0}, {1: [7], 2: [8]}, 0.5, seeds=1) == {2: 1.0, 1: 1.0, 7: 0.5}
    assert entity_spread(scores, nb, 0.0, seeds=2) == scores


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
    with pytest.raises(InvalidInputError, match="entity_spread"):
        FusionConfig(entity_spread=float("nan"))
    for name in ("entity_seeds", "entity_max_df", "depth"):
        with pytest.raises(InvalidInputError, match=name):
            FusionConfig(**{name: 0})


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


def test_fused_search_with_a_metadata_filter(hash_memory):
    """``where`` restricts every list and the results, even where the spread reaches other memories."""
    ids = _conversation(hash_memory)
    fs = FusionSearcher(hash_memory)
    _, got = fs.search_ids(["zeppelin harbour"], 5, where={"session": "s2"})
    found = set(got[0][got[0] >= 0].tolist())
    assert found == {ids[3], ids[4]}, f"only the two s2 memories may come back, got {found}"
    _, got = fs.search_ids(["zeppelin harbour"], 5, where={"session": "s1"})
    assert got[0, 0] == ids[0] and set(got[0][got[0] >= 0].tolist()) <= set(ids[:3])
    lexical = FusionSearcher(hash_memory, FusionConfig(dense_weight=0.0, spread=0.0, entity_spread=0.0))
    assert (lexical.search_ids(["zeppelin"], 3, where={"session": "s2"})[1] == -1).all(), "no s2 memory says zeppelin"
    assert [r.id for r in fs.search("zeppelin", 2, where={"session": "s1"})][0] == ids[0]
    with pytest.raises(InvalidInputError, match="where"):
        fs.search_ids(["x"], 3, where={"session": ["s1"]})


def test_entity_spread_reaches_another_session(hash_memory):
    texts = ["I adopted a puppy called Oliver.", "Nice!", "We went hiking in the Alps.",
             "Oliver chewed my running shoes today.", "The weather was grey."]
    meta = [{"session": "s1", "position": i} for i in range(3)] + [{"session": "s2", "position": i} for i in range(2)]
    ids = add_with_context(hash_memory, texts, metadata=meta)
    hash_memory.add(["Oliver is also the name of my cousin."], namespace="other")
    off = FusionSearcher(hash_memory, FusionConfig(dense_weight=0.0, spread=0.0, entity_spread=0.0))
    on = FusionSearcher(hash_memory, FusionConfig(dense_weight=0.0, spread=0.0, entity_spread=0.2, entity_seeds=1))
    s0, got0 = off.search_ids(["puppy adopted"], 3, namespace="default")
    assert got0[0, 0] == ids[0] and (got0[0, 1:] == -1).all(), "BM25 alone finds only the puppy turn"
    s1, got1 = on.search_ids(["puppy adopted"], 3, namespace="default")
    assert got1[0, 0] == ids[0] and got1[0, 1] == ids[3], "the turn sharing 'Oliver' (other session) follows"
    assert s1[0, 1] == pytest.approx(0.2 * s1[0, 0], abs=1e-6)
    assert got1[0, 2] == -1, "the other namespace's 'Oliver' memory is not linked"
    assert on.entity_neighbours()[ids[0]] == [ids[3]]
