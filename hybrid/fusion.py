"""Fusion retrieval for conversational memory: context keys, a BM25 index kept in sync, query cues, RRF, order and entity spread.

Five mechanisms, each usable alone (``docs/evaluation.md`` reports them alone and combined):

1. **Context keys** (at ingest, :func:`add_with_context`): besides its own text key, a memory of
   an ordered sequence (a conversation session) gets keys for ``previous + own`` and
   ``own + next`` texts. The memory's score is its best key (the retriever's contract), so a turn
   whose meaning depends on the turn before it ("Yes, I painted that last year.") can still be
   recalled by a question about its topic.
2. **Lexical + dense fusion** (:class:`FusionSearcher`): the dense two-stage Hopfield list and a
   BM25 list (``bm25s``, over the memories' texts, rebuilt when the store changes) are combined
   by weighted reciprocal rank fusion

   .. math::
       s(m) = \\sum_{l} \\frac{w_l}{k_0 + \\mathrm{rank}_l(m)} \\qquad (\\mathrm{rank} \\text{ from } 1)

3. **Order spread**: a memory also receives part of its sequence neighbours' fused score,

   .. math::
       s'(m) = s(m) + \\gamma \\max\\big(s(\\mathrm{prev}(m)), s(\\mathrm{next}(m))\\big),

   where ``prev``/``next`` are the memories at positions ``p∓1`` of the same sequence (same
   namespace and metadata value of ``sequence_field``, position in ``position_field``). Evidence
   for a question often spans a question turn and its answer turn.
4. **Entity spread** (one associative hop seeded by the fused ranking): the ``n_s`` best memories
   ``S`` after step 3 pass part of their score to the memories sharing a rare term with them
   (names, numbers, content-word stems of :func:`hybrid.linking.extract_terms` held by at most
   ``max_df`` memories of the namespace — the same terms ``Memory`` uses for its entity links):

   .. math::
       s''(m) = s'(m) + \\gamma_e \\sum_{a \\in S,\\, m \\in N_e(a)} s'(a)

   Multi-session evidence (a person's books, pets, trips) often shares such a term with the
   piece of evidence that is found first.
5. **Entity-free query cues** (:func:`query_cues`): besides the query ``q`` itself, the dense
   retriever is also asked with two cues made from it by text rules: ``c_n(q)``, the query's
   words without its names, and ``c_c(q)``, without its names and stop words (names and stop
   words as in :func:`hybrid.linking.extract_terms`). Their rankings are two more RRF lists,
   weighted relative to the dense list (``w_d = 0`` leaves out the cues too):

   .. math::
       s(m) = \\frac{w_d}{k_0 + r_{q}(m)} + \\frac{w_b}{k_0 + r_{\\mathrm{bm25}}(m)}
              + \\frac{w_d w_n}{k_0 + r_{c_n(q)}(m)} + \\frac{w_d w_c}{k_0 + r_{c_c(q)}(m)}

   A question naming a person ("What activities does Melanie do?") is pulled by the name
   towards every memory of or about that person; the cues rank by the asked-about topic alone,
   so memories on the topic (each a different item of a list answer) rise.

Defaults (``k_0 = 20``, ``γ = 0.5``, ``w_d = w_b = 1``, ``w_n = 0.3``, ``w_c = 1``, dense lists
without settle; ``γ_e = 0.1``, ``n_s = 5``, ``max_df = 8``) were chosen on LoCoMo conversations
0–1 and confirmed on 2–4 (``docs/evaluation.md``).

Example:
    >>> from hybrid import Memory                                           # doctest: +SKIP
    >>> mem = Memory.open("store")                                          # doctest: +SKIP
    >>> add_with_context(mem, ["Did you paint it?", "Yes, a sunrise last year."],
    ...                  metadata=[{"session": 1, "position": 0}, {"session": 1, "position": 1}])  # doctest: +SKIP
    >>> FusionSearcher(mem).search("what did she paint?", k=2)              # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .config import HopfieldConfig
from .errors import InvalidInputError
from .linking import _STOPWORDS, _WORD, extract_terms
from .store import DEFAULT_NAMESPACE, Key, validate_where

#: Key kinds written by :func:`add_with_context`.
CONTEXT_PREV = "context-prev"
CONTEXT_NEXT = "context-next"


@dataclass(frozen=True)
class FusionConfig:
    """Settings of :class:`FusionSearcher`.

    Attributes:
        rrf_k: ``k_0`` of reciprocal rank fusion (smaller trusts the top ranks more).
        dense_weight: weight ``w`` of the dense (Hopfield) list; 0 leaves it out.
        lexical_weight: weight of the BM25 list; 0 leaves it out.
        spread: ``γ`` of the order spread; 0 disables it.
        depth: candidates taken from each list before fusion.
        settle: rank the dense list by the Hopfield-settled state (the memory's retriever settings);
            ``False`` (default) uses stage 1 alone (exact best-key cosine): on LoCoMo the settle
            lowered recall (docs/evaluation.md).
        sequence_field / position_field: metadata fields that place a memory in a sequence.
        entity_spread: ``γ_e`` of the entity spread (0 disables it): the ``entity_seeds`` best
            memories after the order spread pass ``γ_e`` times their score to every memory that
            shares a rare term with them (:func:`entity_spread`).
        entity_seeds: how many of the best memories spread along entity links.
        entity_max_df: a term held by more memories than this links nothing (too common).
        nameless_weight: ``w_n``: the dense list of the query without its names
            (:func:`query_cues`) has weight ``w_d w_n``; 0 leaves it out.
        content_weight: ``w_c``: the dense list of the query's content words (no names, no stop
            words) has weight ``w_d w_c``; 0 leaves it out.
    """

    rrf_k: float = 20.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    spread: float = 0.5
    depth: int = 100
    settle: bool = False
    sequence_field: str = "session"
    position_field: str = "position"
    entity_spread: float = 0.1
    entity_seeds: int = 5
    entity_max_df: int = 8
    nameless_weight: float = 0.3
    content_weight: float = 1.0

    def __post_init__(self) -> None:
        for name in ("rrf_k", "dense_weight", "lexical_weight", "spread", "entity_spread", "nameless_weight",
                     "content_weight"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
                raise InvalidInputError(f"FusionConfig.{name} must be a finite number >= 0, got {v!r}")
        if self.dense_weight == 0 and self.lexical_weight == 0:
            raise InvalidInputError("FusionConfig: dense_weight and lexical_weight cannot both be 0")
        for name in ("depth", "entity_seeds", "entity_max_df"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InvalidInputError(f"FusionConfig.{name} must be an int >= 1, got {v!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ----------------------------------------------------------------------------- pure functions
def reciprocal_rank_fusion(
    id_lists: Sequence[np.ndarray], weights: Sequence[float], k0: float
) -> list[dict[int, float]]:
    """Weighted RRF of several ``[B, m]`` id arrays (``-1`` padding ignored) -> one ``{id: score}`` per row.

    Example:
        >>> out = reciprocal_rank_fusion([np.array([[7, 8]]), np.array([[8, -1]])], [1.0, 1.0], 0.0)
        >>> sorted(out[0].items())
        [(7, 1.0), (8, 1.5)]
    """
    if len(id_lists) != len(weights):
        raise InvalidInputError(f"got {len(id_lists)} lists and {len(weights)} weights")
    b = id_lists[0].shape[0] if id_lists else 0
    out: list[dict[int, float]] = [{} for _ in range(b)]
    for ids, w in zip(id_lists, weights):
        if w == 0:
            continue
        for r, row in enumerate(ids):
            acc = out[r]
            for rank, i in enumerate(row.tolist()):
                if i >= 0:
                    acc[i] = acc.get(i, 0.0) + w / (k0 + rank + 1)
    return out


def order_spread(scores: Mapping[int, float], neighbours: Mapping[int, Sequence[int]], gamma: float) -> dict[int, float]:
    """``s'(m) = s(m) + γ max_{n ∈ N(m)} s(n)`` over the memories with a score or a scored neighbour.

    Example:
        >>> order_spread({1: 1.0}, {1: [2], 2: [1, 3], 3: [2]}, 0.5)
        {1: 1.0, 2: 0.5}
    """
    if gamma == 0:
        return dict(scores)
    touched = set(scores)
    for m in scores:
        touched.update(neighbours.get(m, ()))
    out = {}
    for m in touched:
        best = max((scores.get(n, 0.0) for n in neighbours.get(m, ())), default=0.0)
        out[m] = scores.get(m, 0.0) + gamma * max(best, 0.0)
    return out


def term_neighbours(terms: Sequence[set[str]], max_df: int, groups: Sequence[Any] | None = None) -> list[list[int]]:
    """Items that share a rare term: ``N_e(i) = {j ≠ i : T_i ∩ T_j ∩ {t : df(t) ≤ max_df} ≠ ∅}``.

    ``df(t)`` counts the items holding ``t``, within the item's group when ``groups`` is given
    (e.g. namespaces, which never link to each other). Returns sorted neighbour positions per
    item. In the example ``"x"`` is held by 3 > ``max_df`` items and links nothing.

    Example:
        >>> term_neighbours([{"a", "x"}, {"a"}, {"x"}, {"x"}], max_df=2)
        [[1], [0], [], []]
    """
    if groups is not None and len(groups) != len(terms):
        raise InvalidInputError(f"groups has {len(groups)} entries for {len(terms)} term sets")
    holders: dict[tuple[Any, str], list[int]] = {}
    for i, ts in enumerate(terms):
        g = None if groups is None else groups[i]
        for t in ts:
            holders.setdefault((g, t), []).append(i)
    nb: list[set[int]] = [set() for _ in terms]
    for h in holders.values():
        if 2 <= len(h) <= max_df:
            for a in h:
                nb[a].update(h)
    return [sorted(x - {i}) for i, x in enumerate(nb)]


def entity_spread(scores: Mapping[int, float], neighbours: Mapping[int, Sequence[int]], gamma: float,
                  seeds: int) -> dict[int, float]:
    """``s'(m) = s(m) + γ_e Σ_{a ∈ S, m ∈ N_e(a)} s(a)``, ``S`` = the ``seeds`` best-scored items (ties: smaller id).

    One associative hop from the best current hits: a memory that shares a rare entity or key
    phrase with several of them collects from each. Seeds are not re-seeded (one hop only).

    Example:
        >>> entity_spread({1: 1.0, 2: 0.5, 3: 0.1}, {1: [3, 4], 2: [4]}, 0.2, seeds=2)
        {1: 1.0, 2: 0.5, 3: 0.30000000000000004, 4: 0.30000000000000004}
    """
    if gamma == 0 or seeds < 1:
        return dict(scores)
    top = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:seeds]
    out = dict(scores)
    for a, sa in top:
        for m in neighbours.get(a, ()):
            out[m] = out.get(m, 0.0) + gamma * sa
    return out


def query_cues(text: str) -> tuple[str, str]:
    """Entity-free cues of a query: ``(c_n, c_c)`` = its words without names, and without names and stop words.

    Words are :mod:`hybrid.linking`'s word tokens (punctuation dropped); a name is a capitalised
    token that is not a stop word (the rule of :func:`hybrid.linking.extract_terms`, possessive
    ``'s`` included); stop words are that module's list. A cue left empty falls back to the
    query text.

    Example:
        >>> query_cues("Which books has Anna Berg read since 2020?")
        ('Which books has read since 2020', 'books read since 2020')
        >>> query_cues("Anna?")
        ('Anna?', 'Anna?')
    """
    if not isinstance(text, str):
        raise InvalidInputError(f"query must be a str, got {type(text).__name__}")
    nameless, content = [], []
    for tok in _WORD.findall(text):
        low = tok.lower().strip("'-")
        if tok[0].isupper() and low not in _STOPWORDS and len(low) > 1:
            continue
        nameless.append(tok)
        if low not in _STOPWORDS:
            content.append(tok)
    return " ".join(nameless) or text, " ".join(content) or text


def top_k(scores: Mapping[int, float], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``k`` of ``{id: score}`` as ``([k] float32, [k] int64)``, ties by smaller id, padded ``-inf``/``-1``."""
    items = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
    s = np.full(k, -np.inf, dtype=np.float32)
    i = np.full(k, -1, dtype=np.int64)
    for j, (mid, sc) in enumerate(items):
        s[j], i[j] = sc, mid
    return s, i


def context_texts(texts: Sequence[str], sequences: Sequence[Any]) -> list[list[tuple[str, str]]]:
    """Extra ``(kind, text)`` keys per item: ``prev + own`` and ``own + next`` within the same sequence.

    Example:
        >>> context_texts(["a", "b", "c"], [1, 1, 2])
        [[('context-next', 'a b')], [('context-prev', 'a b')], []]
    """
    if len(texts) != len(sequences):
        raise InvalidInputError(f"texts has {len(texts)} entries and sequences {len(sequences)}")
    out: list[list[tuple[str, str]]] = []
    n = len(texts)
    for i, t in enumerate(texts):
        keys = []
        if i > 0 and sequences[i - 1] == sequences[i]:
            keys.append((CONTEXT_PREV, f"{texts[i - 1]} {t}"))
        if i + 1 < n and sequences[i + 1] == sequences[i]:
            keys.append((CONTEXT_NEXT, f"{t} {texts[i + 1]}"))
        out.append(keys)
    return out


# ------------------------------------------------------------------------------------- ingest
def add_with_context(
    memory: Any,
    texts: Sequence[str],
    *,
    metadata: Sequence[Mapping[str, Any] | None] | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    sequence_field: str = "session",
    context: bool = True,
    progress: bool = False,
) -> list[int]:
    """Add an ordered sequence of memories (turns), each with context keys; one transaction.

    Items are consecutive in ``texts``; an item's neighbours are the items before/after it with
    the same ``metadata[sequence_field]``. The memory's own keys (text + the memory's key
    generators) are kept; context keys are added on top when ``context`` is true.
    """
    texts = list(texts)
    metas = list(metadata) if metadata is not None else [None] * len(texts)
    if len(metas) != len(texts):
        raise InvalidInputError(f"metadata has {len(metas)} entries for {len(texts)} texts")
    if not texts:
        return []
    keys: list[list[Key]] = memory.make_keys(texts, progress=progress)
    if context:
        seqs = [(m or {}).get(sequence_field) for m in metas]
        extra = context_texts(texts, seqs)
        flat = [kt for ex in extra for _, kt in ex]
        if flat:
            vecs = memory.encoder.encode(flat, progress=progress)
            j = 0
            for i, ex in enumerate(extra):
                for kind, kt in ex:
                    keys[i].append(Key(kind, kt, vecs[j]))
                    j += 1
    with memory._lock:
        ids = memory.store.add(texts, keys, metadata=metas, namespace=namespace)
        memory.refresh(force=True)
        link_ingested(memory, ids, texts, [(m or {}).get(sequence_field) for m in metas], namespace)
    return ids


def link_ingested(memory: Any, ids: Sequence[int], texts: Sequence[str], sequences: Sequence[Any],
                  namespace: str) -> None:
    """Make the associations ``Memory.add`` makes at ingest, when this Memory has an associative layer.

    Entity links over the whole batch (``Memory._auto_link(..., sequence=False)``) and order links
    within each run of equal ``sequences`` (``Memory.link_sequence``). Feature-detected: a Memory
    without associations is left as it is.
    """
    auto = getattr(memory, "_auto_link", None)
    if auto is not None:
        auto(list(ids), list(texts), namespace, False)
    link_seq = getattr(memory, "link_sequence", None)
    if link_seq is None or getattr(getattr(memory, "link_config", None), "order", True) is False:
        return
    run: list[int] = []
    for i, mid in enumerate(ids):
        if run and sequences[i] != sequences[i - 1]:
            if len(run) > 1 and sequences[i - 1] is not None:
                link_seq(run)
            run = []
        run.append(mid)
    if len(run) > 1 and sequences[-1] is not None:
        link_seq(run)


# ------------------------------------------------------------------------------------- search
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


class FusionSearcher:
    """Dense Hopfield recall of the query and its cues + BM25, fused by RRF, then order and entity spread (the retrieval contract on top).

    Args:
        memory: an open :class:`~hybrid.memory.Memory`.
        config: :class:`FusionConfig`.
    """

    def __init__(self, memory: Any, config: FusionConfig | None = None) -> None:
        self.memory = memory
        self.config = config or FusionConfig()
        self.lexical = LexicalIndex(memory.store)
        self._nb_version: tuple | None = None
        self._neighbours: dict[int, list[int]] = {}
        self._ent_version: tuple | None = None
        self._entity_nb: dict[int, list[int]] = {}

    def neighbours(self) -> dict[int, list[int]]:
        """Sequence neighbours ``{id: [prev, next]}`` from the memories' metadata."""
        ids, ns, metas = self.lexical.records()
        version = (self.lexical._version, self.config.sequence_field, self.config.position_field)
        if version == self._nb_version:
            return self._neighbours
        place: dict[tuple, int] = {}
        for mid, n, m in zip(ids.tolist(), ns, metas):
            seq, pos = m.get(self.config.sequence_field), m.get(self.config.position_field)
            if seq is not None and isinstance(pos, int):
                place[(n, json.dumps(seq, sort_keys=True), pos)] = mid
        nb: dict[int, list[int]] = {}
        for (n, seq, pos), mid in place.items():
            nb[mid] = [place[key] for key in ((n, seq, pos - 1), (n, seq, pos + 1)) if key in place]
        self._neighbours, self._nb_version = nb, version
        return nb

    def entity_neighbours(self) -> dict[int, list[int]]:
        """Memories sharing a rare term (``hybrid.linking.extract_terms``), per namespace: ``{id: [ids]}``."""
        ids, ns, texts = self.lexical.texts()
        version = (self.lexical._version, self.config.entity_max_df)
        if version == self._ent_version:
            return self._entity_nb
        nb = term_neighbours([extract_terms(t) for t in texts], self.config.entity_max_df, ns)
        idl = ids.tolist()
        self._entity_nb = {idl[i]: [idl[j] for j in row] for i, row in enumerate(nb) if row}
        self._ent_version = version
        return self._entity_nb

    def search_ids(
        self, queries: Sequence[str], k: int = 5, *, namespace: str | None = None, where: Mapping[str, Any] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` ``[n, k]`` (padding ``-inf``/``-1``); scores are fused scores, not cosines.

        ``where`` is the metadata equality filter of :meth:`hybrid.memory.Memory.search`: every
        list is restricted to the matching memories, and so are the results (the spread may pass
        through other memories' neighbours but never returns them).
        """
        if isinstance(queries, str):
            queries = [queries]
        if not isinstance(k, int) or k < 1:
            raise InvalidInputError(f"k must be an int >= 1, got {k!r}")
        allowed = None
        if where:
            allowed = set(self.memory.store.ids_matching(namespace=namespace, where=validate_where(where)))
        cfg = self.config
        depth = max(cfg.depth, k)
        lists, weights = [], []
        n = len(queries)
        # One batched dense search: the queries, then each active cue of every query.
        if cfg.dense_weight > 0:
            cue_w = [(j, w) for j, w in enumerate((cfg.nameless_weight, cfg.content_weight)) if w > 0]
            dense_q = list(queries)
            if cue_w:
                cues = [query_cues(q) for q in queries]
                for j, _ in cue_w:
                    dense_q += [c[j] for c in cues]
            hop = HopfieldConfig(state_weight=1.0) if cfg.settle else HopfieldConfig(max_steps=0, candidates=depth)
            dense = self.memory.search_ids(dense_q, depth, namespace=namespace, where=where, hopfield=hop)[1]
            lists.append(dense[:n])
            weights.append(cfg.dense_weight)
            for t, (_, w) in enumerate(cue_w):
                lists.append(dense[n * (t + 1): n * (t + 2)])
                weights.append(cfg.dense_weight * w)
        if cfg.lexical_weight > 0:
            lists.append(self.lexical.search(list(queries), depth, namespace=namespace, allowed=allowed)[1])
            weights.append(cfg.lexical_weight)
        fused = reciprocal_rank_fusion(lists, weights, cfg.rrf_k)
        nb = self.neighbours() if cfg.spread > 0 else {}
        enb = self.entity_neighbours() if cfg.entity_spread > 0 else {}
        out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_i = np.full((len(queries), k), -1, dtype=np.int64)
        for r, sc in enumerate(fused):
            sc = entity_spread(order_spread(sc, nb, cfg.spread), enb, cfg.entity_spread, cfg.entity_seeds)
            if allowed is not None:
                sc = {m: v for m, v in sc.items() if m in allowed}
            out_s[r], out_i[r] = top_k(sc, k)
        return out_s, out_i

    def search(self, query: str, k: int = 5, *, namespace: str | None = None, where: Mapping[str, Any] | None = None) -> list:
        """Rich results (:class:`~hybrid.memory.SearchResult`) for one query."""
        s, i = self.search_ids([query], k, namespace=namespace, where=where)
        return self.memory.results_for(s, i)[0]
