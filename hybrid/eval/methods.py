"""The retrieval methods compared in every evaluation, all on the same partitions and encoder.

Each method ranks a partition's documents for its queries: ``rank(partition, depth)`` returns one
list of document positions (best first, at most ``depth``) per query.

- ``flat``: exact cosine between query and document embeddings (the same encoder as hhmem).
- ``bm25``: BM25 (``bm25s``, English stop words) over the same document texts.
- ``rrf``: dense + BM25 reciprocal rank fusion.
- ``hhmem``: exactly :meth:`~hybrid.memory.Memory.search` with its defaults (the recall pipeline).
- ``hhmem-dense``, ``hhmem-multihop``, ``fusion-v1`` and the ablations ``hhmem-<stage>``: see
  :func:`standard_methods`.
"""

from __future__ import annotations

import inspect
import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import HopfieldConfig
from ..encoder import TextEncoder
from ..errors import InvalidInputError
from ..fusion import FusionConfig, FusionSearcher
from ..memory import Memory
from ..recall.config import Fusion, IngestConfig, RecallConfig
from . import Partition


def multihop_available() -> bool:
    """Whether the installed :class:`~hybrid.memory.Memory` supports ``search_batch(..., hops=H)``."""
    return "hops" in inspect.signature(Memory.search_batch).parameters


class Method:
    """Base class: a named ranker."""

    name = "method"

    def config(self) -> dict[str, Any]:
        return {}

    def rank(self, part: Partition, depth: int) -> list[list[int]]:
        raise NotImplementedError


class FlatCosine(Method):
    """Exact cosine ranking with the shared encoder."""

    def __init__(self, encoder: TextEncoder, name: str = "flat") -> None:
        self.encoder, self.name = encoder, name

    def rank(self, part: Partition, depth: int) -> list[list[int]]:
        if not part.docs or not part.queries:
            return [[] for _ in part.queries]
        d = self.encoder.encode([x.text for x in part.docs])
        q = self.encoder.encode([x.text for x in part.queries])
        sims = q @ d.T
        order = np.argsort(-sims, axis=1, kind="stable")[:, :depth]
        return order.tolist()


class BM25(Method):
    """BM25 with ``bm25s`` defaults (k1 = 1.5, b = 0.75, Lucene IDF) and English stop words."""

    def __init__(self, name: str = "bm25") -> None:
        self.name = name

    def config(self) -> dict[str, Any]:
        return {"k1": 1.5, "b": 0.75, "stopwords": "en"}

    def rank(self, part: Partition, depth: int) -> list[list[int]]:
        import bm25s

        if not part.docs or not part.queries:
            return [[] for _ in part.queries]
        retr = bm25s.BM25()
        retr.index(bm25s.tokenize([d.text for d in part.docs], stopwords="en", show_progress=False), show_progress=False)
        toks = bm25s.tokenize([q.text for q in part.queries], stopwords="en", show_progress=False)
        docs, scores = retr.retrieve(toks, k=min(depth, len(part.docs)), show_progress=False, n_threads=1)
        return [[int(d) for d, s in zip(dr, sr) if s > 0] for dr, sr in zip(docs, scores)]


@dataclass(frozen=True)
class HHMemSpec:
    """How an hhmem method is built and searched.

    Attributes:
        ingest: the store's ingest configuration (``None``: the library default).
        recall: recall stages and weights (``None``: the library default, i.e. exactly
            ``Memory.search``).
        fusion: rank through the earlier :class:`hybrid.fusion.FusionSearcher` with this config
            instead (kept for comparison).
        hops: associative hops for ``search_batch(..., hops=H)`` (``None``: no hops).
        hopfield: retriever settings (``None``: the library defaults).
    """

    ingest: IngestConfig | None = None
    recall: RecallConfig | None = None
    fusion: FusionConfig | None = None
    hops: int | None = None
    hopfield: HopfieldConfig | None = None
    memory_kwargs: dict = field(default_factory=dict)


class StorePool:
    """Stores built once per (partition, ingest configuration) and shared by the methods that read them."""

    def __init__(self, encoder: TextEncoder, workdir: str | Path | None = None) -> None:
        self.encoder = encoder
        self.root = Path(tempfile.mkdtemp(prefix="hhmem-eval-", dir=workdir))
        self._open: dict[tuple, tuple[Memory, list[int]]] = {}

    def get(self, part: Partition, ingest: IngestConfig | None, hopfield: HopfieldConfig | None,
            memory_kwargs: dict) -> tuple[Memory, list[int]]:
        ing = ingest or IngestConfig()
        key = (id(part), json.dumps(ing.to_dict(), sort_keys=True))
        hit = self._open.get(key)
        if hit is not None:
            return hit
        folder = self.root / f"s{len(self._open)}"
        mem = Memory.open(folder, encoder=self.encoder, device="cpu", ingest=ing, **memory_kwargs)
        metas, pos_in_group, last = [], 0, None
        for d in part.docs:
            pos_in_group = pos_in_group + 1 if d.group == last else 0
            last = d.group
            metas.append({"doc": d.id, "session": d.group, "position": pos_in_group})
        ids = mem.add([d.text for d in part.docs], metadata=metas, created_at=[d.meta.get("time") for d in part.docs],
                      dedupe=False)  # every document is its own memory, repeated texts included
        self._open[key] = (mem, ids)
        return mem, ids

    def close(self) -> None:
        for mem, _ in self._open.values():
            mem.close()
        self._open.clear()
        shutil.rmtree(self.root, ignore_errors=True)


