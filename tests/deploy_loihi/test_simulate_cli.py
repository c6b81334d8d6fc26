"""``hhmem loihi simulate`` end to end on a tiny configuration (and its argument checks)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("lava")
from deploy_loihi.resources import CORES_PER_CHIP, estimate  # noqa: E402
from hybrid.cli import main  # noqa: E402

#: The tiny run must keep fixed-point recall within this many points of production.
MAX_RECALL_GAP_POINTS = 2.0
#: The fixed-point threshold search with its tie phase selects exactly the production top-k.
MIN_DYNAMICS_EXACT_FIXED = 1.0


def test_bad_arguments():
    r = CliRunner().invoke(main, ["loihi", "simulate", "--hops", "0"])
    assert r.exit_code != 0 and "hops" in r.output
    r = CliRunner().invoke(main, ["loihi", "simulate", "-k", "99", "--code-dim", "8"])
    assert r.exit_code != 0 and "k must be" in r.output


def test_resource_estimate_grows_with_memories():
    small = estimate(1000, code_dim=2048, k=16, dim_in=384, hops=3)
    big = estimate(100_000, code_dim=2048, k=16, dim_in=384, hops=3)
    assert big["neurons"] - small["neurons"] == 99_000, "one clean-up neuron per memory"
    assert big["cores"] > small["cores"] >= 1 and big["chips"] >= 1
    assert big["cores"] <= big["chips"] * CORES_PER_CHIP
    with pytest.raises(ValueError, match="memories"):
        estimate(0, code_dim=8, k=1, dim_in=4, hops=1)


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_simulate_tiny(tmp_path, minilm, monkeypatch):
    import deploy_loihi.simulate as sim

    real = sim.simulate
    monkeypatch.setattr(sim, "simulate", lambda cfg, texts: real(cfg, texts, encoder=minilm, progress=False))
    out = tmp_path / "rep"
    r = CliRunner().invoke(
        main, ["loihi", "simulate", "--memories", "24", "--code-dim", "128", "-k", "8", "--hops", "2",
               "--timeout", "200", "--out", str(out)],
    )
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "loihi_simulate.json").read_text())
    assert (out / "loihi_simulate.md").is_file() and (out / "loihi_simulate.png").is_file()
    assert set(rep["lava"]) == {"floating_pt", "fixed_pt"}
    fx = rep["lava"]["fixed_pt"]
    assert fx["hebbian"]["identical_to_production"], "fixed-point Hebbian W must equal the production counts"
    assert abs(fx["multihop"]["recall_delta_points"]) <= MAX_RECALL_GAP_POINTS, fx["multihop"]
    assert fx["multihop"]["latency_steps_per_recall"] == 3 * 2 + 2
    assert rep["reference_matches_pattern_separate"], "NumPy reference != production pattern_separate"
    dyn = fx["kwta_dynamics"]["tie_phase"]
    assert dyn["exact_set_rate"] >= MIN_DYNAMICS_EXACT_FIXED, f"threshold search with tie phase: {dyn}"
    assert fx["kwta_dynamics"]["threshold_only"]["contains_topk"] == 1.0, "the threshold phase must keep the top-k"
    assert [e["memories"] for e in rep["resources"]["estimates"]] == [1000, 20000, 100000]
    assert rep["versions"]["lava-nc"] == "0.10.0"
