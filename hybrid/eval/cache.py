"""An on-disk embedding cache keyed by model name and text hash, and an encoder that uses it.

Layout: ``<cache_dir>/<model slug>/<shard>.npz``. Each shard holds ``hashes`` (``[n]`` fixed-width
unicode SHA-256 hex digests of the texts) and ``vectors`` (``[n, d]`` float32). Shards are written
to a temporary file and renamed into place (atomic on POSIX), and read with ``allow_pickle=False``.
A shard that cannot be read raises :class:`~hybrid.errors.StoreError` naming its path.

Example:
    >>> from hybrid.encoder import HashEncoder
    >>> import tempfile
    >>> enc = CachedEncoder(HashEncoder(8), tempfile.mkdtemp())
    >>> enc.encode(["a cat", "a dog"]).shape, enc.misses
    ((2, 8), 2)
    >>> _ = enc.encode(["a cat"]); enc.hits
    1
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..encoder import TextEncoder, validate_texts
from ..errors import InvalidInputError, StoreError

#: Default cache location (never inside the repository).
DEFAULT_CACHE_DIR = Path(os.environ.get("HHMEM_CACHE", Path.home() / ".cache" / "hhmem")) / "embeddings"


def text_hash(text: str) -> str:
    """SHA-256 hex digest of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_slug(name: str) -> str:
    """A file-system-safe folder name for a model name (readable prefix + short hash)."""
    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[-60:] or "model"
    return f"{clean}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """Vectors of one model, looked up by text hash.

    Args:
        cache_dir: root folder; the model's shards live in ``cache_dir/<slug(model)>``.
        model: the encoder's name (part of the key: two models never share vectors).
        dim: the vector dimension (shards of another dimension raise).
    """

    def __init__(self, cache_dir: str | os.PathLike, model: str, dim: int) -> None:
        self.dir = Path(cache_dir).expanduser() / model_slug(model)
        self.model = model
        self.dim = int(dim)
        self._table: dict[str, np.ndarray] = {}
        self._loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if not self.dir.is_dir():
            return
        for shard in sorted(self.dir.glob("*.npz")):
            try:
                with np.load(shard, allow_pickle=False) as z:
                    hashes, vectors = z["hashes"], z["vectors"]
            except Exception as exc:  # truncated or foreign file
                raise StoreError(f"embedding cache shard {shard} cannot be read ({exc}); delete it") from exc
            if vectors.ndim != 2 or vectors.shape[1] != self.dim or vectors.shape[0] != hashes.shape[0]:
                raise StoreError(
                    f"embedding cache shard {shard} holds vectors of shape {vectors.shape}, expected (n, {self.dim})"
                )
            for h, v in zip(hashes.tolist(), vectors):
                self._table[h] = v

    def __len__(self) -> int:
        self._load()
        return len(self._table)

    def get(self, hashes: Sequence[str]) -> list[np.ndarray | None]:
        self._load()
        return [self._table.get(h) for h in hashes]

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> Path | None:
        """Add vectors and write them as one new shard (atomically); returns the shard path."""
        self._load()
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape != (len(hashes), self.dim):
            raise InvalidInputError(f"vectors has shape {vectors.shape}, expected ({len(hashes)}, {self.dim})")
        if not len(hashes):
            return None
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.dir / f"{uuid.uuid4().hex}.npz"
        fd, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, hashes=np.asarray(list(hashes), dtype="U64"), vectors=vectors)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for h, v in zip(hashes, vectors):
            self._table[h] = v
        return final


class CachedEncoder:
    """Wrap a :class:`~hybrid.encoder.TextEncoder` so that every text is encoded at most once.

    It has the same ``name`` and ``dim`` as the wrapped encoder, so stores made through it are
    interchangeable with stores made by the encoder itself. ``hits``/``misses`` count texts. A
    progress bar is shown when at least ``progress_min`` texts must be encoded (``None``: never).
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | os.PathLike = DEFAULT_CACHE_DIR, *,
                 progress_min: int | None = 256) -> None:
        self.inner = encoder
        self.progress_min = progress_min
        self.name = encoder.name
        self.dim = encoder.dim
        self.cache = EmbeddingCache(cache_dir, encoder.name, encoder.dim)
        self.hits = 0
        self.misses = 0

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        texts = validate_texts(texts)
        hashes = [text_hash(t) for t in texts]
        found = self.cache.get(hashes)
        todo: dict[str, str] = {}
        for h, t, v in zip(hashes, texts, found):
            if v is None:
                todo.setdefault(h, t)
        self.misses += len(todo)
        self.hits += len(texts) - sum(1 for v in found if v is None)
        if todo:
            show = progress or (self.progress_min is not None and len(todo) >= self.progress_min)
            new = self.inner.encode(list(todo.values()), progress=show)
            self.cache.put(list(todo), new)
            found = self.cache.get(hashes)
        return np.stack(found).astype(np.float32) if texts else np.zeros((0, self.dim), np.float32)
