"""The default recall as one Lava network: a text question in, the ranked memory ids out.

The host encodes the question (:func:`~deploy_loihi.recall_weights.encode_queries`); Lava runs
the rest on Loihi 2 process models (``floating_pt`` or bit-accurate ``fixed_pt``):

.. code-block:: text

    GradedEncoder(query, cues) ─▶ Dense(keys K, R×d) ──────▶ ┐
    GradedEncoder(BM25 words) ─▶ Dense(BM25 B, M×V) ───────▶ ├─ MemoryLayer (M) ─▶ RankedReadout
                                   Dense(link slots, SM×M) ◀▶ │      │ ▲
    GradedEncoder(concepts) ─▶ ConceptLayer (C) ◀─ Dense(P_mcᵀ) ◀───┘ │
                                   └──────────▶ Dense(P_cmᵀ) ─────────┘

:func:`run_network` builds and runs it for a batch of questions, one question per
:class:`~deploy_loihi.recall_functional.Schedule` period; :func:`reference_network` computes the
same thing with NumPy (the tests require the two to agree exactly).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from deploy_loihi.fixed import MAX_MESSAGE_BITS
from deploy_loihi.recall_functional import (
    QUERY_FRAC,
    SCORE_FRAC,
    WALK_FRAC,
    RecallParams,
    Schedule,
    make_math,
    pool_keys,
    search_length,
)
from deploy_loihi.recall_weights import QuantizedLayer, QueryInputs, RecallWeights, split_weights

PRECISIONS = ("floating_pt", "fixed_pt")


@dataclass(frozen=True)
class NetworkConfig:
    """How the recall is quantised and run.

    Attributes:
        k: results per question.
        key_parts, lexical_parts, walk_parts: 8-bit slices per weight of the key, BM25 and walk
            layers in ``fixed_pt`` (:func:`~deploy_loihi.recall_weights.split_weights`).
        message_bits: graded payload bits of the query vectors in ``fixed_pt``.
        stepped_search: run every threshold search one iteration per Lava time step (as on the
            chip); False runs each search inside the step that starts it (same results, about
            20 times fewer simulated steps).
        timeout_s: deadline of one Lava run.
    """

    k: int = 10
    key_parts: int = 2
    lexical_parts: int = 1
    walk_parts: int = 2
    message_bits: int = 16
    stepped_search: bool = True
    timeout_s: float = 600.0

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ValueError(f"k must be an int >= 1, got {self.k!r}")
        for name in ("key_parts", "lexical_parts", "walk_parts"):
            if getattr(self, name) not in (1, 2, 3):
                raise ValueError(f"{name} must be 1, 2 or 3, got {getattr(self, name)!r}")
        if self.message_bits != 16:
            raise ValueError(f"message_bits: the key layer's scale assumes 16-bit query payloads, got {self.message_bits!r}")
        if not isinstance(self.stepped_search, bool):
            raise ValueError(f"stepped_search must be a bool, got {self.stepped_search!r}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s!r}")


def link_matrix(slots: np.ndarray) -> sp.csr_matrix:
    """One-hot ``[M·S, M]``: row ``m·S + j`` reads the score of memory ``m``'s ``j``-th neighbour."""
    m, s = slots.shape
    rows = np.flatnonzero(slots.reshape(-1) >= 0)
    cols = slots.reshape(-1)[rows]
    return sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(m * s, m))


@dataclass
class Layers:
    """Each Dense layer as a list of ``(weights, weight_exp)`` slices (one real-valued slice in ``floating_pt``)."""

    keys: list[tuple[np.ndarray, int]]
    lexical: list[tuple[np.ndarray, int]]
    link: list[tuple[np.ndarray, int]]
    mc: list[tuple[np.ndarray, int]]
    cm: list[tuple[np.ndarray, int]]

    def synapses(self) -> dict[str, int]:
        return {name: int(sum(np.count_nonzero(w) for w, _ in getattr(self, name)))
                for name in ("keys", "lexical", "link", "mc", "cm")}


