"""Pattern separation, the integer Hebbian matrix, chains, persistence and deletion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybrid import functional as F
from hybrid.associative import ASSOC_FILE, AssociativeConfig, AssociativeIndex
from hybrid.errors import InvalidInputError, NotFoundError, StoreCorruptError

SEED = 0
DIM = 64
N_CODE = 1024
K = 8
N_MEM = 400
CHAIN_LEN = 6
#: Fraction of 6-hop chains that must be recalled exactly at this small size.
MIN_EXACT_CHAINS = 0.99
#: Overlap/k of a correctly recalled hop.
MIN_HOP_SCORE = 0.99


def unit_vectors(n: int, d: int = DIM, seed: int = SEED) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def small_index(n: int = N_MEM) -> AssociativeIndex:
    idx = AssociativeIndex(DIM, AssociativeConfig(code_dim=N_CODE, k=K, seed=SEED))
    idx.set_codes(list(range(n)), unit_vectors(n))
    return idx


# ------------------------------------------------------------------ pure functions
def test_kwta_ties_to_lower_index_and_sorted():
    h = torch.tensor([[3, 1, 3, 3, 0]], dtype=torch.int32)
    assert F.kwta(h, 2).tolist() == [[0, 2]]
    assert F.kwta(h.float(), 2).tolist() == [[0, 2]], "float and integer paths must agree on ties"


def test_kwta_integer_fast_path_matches_stable_sort_reference():
    g = torch.Generator().manual_seed(SEED)
    for _ in range(50):
        h = torch.randint(-4, 5, (3, 40), generator=g, dtype=torch.int32)
        k = int(torch.randint(1, 40, (1,), generator=g))
        ref = torch.sort(torch.sort(h.float(), dim=1, descending=True, stable=True).indices[:, :k], dim=1).values
        assert torch.equal(F.kwta(h, k), ref)


def test_kwta_rejects_bad_k():
    with pytest.raises(ValueError, match="k must be"):
        F.kwta(torch.zeros(1, 4), 5)


def test_projection_is_integer_exact_and_order_independent():
    x = torch.from_numpy(unit_vectors(5))
    xq = F.quantize_unit(x)
    p = F.sign_projection(DIM, N_CODE, SEED)
    h = F.project_int(xq, p)
    exact = xq.to(torch.int64) @ p.to(torch.int64).T
    assert torch.equal(h.to(torch.int64), exact), "float32 accumulation of the int16 projection must be exact"
    assert xq.dtype == torch.int16 and int(xq.abs().max()) <= F.QUANT_SCALE


def test_quantize_unit_scales_and_legacy_int8_codes():
    x = torch.from_numpy(unit_vectors(50))
    assert F.QUANT_SCALE == 2 ** (F.QUANT_BITS - 1) - 1 == 32767
    # 16-bit payload: round-half-even of the exact (float64) product, as numpy.rint does.
    assert np.array_equal(F.quantize_unit(x).numpy(), np.rint(x.numpy().astype(np.float64) * F.QUANT_SCALE))
    # The legacy scale 127 still gives the former int8 values.
    legacy = F.quantize_unit(x, F.LEGACY_QUANT_SCALE)
    assert np.array_equal(legacy.numpy(), np.clip(np.rint(x.numpy().astype(np.float64) * 127), -127, 127))
    assert F.quantize_unit(torch.tensor([[2.0, -3.0]]), 100).tolist() == [[100, -100]], "clip to [-s, s]"
    for bad in (0, F.MAX_QUANT_SCALE + 1, 1.5, True):
        with pytest.raises(ValueError, match="scale must be"):
            F.quantize_unit(x, bad)


def test_projection_bounds_unit_vectors_and_worst_case():
    d, s = 384, F.QUANT_SCALE
    x = torch.from_numpy(unit_vectors(200, d))
    xq = F.quantize_unit(x)
    unit_bound = s * np.sqrt(d) + d / 2
    assert unit_bound <= 2**23 - 1, "unit vectors must fit the 24-bit saturating current"
    assert int(xq.to(torch.int64).abs().sum(1).max()) <= unit_bound
    # Worst case (every coordinate at ±s): s d = 12 582 528 exceeds 2^23 - 1 but is still float32-exact.
    worst = torch.full((1, d), s, dtype=torch.int16)
    p = F.sign_projection(d, 64, SEED)
    assert s * d > 2**23 - 1 and s * d < F.FLOAT32_EXACT_INT
    assert torch.equal(F.project_int(worst, p).to(torch.int64), worst.to(torch.int64) @ p.to(torch.int64).T)
    with pytest.raises(ValueError, match="2\\^24"):
        F.project_int(torch.full((1, 1024), s, dtype=torch.int32), F.sign_projection(1024, 8, SEED))


def test_legacy_scale_checkpoint_keeps_its_codes(tmp_path):
    x = unit_vectors(60)
    idx = AssociativeIndex(DIM, AssociativeConfig(code_dim=N_CODE, k=K, seed=SEED, quant_scale=F.LEGACY_QUANT_SCALE))
    idx.set_codes(list(range(60)), x)
    idx.link([(i, i + 1) for i in range(59)])
    idx.save(tmp_path / ASSOC_FILE)
    back, _ = AssociativeIndex.load(tmp_path / ASSOC_FILE)
    assert back.config.quant_scale == F.LEGACY_QUANT_SCALE, "the recorded scale must be kept"
    ref = F.pattern_separate(torch.from_numpy(x), back.projection, K, scale=F.LEGACY_QUANT_SCALE)
    assert torch.equal(back.encode(x), ref), "a legacy checkpoint must keep encoding with its own scale"
    assert [h.id for h in back.chain(3, 4)] == [4, 5, 6, 7]


def test_pattern_separation_is_deterministic_and_reproducible():
    x = torch.from_numpy(unit_vectors(10))
    a = F.pattern_separate(x, F.sign_projection(DIM, N_CODE, SEED), K)
    b = F.pattern_separate(x, F.sign_projection(DIM, N_CODE, SEED), K)
    assert torch.equal(a, b) and a.shape == (10, K)
    idx = small_index(10)
    assert torch.equal(idx.encode(x.numpy()), a), "the index must use the reference pattern separation"


def test_hebbian_update_counts_coactive_pairs_and_unlearns_exactly():
    w = torch.zeros(6, 6, dtype=torch.uint8)
    pre = torch.tensor([[0, 1], [0, 2]])
    post = torch.tensor([[3, 4], [3, 5]])
    w1 = F.hebbian_update(w, pre, post)
    assert int(w.sum()) == 0, "the pure form must not modify its input"
    dense = F.hebbian_outer(F.winners_to_code(pre, 6), F.winners_to_code(post, 6))  # [post, pre]
    assert torch.equal(w1.to(torch.float32), dense.T), "W[pre, post] must equal the summed outer products"
    assert int(w1[0, 3]) == 2
    w2 = F.hebbian_update(w1, pre[:1], post[:1], sign=-1)
    assert torch.equal(w2, F.hebbian_update(w, pre[1:], post[1:])), "unlearning must remove exactly one pair"


def test_hebbian_update_saturates():
    w = torch.full((2, 2), F.W_SATURATION - 1, dtype=torch.uint8)
    w = F.hebbian_update(w, torch.tensor([[0], [0]]), torch.tensor([[1], [1]]))
    assert int(w[0, 1]) == F.W_SATURATION


def test_hop_step_reference_matches_index():
    idx = small_index(50)
    idx.link([(i, i + 1) for i in range(49)])
    codes = torch.stack([idx.code_of(i) for i in range(5)])
    ref, ref_active = F.hop_step(idx.w, codes, K, idx.config.w_cap)
    fast, fast_active = idx.hop_winners(codes)
    assert torch.equal(ref, fast) and torch.equal(ref_active, fast_active)
    _, rows = F.cleanup(ref, ref_active, torch.stack([idx.code_of(i) for i in range(50)]), N_CODE)
    assert rows[:, 0].tolist() == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------- the index
def test_chains_recalled_exactly():
    idx = small_index()
    perm = np.random.default_rng(SEED).permutation(N_MEM).tolist()
    idx.link(list(zip(perm, perm[1:])))
    starts = perm[: N_MEM - CHAIN_LEN : 7]
    exact = 0
    for s in starts:
        hops = idx.chain(s, CHAIN_LEN)
        j = perm.index(s)
        want = perm[j + 1 : j + 1 + CHAIN_LEN]
        exact += [h.id for h in hops] == want
        assert all(h.score >= MIN_HOP_SCORE for h in hops), f"hop scores below {MIN_HOP_SCORE}: {hops}"
        assert hops[-1].path == [s] + want
    assert exact / len(starts) >= MIN_EXACT_CHAINS, f"exact chains {exact}/{len(starts)} < {MIN_EXACT_CHAINS}"


def test_link_is_incremental_and_idempotent():
    idx = small_index(20)
    assert idx.link([(0, 1)]) == 1
    w_before = idx.w.clone()
    assert idx.link([(0, 1), (1, 1)]) == 0, "a known pair and a self-link learn nothing"
    assert torch.equal(idx.w, w_before)
    idx.link([(2, 3)])
    expect = F.hebbian_update(w_before, idx.code_of(2)[None], idx.code_of(3)[None])
    assert torch.equal(idx.w, expect), "adding a link must add exactly its outer product"


def test_link_unknown_memory_is_an_error():
    idx = small_index(3)
    with pytest.raises(NotFoundError, match="memory 99"):
        idx.link([(0, 99)])


def test_remove_unlearns_associations():
    idx = small_index(30)
    idx.link([(0, 1), (1, 2), (5, 6)])
    only = AssociativeIndex(DIM, idx.config)
    only.set_codes(list(range(30)), unit_vectors(30))
    only.link([(5, 6)])
    idx.remove([1])
    assert torch.equal(idx.w, only.w), "removing a memory must remove all its associations from W"
    assert idx.edges() == [(5, 6)]
    assert 1 not in idx
    assert idx.chain(0, 1) == [] or idx.chain(0, 1)[0].id != 1


def test_updated_code_relearns_edges():
    idx = small_index(10)
    idx.link([(0, 1)])
    new_vec = unit_vectors(1, seed=123)
    idx.set_codes([1], new_vec)
    ref = AssociativeIndex(DIM, idx.config)
    vecs = unit_vectors(10)
    vecs[1] = new_vec[0]
    ref.set_codes(list(range(10)), vecs)
    ref.link([(0, 1)])
    assert torch.equal(idx.w, ref.w)
    assert idx.chain(0, 1)[0].id == 1


def test_spread_returns_several_associates():
    idx = small_index(60)
    idx.link([(0, 10), (0, 20), (0, 30)])
    got = dict(idx.spread([0], m=5)[0])
    assert set(got) == {10, 20, 30}, f"spread must recall all three associates, got {got}"


def test_save_load_roundtrip(tmp_path):
    idx = small_index(40)
    idx.link([(i, i + 1) for i in range(39)])
    idx.remove([7])
    path = tmp_path / ASSOC_FILE
    idx.save(path, {"link_seq": "5"})
    back, meta = AssociativeIndex.load(path)
    assert meta["link_seq"] == "5"
    assert torch.equal(back.w, idx.w) and back.edges() == idx.edges()
    assert torch.equal(back.projection, idx.projection)
    assert [h.id for h in back.chain(10, 3)] == [h.id for h in idx.chain(10, 3)] == [11, 12, 13]


def test_load_truncated_file_names_path(tmp_path):
    idx = small_index(5)
    path = tmp_path / ASSOC_FILE
    idx.save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(StoreCorruptError, match=str(path.name)):
        AssociativeIndex.load(path)


def test_config_rejects_bad_values():
    with pytest.raises(InvalidInputError, match="k must be"):
        AssociativeConfig(code_dim=16, k=32)
    with pytest.raises(InvalidInputError, match="w_cap"):
        AssociativeConfig(w_cap=0)
    with pytest.raises(InvalidInputError, match="quant_scale"):
        AssociativeConfig(quant_scale=F.MAX_QUANT_SCALE + 1)
    assert AssociativeConfig().quant_scale == F.QUANT_SCALE


def test_many_links_stay_bounded_with_cap():
    """Hub memories: the capped hop input never exceeds k * w_cap whatever the counts."""
    idx = small_index(100)
    idx.link([(0, j) for j in range(1, 100)] + [(j, 0) for j in range(1, 100)])
    h = idx._hop_input(idx.code_of(0)[None])
    assert int(h.max()) <= K * idx.config.w_cap


def test_numpy_kwta_twin_matches_reference():
    from hybrid.associative import kwta_np

    g = torch.Generator().manual_seed(SEED)
    for _ in range(50):
        h = torch.randint(-3, 4, (4, 64), generator=g, dtype=torch.int32)
        k = int(torch.randint(1, 64, (1,), generator=g))
        assert np.array_equal(kwta_np(h.numpy(), k), F.kwta(h, k).numpy())


def test_centred_codes_match_reference_and_persist(tmp_path):
    x = unit_vectors(200)
    idx = AssociativeIndex(DIM, AssociativeConfig(code_dim=N_CODE, k=K, seed=SEED))
    idx.fit_centre(x)
    idx.set_codes(list(range(200)), x)
    ref = F.pattern_separate(torch.from_numpy(x), idx.projection, K, centre=torch.from_numpy(idx.centre))
    assert torch.equal(idx.encode(x), ref), "index codes must equal the centred reference"
    with pytest.raises(InvalidInputError, match="centre"):
        idx.fit_centre(x)
    idx.save(tmp_path / ASSOC_FILE)
    back, _ = AssociativeIndex.load(tmp_path / ASSOC_FILE)
    assert np.array_equal(back.centre, idx.centre) and torch.equal(back.encode(x), ref)


def test_centre_off_keeps_raw_codes():
    x = unit_vectors(20)
    idx = AssociativeIndex(DIM, AssociativeConfig(code_dim=N_CODE, k=K, center=False))
    idx.fit_centre(x)
    assert not idx.centre.any()
    assert torch.equal(idx.encode(x), F.pattern_separate(torch.from_numpy(x), idx.projection, K))


def test_legacy_int8_scale_store_reopens(store_path, hash_encoder):
    """A store whose checkpoint records the former scale 127 loads as is, or is rebuilt under a new config."""
    import dataclasses

    from hybrid import Memory
    from hybrid.linking import LinkConfig

    small = AssociativeConfig(code_dim=N_CODE, k=K)
    legacy = dataclasses.replace(small, quant_scale=F.LEGACY_QUANT_SCALE)
    facts = ["The spare key is under the blue flower pot.", "Quarterly tax forms are due on the fifteenth.",
             "The cat's vet appointment moved to Thursday morning.", "The router password is on the fridge."]

    def open_mem(cfg):
        return Memory.open(store_path, encoder=hash_encoder, device="cpu", associative=cfg,
                           links=LinkConfig(order=False, entities=False))

    with open_mem(legacy) as mem:
        ids = mem.add(facts)
        mem.link(ids[0], ids[3])
        w = mem.associations.index.w.clone()
    with open_mem(legacy) as mem:  # same config: the checkpoint loads with its recorded scale
        assert mem.associations.index.config.quant_scale == F.LEGACY_QUANT_SCALE
        assert (mem.associations.index.w == w).all()
    with open_mem(small) as mem:  # new default scale: codes and W rebuilt from the database
        idx = mem.associations.index
        assert idx.config.quant_scale == F.QUANT_SCALE and idx.edges() == [(ids[0], ids[3])]
        assert [h.id for h in idx.chain(ids[0], 1)] == [ids[3]]


# ------------------------------------------------- checkpoint bound to the database (issue 15)
CHAIN_FACTS = ["The spare key is under the blue flower pot.", "Quarterly tax forms are due on the fifteenth.",
               "The cat's vet appointment moved to Thursday morning.", "The router password is on the fridge."]


def _open_small(path, enc):
    from hybrid import Memory
    from hybrid.linking import LinkConfig

    return Memory.open(path, encoder=enc, device="cpu", associative=AssociativeConfig(code_dim=N_CODE, k=K),
                       links=LinkConfig(order=False, entities=False))


def _rewrite_checkpoint(path, edit):
    """Rewrite the safetensors file with ``edit(tensors, metadata)`` applied (a valid file, other content)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as fh:
        meta = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    edit(tensors, meta)
    save_file(tensors, str(path), metadata=meta)


