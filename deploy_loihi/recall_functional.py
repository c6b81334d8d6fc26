"""The neuron dynamics of the neuromorphic recall, as pure NumPy functions of one question.

The memory layer (one neuron per memory) and the concept layer (one neuron per concept cell)
of :mod:`deploy_loihi.recall` call these at fixed time steps of a question's period; the same
functions run without Lava in :func:`reference_recall`, which the tests compare with the Lava
run bit for bit. Two numerics share one schedule:

- :class:`FloatMath` (``floating_pt``): real numbers, the production recall's arithmetic
  (:mod:`hybrid.recall.pipeline`), so its ranking should equal ``Memory.search``.
- :class:`FixedMath` (``fixed_pt``): signed integers of :data:`~deploy_loihi.fixed.STATE_BITS`
  bits. Scores carry :data:`SCORE_FRAC` fraction bits, walk activation :data:`WALK_FRAC`;
  products are multiply-then-shift (``(a · m) >> f``); the exponential of the seed softmax is a
  lookup table (:data:`EXP_STEPS` entries per unit of ``(s_max - s)/τ``); a population's maximum,
  sum or ``k``-th largest value comes from a bit-serial threshold search
  (:func:`deploy_loihi.fixed.threshold_kwta`) or a summing neuron, and a division by a
  population value is a reciprocal computed once by that neuron and broadcast.

The stages, per question (``docs/loihi.md`` has the diagram):

.. math::
    \\text{lists:}\\quad s = \\sum_l w_l \\max(\\max_{r \\in m} \\langle q_l, k_r\\rangle, 0)\\,[m \\in \\mathrm{top}_D]
        + w_b \\frac{b_m}{\\max b}\\,[m \\in \\mathrm{top}_D(b)]

    \\text{links:}\\quad s' = s + \\gamma_L \\max(\\max_{n \\in L(m)} s_n, 0)

    \\text{walk:}\\quad p_0 \\propto e^{(s' - s'_{\\max})/\\tau}[m \\in \\mathrm{top}_S],\\;
        c_t = P_{mc}^\\top x_{t-1} + \\gamma \\hat q,\\; x_t = (1-r) P_{cm}^\\top c_t + r p_0

    \\text{gain:}\\quad s'' = \\max\\big(s', \\min(s' + g\\,(x_T - r p_0), s'_{\\max}(1 - 10^{-6}))\\big),\\;
        g = \\frac{\\lambda \\sum_{\\mathrm{top}_S} s'}{1 - r}
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from deploy_loihi.fixed import STATE_BITS, threshold_kwta

#: Fraction bits of scores (fused, link, final) in the fixed-point network.
SCORE_FRAC = 16
#: Fraction bits of walk activation (seeds, memory and concept activation).
WALK_FRAC = 20
#: Fraction bits of the query's graded payload (16-bit payload, scale ``2^15 - 1``, read as ``2^15``).
QUERY_FRAC = 15
#: Lookup-table resolution of ``exp(-u)``: entries per unit of ``u`` and table length.
EXP_STEPS = 64
EXP_LEN = 16 * EXP_STEPS
#: Bits of the value phase of every threshold search (the state width).
SEARCH_VALUE_BITS = STATE_BITS


@dataclass(frozen=True)
class RecallParams:
    """The default recall's stage settings the network needs (from :class:`~hybrid.recall.config.RecallConfig`)."""

    depth: int = 100
    seeds: int = 10
    steps: int = 2
    restart: float = 0.5
    link_spread: float = 0.3
    concept_spread: float = 0.3
    seed_temperature: float = 0.1
    lexical_weight: float = 0.2
    query_concepts: float = 1.0
    below_best: bool = True

    @classmethod
    def from_config(cls, cfg: dict) -> RecallParams:
        if cfg.get("fusion", "score") != "score":
            raise ValueError(f"the network implements score fusion; the recall uses {cfg.get('fusion')!r}")
        if cfg.get("settle"):
            raise ValueError("the network has no settle stage; the recall has settle=True")
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__ if k in cfg})


