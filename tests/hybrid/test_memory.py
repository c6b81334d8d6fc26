"""Memory: the saved approximate index and its sidecar across processes' open/close."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hybrid import Memory

#: Memories added per call; two calls exceed the batch size at which normalisation used to switch
#: arithmetic (64K floats), so the keys loaded at open differed from the saved ones by one ulp.
BATCH = 700
DIM = 64


def _vectors(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)


def test_saved_hnswlib_index_is_reused_after_several_adds(store_path, hash_encoder):
    pytest.importorskip("hnswlib")
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        for call in range(2):
            mem.add([f"memory {call}-{i}" for i in range(BATCH)], vectors=_vectors(BATCH, call))
        mem.build_index()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
            assert mem.retriever.index_rows == 2 * BATCH, "the saved index was not reused (fingerprint mismatch)"
