"""NIR export of the rate encoder and the static WTA layer, written to disk, read back and checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("nir")

from snn import nir_export as X  # noqa: E402
from snn.encoders import LatencyEncoder, RateConfig, RateEncoder  # noqa: E402

ATOL_FP32 = 1e-6
DIM = 24


def test_rate_encoder_round_trips_through_nir_file(tmp_path):
    enc = RateEncoder(RateConfig(num_steps=16, x_max=0.5))
    path = X.write(X.export_rate_encoder(enc, DIM), tmp_path / "enc.nir")
    back = X.import_rate_encoder(X.read(path))
    torch.manual_seed(0)
    x = torch.randn(5, DIM) * 0.3  # some components beyond x_max: saturation must match too
    assert torch.equal(back(x), enc(x)), "re-imported NIR encoder spikes differ from the original"


def test_without_metadata_nir_semantics_differ(tmp_path):
    """What NIR itself defines (reset to v_reset, v_0 = 0) is not the encoder: counts can differ."""
    enc = RateEncoder(RateConfig(num_steps=16, x_max=0.5))
    graph = X.export_rate_encoder(enc, DIM)
    graph.nodes["if"].metadata = {"num_steps": 16}
    plain = X.import_rate_encoder(graph)
    x = torch.full((1, DIM), 0.3)
    assert not torch.equal(plain(x), enc(x))


def test_export_rejects_what_nir_cannot_carry():
    with pytest.raises(ValueError, match="x_max"):
        X.export_rate_encoder(RateEncoder(RateConfig(num_steps=4)), DIM)
    with pytest.raises(ValueError, match="sign_mode"):
        X.export_rate_encoder(RateEncoder(RateConfig(num_steps=4, x_max=1.0, sign_mode="signed")), DIM)
    with pytest.raises(ValueError, match="RateEncoder"):
        X.export_rate_encoder(LatencyEncoder(), DIM)


def test_wta_round_trips_through_nir_file(tmp_path):
    rng = np.random.default_rng(0)
    p = rng.standard_normal((6, DIM)).astype(np.float32)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    path = X.write(X.export_wta(p, x_max=0.25, inhibition=2.0), tmp_path / "wta.nir")
    back = X.import_wta(X.read(path))
    np.testing.assert_allclose(back["patterns"], p, atol=ATOL_FP32)
    np.testing.assert_allclose(back["inhibition"], -2.0 * (1 - np.eye(6)), atol=ATOL_FP32)
    assert back["threshold"].shape == (6,)


def test_read_foreign_file_names_path(tmp_path):
    bad = tmp_path / "junk.nir"
    bad.write_text("not hdf5")
    with pytest.raises(ValueError, match="junk.nir"):
        X.read(bad)
    with pytest.raises(ValueError, match="does not exist"):
        X.read(tmp_path / "missing.nir")


def test_docs_snn_python_blocks_run(tmp_path, monkeypatch):
    """The Python examples in docs/snn.md are executed so they never rot."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "snn.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "docs/snn.md has no python examples"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code, str(doc), "exec"), {})
    assert (tmp_path / "encoder.nir").is_file() and (tmp_path / "wta.nir").is_file()
