"""The default recall: seeds from the two-stage Hopfield retriever and BM25, fused; link spread; concept spread.

:class:`Recall` is what :meth:`hybrid.memory.Memory.search` runs, so the library, the CLI, the
HTTP API, the MCP server and the evaluation all rank the same way. Every stage is named in
:class:`~hybrid.recall.config.RecallConfig` and switched off by a weight of 0.

Each result says how it was reached: ``"direct"`` (a seed list ranked it), ``"concept:<c>"``
(only the concept spread brought it, mostly through concept ``c``) or ``"link:<id>"`` (only the
link spread brought it, from memory ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..config import HopfieldConfig
from ..errors import InvalidInputError
from ..store import validate_where
from ..times import time_range
from .concepts import extract_concepts
from .config import Fusion, RecallConfig
from .cues import hub_free_cues
from .fuse import ScoreKind, order_spread, reciprocal_rank_fusion, score_fusion
from .lexical import LexicalIndex
from .spread import spread

DIRECT = "direct"


@dataclass
class RecallOutput:
    """``scores``/``ids`` ``[n, k]`` (the retrieval contract's padding) and how each result was reached."""

    scores: np.ndarray
    ids: np.ndarray
    via: list[list[str]]


@dataclass
class DenseHits:
    """The query vectors ``[n, d]`` and their dense list (cosines and ids ``[n, depth]``)."""

    queries: np.ndarray
    scores: np.ndarray
    ids: np.ndarray


@dataclass
class ConceptHits:
    """What the concept walk brought: memories best first, the activation that reached each through
    the graph, the concept that carried most of it, and the seeds' total fused score."""

    ids: list[int]
    activation: list[float]
    via: dict[int, str]
    seed_mass: float


class Recall:
    """The recall pipeline over one :class:`~hybrid.memory.Memory`.

    Args:
        memory: the memory whose retriever, store and concept graph it reads.
        config: default stage settings (a call may pass its own).
    """

    def __init__(self, memory: Any, config: RecallConfig | None = None) -> None:
        self.memory = memory
        self.config = config or RecallConfig()
        self.lexical = LexicalIndex(memory.store)

    # ------------------------------------------------------------------ stages
    def _dense_lists(self, texts: Sequence[str] | None, vectors: np.ndarray | None, cfg: RecallConfig,
                     namespace: str | None, where: Mapping[str, Any] | None,
                     window: tuple[float | None, float | None]
                     ) -> tuple[list[np.ndarray], list[np.ndarray], list[float], DenseHits]:
        n = len(texts) if texts is not None else len(vectors)
        cue_w = [(j, w) for j, w in enumerate((cfg.nameless_weight, cfg.content_weight)) if w > 0] if texts else []
        if texts is not None:
            batch = list(texts)
            if cue_w:
                df, size = self.lexical.word_df(namespace)
                cues = [hub_free_cues(t, df, n=size, hub_fraction=cfg.hub_fraction) for t in texts]
                for j, _ in cue_w:
                    batch += [c[j] for c in cues]
            q = self.memory.encode_queries(batch)
        else:
            q = vectors
        hop = HopfieldConfig(state_weight=1.0) if cfg.settle else HopfieldConfig(max_steps=0, candidates=cfg.depth)
        scores, ids = self.memory.dense_search(q, cfg.depth, namespace=namespace, where=where, hopfield=hop,
                                               since=window[0], until=window[1])
        lists, list_scores, weights = [ids[:n]], [scores[:n]], [cfg.dense_weight]
        for t, (_, w) in enumerate(cue_w):
            lists.append(ids[n * (t + 1): n * (t + 2)])
            list_scores.append(scores[n * (t + 1): n * (t + 2)])
            weights.append(cfg.dense_weight * w)
        return lists, list_scores, weights, DenseHits(q[:n], scores[:n], ids[:n])

    def _cosine_floor(self, ids: np.ndarray, scores: np.ndarray, via: list[list[str]], dense: DenseHits,
                      min_cosine: float) -> None:
        """Turn results whose cosine to their query is below ``min_cosine`` into padding, in place
        (cosines from the query's dense list where it ranked the memory, else scored exactly)."""
        for r in range(ids.shape[0]):
            live = ids[r][ids[r] >= 0]
            if not len(live):
                continue
            cos = {int(i): float(c) for c, i in zip(dense.scores[r], dense.ids[r]) if i >= 0}
            rest = np.array([m for m in live.tolist() if m not in cos], dtype=np.int64)
            if len(rest):
                retr = self.memory.retriever
                c_s, c_i = retr.search(dense.queries[r:r + 1], len(rest), mask=retr.id_mask(rest),
                                       config=HopfieldConfig(max_steps=0, candidates=len(rest)))
                cos.update({int(i): float(c) for c, i in zip(c_s[0], c_i[0]) if i >= 0})
            keep = [j for j, m in enumerate(ids[r].tolist()) if m >= 0 and cos.get(m, -np.inf) >= min_cosine]
            row_s, row_i = scores[r, keep], ids[r, keep]
            scores[r], ids[r] = -np.inf, -1
            scores[r, :len(keep)], ids[r, :len(keep)] = row_s, row_i
            via[r] = [via[r][j] for j in keep]

    def _concept_list(self, fused: dict[int, float], query_text: str | None, cfg: RecallConfig,
                      namespace: str | None, allowed: set[int] | None) -> ConceptHits:
        """Memories ranked by the activation the concept walk brought them, and the concept that brought most."""
        graph = self.memory.concept_graph
        g = graph.matrices(cfg.max_df)
        if g.a.shape[0] == 0 or g.a.nnz == 0:
            return ConceptHits([], [], {}, 0.0)
        top = sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))[: cfg.seeds]
        p0 = np.zeros(g.a.shape[0])
        best = top[0][1] if top else 0.0
        for m, s in top:
            r = g.row.get(m)
            if r is not None:
                p0[r] = s if cfg.seed_temperature == 0 else np.exp((s - best) / cfg.seed_temperature)
        q = g.query_vector(extract_concepts(query_text), namespace) if query_text and cfg.query_concepts > 0 \
            else np.zeros(g.a.shape[1])
        mass = float(sum(s for _, s in top))
        if p0.sum() <= 0 and q.sum() <= 0:
            return ConceptHits([], [], {}, 0.0)
        x, c = spread((g.t_mc, g.t_cm), p0, q, steps=cfg.steps, restart=cfg.restart, query_weight=cfg.query_concepts)
        start = p0.sum()
        x = x - cfg.restart * (p0 / start if start > 0 else p0)  # what came through the graph
        x[~g.linked] = 0.0  # a memory sharing no concept only gets its own activation back
        order = np.argsort(-x, kind="stable")
        hits = ConceptHits([], [], {}, mass)
        for r in order.tolist():
            if x[r] <= 1e-12 or len(hits.ids) >= cfg.depth:
                break
            m = int(g.ids[r])
            if allowed is not None and m not in allowed:
                continue
            hits.ids.append(m)
            hits.activation.append(float(x[r]))
            row = g.a.getrow(r)
            contrib = row.data * c[row.indices]
            hits.via[m] = "concept:" + g.names[int(row.indices[int(np.argmax(contrib))])][1]
        return hits

    # ------------------------------------------------------------------ search
    def search(
        self,
        queries: Sequence[str] | np.ndarray,
        k: int,
        *,
        namespace: str | None = None,
        where: Mapping[str, Any] | None = None,
        config: RecallConfig | None = None,
        since: Any = None,
        until: Any = None,
        min_cosine: float | None = None,
    ) -> RecallOutput:
        """Recall ``k`` memories for each query (texts, or ``[n, d]`` vectors: then the text stages
        — cues, BM25, query concepts — have nothing to work on and are skipped). Results whose
        cosine to the query is below ``min_cosine`` become padding."""
        cfg = config or self.config
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InvalidInputError(f"k must be an int >= 1, got {k!r}")
        k = int(k)
        texts = None if isinstance(queries, np.ndarray) else [str(t) for t in queries]
        vectors = queries if isinstance(queries, np.ndarray) else None
        n = len(texts) if texts is not None else len(vectors)
        lo, hi = time_range(since, until)
        allowed = None
        if namespace is not None or where or lo is not None or hi is not None:
            allowed = set(self.memory.store.ids_matching(namespace=namespace, where=validate_where(where),
                                                         since=lo, until=hi).tolist())
        lists, list_scores, weights, dense = [], [], [], None
        if cfg.dense_weight > 0:
            lists, list_scores, weights, dense = self._dense_lists(texts, vectors, cfg, namespace, where, (lo, hi))
        kinds = [ScoreKind.COSINE] * len(lists)
        if cfg.lexical_weight > 0 and texts is not None:
            bm_scores, bm_ids = self.lexical.search(texts, cfg.depth, namespace=namespace, allowed=allowed)
            lists.append(bm_ids)
            list_scores.append(bm_scores)
            weights.append(cfg.lexical_weight)
            kinds.append(ScoreKind.UNBOUNDED)
        out_s = np.full((n, k), -np.inf, dtype=np.float32)
        out_i = np.full((n, k), -1, dtype=np.int64)
        via_all: list[list[str]] = []
        if not lists:
            return RecallOutput(out_s, out_i, [[] for _ in range(n)])
        if cfg.fusion is Fusion.RANK:
            fused_rows = reciprocal_rank_fusion(lists, weights, cfg.rrf_k, list_scores)
        else:
            fused_rows = score_fusion(lists, list_scores, weights, kinds)
        links = self.memory.concept_graph.links() if cfg.link_spread > 0 else {}
        for r, fused in enumerate(fused_rows):
            via: dict[int, str] = {}
            scores = dict(fused)
            if links:
                scores = order_spread(scores, links, cfg.link_spread)
                for m in scores.keys() - fused.keys():
                    best = max(links.get(m, ()), key=lambda o: (fused.get(o, 0.0), -o), default=None)
                    via[m] = f"link:{best}"
            if cfg.concept_spread > 0:
                hits = self._concept_list(scores, texts[r] if texts else None, cfg, namespace, allowed)
                # rank fusion: one more ranked list; score fusion: the seeds' score mass, shared out
                # as the walk shared their activation ((1 - r) of it left them)
                share = cfg.concept_spread * hits.seed_mass / max(1.0 - cfg.restart, 1e-12)
                # An associate may rise up to, never above, the best match it was reached from.
                ceiling = max(scores.values(), default=0.0) * (1.0 - 1e-6) if cfg.below_best else np.inf
                for rank, (m, act) in enumerate(zip(hits.ids, hits.activation)):
                    if m not in scores:
                        via[m] = hits.via[m]
                    gain = cfg.concept_spread / (cfg.rrf_k + rank + 1) if cfg.fusion is Fusion.RANK else share * act
                    own = scores.get(m, 0.0)
                    scores[m] = max(own, min(own + gain, ceiling))
            if allowed is not None:
                scores = {m: s for m, s in scores.items() if m in allowed}
            best = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
            for j, (m, s) in enumerate(best):
                out_s[r, j], out_i[r, j] = s, m
            via_all.append([via.get(m, DIRECT) for m, _ in best])
        if min_cosine is not None:
            if dense is None or cfg.settle:  # no stage-1 cosines at hand: every cosine is scored exactly
                q = dense.queries if dense is not None else (
                    self.memory.encode_queries(texts) if texts is not None else vectors)
                empty = np.full((n, 0), -1, dtype=np.int64)
                dense = DenseHits(q, empty.astype(np.float32), empty)
            self._cosine_floor(out_i, out_s, via_all, dense, min_cosine)
        return RecallOutput(out_s, out_i, via_all)
