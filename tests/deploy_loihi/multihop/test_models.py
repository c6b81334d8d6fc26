"""MultiHopRecall reproduces the reference chain recall hop by hop (floating and fixed point)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lava")
from deploy_loihi.network import Precision, run_multihop  # noqa: E402
from deploy_loihi.reference import chain_recall, hebbian_counts, kwta_winners, project  # noqa: E402

pytestmark = [pytest.mark.lava, pytest.mark.timeout(180)]

D, N, K, M, HOPS, CHAIN = 32, 128, 8, 24, 2, 3
#: Per-hop fraction of cues whose Lava code equals the reference code exactly.
MIN_HOP_EXACT = 1.0


@pytest.mark.parametrize("precision", list(Precision))
def test_chain_recall_matches_reference(precision):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((M, D))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    p = rng.choice([-1, 1], size=(N, D)).astype(np.int8)
    fixed = precision is Precision.FIXED
    stored = kwta_winners(project(x, p, fixed=fixed), K)
    pre = np.array([i for i in range(M) if i % CHAIN != CHAIN - 1])
    w = hebbian_counts(stored[pre], stored[pre + 1], N)
    cues = x[::CHAIN]
    codes, mems = chain_recall(cues, p, stored, w, k=K, hops=HOPS, w_cap=1, fixed=fixed)
    res = run_multihop(cues, p, stored, w, k=K, hops=HOPS, w_cap=1, precision=precision)
    for t in range(HOPS + 1):
        got = [set(r[r >= 0].tolist()) for r in res.codes[t]]
        ref = [set(np.flatnonzero(c).tolist()) for c in codes[t]]
        exact = np.mean([a == b for a, b in zip(got, ref)])
        assert exact >= MIN_HOP_EXACT, f"{precision.value} hop {t}: exact {exact} < {MIN_HOP_EXACT}"
    assert np.array_equal(res.memories, mems), f"{precision.value}: recalled memories differ"
    # The chains are clean here: each cue walks its own chain.
    want = np.arange(0, M, CHAIN)[:, None] + np.arange(HOPS + 1)[None, :]
    assert np.array_equal(mems, want), "reference chain recall does not follow the stored chains"
