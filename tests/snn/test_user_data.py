"""The spiking tools on the user's data: decoders restore the input's norm, ``--corpus`` takes a
``.npy`` array of vectors, and ``lif-baseline --corpus`` runs on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from hybrid.cli import main
from snn import bench
from snn import encoders as E

#: Decoded norm / input norm for deterministic codes at these settings (quantisation only).
NORM_RTOL = 0.02
SETTINGS = [("rate", {"num_steps": 64}), ("latency", {"num_steps": 64}), ("sigma_delta", {"num_steps": 2, "bits": 8}),
            ("rate", {"num_steps": 64, "x_max": 0.5})]


def vectors(n: int = 30, d: int = 48, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return x * np.linspace(0.5, 3.0, n, dtype=np.float32)[:, None]  # rows of different norms


@pytest.mark.parametrize(("code", "kwargs"), SETTINGS)
def test_decoders_return_the_input_norm(code, kwargs):
    x = torch.from_numpy(vectors()).clamp(-0.5, 0.5) if "x_max" in kwargs else torch.from_numpy(vectors())
    y, z = E.round_trip(x, code, **kwargs)
    ratio = y.norm(dim=1) / x.norm(dim=1)
    assert torch.allclose(ratio, torch.ones_like(ratio), rtol=NORM_RTOL), f"{code}: norm ratios {ratio[:4].tolist()}"
    enc, dec = E.make_codec(code, **kwargs)
    same = dec(z, scale=enc.full_scale(x))
    assert torch.equal(same, y)
    if "x_max" not in kwargs:  # per-row scaling without the scale: the max-abs units of before
        unit = dec(z)
        assert float(unit.abs().amax(dim=1).max()) <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="scale"):
        dec(z, scale=torch.ones(3))
    with pytest.raises(ValueError, match="scale"):
        dec(z, scale=-1.0)


def test_read_vectors_errors(tmp_path):
    good = tmp_path / "v.npy"
    np.save(good, vectors())
    assert bench.read_vectors(good).shape == (30, 48)
    cases = {"obj.npy": np.array([{"a": 1}] * 20, dtype=object), "flat.npy": np.zeros(50),
             "few.npy": np.zeros((5, 4)), "nan.npy": np.full((20, 4), np.nan)}
    messages = {"obj.npy": "not a readable .npy", "flat.npy": "2-D array", "few.npy": "at least 12",
                "nan.npy": "NaN"}
    for name, arr in cases.items():
        np.save(tmp_path / name, arr, allow_pickle=True)
        with pytest.raises(ValueError, match=messages[name]):
            bench.read_vectors(tmp_path / name)
    (tmp_path / "text.npy").write_text("not numpy")
    with pytest.raises(ValueError, match="text.npy"):
        bench.read_vectors(tmp_path / "text.npy")


def test_roundtrip_and_lif_baseline_on_a_npy_corpus(tmp_path):
    corpus = tmp_path / "emb.npy"
    np.save(corpus, vectors(60, 32))
    out = tmp_path / "rt"
    res = CliRunner().invoke(main, ["snn", "roundtrip", "--corpus", str(corpus), "--steps", "32", "--bits", "8",
                                    "--bernoulli-steps", "64", "--no-progress", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "roundtrip.json").read_text())
    assert rep["n_vectors"] == 60 and rep["dim"] == 32 and rep["encoder"] == "vectors from emb.npy"
    det = [r for r in rep["rows"] if r["code"] != "bernoulli"]
    assert all(abs(r["norm_ratio"] - 1) < NORM_RTOL for r in det), [r["norm_ratio"] for r in det]

    out = tmp_path / "lif"
    res = CliRunner().invoke(main, ["snn", "lif-baseline", "--corpus", str(corpus), "--pairs", "5",
                                    "--background", "0,10", "--steps", "20,200", "--timing-repeats", "1",
                                    "--no-progress", "--out", str(out)])
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "lif_baseline.json").read_text())
    assert rep["corpus"] == str(corpus) and {p["background"] for p in rep["peers"]} == {0, 10}
    assert all(p["exact_cosine_recall"] == 1.0 for p in rep["peers"]), "noise 0.5 cues must find their facts"

    bad = CliRunner().invoke(main, ["snn", "lif-baseline", "--corpus", str(corpus), "--pairs", "60"])
    assert bad.exit_code != 0 and "at least 61 vectors" in bad.output
    (tmp_path / "x.npy").write_bytes(b"garbage")
    bad = CliRunner().invoke(main, ["snn", "roundtrip", "--corpus", str(tmp_path / "x.npy")])
    assert bad.exit_code != 0 and "not a readable .npy" in bad.output and "Traceback" not in bad.output