def build_layers(w: RecallWeights, precision: str, cfg: NetworkConfig) -> Layers:
    """The Dense weights of ``precision``: real matrices, or 8-bit slices with their exponents."""
    mats = {"keys": w.keys, "lexical": w.lexical, "link": link_matrix(w.link_slots), "mc": w.t_mc, "cm": w.t_cm}
    if precision == "floating_pt":
        return Layers(**{n: [(np.asarray(m.todense() if sp.issparse(m) else m, dtype=np.float64), 0)]
                         for n, m in mats.items()})
    if precision != "fixed_pt":
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    spec = {"keys": (QUERY_FRAC, SCORE_FRAC, cfg.key_parts), "lexical": (0, SCORE_FRAC, cfg.lexical_parts),
            "link": (SCORE_FRAC, SCORE_FRAC, 1), "mc": (WALK_FRAC, WALK_FRAC, cfg.walk_parts),
            "cm": (WALK_FRAC, WALK_FRAC, cfg.walk_parts)}
    out = {}
    for n, m in mats.items():
        i_f, o_f, parts = spec[n]
        q = split_weights(m, input_frac=i_f, output_frac=o_f, parts=parts)
        out[n] = [(wj, e) for wj, e in q.slices if np.any(wj)] or [q.slices[0]]
    return Layers(**out)


def _apply(slices: list[tuple[np.ndarray, int]], s: np.ndarray, precision: str) -> np.ndarray:
    if precision == "floating_pt":
        return slices[0][0] @ s
    return QuantizedLayer(tuple(slices), 0).apply(s)


@dataclass
class Payloads:
    """What the host sends: the query vectors (``[B, L, d]``), BM25 word counts and concept activation, as the
    network's number type (the fixed-point payloads are integers)."""

    vectors: np.ndarray
    terms: np.ndarray
    concepts: np.ndarray


def payloads(inputs: QueryInputs, params: RecallParams, precision: str, cfg: NetworkConfig) -> Payloads:
    from deploy_loihi.fixed import quantize_graded

    math_ = make_math(precision, params)
    conc = np.stack([math_.query_concepts(q) for q in inputs.concepts]) if len(inputs.concepts) else inputs.concepts
    if precision == "floating_pt":
        return Payloads(inputs.vectors, inputs.terms.astype(np.float64), conc)
    return Payloads(quantize_graded(inputs.vectors, cfg.message_bits).astype(np.int64), inputs.terms.astype(np.int64),
                    conc.astype(np.int64))


@dataclass
class NetworkResult:
    """Ranked memory ids ``[B, k]`` (``-1`` padded) and scores per question, with the run's counts."""

    ids: np.ndarray
    scores: np.ndarray
    precision: str
    steps: int = 0
    wall_s: float = 0.0
    spikes: int = 0
    syn_events: int = 0
    searches: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _to_ids(w: RecallWeights, neurons: list[np.ndarray], scores: list[np.ndarray], k: int, precision: str) -> NetworkResult:
    ids = np.full((len(neurons), k), -1, dtype=np.int64)
    sc = np.full((len(neurons), k), -np.inf)
    for b, (n, s) in enumerate(zip(neurons, scores)):
        n = np.asarray(n)[:k]
        ids[b, : n.size] = w.ids[n]
        sc[b, : n.size] = np.asarray(s)[: n.size]
    return NetworkResult(ids, sc, precision)


