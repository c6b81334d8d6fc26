"""Entity-free query cues of the fusion search (``hybrid.fusion.query_cues`` and the two cue lists).

The fused scores are checked against values computed by hand on a 4-d bag-of-words encoder whose
cosines can be worked out on paper (dimensions: melanie, painting, hiking, bias = 1 for every text).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from hybrid import Memory
from hybrid.encoder import CallableEncoder
from hybrid.errors import InvalidInputError
from hybrid.fusion import FusionConfig, FusionSearcher, query_cues

#: Fused scores are float32 sums of a few reciprocal ranks.
SCORE_TOL = 1e-6
VOCAB = ("melanie", "painting", "hiking")


def _bag(texts: list[str]) -> np.ndarray:
    out = np.zeros((len(texts), len(VOCAB) + 1), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"[a-z]+", t.lower()):
            if w in VOCAB:
                out[i, VOCAB.index(w)] += 1
        out[i, -1] = 1.0
    return out


@pytest.fixture
def bag_memory(store_path):
    mem = Memory.open(store_path, encoder=CallableEncoder(_bag, dim=len(VOCAB) + 1, name="bag-4"), device="cpu")
    # Unit vectors: m0 = (2,0,0,1)/√5, m1 = (0,1,0,1)/√2, m2 = (1,0,1,1)/√3.
    ids = mem.add(["Melanie: hi Melanie", "Painting is fun", "Melanie went hiking"])
    yield mem, ids
    mem.close()


def test_query_cues_hand_values():
    assert query_cues("What activities does Melanie partake in?") == ("What activities does partake in",
                                                                       "activities partake")
    # Possessives and runs of names go; numbers stay; stop words go from the content cue only.
    assert query_cues("Which books has Anna Berg's club read since 2020?") == (
        "Which books has club read since 2020", "books club read since 2020")
    # Sentence-initial stop words ("When") are not names; all-caps words are (as in extract_terms).
    assert query_cues("When did Caroline go to the LGBTQ support group?") == (
        "When did go to the support group", "support group")
    # A cue left empty falls back to the query text.
    assert query_cues("Melanie?") == ("Melanie?", "Melanie?")
    assert query_cues("What was it?") == ("What was it", "What was it?")


def test_query_cues_rejects_non_text():
    with pytest.raises(InvalidInputError, match="query must be a str"):
        query_cues(None)  # type: ignore[arg-type]


def test_config_validates_cue_weights():
    for name in ("nameless_weight", "content_weight"):
        for bad in (-0.1, float("nan"), float("inf"), True):
            with pytest.raises(InvalidInputError, match=name):
                FusionConfig(**{name: bad})
    assert FusionConfig(nameless_weight=0.0, content_weight=0.0).content_weight == 0.0


def test_cue_lists_fused_hand_values(bag_memory):
    mem, (m0, m1, m2) = bag_memory
    # q = "Did Melanie try painting?" -> (1,1,0,1)/√3; both cues ("[Did] try painting") -> (0,1,0,1)/√2.
    # cos(q, ·):   m1 0.816 > m0 0.775 > m2 0.667  -> ranks m1 1, m0 2, m2 3
    # cos(cue, ·): m1 1.000 > m2 0.408 > m0 0.316  -> ranks m1 1, m2 2, m0 3
    base = dict(rrf_k=1.0, lexical_weight=0.0, spread=0.0, entity_spread=0.0)
    q = "Did Melanie try painting?"
    assert query_cues(q) == ("Did try painting", "try painting")
    off = FusionSearcher(mem, FusionConfig(**base, nameless_weight=0.0, content_weight=0.0))
    s, got = off.search_ids([q], 3)
    assert got[0].tolist() == [m1, m0, m2]
    np.testing.assert_allclose(s[0], [1 / 2, 1 / 3, 1 / 4], atol=SCORE_TOL, err_msg=f"no cues, tol {SCORE_TOL}")
    # w_d = 1, w_n = 0.5, w_c = 1, k0 = 1:
    #   m1: 1/2 + 0.5/2 + 1/2 = 1.25;  m2: 1/4 + 0.5/3 + 1/3 = 0.75;  m0: 1/3 + 0.5/4 + 1/4 = 0.7083
    on = FusionSearcher(mem, FusionConfig(**base, nameless_weight=0.5, content_weight=1.0))
    s, got = on.search_ids([q], 3)
    assert got[0].tolist() == [m1, m2, m0], "the cues lift the on-topic memory over the name-only one"
    np.testing.assert_allclose(s[0], [1.25, 0.75, 1 / 3 + 0.125 + 0.25], atol=SCORE_TOL,
                               err_msg=f"with cues, tol {SCORE_TOL}")
    # The cue lists are weighted relative to the dense list: w_d = 2 doubles every dense term.
    double = FusionSearcher(mem, FusionConfig(**{**base, "dense_weight": 2.0}, nameless_weight=0.5, content_weight=1.0))
    s2, got2 = double.search_ids([q], 3)
    assert got2[0].tolist() == [m1, m2, m0]
    np.testing.assert_allclose(s2[0], 2 * s[0], atol=SCORE_TOL, err_msg=f"w_d scales the cues, tol {SCORE_TOL}")


def test_cues_batch_rows_stay_with_their_query(bag_memory):
    mem, (m0, m1, m2) = bag_memory
    fs = FusionSearcher(mem, FusionConfig(rrf_k=1.0, lexical_weight=0.0, spread=0.0, entity_spread=0.0))
    _, batch = fs.search_ids(["Did Melanie try painting?", "Melanie hiking"], 3)
    _, one = fs.search_ids(["Melanie hiking"], 3)
    assert batch[1].tolist() == one[0].tolist(), "the second query's cue lists are its own"
    assert batch[0, 0] == m1 and batch[1, 0] == m2


def test_defaults_include_the_cues():
    cfg = FusionConfig()
    assert cfg.nameless_weight > 0 and cfg.content_weight > 0
