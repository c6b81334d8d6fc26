"""Shared fixtures: expensive objects are built once per session; each test gets its own store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
TEST_DATA = Path(__file__).resolve().parent / "data"
#: Development data shared beside the project (never committed); tests that need it skip without it.
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def minilm():
    """The real offline all-MiniLM-L6-v2 encoder, loaded once (read-only use)."""
    from hybrid.encoder import load_encoder

    return load_encoder("default", device="cpu")


@pytest.fixture(scope="session")
def hash_encoder():
    """The deterministic 64-d stand-in encoder for fast unit tests."""
    from hybrid.encoder import HashEncoder

    return HashEncoder(64)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A fresh, not yet created store folder."""
    return tmp_path / "store"


@pytest.fixture
def hash_memory(store_path, hash_encoder):
    """A new Memory on the hash encoder, closed after the test."""
    from hybrid import Memory

    mem = Memory.open(store_path, encoder=hash_encoder, device="cpu")
    yield mem
    mem.close()


@pytest.fixture(scope="session")
def locomo_dev() -> Path:
    path = SHARED_DATA / "locomo" / "locomo_dev.json"
    if not path.is_file():
        pytest.skip(f"development data absent: {path}")
    return path



@pytest.fixture
def kernel_path(monkeypatch):
    """``kernel_path(path, module, attr)`` for fixtures parametrised over ``["compiled", "numpy"]``:
    skips the compiled run when numba is missing (or ``HHMEM_NO_NUMBA`` is set) and runs the NumPy
    twin by clearing ``module.attr``."""

    def select(path: str, module, attr: str) -> str:
        if path == "compiled" and getattr(module, attr) is None:
            pytest.skip("numba not installed (or HHMEM_NO_NUMBA set): only the NumPy path runs")
        if path == "numpy":
            monkeypatch.setattr(module, attr, None)
        return path

    return select
