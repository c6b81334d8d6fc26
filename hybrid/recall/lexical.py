"""A BM25 index (``bm25s``, English stop words) over a store's memory texts, kept in sync with the store.

It also counts, per namespace, how many memories hold each word: the hub test of
:func:`hybrid.recall.cues.hub_free_cues`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..linking import _WORD
from .cues import word_key


class LexicalIndex:
    """A BM25 index (``bm25s``, English stop words) over a store's memory texts, rebuilt on change."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._version: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._ids = np.zeros(0, dtype=np.int64)
        self._ns: list[str] = []
        self._meta: list[dict] = []
        self._texts: list[str] = []
        self._bm25 = None
        self._df: dict[str, Counter] = {}

    def _sync(self) -> None:
        version = (self.store.last_change(), self.store.count())
        if version == self._version:
            return
        import bm25s

        rows = self.store.records()  # damaged rows are skipped (with a warning naming each)
        self._ids = np.array([r.id for r in rows], dtype=np.int64)
        self._ns = [r.namespace for r in rows]
        self._meta = [r.metadata for r in rows]
        self._texts = [r.text for r in rows]
        self._bm25 = None
        self._df = {}
        for ns, text in zip(self._ns, self._texts):
            self._df.setdefault(ns, Counter()).update({word_key(w) for w in _WORD.findall(text)})
        if rows:
            self._bm25 = bm25s.BM25()
            self._bm25.index(bm25s.tokenize(self._texts, stopwords="en", show_progress=False),
                             show_progress=False)
        self._version = version

    def records(self) -> tuple[np.ndarray, list[str], list[dict]]:
        """``(ids, namespaces, metadata)`` of the indexed memories (synced first)."""
        with self._lock:
            self._sync()
            return self._ids, self._ns, self._meta

    def texts(self) -> tuple[np.ndarray, list[str], list[str]]:
        """``(ids, namespaces, texts)`` of the indexed memories (synced first)."""
        with self._lock:
            self._sync()
            return self._ids, self._ns, self._texts

    def word_df(self, namespace: str | None = None) -> tuple[Counter, int]:
        """``(df, n)``: memories holding each word (:func:`~hybrid.recall.cues.word_key`) and the
        memory count, in ``namespace`` (``None``: the whole store)."""
        with self._lock:
            self._sync()
            if namespace is not None:
                return self._df.get(namespace, Counter()), sum(1 for n in self._ns if n == namespace)
            if len(self._df) == 1:
                return next(iter(self._df.values())), len(self._ns)
            total: Counter = Counter()
            for c in self._df.values():
                total.update(c)
            return total, len(self._ns)

    def search(
        self, queries: Sequence[str], k: int, *, namespace: str | None = None, allowed: set[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """BM25 ``(scores, ids)`` ``[n, k]`` with the retrieval contract's padding; zero scores
        dropped; only memories of ``namespace`` and in ``allowed`` (when given)."""
        import bm25s

        with self._lock:
            self._sync()
            n = len(self._ids)
            scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
            ids = np.full((len(queries), k), -1, dtype=np.int64)
            if n == 0 or not queries:
                return scores, ids
            toks = bm25s.tokenize(list(queries), stopwords="en", show_progress=False)
            # Ask for everything when filtering, so the filter cannot starve the list.
            want = n if namespace is not None or allowed is not None else min(k, n)
            docs, sc = self._bm25.retrieve(toks, k=want, show_progress=False, n_threads=1)
            for r in range(len(queries)):
                j = 0
                for d, s in zip(docs[r], sc[r]):
                    if s <= 0 or (namespace is not None and self._ns[d] != namespace):
                        continue
                    if allowed is not None and int(self._ids[d]) not in allowed:
                        continue
                    scores[r, j], ids[r, j] = s, self._ids[d]
                    j += 1
                    if j == k:
                        break
            return scores, ids
