"""The spiking retrieval: race/WTA steps by hand, the search contract, agreement with exact top-k,
and recall matching the softmax Hopfield retriever on real paraphrase tasks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snn import spiking_retrieval as S
from snn.functional import Code

ATOL_FP32 = 1e-6
#: Top-1 agreement with exact cosine search on seeded synthetic data (codes at their default length).
MIN_TOP1_AGREEMENT = 0.99
#: Recall@1 of the spiking retrieval must equal the softmax Hopfield retriever's on the paraphrase task.
MAX_RECALL_GAP = 0.0


def test_race_step_orders_by_potential_and_stops_at_k():
    v = torch.tensor([[0.9, 0.5, 0.95, -0.2]])
    state = S.RaceState(torch.zeros(1, 4, dtype=torch.bool), torch.full((1, 4), -1), torch.zeros(1, dtype=torch.long))
    # R = 4: bias after step t is 2 (t + 1) / 4 -> 0.5 at t=0: 0.9 and 0.95 cross; only k=1 may fire: 0.95.
    z, state = S.race_step(v, state, 0, 4, k=1)
    assert z.tolist() == [[0.0, 0.0, 1.0, 0.0]]
    z, state = S.race_step(v, state, 1, 4, k=1)
    assert z.sum() == 0  # inhibited after k winners
    assert state.order.tolist() == [[-1, -1, 0, -1]]


def test_cuba_latency_synapse_integrates_decoding_weights():
    # a spike at step t of T=4 contributes (T - t)/T when the current never decays (alpha = 1)
    state = S.CubaState(torch.zeros(1, 1), torch.zeros(1, 1))
    for t in range(4):
        v, state = S.cuba_step(torch.tensor([[1.0 if t == 1 else 0.0]]), state, alpha=1.0, scale=0.25)
    assert abs(v.item() - 0.75) < ATOL_FP32


def test_search_contract_and_padding():
    r = S.SpikingRetriever(S.SpikingRetrievalConfig(x_max=1.0))
    r.add(np.eye(4, dtype=np.float32), ids=[10, 11, 12, 13])
    scores, ids = r.search(np.array([[0.9, 0.3, 0.0, 0.0]], dtype=np.float32), k=6)
    assert scores.shape == ids.shape == (1, 6)
    assert ids[0, :2].tolist() == [10, 11]
    assert np.all(np.diff(scores[0][np.isfinite(scores[0])]) <= 0)
    # the score is the memory neuron's potential: the cosine to the decoded cue
    assert abs(scores[0, 0] - 0.9 / np.hypot(0.9, 0.3)) < 0.02
    empty = S.SpikingRetriever()
    s, i = empty.search(np.ones((2, 4), dtype=np.float32), 3)
    assert (i == -1).all() and np.isneginf(s).all()
    with pytest.raises(ValueError, match="k must be"):
        r.search(np.ones((1, 4)), 0)
    with pytest.raises(ValueError, match="dimension"):
        r.search(np.ones((1, 5)), 1)
    with pytest.raises(ValueError, match="race_steps.*0"):
        S.SpikingRetrievalConfig(race_steps=0)


@pytest.mark.parametrize("code", [Code.LATENCY, Code.RATE, Code.SIGMA_DELTA])
def test_agrees_with_exact_top1_on_synthetic_data(code):
    g = torch.Generator().manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(200, 64, generator=g), dim=1)
    q = torch.nn.functional.normalize(keys[:100] + 0.5 * torch.randn(100, 64, generator=g) / 8, dim=1)
    r = S.SpikingRetriever(S.SpikingRetrievalConfig(code=code, x_max=0.6))
    r.add(keys, np.arange(200))
    _, ids = r.search(q, 1)
    exact = (q @ keys.T).argmax(1).numpy()
    agree = float(np.mean(ids[:, 0] == exact))
    assert agree >= MIN_TOP1_AGREEMENT, f"{code.value}: top-1 agreement {agree:.3f}"
    assert r.last_steps <= r.config.num_steps + r.config.race_steps


@pytest.mark.slow
def test_recall_matches_softmax_hopfield_on_paraphrases(paraphrase_embeddings):
    from hybrid.retriever import HopfieldRetriever

    facts, qs, background = paraphrase_embeddings
    store = np.concatenate([facts, background])
    ids = np.arange(len(store))
    n = len(facts)
    hop = HopfieldRetriever(store.shape[1], device="cpu")
    hop.add(store, ids)
    soft = float(np.mean(hop.search(qs, 1)[1][:, 0] == np.arange(n)))
    sr = S.SpikingRetriever()
    sr.add(store, ids)
    spk = float(np.mean(sr.search(qs, 1)[1][:, 0] == np.arange(n)))
    assert soft - spk <= MAX_RECALL_GAP, f"spiking recall {spk:.3f} vs softmax {soft:.3f}"