def _flip_winner(t, meta):
    t["code_winners"][0, 0] = N_CODE + 5  # outside the code layer: IndexError in a hop before the fix


def _change_header(t, meta):
    meta["config"] = meta["config"].replace(f'"k": {K}', f'"k": {K + 3}')  # ValueError before the fix


def _swap_winner(t, meta):
    t["code_winners"][0, 0] = (int(t["code_winners"][0, 0]) + 1) % N_CODE  # in range, but not this database's


@pytest.mark.parametrize("edit", [_flip_winner, _change_header, _swap_winner])
def test_damaged_checkpoint_is_rebuilt_from_the_database(store_path, hash_encoder, edit):
    with _open_small(store_path, hash_encoder) as mem:
        ids = mem.add(CHAIN_FACTS)
        mem.link(ids[0], ids[3])
        codes = mem.associations.index.code_of(ids[0]).clone()
    _rewrite_checkpoint(store_path / ASSOC_FILE, edit)
    with pytest.warns(RuntimeWarning, match="checkpoint not used"), _open_small(store_path, hash_encoder) as mem:
        res = mem.search(CHAIN_FACTS[0], 2, hops=1)
        assert [r.id for r in res] == [ids[0], ids[3]]
        assert torch.equal(mem.associations.index.code_of(ids[0]), codes)
    with _open_small(store_path, hash_encoder) as mem:  # rewritten at close: trusted again, no warning
        assert mem.associations._from_file and mem.associations.index.edges() == [(ids[0], ids[3])]


