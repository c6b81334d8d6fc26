"""HopfieldRetriever: the search contract, several keys per id, removal, masks, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybrid import HopfieldConfig, HopfieldRetriever, InvalidInputError

MIN_SELF_RECALL = 1.0


def unit(rng, n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_contract_shapes_and_padding():
    r = HopfieldRetriever(dim=4, device="cpu")
    r.add(np.eye(4)[:3], ids=[7, 8, 9])
    scores, ids = r.search(np.eye(4)[:2], k=5)
    assert scores.shape == ids.shape == (2, 5)
    assert ids.dtype == np.int64 and scores.dtype == np.float32
    assert ids[0, 0] == 7 and ids[1, 0] == 8
    assert (ids[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()


def test_every_stored_pattern_recalls_itself():
    rng = np.random.default_rng(0)
    keys = unit(rng, 500, 32)
    r = HopfieldRetriever(dim=32, device="cpu")
    r.add(keys, ids=np.arange(500) + 1000)
    _, ids = r.search(keys, k=1)
    recall = float((ids[:, 0] == np.arange(500) + 1000).mean())
    assert recall >= MIN_SELF_RECALL, f"self recall {recall} < {MIN_SELF_RECALL}"


def test_several_keys_per_id_are_merged():
    r = HopfieldRetriever(dim=3, device="cpu")
    r.add(np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32), ids=[1, 1, 2, 3])
    _, ids = r.search(np.array([1.0, 0.05, 0.0]), k=3)
    assert ids[0].tolist() == [1, 2, 3] or ids[0].tolist() == [1, 3, 2]
    assert len(set(ids[0].tolist())) == 3, "an id must appear once per result row"


def test_remove_and_compact():
    r = HopfieldRetriever(dim=3, device="cpu")
    r.add(np.eye(3), ids=[1, 2, 3])
    assert r.remove([2]) == 1 and len(r) == 2
    _, ids = r.search(np.array([0.0, 1.0, 0.0]), k=3)
    assert 2 not in ids[0].tolist() and ids[0, 2] == -1
    r.compact()
    assert r.ids.tolist() == [1, 3]


def test_mask_filters_ids():
    r = HopfieldRetriever(dim=3, device="cpu")
    r.add(np.eye(3), ids=[1, 2, 3])
    _, ids = r.search(np.array([1.0, 0.0, 0.0]), k=3, mask=r.id_mask([2, 3]))
    assert 1 not in ids[0].tolist() and set(ids[0, :2].tolist()) == {2, 3}


def test_settle_off_equals_exact_search():
    rng = np.random.default_rng(1)
    keys, q = unit(rng, 300, 16), unit(rng, 10, 16)
    r = HopfieldRetriever(dim=16, config=HopfieldConfig(max_steps=0), device="cpu")
    r.add(keys, ids=np.arange(300))
    _, ids = r.search(q, k=10)
    assert (ids == np.argsort(-(q @ keys.T), axis=1, kind="stable")[:, :10]).all()


def test_float16_storage_matches_float32_top1():
    rng = np.random.default_rng(2)
    keys, q = unit(rng, 400, 32), unit(rng, 20, 32)
    a = HopfieldRetriever(dim=32, device="cpu")
    b = HopfieldRetriever(dim=32, device="cpu", dtype="float16")
    for r in (a, b):
        r.add(keys, ids=np.arange(400))
    assert (a.search(q, 1)[1] == b.search(q, 1)[1]).mean() >= 0.95


@pytest.mark.parametrize(
    "vectors, message",
    [
        (np.full((1, 4), np.nan), "NaN"),
        (np.zeros((1, 4)), "zero vector"),
        (np.ones((1, 3)), "dimension 4"),
        (np.ones((2, 2, 4)), "2-D"),
    ],
)
def test_bad_vectors_are_rejected_and_nothing_is_added(vectors, message):
    r = HopfieldRetriever(dim=4, device="cpu")
    with pytest.raises(InvalidInputError, match=message):
        r.add(vectors, ids=list(range(len(vectors))))
    assert len(r) == 0


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_normalize_rows_paths_agree_and_survive_overflow(compiled, monkeypatch):
    """The compiled query-batch normaliser and the NumPy path give the same unit rows and the
    same errors; rows whose squared norm overflows float32 keep their direction."""
    from hybrid import encoder

    if compiled and encoder._UNIT_ROWS is None:
        pytest.skip("numba not installed (or HHMEM_NO_NUMBA set)")
    if not compiled:
        monkeypatch.setattr(encoder, "_UNIT_ROWS", None)
    x = np.random.default_rng(4).standard_normal((6, 9))
    want = x / np.linalg.norm(x, axis=1, keepdims=True)
    got = encoder.normalize_rows(x)
    assert got.dtype == np.float32 and np.abs(got - want).max() < 1e-6
    huge = np.array([[3e30, 4e30, 0.0], [0.0, -1e38, 0.0]], dtype=np.float32)
    assert np.allclose(encoder.normalize_rows(huge), [[0.6, 0.8, 0.0], [0.0, -1.0, 0.0]], atol=1e-6)
    for bad, message in (([[1.0, np.inf, 0.0]], "vectors\\[0\\] contains NaN"), ([[1.0, 0, 0], [0, 0, 0]], "vectors\\[1\\] is the zero"),
                         ([[True, False, True]], "real numbers")):
        with pytest.raises(InvalidInputError, match=message):
            encoder.normalize_rows(np.array(bad))


def test_bad_queries_and_k():
    r = HopfieldRetriever(dim=4, device="cpu")
    r.add(np.eye(4), ids=[0, 1, 2, 3])
    with pytest.raises(InvalidInputError, match="NaN"):
        r.search(np.array([np.nan, 0, 0, 1.0]), k=1)
    with pytest.raises(InvalidInputError, match="k must be"):
        r.search(np.eye(4)[:1], k=0)
    with pytest.raises(InvalidInputError, match="ids must be >= 0"):
        r.add(np.eye(4)[:1], ids=[-1])


def test_torch_inputs_are_accepted():
    r = HopfieldRetriever(dim=3, device="cpu")
    r.add(torch.eye(3), ids=torch.tensor([4, 5, 6]))
    assert r.search(torch.eye(3)[2:], k=1)[1].tolist() == [[6]]
