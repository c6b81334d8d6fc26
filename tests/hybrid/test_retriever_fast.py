"""The fast stage-2 (K-space settle), the two-level top-k, bfloat16 storage and the HNSW backend
against the reference functions and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybrid import functional as F
from hybrid.errors import InvalidInputError
from hybrid.retriever import HopfieldRetriever

ATOL_SCORE = 1e-5
#: bfloat16 keys keep 8 significant bits: top-1 of near-duplicate queries must still agree.
MIN_TOP1_BF16 = 0.99
#: recall@10 of the HNSW stage 1 + settle against the exact stage 1 + settle (small, easy set).
MIN_RECALL_HNSW = 0.95


def _reference(q, keys, k, candidates, beta, max_steps, eps, mask=None):
    """The original stage 2: settle in d dimensions with :func:`hopfield_settle`, cosine, stable sort."""
    sims = q @ keys.T
    if mask is not None:
        sims = sims.masked_fill(~mask, float("-inf"))
    _, rows = F.topk_padded(sims, min(max(candidates, k), keys.shape[0]))
    valid = rows >= 0
    cand = keys[rows.clamp_min(0)]
    state, steps = F.hopfield_settle(q, cand, beta, max_steps, eps, valid)
    r = F.cosine_to_state(cand, state).masked_fill(~valid, float("-inf"))
    order = torch.argsort(r, dim=1, descending=True, stable=True)
    s, rows = torch.gather(r, 1, order), torch.gather(rows, 1, order)
    rows = torch.where(torch.isneginf(s), torch.full_like(rows, -1), rows)
    return F.take_k(s, rows, k) + (steps,)


def _unit(n, d, gen):
    return torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=1)


@pytest.mark.parametrize("max_steps", [0, 1, 3, 10])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("batch", [1, F.SMALL_BATCH_NUMPY, 16])  # NumPy stage 2 up to SMALL_BATCH_NUMPY, torch above
def test_two_stage_equals_reference_settle(max_steps, masked, batch):
    gen = torch.Generator().manual_seed(max_steps + 10 * masked + 100 * batch)
    keys = _unit(600, 32, gen)
    q = torch.nn.functional.normalize(keys[:batch] + 0.3 * torch.randn(batch, 32, generator=gen), dim=1)
    mask = (torch.rand(600, generator=gen) < 0.03) if masked else None  # ~18 keys: fewer than K
    ref = _reference(q, keys, 10, 20, 20.0, max_steps, 1e-4, mask)
    got = F.two_stage_search(q, keys, 10, candidates=20, beta=20.0, max_steps=max_steps, eps=1e-4, mask=mask)
    assert torch.equal(got[1], ref[1]), "rows differ from the reference settle"
    fin = torch.isfinite(ref[0])
    assert torch.equal(fin, torch.isfinite(got[0]))
    err = (got[0][fin] - ref[0][fin]).abs().max().item() if fin.any() else 0.0
    assert err < ATOL_SCORE, f"score error {err} > ATOL_SCORE={ATOL_SCORE}"
    assert int(got[2]) == int(ref[2]), "settle step counts differ"


def test_settle_gram_stops_at_fixed_point():
    # The query equals a far-separated stored pattern: one update, then the stop rule.
    cos, steps = F.hopfield_settle_gram(torch.tensor([[1.0, 0.0, 0.0]]), torch.eye(3)[None], 50.0, 10, 1e-4)
    assert int(steps) == 1
    assert cos[0].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=ATOL_SCORE)
    cos_np, steps_np = F.settle_gram_numpy(np.array([[1.0, 0.0, 0.0]], np.float32), np.eye(3, dtype=np.float32)[None],
                                           50.0, 10, 1e-4)
    assert steps_np == 1 and cos_np[0].tolist() == pytest.approx([1.0, 0.0, 0.0], abs=ATOL_SCORE)


def test_settle_gram_numpy_matches_torch():
    gen = torch.Generator().manual_seed(3)
    cand = torch.randn(4, 20, 16, generator=gen)
    xi = torch.nn.functional.normalize(torch.randn(4, 16, generator=gen), dim=1)
    valid = torch.rand(4, 20, generator=gen) > 0.2
    valid[1] = False  # a row without any valid candidate
    for v in (None, valid):
        ct, st = F.hopfield_settle_gram(xi, cand, 4.0, 5, 1e-5, v)
        cn, sn = F.settle_gram_numpy(xi.numpy(), cand.numpy(), 4.0, 5, 1e-5, None if v is None else v.numpy())
        ok = np.ones((4, 20), bool) if v is None else v.numpy()
        assert int(st) == sn
        assert np.abs(ct.numpy()[ok] - cn[ok]).max() < ATOL_SCORE


@pytest.mark.parametrize("shape", [(1, 20000), (3, 50000), (2, 8192 + 37), (4, 100)])
def test_topk_unsorted_is_exact(shape):
    gen = torch.Generator().manual_seed(shape[1])
    s = torch.randn(*shape, generator=gen)
    v, i = F.topk_unsorted(s, 20)
    assert torch.equal(torch.gather(s, 1, i), v), "values must be the entries at the indices"
    assert torch.equal(v.sort(dim=1, descending=True).values, torch.topk(s, 20, dim=1).values)


def test_topk_unsorted_transposed_layout_and_neg_inf():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(20000, 2, generator=gen).T  # non-contiguous rows
    s[0, :19990] = float("-inf")
    v, i = F.topk_unsorted(s, 20)
    assert torch.equal(v.sort(dim=1, descending=True).values, torch.topk(s, 20, dim=1).values)


def _data(n=4000, d=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:200] + 0.2 * rng.standard_normal((200, d)).astype(np.float32)
    return x, q


def test_bfloat16_storage_top1():
    x, q = _data()
    ref = HopfieldRetriever(64, device="cpu")
    ref.add(x, np.arange(len(x)))
    bf = HopfieldRetriever(64, device="cpu", dtype="bfloat16")
    bf.add(x, np.arange(len(x)))
    assert bf.keys.dtype == torch.bfloat16
    agree = float((ref.search(q, 1)[1] == bf.search(q, 1)[1]).mean())
    assert agree >= MIN_TOP1_BF16, f"bfloat16 top-1 agreement {agree:.3f} < MIN_TOP1_BF16={MIN_TOP1_BF16}"
    one = bf.search(q[:1], 5)
    assert one[1].shape == (1, 5) and one[0].dtype == np.float32


def test_hnsw_backend_recall_remove_and_mask():
    pytest.importorskip("faiss")
    x, q = _data()
    exact = HopfieldRetriever(64, device="cpu")
    exact.add(x, np.arange(len(x)))
    ann = HopfieldRetriever(64, device="cpu", backend="hnsw")
    ann.add(x, np.arange(len(x)))
    e, a = exact.search(q, 10)[1], ann.search(q, 10)[1]
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(a, e)])
    assert recall >= MIN_RECALL_HNSW, f"HNSW recall@10 {recall:.3f} < MIN_RECALL_HNSW={MIN_RECALL_HNSW}"
    # removed ids never come back; rows added later are found
    ann.remove([int(e[0, 0])])
    assert int(e[0, 0]) not in ann.search(q[:1], 10)[1][0]
    ann.add(x[:1] * -1.0, [99999])
    assert ann.search(-x[:1], 1)[1][0, 0] == 99999
    # a mask falls back to exact stage 1
    mask = ann.id_mask([5, 6, 7])
    assert set(ann.search(q[:3], 3, mask=mask)[1].ravel().tolist()) <= {5, 6, 7}
    ann.compact()
    assert ann.search(x[5:6], 1)[1][0, 0] == 5


def test_bad_backend_and_dtype_are_rejected():
    with pytest.raises(InvalidInputError, match="backend"):
        HopfieldRetriever(4, backend="ivf")
    with pytest.raises(InvalidInputError, match="dtype"):
        HopfieldRetriever(4, dtype="int8")
