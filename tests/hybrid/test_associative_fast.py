"""The vectorised recall paths of AssociativeIndex (spread, chain, clean-up, packed W) against
brute-force forms built from the reference functions of hybrid.functional."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybrid import associative as assoc_mod
from hybrid import functional as F
from hybrid.associative import AssociativeConfig, AssociativeIndex

SEED = 0
DIM = 32
N_MEM = 300
#: Source batches compared per configuration.
N_BATCHES = 15
#: Sources per spread batch (the multi-hop frontier size of a k = 10 search).
BATCH = 10
#: Results must be identical to the reference: same ids, same order, same strength (exact floats).
EXACT = "identical"

CONFIGS = {
    "default-like": dict(code_dim=256, k=8),
    "k=16 (5 bit planes)": dict(code_dim=1024, k=16),
    "w_cap=3": dict(code_dim=512, k=8, w_cap=3),
    "k*w_cap>255 (int32 path)": dict(code_dim=128, k=8, w_cap=40, spread_width=2, min_strength=0.02),
    "low min_strength": dict(code_dim=300, k=10, min_strength=0.2, spread_width=2),
}


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def recall_path(request, kernel_path):
    """Run every test on the numba kernels (skipped without numba) and on the NumPy fallback."""
    return kernel_path(request.param, assoc_mod, "_NB")


def unit_vectors(n: int, seed: int = SEED) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def busy_index(cfg: dict, *, tail: int = 40, removed: int = 20) -> AssociativeIndex:
    """Many random links (a well-filled W), some removed memories and rows past the inverted index."""
    rng = np.random.default_rng(SEED)
    idx = AssociativeIndex(DIM, AssociativeConfig(**cfg))
    x = unit_vectors(N_MEM + tail)
    idx.set_codes(list(range(N_MEM)), x[:N_MEM])
    idx._reindex()
    src = np.repeat(np.arange(N_MEM), 3)
    dst = rng.integers(0, N_MEM, size=src.size)
    idx.link([(int(a), int(b)) for a, b in zip(src, dst) if a != b])
    idx.set_codes(list(range(N_MEM, N_MEM + tail)), x[N_MEM:])  # not yet in the inverted index
    idx.link([(int(a), N_MEM + i % tail) for i, a in enumerate(rng.choice(N_MEM, 2 * tail))])
    idx.remove(rng.choice(N_MEM, removed, replace=False).tolist())
    return idx


def reference_spread(idx: AssociativeIndex, sources: list[int], m: int) -> list[list[tuple[int, float]]]:
    """Brute force over every stored row with functional.hop_input / functional.kwta."""
    cfg = idx.config
    kk = cfg.k * cfg.spread_width
    norm = float(cfg.k * cfg.k * cfg.w_cap)
    size = idx._size
    stored = idx._codes[:size].numpy()
    out = []
    for s in sources:
        if s not in idx or s not in idx._out:
            out.append([])
            continue
        h = F.hop_input(idx.w, idx.code_of(s)[None], cfg.w_cap)
        win = F.kwta(h, kk)[0].numpy()
        hv = h[0].numpy()[win]
        weight = np.zeros(idx.code_dim + 1, dtype=np.int64)
        weight[win[hv > 0]] = hv[hv > 0]
        score = weight[stored].sum(axis=1)
        rows = [r for r in range(size) if idx._row_ids[r] >= 0 and score[r] > 0]
        rows.sort(key=lambda r: (-score[r], r))
        res = []
        for r in rows:
            mid, st = int(idx._row_ids[r]), min(1.0, int(score[r]) / norm)
            if mid != s and st >= cfg.min_strength:
                res.append((mid, st))
        out.append(res[:m])
    return out


@pytest.mark.parametrize("name", list(CONFIGS))
def test_spread_matches_brute_force_reference(name):
    idx = busy_index(CONFIGS[name])
    assert idx._size > idx._main_rows and idx._size > len(idx), "the index must have tail rows and dead rows"
    live = sorted(idx._row_of)
    rng = np.random.default_rng(SEED + 1)
    found = 0
    for _ in range(N_BATCHES):
        sources = rng.choice(live, BATCH, replace=False).tolist() + [10**9]  # unknown id -> []
        for m in (1, 4):
            got, want = idx.spread(sources, m), reference_spread(idx, sources, m)
            assert got == want, f"[{name}] spread({sources}, m={m}) must be {EXACT} to the reference:\n{got}\n{want}"
            found += sum(len(r) for r in got)
    assert found > 0, f"[{name}] the comparison must include recalled associates"


@pytest.mark.parametrize("name", list(CONFIGS))
def test_chain_matches_hop_step_and_cleanup(name):
    idx = busy_index(CONFIGS[name])
    cfg = idx.config
    stored = idx._codes[: idx._size]
    rng = np.random.default_rng(SEED + 2)
    for s in rng.choice(sorted(idx._row_of), N_BATCHES, replace=False).tolist():
        want, cur, path = [], idx.code_of(s)[None], [s]
        for h in range(1, 4):
            nxt, active = F.hop_step(idx.w, cur, cfg.k, cfg.w_cap)
            ov, rows = F.cleanup(nxt, active, stored, idx.code_dim, m=1)
            if int(ov[0, 0]) == 0:
                break
            mid = int(idx._row_ids[int(rows[0, 0])])
            path = path + [mid]
            want.append((h, mid, int(ov[0, 0]) / cfg.k, path))
            cur = idx.code_of(mid)[None]
        got = [(hp.hop, hp.id, hp.score, hp.path) for hp in idx.chain(s, 3)]
        assert got == want, f"[{name}] chain({s}) must be {EXACT} to hop_step + cleanup: {got} vs {want}"
        nxt, active = idx.hop_winners(idx.code_of(s)[None], k=cfg.k * cfg.spread_width)
        ref_n, ref_a = F.hop_step(idx.w, idx.code_of(s)[None], cfg.k * cfg.spread_width, cfg.w_cap)
        assert torch.equal(nxt, ref_n) and torch.equal(active, ref_a), f"[{name}] hop_winners differs from hop_step"


def test_cleanup_m_best_ties_to_lower_row():
    idx = busy_index(CONFIGS["default-like"])
    stored = idx._codes[: idx._size]
    probe = torch.stack([idx.code_of(m) for m in sorted(idx._row_of)[:10]])
    got = idx.cleanup(probe, m=5)
    ov = F.code_overlap(probe, None, stored, idx.code_dim).numpy()
    ov[:, idx._row_ids[: idx._size] < 0] = 0
    for b in range(probe.shape[0]):
        rows = sorted((r for r in range(idx._size) if ov[b, r] > 0), key=lambda r: (-ov[b, r], r))[:5]
        want = [(int(idx._row_ids[r]), int(ov[b, r])) for r in rows]
        assert got[b] == want, f"cleanup row {b} must be {EXACT} to code_overlap ranking: {got[b]} vs {want}"


def packed_matches_w(idx: AssociativeIndex) -> bool:
    return np.array_equal(idx._wbits, np.packbits(idx.w.numpy() > 0, axis=1, bitorder="little"))


def test_packed_w_follows_every_update(tmp_path):
    idx = AssociativeIndex(DIM, AssociativeConfig(code_dim=100, k=6))  # N not a multiple of 8
    idx.set_codes(list(range(60)), unit_vectors(60))
    idx.link([(i, (i * 7 + 3) % 60) for i in range(60)])
    assert packed_matches_w(idx), "packed W after link"
    idx.unlink([(i, (i * 7 + 3) % 60) for i in range(0, 60, 3)])
    assert packed_matches_w(idx), "packed W after unlink"
    idx.remove([5, 6, 7])
    assert packed_matches_w(idx), "packed W after remove"
    idx.set_codes([8], unit_vectors(1, seed=9))
    assert packed_matches_w(idx), "packed W after a code change"
    idx._saturated = True  # force the rebuild-from-edges path of unlearning
    idx.unlink([(10, 13)])
    assert packed_matches_w(idx), "packed W after a rebuild"
    idx.save(tmp_path / "a.safetensors")
    back, _ = AssociativeIndex.load(tmp_path / "a.safetensors")
    assert packed_matches_w(back), "packed W after load"
    capped = AssociativeIndex(DIM, AssociativeConfig(code_dim=100, k=6, w_cap=2))
    capped.set_codes([0, 1], unit_vectors(2))
    capped.link([(0, 1)])
    assert capped._wbits is None, "the packed copy is only kept for w_cap = 1"


def test_pruned_multi_hop_is_identical_to_the_full_spread(monkeypatch):
    """multi_hop(prune=True) skips only frontier memories that cannot reach the top k: same output."""
    idx = busy_index(CONFIGS["k=16 (5 bit planes)"])
    live = np.array(sorted(idx._row_of))
    rng = np.random.default_rng(SEED + 2)
    calls = {"sources": 0}
    spread = idx.spread

    def counting_spread(sources, m):
        calls["sources"] += len(sources)
        return spread(sources, m)

    monkeypatch.setattr(idx, "spread", counting_spread)
    k, n_q = 5, 40
    ids = np.stack([rng.choice(live, 8, replace=False) for _ in range(n_q)])
    # Wide, narrow, negative and tied hop-0 score profiles.
    scores = np.sort(rng.uniform(-0.5, 1.0, size=(n_q, 8)), axis=1)[:, ::-1].astype(np.float32)
    scores[::4] = np.float32(0.9)
    scores[1::4] = np.linspace(1.0, 0.05, 8, dtype=np.float32)
    ids[2::4, 6:] = -1
    skipped = 0
    for hops in (1, 2, 3):
        for decay in (0.7, 1.0):
            before = calls["sources"]
            full = assoc_mod.multi_hop(idx, scores, ids, k, hops, decay=decay, prune=False)
            unpruned = calls["sources"] - before
            got = assoc_mod.multi_hop(idx, scores, ids, k, hops, decay=decay)
            skipped += unpruned - (calls["sources"] - before - unpruned)
            np.testing.assert_array_equal(got[0], full[0], err_msg=f"scores must be {EXACT} (hops={hops}, decay={decay})")
            np.testing.assert_array_equal(got[1], full[1], err_msg=f"ids must be {EXACT} (hops={hops}, decay={decay})")
            assert got[2:] == full[2:], f"hops and paths must be {EXACT} (hops={hops}, decay={decay})"
    assert skipped > 0, "the score profiles must include frontiers that pruning skips"
    assert any(h > 0 for hl in full[2] for h in hl), "the comparison must include associates reached by a hop"