def top_mask(values: np.ndarray, k: int, eligible: np.ndarray) -> np.ndarray:
    """The ``k`` largest eligible values, ties to the lower index (a k-WTA with index tie-break)."""
    v = np.where(eligible, values, -np.inf)
    mask = np.zeros(v.shape[0], dtype=bool)
    take = min(int(k), int(eligible.sum()))
    if take > 0:
        mask[np.argsort(-v, kind="stable")[:take]] = True
    return mask


def pool_keys(currents: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """Each memory neuron's largest key current (its keys' dendrites feed one max-compartment)."""
    out = np.full(n, -np.inf if currents.dtype.kind == "f" else np.iinfo(np.int64).min, dtype=currents.dtype)
    np.maximum.at(out, owner, currents)
    return out


@dataclass
class QueryState:
    """A memory layer's state for one question (every array ``[M]``)."""

    score: np.ndarray
    touched: np.ndarray
    p0: np.ndarray | None = None
    x: np.ndarray | None = None
    best: float = 0.0
    mass: float = 0.0
    searches: int = 0


class FloatMath:
    """Real-valued stage functions (the production recall's arithmetic)."""

    tag = "floating_pt"

    def __init__(self, params: RecallParams) -> None:
        self.p = params

    def start(self, n: int) -> QueryState:
        return QueryState(np.zeros(n), np.zeros(n, dtype=bool))

    def dense_list(self, st: QueryState, pooled: np.ndarray, weight: float) -> None:
        live = np.isfinite(pooled)
        mask = top_mask(pooled, self.p.depth, live)
        st.score[mask] += weight * np.maximum(pooled[mask], 0.0)
        st.touched |= mask
        st.searches += 1

    def lexical_list(self, st: QueryState, current: np.ndarray) -> None:
        mask = top_mask(current, self.p.depth, current > 0)
        if mask.any():
            st.score[mask] += self.p.lexical_weight * current[mask] / current[mask].max()
        st.touched |= mask
        st.searches += 2  # the list's cut and its maximum

    def link(self, st: QueryState, slot_currents: np.ndarray, slot_live: np.ndarray) -> None:
        """``slot_currents [M, S]``: each memory's neighbours' scores; ``slot_live``: neighbour scored."""
        if self.p.link_spread == 0:
            return
        best = np.where(slot_live, slot_currents, 0.0).max(axis=1, initial=0.0)
        st.score = st.score + self.p.link_spread * np.maximum(best, 0.0)
        st.touched |= slot_live.any(axis=1)

    def seed(self, st: QueryState) -> None:
        mask = top_mask(st.score, self.p.seeds, st.touched)
        st.best = float(st.score[st.touched].max(initial=0.0))
        st.mass = float(st.score[mask].sum())
        top = float(st.score[mask].max(initial=0.0))
        tau = self.p.seed_temperature
        e = np.where(mask, st.score if tau == 0 else np.exp((st.score - top) / tau), 0.0)
        e = np.clip(e, 0.0, None)
        st.p0 = e / e.sum() if e.sum() > 0 else e
        st.x = st.p0.copy()
        st.searches += 2

    def concept(self, current: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Concept neurons: ``c = P_mcᵀ x + γ q̂``."""
        return current + query

    def query_concepts(self, q: np.ndarray) -> np.ndarray:
        s = q.sum()
        return q / s * self.p.query_concepts if s > 0 else np.zeros_like(q)

    def walk(self, st: QueryState, current: np.ndarray) -> None:
        st.x = (1.0 - self.p.restart) * current + self.p.restart * st.p0

    def finish(self, st: QueryState, linked: np.ndarray, walked: bool) -> None:
        if not walked or self.p.concept_spread == 0:
            return
        act = st.x - self.p.restart * st.p0
        act = np.where(linked, act, 0.0)
        mask = top_mask(act, self.p.depth, act > 1e-12)
        share = self.p.concept_spread * st.mass / max(1.0 - self.p.restart, 1e-12)
        ceiling = st.best * (1.0 - 1e-6) if self.p.below_best else np.inf
        own = st.score[mask]
        st.score[mask] = np.maximum(own, np.minimum(own + share * act[mask], ceiling))
        st.touched |= mask
        st.searches += 1

    def result(self, st: QueryState, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(neuron indices [<=k], scores)`` best first, ties to the lower index."""
        mask = top_mask(st.score, k, st.touched)
        idx = np.flatnonzero(mask)
        order = np.lexsort((idx, -st.score[idx]))
        st.searches += 1
        return idx[order], st.score[idx[order]].astype(np.float64)


def _shift(x: np.ndarray, f: int) -> np.ndarray:
    return np.right_shift(np.asarray(x, dtype=np.int64), f)


def _q(x: float, f: int) -> int:
    return int(round(x * (1 << f)))


def exp_table() -> np.ndarray:
    """``round(2^WALK_FRAC · exp(-i / EXP_STEPS))`` for ``i < EXP_LEN`` (the seed softmax's lookup table)."""
    return np.rint((1 << WALK_FRAC) * np.exp(-np.arange(EXP_LEN) / EXP_STEPS)).astype(np.int64)


class FixedMath:
    """Integer stage functions (bit-accurate: what the ``fixed_pt`` models compute)."""

    tag = "fixed_pt"

    def __init__(self, params: RecallParams) -> None:
        self.p = params
        self.lut = exp_table()
        self.k_tau = _q(EXP_STEPS / params.seed_temperature, 0) if params.seed_temperature > 0 else 0
        self.w_lex = _q(params.lexical_weight, SCORE_FRAC)
        self.w_link = _q(params.link_spread, SCORE_FRAC)
        self.w_keep = _q(1.0 - params.restart, SCORE_FRAC)
        self.w_restart = _q(params.restart, SCORE_FRAC)
        self.w_share = _q(params.concept_spread / max(1.0 - params.restart, 1e-12), SCORE_FRAC)
        self.int_max = (1 << (STATE_BITS - 1)) - 1

    def _sat(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, -self.int_max - 1, self.int_max).astype(np.int64)

    def start(self, n: int) -> QueryState:
        return QueryState(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))

    def _select(self, st: QueryState, values: np.ndarray, k: int, eligible: np.ndarray) -> np.ndarray:
        """Bit-serial threshold search among the eligible neurons (ineligible ones hold the floor)."""
        v = np.where(eligible, self._sat(values), -self.int_max - 1)
        take = min(int(k), int(eligible.sum()))
        st.searches += 1
        if take == 0:
            return np.zeros(v.shape[0], dtype=bool)
        mask, _, _ = threshold_kwta(v, take, SEARCH_VALUE_BITS)
        return mask & eligible

    def dense_list(self, st: QueryState, pooled: np.ndarray, weight: float) -> None:
        live = pooled > np.iinfo(np.int64).min
        mask = self._select(st, pooled, self.p.depth, live)
        st.score = self._sat(st.score + np.where(mask, _shift(np.maximum(pooled, 0) * _q(weight, SCORE_FRAC), SCORE_FRAC), 0))
        st.touched |= mask

    def lexical_list(self, st: QueryState, current: np.ndarray) -> None:
        mask = self._select(st, current, self.p.depth, current > 0)
        if mask.any():
            top_mask_ = self._select(st, current, 1, mask)
            top = int(current[top_mask_][0])
            recip = (self.w_lex << SCORE_FRAC) // top
            st.score = self._sat(st.score + np.where(mask, _shift(current * recip, SCORE_FRAC), 0))
        st.touched |= mask

    def link(self, st: QueryState, slot_currents: np.ndarray, slot_live: np.ndarray) -> None:
        if self.p.link_spread == 0:
            return
        best = np.where(slot_live, slot_currents, 0).max(axis=1, initial=0)
        st.score = self._sat(st.score + _shift(np.maximum(best, 0) * self.w_link, SCORE_FRAC))
        st.touched |= slot_live.any(axis=1)

    def seed(self, st: QueryState) -> None:
        mask = self._select(st, st.score, self.p.seeds, st.touched)
        st.best = int(st.score[st.touched].max(initial=0))
        st.mass = int(st.score[mask].sum())
        top = int(st.score[mask].max(initial=0))
        if self.k_tau:
            idx = np.minimum(_shift((top - st.score) * self.k_tau + (1 << (SCORE_FRAC - 1)), SCORE_FRAC), EXP_LEN - 1)
            e = np.where(mask, self.lut[np.clip(idx, 0, EXP_LEN - 1)], 0)
            e = np.where(mask & (idx >= EXP_LEN - 1), 0, e)
        else:
            e = np.where(mask, np.left_shift(np.maximum(st.score, 0), WALK_FRAC - SCORE_FRAC), 0)
        total = int(e.sum())
        recip = (1 << (WALK_FRAC + 32)) // total if total > 0 else 0
        st.p0 = _shift(e * recip, 32)
        st.x = st.p0.copy()

    def concept(self, current: np.ndarray, query: np.ndarray) -> np.ndarray:
        return self._sat(current + query)

    def query_concepts(self, q: np.ndarray) -> np.ndarray:
        s = float(q.sum())
        return np.rint(q / s * self.p.query_concepts * (1 << WALK_FRAC)).astype(np.int64) if s > 0 \
            else np.zeros(q.shape[0], dtype=np.int64)

    def walk(self, st: QueryState, current: np.ndarray) -> None:
        st.x = self._sat(_shift(current * self.w_keep, SCORE_FRAC) + _shift(st.p0 * self.w_restart, SCORE_FRAC))

    def finish(self, st: QueryState, linked: np.ndarray, walked: bool) -> None:
        if not walked or self.p.concept_spread == 0:
            return
        act = np.where(linked, st.x - _shift(st.p0 * self.w_restart, SCORE_FRAC), 0)
        mask = self._select(st, act, self.p.depth, act > 0)
        share = (st.mass * self.w_share) >> SCORE_FRAC
        ceiling = st.best - 1 if self.p.below_best else self.int_max
        own = st.score
        gain = _shift(act * share, WALK_FRAC)
        st.score = np.where(mask, np.maximum(own, np.minimum(own + gain, ceiling)), own)
        st.touched |= mask

    def result(self, st: QueryState, k: int) -> tuple[np.ndarray, np.ndarray]:
        mask = self._select(st, st.score, k, st.touched)
        idx = np.flatnonzero(mask)
        order = np.lexsort((idx, -st.score[idx]))
        return idx[order], st.score[idx[order]] / float(1 << SCORE_FRAC)


def make_math(precision: str, params: RecallParams) -> FloatMath | FixedMath:
    """The stage functions of ``precision`` (``"floating_pt"`` or ``"fixed_pt"``)."""
    if precision == FloatMath.tag:
        return FloatMath(params)
    if precision == FixedMath.tag:
        return FixedMath(params)
    raise ValueError(f"precision must be 'floating_pt' or 'fixed_pt', got {precision!r}")


def search_iterations(n: int, searches: int) -> int:
    """Time steps the threshold searches of one question take on the chip (value bits + index bits each)."""
    return searches * (SEARCH_VALUE_BITS + max(1, math.ceil(math.log2(n + 1))))


@dataclass(frozen=True)
class Schedule:
    """Time steps of one question inside its period (1-based, ``τ``), for ``lists`` dense lists and ``steps`` walk steps.

    ``τ = 1 + l``: the host sends query vector ``l`` (and, at ``τ = 1``, the BM25 words and the
    query concepts). Every Dense layer delivers one step after it receives, so the memory layer
    takes dense list ``l`` at ``τ = 2 + l`` and the BM25 list at ``τ = 2``; it sends the fused
    scores through the link slots at ``τ = L + 1``, spreads and seeds at ``τ = L + 2``; concept
    neurons fire at ``τ = L + 3 + 2t`` and the memory layer walks at ``τ = L + 4 + 2t``; the last
    walk step is also the result step, which is the period.
    """

    lists: int
    steps: int

    @property
    def link_send(self) -> int:
        return self.lists + 1

    @property
    def seed(self) -> int:
        return self.lists + 2

    def concept_steps(self) -> list[int]:
        return [self.lists + 3 + 2 * t for t in range(self.steps)]

    def walk_steps(self) -> list[int]:
        return [self.lists + 4 + 2 * t for t in range(self.steps)]

    @property
    def result(self) -> int:
        return self.lists + 2 + 2 * self.steps

    @property
    def period(self) -> int:
        return self.result

    def phase(self, time_step: int) -> tuple[int, int]:
        """``(question index, τ)`` of a global 1-based time step."""
        b, r = divmod(int(time_step) - 1, self.period)
        return b, r + 1
