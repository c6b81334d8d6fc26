"""The fast stage-2 (K-space settle), the two-level top-k, bfloat16 storage and the HNSW backend
against the reference functions and brute force."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from hybrid import functional as F
from hybrid.errors import InvalidInputError
from hybrid.retriever import HNSWConfig, HopfieldRetriever, IVFConfig

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


@pytest.fixture(params=["compiled", "numpy"])
def stage2_path(request, kernel_path):
    """Small CPU batches: the numba stage 2 (skipped without numba) and its NumPy twin."""
    return kernel_path(request.param, F, "_STAGE2_NB")


@pytest.mark.parametrize("max_steps", [0, 1, 3, 10])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("batch", [1, F.SMALL_BATCH_NUMPY, 16])  # compiled/NumPy stage 2 up to SMALL_BATCH_NUMPY, torch above
def test_two_stage_equals_reference_settle(max_steps, masked, batch, stage2_path):
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


def _ann_module(backend: str) -> None:
    """Skip unless the library behind ``backend`` is installed."""
    pytest.importorskip("hnswlib" if backend == "hnswlib" else "faiss")


@pytest.mark.parametrize("backend", ["hnsw", "ivf", "hnswlib"])
def test_approximate_backend_recall_remove_and_mask(backend):
    _ann_module(backend)
    x, q = _data()
    exact = HopfieldRetriever(64, device="cpu")
    exact.add(x, np.arange(len(x)))
    # Unclustered random data: the IVF lists are a poor partition, so scan most of them.
    ann = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=64))
    ann.add(x, np.arange(len(x)))
    e, a = exact.search(q, 10)[1], ann.search(q, 10)[1]
    recall = np.mean([len(set(r) & set(t)) / 10 for r, t in zip(a, e)])
    assert recall >= MIN_RECALL_HNSW, f"{backend} recall@10 {recall:.3f} < MIN_RECALL_HNSW={MIN_RECALL_HNSW}"
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


def test_hnswlib_graph_grows_and_falls_back_to_exact_when_it_cannot_answer():
    pytest.importorskip("hnswlib")
    x, q = _data(n=3000)
    r = HopfieldRetriever(64, device="cpu", backend="hnswlib", hnsw=HNSWConfig(m=16, ef_construction=60, seed=3))
    r.add(x[:500], np.arange(500))
    r.build_index()
    first_capacity = r._ann.get_max_elements()
    r.add(x[500:], np.arange(500, 3000))  # more rows than the graph was sized for
    assert r.search(x[2999:3000], 1)[1][0, 0] == 2999
    assert r._ann.get_max_elements() >= 3000 > first_capacity, "the graph must be resized, not overflow"
    assert r._ann.get_current_count() == 3000

    class Refusing:  # hnswlib raises RuntimeError when it finds fewer than k rows
        def set_ef(self, ef):
            self.ef = ef

        def knn_query(self, q, k):
            raise RuntimeError("Cannot return the results in a contiguous 2D array")

    exact = HopfieldRetriever(64, device="cpu")
    exact.add(x, np.arange(3000))
    r._ann = Refusing()
    got, want = r.search(q[:4], 10), exact.search(q[:4], 10)
    assert np.array_equal(got[1], want[1]), f"exact fallback must give exact results:\n{got[1]}\n{want[1]}"
    assert r._ann.ef == max(HNSWConfig().ef_search, 20), "ef must be at least the candidate count"


def test_bad_backend_and_dtype_are_rejected():
    with pytest.raises(InvalidInputError, match="backend"):
        HopfieldRetriever(4, backend="lsh")
    with pytest.raises(InvalidInputError, match="dtype"):
        HopfieldRetriever(4, dtype="int8")
    with pytest.raises(InvalidInputError, match="seed"):
        HNSWConfig(seed=-1)
    with pytest.raises(InvalidInputError, match="ef_search"):
        HNSWConfig(ef_search=True)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("state_weight", [0.0, 0.5, 1.0])
def test_compiled_stage2_equals_numpy_twin(dtype, state_weight, monkeypatch):
    """Compiled and NumPy stage 2 on the same inputs: ties, masked rows, fewer keys than K,
    candidate rows of an approximate index, both storage types."""
    if F._STAGE2_NB is None:
        pytest.skip("numba not installed (or HHMEM_NO_NUMBA set)")
    gen = torch.Generator().manual_seed(7)
    keys = _unit(300, 24, gen)
    keys[50] = keys[40]  # an exact duplicate: equal stage-1 scores
    keys = keys.to(getattr(torch, dtype))
    q = torch.nn.functional.normalize(keys[[40, 7, 200]].float() + 0.2 * torch.randn(3, 24, generator=gen), dim=1)
    sims = F.inner_products(q, keys)
    cases = {
        "all rows": (sims, None),
        "masked (6 rows left)": (sims.masked_fill(torch.rand(300, generator=gen) > 0.02, float("-inf")), None),
        "approximate rows": (sims[:, :30].clone(), torch.arange(30).flip(0).repeat(3, 1)),
    }
    for name, (s, rows) in cases.items():
        for max_steps in (0, 3):
            args = dict(candidates=20, beta=20.0, max_steps=max_steps, eps=1e-4, rows=rows, state_weight=state_weight)
            got = F.rerank_candidates(s, q, keys, 10, **args)
            with monkeypatch.context() as m:
                m.setattr(F, "_STAGE2_NB", None)
                want = F.rerank_candidates(s, q, keys, 10, **args)
            where = f"{name}, {dtype}, max_steps={max_steps}, state_weight={state_weight}"
            by_stage1 = max_steps == 0 or state_weight == 0.0
            if not by_stage1:
                assert torch.equal(got[1], want[1]), f"rows differ ({where}):\n{got[1]}\n{want[1]}"
            # Ranked by stage-1 score (bfloat16 scores tie often): among equal scores the NumPy twin
            # keeps top-K's arbitrary order and the kernel takes the lower row; checked below that
            # every row carries its own score, no row repeats, and the score lists are equal.
            fin = torch.isfinite(want[0])
            assert torch.equal(fin, torch.isfinite(got[0])), f"padding differs ({where})"
            err = (got[0][fin] - want[0][fin]).abs().max().item() if fin.any() else 0.0
            assert err < ATOL_SCORE, f"score error {err} > ATOL_SCORE={ATOL_SCORE} ({where})"
            assert int(got[2]) == int(want[2]), f"settle step counts differ ({where})"
            if by_stage1:
                full = s if rows is None else torch.full((3, 300), float("-inf")).scatter(1, rows, s)
                ok = got[1] >= 0
                assert torch.equal(full.gather(1, got[1].clamp_min(0))[ok], got[0][ok]), f"scores belong to other rows ({where})"
                assert all(len(set(r[r >= 0].tolist())) == int((r >= 0).sum()) for r in got[1]), f"a row repeats ({where})"


@pytest.mark.parametrize("state_weight", [0.0, 0.5, 1.0])
def test_compiled_retriever_search_equals_tensor_path(state_weight, monkeypatch):
    """HopfieldRetriever.search's one-call CPU path (float32 keys, small batches) against the
    tensor path: removed rows, id masks, k larger than the store, batches of 1 and 8."""
    if F._STAGE2_NB is None:
        pytest.skip("numba not installed (or HHMEM_NO_NUMBA set)")
    gen = torch.Generator().manual_seed(11)
    keys = _unit(400, 16, gen).numpy()
    r = HopfieldRetriever(16)
    r.add(keys, np.arange(1000, 1400))
    r.remove(list(range(1000, 1400, 7)))
    cfg = r.config.__class__(beta=20.0, max_steps=3, candidates=20, state_weight=state_weight)
    queries = keys[[3, 50, 51, 120, 121, 222, 300, 399]] + 0.1
    cases = {"batch 1": (queries[:1], 10, None), "batch 8": (queries, 10, None),
             "k > live keys, masked": (queries[:2], 30, r.id_mask(np.arange(1000, 1040))),
             "mask empty": (queries[:1], 5, r.id_mask([5]))}
    for name, (q, k, mask) in cases.items():
        got = r.search(q, k, mask=mask, config=cfg)
        got_t = r.search_tensors(r.prepare_queries(q), k, mask=mask, config=cfg)
        with monkeypatch.context() as m:
            m.setattr(F, "_STAGE2_NB", None)
            want = r.search(q, k, mask=mask, config=cfg)
        assert np.array_equal(got[1], want[1]), f"ids differ ({name}, state_weight={state_weight}):\n{got[1]}\n{want[1]}"
        assert np.array_equal(got_t[1].numpy(), got[1]), f"search_tensors must give the same ids ({name})"
        fin = np.isfinite(want[0])
        assert np.array_equal(fin, np.isfinite(got[0])), f"padding differs ({name})"
        assert np.abs(got[0][fin] - want[0][fin]).max(initial=0.0) < ATOL_SCORE, f"scores differ ({name})"


def test_ivf_list_count():
    """Automatic nlist: the power of two nearest 4·sqrt(N), at most N/39 (FAISS's training minimum)."""
    assert IVFConfig().lists_for(1_000_000) == 4096  # 4·1000 -> 2^12
    assert IVFConfig().lists_for(20_000) == 512  # 4·141 = 566 -> 2^9
    assert IVFConfig().lists_for(1000) == 25  # 4·31.6 -> 128, capped at 1000 // 39
    assert IVFConfig().lists_for(10) == 1
    assert IVFConfig(nlist=300).lists_for(100) == 100
    with pytest.raises(InvalidInputError, match="nprobe"):
        IVFConfig(nprobe=0)


@pytest.mark.parametrize("backend", ["hnsw", "ivf", "hnswlib"])
def test_compiled_rerank_after_approximate_stage1_equals_tensor_path(backend, monkeypatch):
    """The one-call path after an HNSW/IVF stage 1 (removed rows still in the index) against the tensor path."""
    _ann_module(backend)
    if F._STAGE2_NB is None:
        pytest.skip("numba not installed (or HHMEM_NO_NUMBA set)")
    x, q = _data(n=2000)
    r = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=16))
    r.add(x, np.arange(2000))
    r.search(q[:1], 10)  # builds the index before the removal
    r.remove(list(range(0, 2000, 9)))
    for state_weight in (0.0, 1.0):
        cfg = r.config.__class__(beta=20.0, max_steps=3, candidates=20, state_weight=state_weight)
        got = r.search(q[:8], 10, config=cfg)
        with monkeypatch.context() as m:
            m.setattr(F, "_STAGE2_NB", None)
            want = r.search(q[:8], 10, config=cfg)
        assert np.array_equal(got[1], want[1]), f"{backend} ids differ (state_weight={state_weight}):\n{got[1]}\n{want[1]}"
        assert np.abs(got[0] - want[0]).max() < ATOL_SCORE, f"{backend} scores differ (state_weight={state_weight})"
        assert not (np.isin(got[1], np.arange(0, 2000, 9))).any(), "removed ids must not come back"