def test_restored_database_does_not_keep_phantom_links(store_path, hash_encoder, tmp_path):
    """memory.db restored from a backup: the checkpoint written later holds links the database
    never had, between ids the database then gives to new memories."""
    import shutil
    import sqlite3

    from hybrid.store import DATABASE

    backup = tmp_path / "backup.db"
    with _open_small(store_path, hash_encoder) as mem:
        mem.add(CHAIN_FACTS[:2])
        _ = mem.associations  # a checkpoint exists before the backup
        src = sqlite3.connect(store_path / DATABASE)
        dst = sqlite3.connect(backup)
        src.backup(dst)
        src.close()
        dst.close()
        a, b = mem.add(CHAIN_FACTS[2:])
        mem.link(a, b)
    for suffix in ("-wal", "-shm"):
        (store_path / (DATABASE + suffix)).unlink(missing_ok=True)
    shutil.copy(backup, store_path / DATABASE)
    with _open_small(store_path, hash_encoder) as mem:
        new = mem.add(["Bicycle tyres need air every two weeks.", "Grandma's lasagna uses three cheeses."])
        assert new == [a, b], "the restored database reuses the ids"
        with pytest.warns(RuntimeWarning, match="checkpoint not used"):
            assert mem.associations.index.edges() == []
        assert a not in mem.associations.index and b not in mem.associations.index
