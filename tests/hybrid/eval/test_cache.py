"""The embedding cache: keyed by model and text hash, persisted atomically, corrupt shards named."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.encoder import HashEncoder
from hybrid.errors import StoreError
from hybrid.eval.cache import CachedEncoder, EmbeddingCache, model_slug

ATOL = 1e-7


def test_second_encoder_reads_from_disk(tmp_path):
    enc = HashEncoder(16)
    a = CachedEncoder(enc, tmp_path)
    first = a.encode(["alpha", "beta", "alpha"])
    assert a.misses == 2 and a.hits == 0, "duplicate texts are encoded once"
    b = CachedEncoder(HashEncoder(16), tmp_path)
    again = b.encode(["beta", "alpha"])
    assert b.misses == 0 and b.hits == 2
    assert np.allclose(again, first[[1, 0]], atol=ATOL), f"cached vectors differ by more than {ATOL}"
    assert np.allclose(again, enc.encode(["beta", "alpha"]), atol=ATOL)
    assert list(tmp_path.rglob("*.tmp")) == [], "no temporary file is left behind"


def test_models_do_not_share_vectors(tmp_path):
    CachedEncoder(HashEncoder(16), tmp_path).encode(["alpha"])
    other = CachedEncoder(HashEncoder(32), tmp_path)
    other.encode(["alpha"])
    assert other.misses == 1
    assert model_slug("hash-16") != model_slug("hash-32")


def test_corrupt_shard_names_its_path(tmp_path):
    CachedEncoder(HashEncoder(16), tmp_path).encode(["alpha"])
    shard = next(tmp_path.rglob("*.npz"))
    shard.write_bytes(b"not a zip file")
    with pytest.raises(StoreError, match=shard.name):
        CachedEncoder(HashEncoder(16), tmp_path).encode(["alpha"])


def test_put_checks_shape(tmp_path):
    cache = EmbeddingCache(tmp_path, "m", 4)
    with pytest.raises(Exception, match="shape"):
        cache.put(["h1"], np.zeros((1, 3)))
