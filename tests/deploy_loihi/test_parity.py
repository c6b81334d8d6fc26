"""Parity of the Lava models with the production path on real MiniLM embeddings.

Cues are the bundled demo corpus (and test distractors): real all-MiniLM-L6-v2 embeddings.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi import reference as R  # noqa: E402
from deploy_loihi.network import Precision, learn_hebbian, run_kwta, run_multihop  # noqa: E402
from deploy_loihi.simulate import bundled_texts  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.slow, pytest.mark.timeout(240)]

#: floating_pt: fraction of codes whose Lava winners equal the torch reference exactly.
MIN_FLOAT_EXACT = 0.99
#: fixed_pt: mean winner overlap with the torch floating-point reference.
MIN_FIXED_OVERLAP = 0.95
#: fixed_pt: fraction of codes identical to the production integer path (same 16-bit quantisation).
MIN_FIXED_EXACT_VS_INT = 1.0
#: Largest allowed gap, in recall points, between Lava fixed-point chain recall and production.
MAX_RECALL_GAP_POINTS = 2.0
M, N, K, HOPS = 120, 512, 16, 2


@pytest.fixture(scope="module")
def embeddings(minilm):
    return minilm.encode(bundled_texts()[:M]).astype(np.float64)


@pytest.fixture(scope="module")
def projection():
    from hybrid.functional import sign_projection

    return sign_projection(384, N, seed=0).numpy()


def test_kwta_parity(embeddings, projection):
    torch = pytest.importorskip("torch")
    from hybrid.functional import kwta, pattern_separate

    x = torch.from_numpy(embeddings).float()
    ref_float = kwta(x @ torch.from_numpy(projection).float().T, K).numpy()
    ref_int = pattern_separate(x, torch.from_numpy(projection), K).numpy()
    fl = run_kwta(embeddings, projection, K, precision=Precision.FLOATING)
    fx = run_kwta(embeddings, projection, K, precision=Precision.FIXED)
    exact = np.mean(np.all(fl.winners == ref_float, axis=1))
    assert exact >= MIN_FLOAT_EXACT, f"floating_pt exact {exact:.4f} < {MIN_FLOAT_EXACT}"
    overlap = np.mean([len(set(a) & set(b)) / K for a, b in zip(fx.winners, ref_float)])
    assert overlap >= MIN_FIXED_OVERLAP, f"fixed_pt overlap {overlap:.4f} < {MIN_FIXED_OVERLAP}"
    exact_int = np.mean(np.all(fx.winners == ref_int, axis=1))
    assert exact_int >= MIN_FIXED_EXACT_VS_INT, f"fixed_pt vs production int {exact_int:.4f} < {MIN_FIXED_EXACT_VS_INT}"
    # One reference: the production integer path (16-bit payload) agrees with the float reference too.
    prod_exact = np.mean(np.all(ref_int == ref_float, axis=1))
    assert prod_exact >= MIN_FLOAT_EXACT, f"production int vs torch float exact {prod_exact:.4f} < {MIN_FLOAT_EXACT}"
    fl_vs_int = np.mean(np.all(fl.winners == ref_int, axis=1))
    assert fl_vs_int >= MIN_FLOAT_EXACT, f"floating_pt vs production int exact {fl_vs_int:.4f} < {MIN_FLOAT_EXACT}"


@pytest.mark.parametrize("precision", list(Precision))
def test_hebbian_and_chain_parity(embeddings, projection, precision):
    torch = pytest.importorskip("torch")
    from hybrid import functional as F

    fixed = precision is Precision.FIXED
    stored = R.kwta_winners(R.project(embeddings, projection, fixed=fixed), K)
    heads = np.arange(0, M - HOPS, HOPS + 1)
    pre = np.concatenate([heads + i for i in range(HOPS)])
    n_small = 96  # Hebbian learning in Lava is O(N^2) per step: learn a slice of the code layer
    sub_pre, sub_post = stored[pre] % n_small, stored[pre + 1] % n_small
    heb = learn_hebbian(sub_pre, sub_post, n_small, precision=precision)
    prod = F.hebbian_outer(F.winners_to_code(torch.from_numpy(sub_pre), n_small),
                           F.winners_to_code(torch.from_numpy(sub_post), n_small)).T
    assert np.array_equal(heb.weights, prod.numpy().astype(np.int64)), f"{precision.value}: Hebbian W differs"

    w = R.hebbian_counts(stored[pre], stored[pre + 1], N)
    codes, mems = R.chain_recall(embeddings[heads], projection, stored, w, k=K, hops=HOPS, w_cap=1, fixed=True)
    res = run_multihop(embeddings[heads], projection, stored, w, k=K, hops=HOPS, w_cap=1, precision=precision)
    truth = heads[:, None] + np.arange(HOPS + 1)[None, :]
    prod_recall = 100 * np.mean(mems[:, 1:] == truth[:, 1:])
    lava_recall = 100 * np.mean(res.memories[:, 1:] == truth[:, 1:])
    per_hop = [np.mean([len(set(r[r >= 0]) & set(np.flatnonzero(c))) / K for r, c in zip(res.codes[t], codes[t])])
               for t in range(HOPS + 1)]
    assert abs(lava_recall - prod_recall) <= MAX_RECALL_GAP_POINTS, (
        f"{precision.value}: recall {lava_recall:.1f} vs production {prod_recall:.1f} "
        f"(> {MAX_RECALL_GAP_POINTS} points); per-hop overlap {per_hop}"
    )
    if fixed:
        assert min(per_hop) >= MIN_FIXED_EXACT_VS_INT, f"fixed_pt per-hop overlap {per_hop} with the production path"
