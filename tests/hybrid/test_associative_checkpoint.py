"""The association checkpoint grows with the associations (sparse W, seeded projection not saved)
and reads files of the previous layout (dense W, saved projection)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hybrid import functional as F
from hybrid.associative import ASSOC_FILE, AssociativeConfig, AssociativeIndex
from hybrid.errors import StoreCorruptError

DIM = 384
SEED = 0
#: A checkpoint of 150 memories with 149 links at the default N = 8192 stays under this.
MAX_CHECKPOINT_BYTES = 1024 * 1024


def index_with_chain(n: int = 150, config: AssociativeConfig | None = None, projection=None) -> AssociativeIndex:
    x = np.random.default_rng(SEED).normal(size=(n, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    idx = AssociativeIndex(DIM, config or AssociativeConfig(), projection=projection)
    idx.fit_centre(x)
    idx.set_codes(list(range(n)), x)
    idx.link([(i, i + 1) for i in range(n - 1)])
    return idx


def test_checkpoint_is_small_and_recalls_the_same(tmp_path):
    idx = index_with_chain()
    path = tmp_path / ASSOC_FILE
    idx.save(path)
    size = path.stat().st_size
    assert size < MAX_CHECKPOINT_BYTES, f"checkpoint is {size} bytes; limit {MAX_CHECKPOINT_BYTES} (dense W is 64 MiB)"
    back, meta = AssociativeIndex.load(path)
    assert meta["format_version"] == "2"
    assert torch.equal(back.w, idx.w) and torch.equal(back.projection, idx.projection)
    assert back.edges() == idx.edges()
    for start in (0, 40, 100):
        assert [(h.id, h.score) for h in back.chain(start, 5)] == [(h.id, h.score) for h in idx.chain(start, 5)]
    assert back.spread([3, 70], m=4) == idx.spread([3, 70], m=4)


def test_version1_checkpoint_with_dense_w_still_loads(tmp_path):
    from safetensors.torch import save_file

    idx = index_with_chain(40, AssociativeConfig(code_dim=1024, k=8))
    t = idx.state_tensors()
    t.pop("w_index"), t.pop("w_value")
    t["w"], t["projection"] = idx.w.contiguous(), idx.projection.contiguous()
    meta = {"format": "hhmem-associations", "format_version": "1", "dim": str(DIM),
            "config": json.dumps(idx.config.to_dict(), sort_keys=True), "saturated": "0"}
    path = tmp_path / ASSOC_FILE
    save_file(t, str(path), metadata=meta)
    back, _ = AssociativeIndex.load(path)
    assert torch.equal(back.w, idx.w)
    assert [h.id for h in back.chain(0, 4)] == [1, 2, 3, 4]


def test_custom_projection_is_saved_and_a_wrong_seeded_one_is_refused(tmp_path):
    cfg = AssociativeConfig(code_dim=1024, k=8)
    custom = -F.sign_projection(DIM, cfg.code_dim, seed=7)
    idx = index_with_chain(20, cfg, projection=custom)
    path = tmp_path / ASSOC_FILE
    idx.save(path)
    back, _ = AssociativeIndex.load(path)
    assert torch.equal(back.projection, custom)

    seeded = index_with_chain(20, cfg)
    seeded.save(path, {"projection_sha256": "0" * 64})  # as if the seeded generator had changed
    with pytest.raises(StoreCorruptError, match="projection"):
        AssociativeIndex.load(path)