@pytest.mark.parametrize("backend", ["hnswlib", "hnsw", "ivf"])
def test_saved_index_is_reused_only_for_the_same_keys_and_damage_is_reported(backend, tmp_path):
    _ann_module(backend)
    from hybrid.errors import StoreCorruptError

    x, q = _data(n=3000)
    a = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=8))
    a.add(x, np.arange(3000))
    path = tmp_path / "graph.idx"
    a.save_index(path)
    want = a.search(q[:20], 10)

    b = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=8))
    b.add(x, np.arange(3000))
    assert b.load_index(path), "same keys, same build parameters: the saved index must be used"
    assert b._ann_rows == 3000
    got = b.search(q[:20], 10)
    assert np.array_equal(got[1], want[1]) and np.allclose(got[0], want[0])

    other = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=8))
    other.add(x[:, ::-1].copy(), np.arange(3000))  # other keys: refused, built on demand
    assert not other.load_index(path) and other._ann is None
    if backend != "ivf":
        bigger = HopfieldRetriever(64, device="cpu", backend=backend, hnsw=HNSWConfig(m=8))
        bigger.add(x, np.arange(3000))
        assert not bigger.load_index(path), "other build parameters must not reuse the graph"
    assert not other.load_index(tmp_path / "absent.idx")

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a killed copy / truncated file
    c = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=8))
    c.add(x, np.arange(3000))
    with pytest.raises(StoreCorruptError, match="truncated or damaged"):
        c.load_index(path)
    assert c._ann is None and np.array_equal(c.search(q[:20], 10)[1][:, 0], want[1][:, 0]), "still searchable"

    with pytest.raises(InvalidInputError, match="approximate backend"):
        HopfieldRetriever(64, device="cpu").save_index(tmp_path / "x.idx")

    # a garbage sidecar is reported too; a save removes temporaries of dead processes, not live ones
    (tmp_path / "graph.idx.json").write_text("{not json")
    with pytest.raises(StoreCorruptError, match="sidecar"):
        c.load_index(path)
    dead = tmp_path / "graph.idx.999999999.tmp"  # no such pid
    live = tmp_path / f"graph.idx.json.{os.getppid()}.tmp"
    dead.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    a.save_index(path)
    assert not dead.exists() and live.exists()
    assert c.load_index(path), "the fresh pair loads"


