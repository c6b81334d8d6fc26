"""What the neuromorphic recall network holds (synaptic weights taken from a store) and what the host sends it.

The network answers a text question the way :meth:`hybrid.memory.Memory.search` does (the
default recall, :mod:`hybrid.recall.pipeline`). The host does only what needs text: it encodes
the question and its two hub-free cues with MiniLM, tokenises it for BM25 and extracts its
concepts. Everything after that runs in Lava on weights read from the store:

========================  ===========================================  ==============================
Dense layer               weights                                      production counterpart
========================  ===========================================  ==============================
keys ``K`` [R, d]         every stored key (own text, context keys)    exact stage 1 of the retriever
lexical ``B`` [M, V]      BM25 contribution of each word to a memory   ``bm25s`` score matrix
links ``L`` [S·M, M]      one-hot neighbour slots (sequence, ``link``) :func:`~hybrid.recall.fuse.order_spread`
memory→concept [C, M]     ``P_mcᵀ`` (Hebbian synapses, row-normalised) :func:`~hybrid.recall.spread.spread`
concept→memory [M, C]     ``P_cmᵀ``                                     :func:`~hybrid.recall.spread.spread`
========================  ===========================================  ==============================

In the fixed-point network every layer's weights are integers of at most 8 bits with a shared
exponent, split into ``parts`` 8-bit slices (:func:`split_weights`): slice ``j`` is a Dense layer
of its own with ``weight_exp`` lowered by 7 (mixed signs) or 8 bits per slice, and the slices'
currents add up in the receiving neurons' dendrites, so ``parts = 2`` gives a 15-16-bit weight
from 8-bit synapses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

#: Bits of a synaptic weight slice (Loihi 2: up to 8).
SLICE_BITS = 8


@dataclass(frozen=True)
class QuantizedLayer:
    """An integer weight matrix as ``parts`` 8-bit slices: ``W ≈ Σ_j W_j · 2^{e_j}``.

    Attributes:
        slices: ``[(W_j int64 [out, in], e_j)]``; ``W_j`` fits Loihi 2's 8-bit weights (even values
            in ``[-254, 254]`` for mixed signs, ``[0, 255]`` for excitatory layers).
        scale: real weight ``w`` is represented as ``w · 2^{frac}`` units after the shift.
        frac: fraction bits of the layer's output current.
    """

    slices: tuple[tuple[np.ndarray, int], ...]
    frac: int

    def apply(self, s: np.ndarray) -> np.ndarray:
        """The bit-accurate current of a graded input ``s`` (int), as Lava's fixed-point Dense computes it:
        ``Σ_j (W_j s) >> -e_j`` (arithmetic shift of the int64 accumulator)."""
        s = np.asarray(s, dtype=np.int64)
        out = np.zeros(self.slices[0][0].shape[0], dtype=np.int64)
        for w, e in self.slices:
            acc = w @ s
            out += np.left_shift(acc, e) if e > 0 else np.right_shift(acc, -e)
        return out


def split_weights(w: np.ndarray | sp.spmatrix, *, input_frac: int, output_frac: int, parts: int) -> QuantizedLayer:
    """Quantise real weights ``w`` into ``parts`` 8-bit slices for an input with ``input_frac`` fraction
    bits, so that the summed current has ``output_frac`` fraction bits.

    .. math::
        w \\approx 2^{-b} \\sum_{j=0}^{p-1} w_j\\, 2^{-\\sigma j}, \\qquad
        b = \\Big\\lfloor \\log_2 \\frac{w_{\\max}^{int}}{\\max |w|} \\Big\\rfloor

    with ``w_max^int`` 254 (mixed signs: Loihi 2 drops the lowest bit, so slices are even) or 255
    (non-negative). Mixed-sign slices are rounded to even values and their residual (at most 1)
    is carried ``σ = 7`` bits down; non-negative slices are floored and carried ``σ = 8`` bits.
    Slice ``j`` has ``weight_exp = output_frac - input_frac - b - σ j``.

    Raises:
        ValueError: ``parts`` not in 1..3, or a non-finite weight.
    """
    if parts not in (1, 2, 3):
        raise ValueError(f"parts must be 1, 2 or 3, got {parts!r}")
    dense = np.asarray(w.todense() if sp.issparse(w) else w, dtype=np.float64)
    if not np.all(np.isfinite(dense)):
        raise ValueError("weights contain NaN or infinite values")
    mixed = bool(dense.min(initial=0.0) < 0)
    top = 254 if mixed else 255
    wmax = float(np.abs(dense).max(initial=0.0))
    b = int(math.floor(math.log2(top / wmax))) if wmax > 0 else 0
    rest = dense * 2.0**b
    # mixed signs: even slices, each residual |r| <= 1 is carried 7 bits down; non-negative: floor, 8 bits
    step = SLICE_BITS - 1 if mixed else SLICE_BITS
    slices, shift = [], 0
    for j in range(parts):
        if mixed:
            q = np.rint(rest / 2) * 2
        else:
            q = np.rint(rest) if j == parts - 1 else np.floor(rest)
        q = np.clip(q, -top if mixed else 0, top).astype(np.int64)
        slices.append((q, output_frac - input_frac - b - shift))
        rest = (rest - q) * 2.0**step
        shift += step
    return QuantizedLayer(tuple(slices), output_frac)


@dataclass
class RecallWeights:
    """The recall network's synapses for the memories of one namespace (or a whole store).

    Attributes:
        ids: ``[M]`` memory ids, ascending (neuron ``i`` is memory ``ids[i]``).
        keys: ``[R, d]`` unit key vectors; ``key_owner[r]`` is the neuron of key ``r``.
        lexical: ``[M, V]`` BM25 contributions (CSR); ``vocab`` maps a word to its column.
        link_slots: ``[M, S]`` neuron of each memory's ``s``-th linked memory (``-1``: none).
        t_mc, t_cm: ``[C, M]`` and ``[M, C]`` walk transitions; ``linked``: ``[M]`` bool.
        concept_names: ``[(namespace, name)]`` of the ``C`` concept cells.
        config: the :class:`~hybrid.recall.config.RecallConfig` as a dict.
    """

    ids: np.ndarray
    keys: np.ndarray
    key_owner: np.ndarray
    lexical: sp.csr_matrix
    vocab: dict[str, int]
    link_slots: np.ndarray
    t_mc: sp.csr_matrix
    t_cm: sp.csr_matrix
    linked: np.ndarray
    concept_names: list[tuple[str, str]]
    config: dict[str, Any]
    namespace: str | None = None
    graph: Any = field(default=None, repr=False)

    @property
    def memories(self) -> int:
        return int(self.ids.shape[0])

    @property
    def concepts(self) -> int:
        return int(self.t_mc.shape[0])

    def counts(self) -> dict[str, int]:
        """Neurons and non-zero synapses of each layer (for the report and the resource estimate)."""
        return {
            "memories": self.memories, "keys": int(self.keys.shape[0]), "dim": int(self.keys.shape[1]),
            "vocabulary": int(self.lexical.shape[1]), "concepts": self.concepts,
            "link_slots": int(self.link_slots.shape[1]),
            "key_synapses": int(self.keys.size), "lexical_synapses": int(self.lexical.nnz),
            "link_synapses": int((self.link_slots >= 0).sum()),
            "walk_synapses": int(self.t_mc.nnz + self.t_cm.nnz),
        }


def from_memory(memory: Any, *, namespace: str | None = None) -> RecallWeights:
    """Read the network's weights from an open :class:`~hybrid.memory.Memory` (its default recall's settings)."""
    from hybrid.recall.spread import transitions

    cfg = memory.recall_config
    store = memory.store
    recall = memory.recall
    lex_ids, lex_ns, _ = recall.lexical.records()
    key_ids, key_vecs = store.all_keys()
    ids = np.array(sorted(int(m) for m, ns in zip(lex_ids.tolist(), lex_ns) if namespace is None or ns == namespace),
                   dtype=np.int64)
    if ids.size == 0:
        raise ValueError(f"no memories to deploy (namespace {namespace!r})")
    pos = {int(m): i for i, m in enumerate(ids.tolist())}
    keep = np.array([int(m) in pos for m in key_ids.tolist()], dtype=bool)
    keys = np.asarray(key_vecs[keep], dtype=np.float64)
    keys /= np.maximum(np.linalg.norm(keys, axis=1, keepdims=True), 1e-12)
    owner = np.array([pos[int(m)] for m in key_ids[keep].tolist()], dtype=np.int64)
    # BM25: the bm25s score matrix is CSC over the vocabulary (one column per word)
    bm = recall.lexical._bm25
    lex_rows = np.array([pos.get(int(m), -1) for m in lex_ids.tolist()], dtype=np.int64)
    sc = bm.scores
    csc = sp.csc_matrix((sc["data"], sc["indices"], sc["indptr"]), shape=(len(lex_ids), len(sc["indptr"]) - 1))
    lex_all = csc.tocsr()
    lex = sp.csr_matrix(lex_all[np.flatnonzero(lex_rows >= 0)], dtype=np.float64)
    order = np.argsort(lex_rows[lex_rows >= 0])
    lex = lex[order]
    # links: one slot per neighbour
    links = memory.concept_graph.links() if cfg.link_spread > 0 else {}
    nb = [[pos[o] for o in links.get(int(m), ()) if int(o) in pos] for m in ids.tolist()]
    width = max((len(x) for x in nb), default=0)
    slots = np.full((len(ids), max(width, 1)), -1, dtype=np.int64)
    for i, x in enumerate(nb):
        slots[i, : len(x)] = sorted(x)
    # concept graph restricted to these memories (concept cells are per namespace)
    g = memory.concept_graph.matrices(cfg.max_df)
    rows = np.array([g.row.get(int(m), -1) for m in ids.tolist()], dtype=np.int64)
    a = sp.csr_matrix((len(ids), g.a.shape[1]))
    if g.a.shape[0]:
        sel = sp.csr_matrix((np.ones(int((rows >= 0).sum())), (np.flatnonzero(rows >= 0), rows[rows >= 0])),
                            shape=(len(ids), g.a.shape[0]))
        a = sp.csr_matrix(sel @ g.a)
    used = np.flatnonzero(np.asarray((a > 0).sum(axis=0)).ravel() > 0)
    a = a[:, used]
    t_mc, t_cm = transitions(a)
    shared = (np.asarray((a > 0).sum(axis=0)).ravel() >= 2).astype(np.float64)
    linked = ((a > 0).astype(np.float64) @ shared > 0) if a.shape[0] else np.zeros(0, dtype=bool)
    names = [g.names[int(j)] for j in used.tolist()]
    return RecallWeights(ids, keys, owner, lex, {t: j for t, j in bm.vocab_dict.items() if j < lex.shape[1]}, slots, t_mc, t_cm, np.asarray(linked, dtype=bool),
                         names, cfg.to_dict(), namespace, g)


@dataclass
class QueryInputs:
    """What the host sends per question: ``vectors [n, L, d]`` (question, nameless cue, content cue),
    ``terms [n, V]`` BM25 word counts, ``concepts [n, C]`` the question's concept cells by specificity."""

    texts: list[str]
    vectors: np.ndarray
    list_weights: np.ndarray
    terms: np.ndarray
    concepts: np.ndarray


