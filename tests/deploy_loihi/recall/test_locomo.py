"""The issue's parity targets on LoCoMo development conversation 0 (real MiniLM; skipped without the data)."""

from __future__ import annotations

import pytest

pytest.importorskip("lava")

pytestmark = [pytest.mark.lava, pytest.mark.slow]

#: Targets: the float network's top-10 overlap with production and its recall_all@10 gap; the same for fixed point.
MIN_FLOAT_OVERLAP, MAX_FLOAT_GAP = 0.95, 0.01
MIN_FIXED_OVERLAP, MAX_FIXED_GAP = 0.90, 0.03


def test_conversation_0_parity(locomo_dev, minilm, tmp_path):
    from deploy_loihi.recall import NetworkConfig
    from deploy_loihi.recall_report import locomo_questions, parity
    from hybrid.eval.locomo import load_locomo
    from hybrid.eval.methods import StorePool

    part = load_locomo(locomo_dev, conversations=[0]).partitions[0]
    pool = StorePool(minilm, tmp_path)
    try:
        mem, ids = pool.get(part, None, None, {})
        texts, relevant = locomo_questions(ids, part)
        # searches inside their step: the same rankings as the stepped search (test_network.py checks
        # both against one reference) in ~1/20 of the simulated steps, so this fits the CI budget
        rep = parity(mem, texts, relevant, source="LoCoMo conversation 0", cfg=NetworkConfig(stepped_search=False))
    finally:
        pool.close()
    ra = rep["recall_all_at_10"]
    assert rep["parity"]["float"]["top10_overlap"] >= MIN_FLOAT_OVERLAP, rep["parity"]["float"]
    assert abs(ra["float"] - ra["production"]) <= MAX_FLOAT_GAP, ra
    assert rep["parity"]["fixed"]["top10_overlap"] >= MIN_FIXED_OVERLAP, rep["parity"]["fixed"]
    assert abs(ra["fixed"] - ra["production"]) <= MAX_FIXED_GAP, ra
