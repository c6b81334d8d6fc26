"""Encoders under concurrency: many threads calling Memory.add/search on one Memory."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from hybrid import Memory
from hybrid.encoder import CallableEncoder, HashEncoder
from hybrid.recall import RecallConfig

THREADS = 16
CALLS_PER_THREAD = 12
#: A memory searched by its own text scores cosine 1 within this tolerance.
SELF_MATCH_ATOL = 1e-5
#: Longest the bounded MiniLM run may take on a 2-core machine.
MINILM_BUDGET_S = 300


class _Reentrancy:
    """An encoder function that fails when two threads are inside it at once (like the HF fast
    tokenizer, whose padding state is shared), and widens the window with a short sleep."""

    def __init__(self, dim: int) -> None:
        self.inner = HashEncoder(dim)
        self.busy = threading.Lock()
        self.overlaps = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        if not self.busy.acquire(blocking=False):
            self.overlaps += 1
            raise ValueError("Unable to create tensor, you should probably activate padding")
        try:
            time.sleep(0.002)
            return self.inner.encode(texts)
        finally:
            self.busy.release()


def _hammer(mem: Memory, threads: int = THREADS, calls: int = CALLS_PER_THREAD) -> list[int]:
    def work(t: int) -> list[int]:
        ids = []
        for i in range(calls):
            if i % 2:
                ids += mem.add([f"thread {t} note {i} about topic {i % 5}"])
            else:
                mem.search(f"topic {i % 5} from thread {t}", k=3)
        return ids

    with ThreadPoolExecutor(threads) as pool:
        return [i for ids in pool.map(work, range(threads)) for i in ids]


def test_callable_encoder_is_called_by_one_thread_at_a_time(store_path):
    fn = _Reentrancy(32)
    with Memory.open(store_path, encoder=CallableEncoder(fn, dim=32, name="reentrancy-32"), device="cpu") as mem:
        ids = _hammer(mem)
        assert fn.overlaps == 0, f"{fn.overlaps} encoder calls overlapped"
        assert len(ids) == len(set(ids)) == THREADS * (CALLS_PER_THREAD // 2)
        assert mem.count() == len(ids)


def test_hash_memory_many_threads_add_and_search(store_path, hash_encoder):
    with Memory.open(store_path, encoder=hash_encoder, device="cpu") as mem:
        ids = _hammer(mem)
        assert sorted(ids) == [r.id for r in mem.list(limit=10_000)]
        for mid in ids[:20]:
            rec = mem.get(mid)
            top = mem.search(rec.text, k=1, recall=RecallConfig.dense())[0]  # cosine score
            assert top.score == pytest.approx(1.0, abs=SELF_MATCH_ATOL), (mid, top)


@pytest.mark.slow
def test_minilm_many_threads_add_and_search(store_path, minilm):
    """The reported race: the real MiniLM (fast tokenizer) from 16 threads; bounded run."""
    t0 = time.perf_counter()
    with Memory.open(store_path, encoder=minilm, device="cpu") as mem:
        ids = _hammer(mem, calls=6)
        assert len(ids) == len(set(ids)) == THREADS * 3
        assert mem.count() == len(ids)
    assert time.perf_counter() - t0 < MINILM_BUDGET_S


def test_normalize_rows_is_the_same_bits_for_any_batch_size():
    """A key normalised in a small batch (ingest) and in one big batch (the store loaded at open)
    must be bit-identical: the saved approximate index is matched by a hash of the keys."""
    from hybrid.encoder import normalize_rows

    x = np.random.default_rng(5).standard_normal((5000, 64)).astype(np.float32) * 3
    whole = normalize_rows(x)
    parts = np.concatenate([normalize_rows(x[i : i + 7]) for i in range(0, len(x), 7)])
    assert np.array_equal(whole.view(np.uint32), parts.view(np.uint32))