class HHMem(Method):
    """hhmem through its public :class:`~hybrid.memory.Memory` API on a store built from the partition."""

    def __init__(self, encoder: TextEncoder, spec: HHMemSpec | None = None, name: str = "hhmem",
                 workdir: str | Path | None = None, pool: StorePool | None = None) -> None:
        self.encoder, self.spec, self.name = encoder, spec or HHMemSpec(), name
        self.pool = pool
        self.workdir = workdir
        if self.spec.hops is not None and not multihop_available():
            raise InvalidInputError("hops: this Memory has no multi-hop search (search_batch(..., hops=H))")

    def config(self) -> dict[str, Any]:
        s = self.spec
        return {
            "ingest": (s.ingest or IngestConfig()).to_dict(),
            "recall": None if s.fusion or s.hops is not None else (s.recall or RecallConfig()).to_dict(),
            "fusion": s.fusion.to_dict() if s.fusion else None,
            "hops": s.hops,
            "hopfield": (s.hopfield or HopfieldConfig()).to_dict(),
        }

    def search(self, mem: Memory, queries: Sequence[str], depth: int) -> np.ndarray:
        s = self.spec
        if s.fusion is not None:
            return FusionSearcher(mem, s.fusion).search_ids(list(queries), depth)[1]
        if s.hops is not None:
            results = mem.search_batch(list(queries), depth, hops=s.hops)
            out = np.full((len(queries), depth), -1, dtype=np.int64)
            for r, row in enumerate(results):
                seen: list[int] = []
                for res in row:
                    if res.id not in seen:
                        seen.append(res.id)
                out[r, : min(len(seen), depth)] = seen[:depth]
            return out
        return mem.search_ids(list(queries), depth, hopfield=s.hopfield, recall=s.recall)[1]

    def rank(self, part: Partition, depth: int) -> list[list[int]]:
        if not part.docs or not part.queries:
            return [[] for _ in part.queries]
        own = self.pool is None
        pool = self.pool or StorePool(self.encoder, self.workdir)
        try:
            mem, ids = pool.get(part, self.spec.ingest, self.spec.hopfield, self.spec.memory_kwargs)
            pos = {mid: p for p, mid in enumerate(ids)}
            found = self.search(mem, [q.text for q in part.queries], min(depth, len(part.docs)))
        finally:
            if own:
                pool.close()
        return [[pos[int(i)] for i in row if int(i) in pos] for row in found]


#: The earlier conversational fusion, evaluated as "fusion-v1" for comparison.
DEFAULT_FUSION = FusionConfig()


def ablation_configs() -> dict[str, tuple[IngestConfig | None, RecallConfig]]:
    """The default recall with one stage switched off at a time (name -> (ingest, recall))."""
    r = RecallConfig()
    return {
        "-context-keys": (IngestConfig(context_keys=False), r),
        "-cues": (None, r.replace(nameless_weight=0.0, content_weight=0.0)),
        "-bm25": (None, r.replace(lexical_weight=0.0)),
        "-link-spread": (None, r.replace(link_spread=0.0)),
        "-concept-spread": (None, r.replace(concept_spread=0.0)),
        "-query-concepts": (None, r.replace(query_concepts=0.0)),
    }


def standard_methods(encoder: TextEncoder, *, ablations: bool = True, hops: int = 2,
                     pool: StorePool | None = None) -> list[Method]:
    """Baselines, ``hhmem`` (exactly ``Memory.search`` with its defaults), and comparisons.

    - ``flat``: exact cosine of the query to each document's text (no context keys);
    - ``bm25``;
    - ``rrf``: dense + BM25 reciprocal rank fusion (the query's dense list and BM25, equal
      weights, k0 = 20; built without context keys);
    - ``hhmem``: ``Memory.search`` with every default;
    - ``hhmem-dense``: ``Memory.search`` with only the dense list (``RecallConfig.dense()``);
    - ``hhmem-multihop``: ``search_batch(..., hops=H)`` (explicit chains);
    - ``fusion-v1``: the earlier conversational fusion (``FusionSearcher``), for comparison;
    - with ``ablations``: ``hhmem`` with each stage switched off (:func:`ablation_configs`).
    """
    pool = pool or StorePool(encoder)
    plain = IngestConfig(context_keys=False)
    rrf = RecallConfig.dense().replace(fusion=Fusion.RANK, lexical_weight=1.0, rrf_k=20.0)
    methods: list[Method] = [
        FlatCosine(encoder),
        BM25(),
        HHMem(encoder, HHMemSpec(ingest=plain, recall=rrf), "rrf", pool=pool),
        HHMem(encoder, HHMemSpec(), "hhmem", pool=pool),
        HHMem(encoder, HHMemSpec(recall=RecallConfig.dense()), "hhmem-dense", pool=pool),
    ]
    if multihop_available():
        methods.append(HHMem(encoder, HHMemSpec(hops=hops), "hhmem-multihop", pool=pool))
    methods.append(HHMem(encoder, HHMemSpec(fusion=DEFAULT_FUSION), "fusion-v1", pool=pool))
    if ablations:
        for name, (ing, rc) in ablation_configs().items():
            methods.append(HHMem(encoder, HHMemSpec(ingest=ing, recall=rc), "hhmem" + name, pool=pool))
    return methods


def run_methods(parts: Sequence[Partition], methods: Sequence[Method], depth: int, *,
                progress: bool = True) -> dict[str, list[list[list[int]]]]:
    """Rankings ``{method: [partition][query] -> positions}`` for every method on every partition."""
    from tqdm.auto import tqdm

    out: dict[str, list[list[list[int]]]] = {m.name: [] for m in methods}
    bar = tqdm(total=len(parts) * len(methods), desc="methods x partitions", disable=not progress,
               file=None, leave=False)
    for part in parts:
        for m in methods:
            out[m.name].append(m.rank(part, depth))
            bar.update(1)
    bar.close()
    return out