def reference_network(w: RecallWeights, inputs: QueryInputs, params: RecallParams, precision: str,
                      cfg: NetworkConfig | None = None) -> NetworkResult:
    """What the Lava network computes, with NumPy: the same stages, weights and number type."""
    cfg = cfg or NetworkConfig()
    layers = build_layers(w, precision, cfg)
    pay = payloads(inputs, params, precision, cfg)
    math_ = make_math(precision, params)
    m = w.memories
    linked = w.linked
    neurons, scores, searches = [], [], 0
    for b in range(len(inputs.texts)):
        st = math_.start(m)
        math_.lexical_list(st, _apply(layers.lexical, pay.terms[b], precision))
        for j, weight in enumerate(inputs.list_weights):
            math_.dense_list(st, pool_keys(_apply(layers.keys, pay.vectors[b, j], precision), w.key_owner, m), float(weight))
        slots = _apply(layers.link, st.score, precision).reshape(m, -1)
        math_.link(st, slots, slots > 0)
        math_.seed(st)
        for _ in range(params.steps):
            c = math_.concept(_apply(layers.mc, st.x, precision), pay.concepts[b])
            math_.walk(st, _apply(layers.cm, c, precision))
        math_.finish(st, linked)
        idx, sc = math_.result(st, cfg.k)
        neurons.append(idx)
        scores.append(sc)
        searches += st.searches
    out = _to_ids(w, neurons, scores, cfg.k, precision)
    out.searches = searches
    return out


def _schedule_rows(rows: np.ndarray, period: int, offsets: list[int]) -> np.ndarray:
    """``[B·period, width]``: row ``b·period + offsets[j]`` holds ``rows[b, j]`` (zeros elsewhere)."""
    b, _, width = rows.shape
    out = np.zeros((b * period, width), dtype=np.float64)
    for j, off in enumerate(offsets):
        out[np.arange(b) * period + off] = rows[:, j]
    return out


def _encoder_vectors(x: np.ndarray, precision: str, bits: int) -> np.ndarray:
    """Payloads as :class:`~deploy_loihi.encoder.process.GradedEncoder` input: its fixed-point model sends
    ``round(x · (2^{b-1} - 1))``, so integer payloads are passed divided by that scale."""
    if precision == "floating_pt":
        return x
    return x / float((1 << (bits - 1)) - 1)


def _network(w: RecallWeights, inputs: QueryInputs, params: RecallParams, precision: str, cfg: NetworkConfig):
    from lava.proc.dense.process import Dense

    from deploy_loihi.concept_layer.process import ConceptLayer
    from deploy_loihi.encoder.process import GradedEncoder
    from deploy_loihi.memory_layer.process import MemoryLayer
    from deploy_loihi.ranked_readout.process import RankedReadout

    layers = build_layers(w, precision, cfg)
    pay = payloads(inputs, params, precision, cfg)
    lists = inputs.vectors.shape[1]
    iterations = search_length(w.memories) if cfg.stepped_search else 0
    sched = Schedule(lists, params.steps, iterations)
    b, m, c = len(inputs.texts), w.memories, max(w.concepts, 1)
    period = sched.period
    qbits = cfg.message_bits if precision == "fixed_pt" else MAX_MESSAGE_BITS
    key_rows = _schedule_rows(pay.vectors, period, [sched.list_arrival(j) - 2 for j in range(lists)])
    term_rows = _schedule_rows(pay.terms[:, None, :], period, [0])
    concepts = pay.concepts if w.concepts else np.zeros((b, 1))
    conc_rows = _schedule_rows(concepts[:, None, :], period, [0])
    enc_key = GradedEncoder(vectors=_encoder_vectors(key_rows, precision, qbits), period=1, num_message_bits=qbits)
    enc_lex = GradedEncoder(vectors=_encoder_vectors(term_rows, precision, MAX_MESSAGE_BITS), period=1,
                            num_message_bits=MAX_MESSAGE_BITS)
    enc_con = GradedEncoder(vectors=_encoder_vectors(conc_rows, precision, MAX_MESSAGE_BITS), period=1,
                            num_message_bits=MAX_MESSAGE_BITS)

    def col_nnz(slices):
        return sum((wj != 0).sum(axis=0) for wj, _ in slices).astype(np.int64)

    link_w = layers.link
    mc = layers.mc if w.concepts else [(np.zeros((1, m)), 0)]
    cm = layers.cm if w.concepts else [(np.zeros((m, 1)), 0)]
    mem = MemoryLayer(shape=(m,), key_owner=w.key_owner, link_width=w.link_slots.shape[1], linked=w.linked,
                      list_weights=inputs.list_weights, recall=params.__dict__, k=min(cfg.k, m),
                      fanout_link=col_nnz(link_w), fanout_walk=col_nnz(mc), iterations=iterations)
    con = ConceptLayer(shape=(c,), lists=lists, recall=params.__dict__, fanout=col_nnz(cm), iterations=iterations)
    ro = RankedReadout(shape=(m,), k=min(cfg.k, m), period=period, offset=sched.result, questions=b)

    def dense(slices, src, dst):
        for wj, e in slices:
            kw = {"weight_exp": int(e)} if precision == "fixed_pt" else {}
            d = Dense(weights=wj, num_message_bits=MAX_MESSAGE_BITS, **kw)
            src.connect(d.s_in)
            d.a_out.connect(dst)

    dense(layers.keys, enc_key.s_out, mem.a_key)
    dense(layers.lexical, enc_lex.s_out, mem.a_lex)
    dense(link_w, mem.s_link, mem.a_link)
    dense(mc, mem.s_walk, con.a_in)
    dense(cm, con.s_out, mem.a_walk)
    enc_con.s_out.connect(con.a_query)
    mem.s_out.connect(ro.s_in)
    d = pay.vectors.shape[-1]
    key_nz = (np.asarray(pay.vectors) != 0).reshape(-1, d).sum(axis=0)
    host = {"spikes": int(np.count_nonzero(pay.vectors) + np.count_nonzero(pay.terms) + np.count_nonzero(pay.concepts)),
            "syn_events": int(key_nz @ col_nnz(layers.keys)) + int((pay.terms != 0).sum(axis=0) @ col_nnz(layers.lexical))}
    return mem, con, ro, b * period, host