@pytest.mark.parametrize("backend", ["hnswlib", "hnsw", "ivf"])
def test_filtered_search_through_the_approximate_index(backend, monkeypatch):
    """A filter keeping at least ANN_MIN_KEPT of the rows is served by the index (post-filtered,
    more candidates asked); a narrower one, or one that leaves a query too few candidates, runs
    exact stage 1. Either way only allowed ids come back."""
    _ann_module(backend)
    from hybrid import retriever as R

    x, q = _data(n=3000)
    # unclustered random data: the IVF lists are a poor partition, so scan most of them
    ann = HopfieldRetriever(64, device="cpu", backend=backend, ivf=IVFConfig(nprobe=64))
    exact = HopfieldRetriever(64, device="cpu")
    for r in (ann, exact):
        r.add(x, np.arange(3000))
    calls = []
    raw = ann._ann_search
    monkeypatch.setattr(ann, "_ann_search", lambda qq, want: calls.append(want) or raw(qq, want))

    half = ann.id_mask(np.arange(0, 3000, 2))
    got, want = ann.search(q[:30], 10, mask=half)[1], exact.search(q[:30], 10, mask=exact.id_mask(np.arange(0, 3000, 2)))[1]
    assert calls and calls[0] >= 2 * 20 * 2, f"a half filter must ask for 2·K/0.5 candidates, asked {calls}"
    assert (got % 2 == 0).all(), "only allowed ids"
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want)])
    assert recall >= MIN_RECALL_HNSW, f"{backend} filtered recall@10 {recall:.3f} < MIN_RECALL_HNSW={MIN_RECALL_HNSW}"

    calls.clear()
    narrow = np.arange(0, 3000, 10)  # 10% < ANN_MIN_KEPT
    assert 0.1 < R.ANN_MIN_KEPT
    got = ann.search(q[:5], 10, mask=ann.id_mask(narrow))[1]
    assert not calls and np.array_equal(got, exact.search(q[:5], 10, mask=exact.id_mask(narrow))[1])

    far = np.argsort(x @ q[0])[:900]  # 30% of the rows, all far from the query: the walk finds none
    calls.clear()
    got = ann.search(q[:1], 10, mask=ann.id_mask(far))[1]
    assert calls, "the index is tried first"
    assert np.array_equal(got, exact.search(q[:1], 10, mask=exact.id_mask(far))[1]), "then exact stage 1 takes over"


def test_small_hnswlib_builds_are_deterministic(tmp_path):
    """Blocks under 4096 rows are inserted in one thread, so a small store gets the same graph
    every time (searches and tests do not depend on thread timing)."""
    pytest.importorskip("hnswlib")
    x, _ = _data(n=3000)
    saved = []
    for run in range(2):
        r = HopfieldRetriever(64, device="cpu", backend="hnswlib")
        r.add(x, np.arange(3000))
        r.save_index(tmp_path / f"g{run}.idx")
        saved.append((tmp_path / f"g{run}.idx").read_bytes())
    assert saved[0] == saved[1]
