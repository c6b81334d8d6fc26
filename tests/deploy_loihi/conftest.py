"""Lava tests: the compatibility fix is applied (import deploy_loihi) before Lava is imported."""

from __future__ import annotations

import numpy as np
import pytest

import deploy_loihi  # noqa: F401  (Python 3.11 fix for lava-nc)


@pytest.fixture(scope="session")
def lava():
    return pytest.importorskip("lava")


@pytest.fixture
def unit_vectors():
    """Seeded unit vectors ``[24, 64]``."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((24, 64))
    return x / np.linalg.norm(x, axis=1, keepdims=True)