def _run_lava(w: RecallWeights, inputs: QueryInputs, params: RecallParams, precision: str, cfg: NetworkConfig) -> dict:
    from deploy_loihi.network import _run

    mem, con, ro, steps, host = _network(w, inputs, params, precision, cfg)

    def read():
        return {"ids": np.asarray(ro.ids.get()), "values": np.asarray(ro.values.get()),
                "spikes": int(mem.spikes.get()[0] + con.spikes.get()[0]) + host["spikes"],
                "syn_events": int(mem.syn_events.get()[0] + con.syn_events.get()[0]) + host["syn_events"],
                "searches": int(mem.searches.get()[0])}

    out, wall = _run(mem, steps, precision, read)
    out.update(steps=steps, wall_s=wall)
    return out


def run_network(w: RecallWeights, inputs: QueryInputs, params: RecallParams, precision: str,
                cfg: NetworkConfig | None = None) -> NetworkResult:
    """Run the Lava network on every question (in a child process with ``cfg.timeout_s``); returns the ranking."""
    from deploy_loihi.network import run_with_deadline

    cfg = cfg or NetworkConfig()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    t0 = time.perf_counter()
    raw = run_with_deadline(_run_lava, w, inputs, params, precision, cfg, timeout_s=cfg.timeout_s)
    scale = 1.0 if precision == "floating_pt" else float(1 << SCORE_FRAC)
    neurons = [row[row >= 0].astype(np.int64) for row in np.asarray(raw["ids"]).astype(np.int64)]
    scores = [raw["values"][b, : len(n)] / scale for b, n in enumerate(neurons)]
    res = _to_ids(w, neurons, scores, cfg.k, precision)
    res.steps, res.wall_s = raw["steps"], time.perf_counter() - t0
    res.spikes, res.syn_events, res.searches = raw["spikes"], raw["syn_events"], raw["searches"]
    chip = Schedule(inputs.vectors.shape[1], params.steps, search_length(w.memories)).period
    res.extra = {"lava_wall_s": raw["wall_s"], "chip_steps_per_question": chip,
                 "stepped_search": cfg.stepped_search}
    return res
