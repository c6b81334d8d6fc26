"""Fixtures of the spiking-path tests: real MiniLM embeddings of a small bundled corpus, built once."""

from __future__ import annotations

import numpy as np
import pytest

#: Sentences embedded for the real-embedding tests (kept small: the suite must stay fast on 2 cores).
N_REAL = 160


@pytest.fixture(scope="session")
def _real_embeddings(minilm) -> np.ndarray:
    from snn.bench import default_corpus

    texts = default_corpus()[:N_REAL]
    return minilm.encode(texts)


@pytest.fixture
def real_embeddings(_real_embeddings) -> np.ndarray:
    """``[N_REAL, 384]`` float32 L2-normalised MiniLM embeddings (a fresh copy per test)."""
    return _real_embeddings.copy()