def encode_queries(memory: Any, weights: RecallWeights, texts: Sequence[str]) -> QueryInputs:
    """The host's part of a recall: MiniLM vectors of the question and its cues, BM25 word counts and
    query concepts, exactly as :class:`~hybrid.recall.pipeline.Recall` forms them."""
    import bm25s

    from hybrid.recall.concepts import extract_concepts
    from hybrid.recall.cues import hub_free_cues

    cfg = memory.recall_config
    texts = [str(t) for t in texts]
    recall = memory.recall
    df, size = recall.lexical.word_df(weights.namespace)
    cue_w = [(j, w) for j, w in enumerate((cfg.nameless_weight, cfg.content_weight)) if w > 0]
    batch = list(texts)
    cues = [hub_free_cues(t, df, n=size, hub_fraction=cfg.hub_fraction) for t in texts]
    for j, _ in cue_w:
        batch += [c[j] for c in cues]
    q = np.asarray(memory.encode_queries(batch), dtype=np.float64)
    q /= np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    n, lists = len(texts), 1 + len(cue_w)
    vectors = np.stack([q[i * n:(i + 1) * n] for i in range(lists)], axis=1)
    list_w = np.array([cfg.dense_weight] + [cfg.dense_weight * w for _, w in cue_w], dtype=np.float64)
    terms = np.zeros((n, weights.lexical.shape[1]), dtype=np.int64)
    tok = bm25s.tokenize(texts, stopwords="en", show_progress=False)
    inv = {i: w for w, i in tok.vocab.items()}
    for r, row in enumerate(tok.ids):
        for t in row:
            col = weights.vocab.get(inv[t])
            if col is not None:
                terms[r, col] += 1
    conc = np.zeros((n, weights.concepts))
    col_of = {name: j for j, name in enumerate(weights.concept_names)}
    g = weights.graph
    for r, t in enumerate(texts):
        if cfg.query_concepts <= 0 or g is None:
            continue
        full = g.query_vector(extract_concepts(t), weights.namespace)
        for j in np.flatnonzero(full).tolist():
            c = col_of.get(g.names[j])
            if c is not None:
                conc[r, c] = full[j]
    return QueryInputs(texts, vectors, list_w, terms, conc)
