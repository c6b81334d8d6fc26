"""The retrieval methods compared in every evaluation, all on the same partitions and encoder.

Each method ranks a partition's documents for its queries: ``rank(partition, depth)`` returns one
list of document positions (best first, at most ``depth``) per query.

- ``flat``: exact cosine between query and document embeddings (the same encoder as hhmem).
- ``bm25``: BM25 (``bm25s``, English stop words) over the same document texts.
- ``hhmem``: :class:`~hybrid.memory.Memory` single-hop recall (two-stage Hopfield, default settings).
- ``hhmem-multihop``: ``Memory.search_batch(..., hops=H)`` when the installed Memory has it.
- ``hhmem-fusion`` and its ablations: :mod:`hybrid.fusion` (context keys, BM25 RRF, order spread,
  entity spread).
"""

from __future__ import annotations

import inspect
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
from ..fusion import FusionConfig, FusionSearcher, add_with_context
from ..memory import Memory
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
        context: add context keys at ingest (:func:`hybrid.fusion.add_with_context`).
        fusion: search through :class:`hybrid.fusion.FusionSearcher` with this config (``None``: plain recall).
        hops: associative hops for ``search_batch(..., hops=H)`` (``None``: no hops).
        hopfield: retriever settings (``None``: the library defaults).
    """

    context: bool = False
    fusion: FusionConfig | None = None
    hops: int | None = None
    hopfield: HopfieldConfig | None = None
    memory_kwargs: dict = field(default_factory=dict)


class HHMem(Method):
    """hhmem through its public :class:`~hybrid.memory.Memory` API, one temporary store per partition."""

    def __init__(self, encoder: TextEncoder, spec: HHMemSpec | None = None, name: str = "hhmem",
                 workdir: str | Path | None = None) -> None:
        self.encoder, self.spec, self.name = encoder, spec or HHMemSpec(), name
        self.workdir = workdir
        if self.spec.hops is not None and not multihop_available():
            raise InvalidInputError("hops: this Memory has no multi-hop search (search_batch(..., hops=H))")

    def config(self) -> dict[str, Any]:
        s = self.spec
        return {
            "context_keys": s.context,
            "fusion": s.fusion.to_dict() if s.fusion else None,
            "hops": s.hops,
            "hopfield": (s.hopfield or HopfieldConfig()).to_dict(),
        }

    def build(self, part: Partition, folder: Path) -> tuple[Memory, list[int]]:
        mem = Memory.open(folder, encoder=self.encoder, device="cpu", hopfield=self.spec.hopfield,
                          **self.spec.memory_kwargs)
        metas, pos_in_group, last = [], 0, None
        for d in part.docs:
            pos_in_group = pos_in_group + 1 if d.group == last else 0
            last = d.group
            metas.append({"doc": d.id, "session": d.group, "position": pos_in_group})
        ids = add_with_context(mem, [d.text for d in part.docs], metadata=metas, context=self.spec.context,
                               created_at=[d.meta.get("time") for d in part.docs])
        return mem, ids

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
        return mem.search_ids(list(queries), depth)[1]

    def rank(self, part: Partition, depth: int) -> list[list[int]]:
        if not part.docs or not part.queries:
            return [[] for _ in part.queries]
        folder = Path(tempfile.mkdtemp(prefix="hhmem-eval-", dir=self.workdir))
        try:
            mem, ids = self.build(part, folder / "store")
            try:
                pos = {mid: p for p, mid in enumerate(ids)}
                found = self.search(mem, [q.text for q in part.queries], min(depth, len(part.docs)))
            finally:
                mem.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return [[pos[int(i)] for i in row if int(i) in pos] for row in found]


#: The default fusion configuration evaluated as "hhmem-fusion".
DEFAULT_FUSION = FusionConfig()


def standard_methods(encoder: TextEncoder, *, ablations: bool = True, hops: int = 2) -> list[Method]:
    """Baselines, hhmem single-hop, multi-hop (when available), hhmem-fusion and (optionally) its ablations.

    Ablations start from ``hhmem-stage1`` (the memory's stage-1 ranking: best-key cosine, no
    settle) and add components alone and in pairs (``+context``, ``+bm25-rrf``, ``+spread``,
    ``+entity``, ``+cues``), without the query cues unless named; ``+context+bm25-rrf+spread`` is
    the fusion without the entity spread and the cues, ``+context+bm25-rrf+spread+entity`` without
    the cues; ``fusion-earlier-default`` is the default before the query cues (k0 = 10, γ_e = 0.2, no cues);
    ``hhmem-fusion+settle`` is the full fusion with the Hopfield settle on the dense lists.
    """
    f = DEFAULT_FUSION
    methods: list[Method] = [
        FlatCosine(encoder),
        BM25(),
        HHMem(encoder, HHMemSpec(), "hhmem"),
    ]
    if multihop_available():
        methods.append(HHMem(encoder, HHMemSpec(hops=hops), "hhmem-multihop"))
    if ablations:
        def cfg(**kw: Any) -> FusionConfig:
            return FusionConfig(**{**f.to_dict(), "nameless_weight": 0.0, "content_weight": 0.0, **kw})

        cues = {"nameless_weight": f.nameless_weight, "content_weight": f.content_weight}

        methods += [
            HHMem(encoder, HHMemSpec(fusion=cfg(lexical_weight=0.0, spread=0.0, entity_spread=0.0)), "hhmem-stage1"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg(lexical_weight=0.0, spread=0.0, entity_spread=0.0)),
                  "+context"),
            HHMem(encoder, HHMemSpec(fusion=cfg(spread=0.0, entity_spread=0.0)), "+bm25-rrf"),
            HHMem(encoder, HHMemSpec(fusion=cfg(lexical_weight=0.0, entity_spread=0.0)), "+spread"),
            HHMem(encoder, HHMemSpec(fusion=cfg(lexical_weight=0.0, spread=0.0)), "+entity"),
            HHMem(encoder, HHMemSpec(fusion=cfg(lexical_weight=0.0, spread=0.0, entity_spread=0.0, **cues)), "+cues"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg(spread=0.0, entity_spread=0.0)), "+context+bm25-rrf"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg(lexical_weight=0.0, entity_spread=0.0)), "+context+spread"),
            HHMem(encoder, HHMemSpec(fusion=cfg(entity_spread=0.0)), "+bm25-rrf+spread"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg(entity_spread=0.0)), "+context+bm25-rrf+spread"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg()), "+context+bm25-rrf+spread+entity"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg(rrf_k=10.0, entity_spread=0.2)),
                  "fusion-earlier-default"),
            HHMem(encoder, HHMemSpec(context=True, fusion=cfg(settle=True, **cues)), "hhmem-fusion+settle"),
        ]
    methods.append(HHMem(encoder, HHMemSpec(context=True, fusion=f), "hhmem-fusion"))
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
