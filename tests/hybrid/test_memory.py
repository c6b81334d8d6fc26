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


@pytest.mark.parametrize("content", ["[]", "null", "3", '"x"'])
def test_index_sidecar_that_is_not_an_object_is_rebuilt(store_path, hash_encoder, content):
    pytest.importorskip("hnswlib")
    with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
        mem.add([f"memory {i}" for i in range(20)])
        mem.build_index()
        sidecar = mem.index_path().with_name(mem.index_path().name + ".json")
    sidecar.write_text(content)
    with pytest.warns(RuntimeWarning, match="not an object"):
        with Memory.open(store_path, encoder=hash_encoder, device="cpu", backend="hnswlib") as mem:
            assert mem.search("memory 3", k=1)[0].text == "memory 3"


def test_manifest_that_is_a_folder_is_a_store_error(store_path, hash_encoder):
    from hybrid.errors import StoreCorruptError
    from hybrid.store import MANIFEST

    Memory.open(store_path, encoder=hash_encoder, device="cpu").close()
    (store_path / MANIFEST).unlink()
    (store_path / MANIFEST).mkdir()
    with pytest.raises(StoreCorruptError, match="manifest cannot be read"):
        Memory.open(store_path, encoder=hash_encoder, device="cpu")
