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


#: Background sentences embedded for the paraphrase tasks.
N_BACKGROUND = 60


@pytest.fixture(scope="session")
def _paraphrase_embeddings(minilm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from snn.bench import distractors, paraphrase_pairs

    pairs = paraphrase_pairs()
    x = minilm.encode([p["fact"] for p in pairs] + [p["question"] for p in pairs] + distractors()[:N_BACKGROUND])
    n = len(pairs)
    return x[:n], x[n : 2 * n], x[2 * n :]


@pytest.fixture
def paraphrase_embeddings(_paraphrase_embeddings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(facts, questions, background)`` MiniLM embeddings of the bundled paraphrase task (copies)."""
    return tuple(a.copy() for a in _paraphrase_embeddings)
