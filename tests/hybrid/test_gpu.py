"""The CUDA code path: tensors stay on the device and results match the CPU path. Skipped without CUDA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hybrid import functional as F
from hybrid.retriever import HopfieldRetriever

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

ATOL_SCORE = 1e-4
#: top-10 id agreement between the CUDA and CPU retrievers (float32; ties may order differently).
MIN_AGREEMENT = 0.99


def _data(n=5000, d=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[:100] + 0.3 * rng.standard_normal((100, d)).astype(np.float32)
    return x, q


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_retriever_keeps_tensors_on_device(dtype):
    x, q = _data()
    r = HopfieldRetriever(64, device="cuda", dtype=dtype)
    r.add(x, np.arange(len(x)))
    assert r.keys.is_cuda and r.ids.is_cuda
    qt = r.prepare_queries(q)
    assert qt.is_cuda
    s, i = r.search_tensors(qt, 10)
    assert s.is_cuda and i.is_cuda and s.shape == (100, 10)
    r.remove([0, 1, 2])
    s, i = r.search_tensors(qt, 10, mask=r.id_mask(np.arange(100)))
    assert s.is_cuda and i.is_cuda
    assert set(i.cpu().numpy().ravel().tolist()) <= set(range(3, 100)) | {-1}


def test_cuda_matches_cpu():
    x, q = _data()
    cpu = HopfieldRetriever(64, device="cpu")
    gpu = HopfieldRetriever(64, device="cuda")
    for r in (cpu, gpu):
        r.add(x, np.arange(len(x)))
    (sc, ic), (sg, ig) = cpu.search(q, 10), gpu.search(q, 10)
    agree = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ic, ig)]))
    assert agree >= MIN_AGREEMENT, f"CPU/CUDA top-10 agreement {agree:.3f} < MIN_AGREEMENT={MIN_AGREEMENT}"
    err = float(np.abs(sc[:, 0] - sg[:, 0]).max())
    assert err < ATOL_SCORE, f"top-1 score differs by {err} > ATOL_SCORE={ATOL_SCORE}"


def test_functional_path_on_device():
    g = torch.Generator().manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(20000, 32, generator=g), dim=1).cuda()
    q = torch.nn.functional.normalize(torch.randn(8, 32, generator=g), dim=1).cuda()
    v, i = F.topk_unsorted(q @ keys.T, 20)
    assert v.is_cuda and i.is_cuda
    s, rows, steps = F.two_stage_search(q, keys, 10, candidates=20, beta=20.0, max_steps=3, eps=1e-4)
    assert s.is_cuda and rows.is_cuda
    cos, _ = F.hopfield_settle_gram(q, keys[:20].expand(8, -1, -1).contiguous(), 20.0, 3, 1e-4)
    assert cos.is_cuda


def test_memory_on_cuda(tmp_path, hash_encoder):
    from hybrid import Memory

    with Memory.open(tmp_path / "s", encoder=hash_encoder, device="cuda") as mem:
        mem.add(["the red kite flies high", "a blue whale sings", "green tea in the morning"])
        assert mem.retriever.keys.is_cuda
        assert mem.search("blue whale", k=1)[0].text == "a blue whale sings"
