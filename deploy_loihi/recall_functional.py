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

from dataclasses import dataclass

import numpy as np

from deploy_loihi.fixed import STATE_BITS, STATE_MAX, STATE_MIN, index_bits_for, saturate, topk_mask

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
    return topk_mask(np.where(eligible, values, -np.inf), min(int(k), int(eligible.sum())))


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
    search_spikes: int = 0


def search_length(n: int) -> int:
    """Iterations (time steps) of one threshold search over ``n`` neurons: value bits, then index bits."""
    return SEARCH_VALUE_BITS + index_bits_for(n)


@dataclass(frozen=True)
class Search:
    """One selection a stage needs: the ``k`` largest ``values`` among the ``eligible`` neurons."""

    values: np.ndarray
    k: int
    eligible: np.ndarray


class ThresholdSearch:
    """A k-WTA selection run one iteration per time step, as :class:`~deploy_loihi.kwta_dynamics.process.ThresholdKWTA` does.

    Fixed point: the bit-serial threshold search of :func:`deploy_loihi.fixed.threshold_kwta` on
    integer values (:data:`SEARCH_VALUE_BITS` value bits, MSB first, then the index bits of the tie
    phase); each iteration the neurons at or above the broadcast threshold spike once to a counting
    neuron (counted in ``spikes``). Floating point: the same number of steps, then the exact top-k
    of the real values (the search's idealisation with unlimited fraction bits).
    """

    def __init__(self, search: Search, *, fixed: bool) -> None:
        self.fixed = fixed
        self.eligible = np.asarray(search.eligible, dtype=bool)
        self.k = min(int(search.k), int(self.eligible.sum()))
        n = self.eligible.shape[0]
        self.iterations = search_length(n)
        self.values = np.asarray(search.values)
        self.idx = np.arange(n)
        floor = STATE_MIN  # SEARCH_VALUE_BITS is the state width
        if fixed:
            self.v = np.where(self.eligible, saturate(search.values).astype(np.int64), floor)
        self.theta, self.j, self.it, self.spikes = floor, 0, 0, 0

    @property
    def done(self) -> bool:
        return self.it >= self.iterations

    def step(self) -> None:
        """One iteration (one time step): test one bit of the threshold."""
        if self.fixed and self.k > 0 and not self.done:
            if self.it < SEARCH_VALUE_BITS:
                trial = self.theta + (1 << (SEARCH_VALUE_BITS - 1 - self.it))
                count = int(np.count_nonzero(self.v >= trial))
                if count >= self.k:
                    self.theta = trial
            else:
                trial = self.j + (1 << (self.iterations - 1 - self.it))
                count = int(np.count_nonzero(self._winners(trial)))
                if count <= self.k:
                    self.j = trial
            self.spikes += count
        self.it += 1

    def _winners(self, j: int) -> np.ndarray:
        return (self.v >= self.theta + 1) | ((self.v >= self.theta) & (self.idx < j))

    def run(self) -> np.ndarray:
        while not self.done:
            self.step()
        return self.mask

    @property
    def mask(self) -> np.ndarray:
        if self.k == 0:
            return np.zeros(self.eligible.shape[0], dtype=bool)
        if not self.fixed:
            return top_mask(self.values, self.k, self.eligible)
        return self._winners(self.j) & self.eligible


class _Stages:
    """The stages as (searches it needs, what it does with their winners); subclasses fix the number type.

    ``<stage>_searches`` returns the :class:`Search` list of a stage (run in parallel, one counting
    neuron each); ``<stage>`` applies the stage given the winner masks (computing them at once
    when none are given, as :func:`reference_recall` does).
    """

    fixed = False

    def __init__(self, params: RecallParams) -> None:
        self.p = params

    def run_searches(self, st: QueryState, searches: list[Search]) -> list[np.ndarray]:
        """Every search of a stage run to completion (the reference's shortcut of the stepped search)."""
        out = []
        for s in searches:
            ts = ThresholdSearch(s, fixed=self.fixed)
            out.append(ts.run())
            st.search_spikes += ts.spikes
        st.searches += len(searches)
        return out

    def dense_list_searches(self, st: QueryState, pooled: np.ndarray) -> list[Search]:
        return [Search(pooled, self.p.depth, self._live(pooled))]

    def lexical_list_searches(self, st: QueryState, current: np.ndarray) -> list[Search]:
        return [Search(current, self.p.depth, current > 0), Search(current, 1, current > 0)]

    def seed_searches(self, st: QueryState) -> list[Search]:
        return [Search(st.score, self.p.seeds, st.touched.copy()), Search(st.score, 1, st.touched.copy())]

    def finish_searches(self, st: QueryState, linked: np.ndarray) -> list[Search]:
        act = self._activation(st, linked)
        return [Search(act, self.p.depth, act > self._act_floor)]

    def result_searches(self, st: QueryState, k: int) -> list[Search]:
        return [Search(st.score.copy(), k, st.touched.copy())]

    def dense_list(self, st: QueryState, pooled: np.ndarray, weight: float, masks: list[np.ndarray] | None = None) -> None:
        (mask,) = masks or self.run_searches(st, self.dense_list_searches(st, pooled))
        st.score = self._add(st.score, mask, self._dense_gain(pooled, weight))
        st.touched |= mask

    def lexical_list(self, st: QueryState, current: np.ndarray, masks: list[np.ndarray] | None = None) -> None:
        mask, top = masks or self.run_searches(st, self.lexical_list_searches(st, current))
        if mask.any():
            st.score = self._add(st.score, mask, self._lexical_gain(current, current[top][0]))
        st.touched |= mask

    def seed(self, st: QueryState, masks: list[np.ndarray] | None = None) -> None:
        mask, top = masks or self.run_searches(st, self.seed_searches(st))
        st.best = st.score[top][0] if top.any() else st.score.dtype.type(0)
        st.mass = st.score[mask].sum()
        st.p0 = self._seed_distribution(st, mask, st.best)
        st.x = st.p0.copy()

    def finish(self, st: QueryState, linked: np.ndarray, masks: list[np.ndarray] | None = None) -> None:
        if self.p.concept_spread == 0:
            return
        act = self._activation(st, linked)
        (mask,) = masks or self.run_searches(st, self.finish_searches(st, linked))
        own = st.score
        raised = np.maximum(own, np.minimum(own + self._walk_gain(st, act), self._ceiling(st)))
        st.score = np.where(mask, raised, own)
        st.touched |= mask

    def result(self, st: QueryState, k: int, masks: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(neuron indices [<=k], scores)`` best first, ties to the lower index."""
        (mask,) = masks or self.run_searches(st, self.result_searches(st, k))
        idx = np.flatnonzero(mask)
        order = idx[np.lexsort((idx, -st.score[idx]))]
        return order, self._real(st.score[order])


class FloatMath(_Stages):
    """Real-valued stage functions (the production recall's arithmetic)."""

    tag = "floating_pt"
    _act_floor = 1e-12

    def start(self, n: int) -> QueryState:
        return QueryState(np.zeros(n), np.zeros(n, dtype=bool))

    @staticmethod
    def _live(pooled: np.ndarray) -> np.ndarray:
        return np.isfinite(pooled)

    @staticmethod
    def _add(score: np.ndarray, mask: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return score + np.where(mask, gain, 0.0)

    @staticmethod
    def _dense_gain(pooled: np.ndarray, weight: float) -> np.ndarray:
        return weight * np.maximum(np.where(np.isfinite(pooled), pooled, 0.0), 0.0)

    def _lexical_gain(self, current: np.ndarray, top: float) -> np.ndarray:
        return self.p.lexical_weight * current / top

    def link(self, st: QueryState, slot_currents: np.ndarray, slot_live: np.ndarray) -> None:
        """``slot_currents [M, S]``: each memory's neighbours' scores; ``slot_live``: neighbour scored."""
        if self.p.link_spread == 0:
            return
        best = np.where(slot_live, slot_currents, 0.0).max(axis=1, initial=0.0)
        st.score = st.score + self.p.link_spread * np.maximum(best, 0.0)
        st.touched |= slot_live.any(axis=1)

    def _seed_distribution(self, st: QueryState, mask: np.ndarray, best: float) -> np.ndarray:
        top = float(st.score[mask].max(initial=0.0))
        tau = self.p.seed_temperature
        e = np.where(mask, st.score if tau == 0 else np.exp((st.score - top) / tau), 0.0)
        e = np.clip(e, 0.0, None)
        return e / e.sum() if e.sum() > 0 else e

    def concept(self, current: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Concept neurons: ``c = P_mcᵀ x + γ q̂``."""
        return current + query

    def query_concepts(self, q: np.ndarray) -> np.ndarray:
        s = q.sum()
        return q / s * self.p.query_concepts if s > 0 else np.zeros_like(q)

    def walk(self, st: QueryState, current: np.ndarray) -> None:
        st.x = (1.0 - self.p.restart) * current + self.p.restart * st.p0

    def _activation(self, st: QueryState, linked: np.ndarray) -> np.ndarray:
        return np.where(linked, st.x - self.p.restart * st.p0, 0.0)

    def _walk_gain(self, st: QueryState, act: np.ndarray) -> np.ndarray:
        return self.p.concept_spread * st.mass / max(1.0 - self.p.restart, 1e-12) * act

    def _ceiling(self, st: QueryState) -> float:
        return st.best * (1.0 - 1e-6) if self.p.below_best else np.inf

    @staticmethod
    def _real(scores: np.ndarray) -> np.ndarray:
        return scores.astype(np.float64)


def _shift(x: np.ndarray, f: int) -> np.ndarray:
    return np.right_shift(np.asarray(x, dtype=np.int64), f)


def _q(x: float, f: int) -> int:
    return int(round(x * (1 << f)))


def exp_table() -> np.ndarray:
    """``round(2^WALK_FRAC · exp(-i / EXP_STEPS))`` for ``i < EXP_LEN`` (the seed softmax's lookup table)."""
    return np.rint((1 << WALK_FRAC) * np.exp(-np.arange(EXP_LEN) / EXP_STEPS)).astype(np.int64)


class FixedMath(_Stages):
    """Integer stage functions (bit-accurate: what the ``fixed_pt`` models compute)."""

    tag = "fixed_pt"
    fixed = True
    _act_floor = 0

    def __init__(self, params: RecallParams) -> None:
        super().__init__(params)
        self.lut = exp_table()
        self.k_tau = _q(EXP_STEPS / params.seed_temperature, 0) if params.seed_temperature > 0 else 0
        self.w_lex = _q(params.lexical_weight, SCORE_FRAC)
        self.w_link = _q(params.link_spread, SCORE_FRAC)
        self.w_keep = _q(1.0 - params.restart, SCORE_FRAC)
        self.w_restart = _q(params.restart, SCORE_FRAC)
        self.w_share = _q(params.concept_spread / max(1.0 - params.restart, 1e-12), SCORE_FRAC)

    @staticmethod
    def _sat(x: np.ndarray) -> np.ndarray:
        return saturate(x).astype(np.int64)

    def start(self, n: int) -> QueryState:
        return QueryState(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool))

    @staticmethod
    def _live(pooled: np.ndarray) -> np.ndarray:
        return pooled > np.iinfo(np.int64).min

    def _add(self, score: np.ndarray, mask: np.ndarray, gain: np.ndarray) -> np.ndarray:
        return self._sat(score + np.where(mask, gain, 0))

    @staticmethod
    def _dense_gain(pooled: np.ndarray, weight: float) -> np.ndarray:
        return _shift(np.maximum(pooled, 0) * _q(weight, SCORE_FRAC), SCORE_FRAC)

    def _lexical_gain(self, current: np.ndarray, top: int) -> np.ndarray:
        recip = (self.w_lex << SCORE_FRAC) // int(top)  # one reciprocal per question, broadcast
        return _shift(current * recip, SCORE_FRAC)

    def link(self, st: QueryState, slot_currents: np.ndarray, slot_live: np.ndarray) -> None:
        if self.p.link_spread == 0:
            return
        best = np.where(slot_live, slot_currents, 0).max(axis=1, initial=0)
        st.score = self._sat(st.score + _shift(np.maximum(best, 0) * self.w_link, SCORE_FRAC))
        st.touched |= slot_live.any(axis=1)

    def _seed_distribution(self, st: QueryState, mask: np.ndarray, best: int) -> np.ndarray:
        top = int(st.score[mask].max(initial=0))
        if self.k_tau:
            idx = np.minimum(_shift((top - st.score) * self.k_tau + (1 << (SCORE_FRAC - 1)), SCORE_FRAC), EXP_LEN - 1)
            e = np.where(mask, self.lut[np.clip(idx, 0, EXP_LEN - 1)], 0)
            e = np.where(mask & (idx >= EXP_LEN - 1), 0, e)
        else:
            e = np.where(mask, np.left_shift(np.maximum(st.score, 0), WALK_FRAC - SCORE_FRAC), 0)
        total = int(e.sum())
        recip = (1 << (WALK_FRAC + 32)) // total if total > 0 else 0
        return _shift(e * recip, 32)

    def concept(self, current: np.ndarray, query: np.ndarray) -> np.ndarray:
        return self._sat(current + query)

    def query_concepts(self, q: np.ndarray) -> np.ndarray:
        s = float(q.sum())
        return np.rint(q / s * self.p.query_concepts * (1 << WALK_FRAC)).astype(np.int64) if s > 0 \
            else np.zeros(q.shape[0], dtype=np.int64)

    def walk(self, st: QueryState, current: np.ndarray) -> None:
        st.x = self._sat(_shift(current * self.w_keep, SCORE_FRAC) + _shift(st.p0 * self.w_restart, SCORE_FRAC))

    def _activation(self, st: QueryState, linked: np.ndarray) -> np.ndarray:
        return np.where(linked, st.x - _shift(st.p0 * self.w_restart, SCORE_FRAC), 0)

    def _walk_gain(self, st: QueryState, act: np.ndarray) -> np.ndarray:
        share = (int(st.mass) * self.w_share) >> SCORE_FRAC
        return _shift(act * share, WALK_FRAC)

    def _ceiling(self, st: QueryState) -> int:
        return int(st.best) - 1 if self.p.below_best else STATE_MAX

    @staticmethod
    def _real(scores: np.ndarray) -> np.ndarray:
        return scores / float(1 << SCORE_FRAC)


def make_math(precision: str, params: RecallParams) -> FloatMath | FixedMath:
    """The stage functions of ``precision`` (``"floating_pt"`` or ``"fixed_pt"``)."""
    if precision == FloatMath.tag:
        return FloatMath(params)
    if precision == FixedMath.tag:
        return FixedMath(params)
    raise ValueError(f"precision must be 'floating_pt' or 'fixed_pt', got {precision!r}")


@dataclass(frozen=True)
class Schedule:
    """Time steps of one question inside its period (1-based, ``τ``), for ``lists`` dense lists,
    ``steps`` walk steps and ``iterations`` steps per threshold search (0: searches finish within
    the step that starts them).

    With ``I`` = ``iterations``: the host sends dense list ``j`` at ``τ = a_j - 1`` with
    ``a_j = 2 + j (I + 1)`` (the BM25 words and the query concepts at ``τ = 1``); every Dense
    layer delivers one step after it receives. The memory layer latches list ``j`` at ``a_j``,
    searches for ``I`` steps and adds the list at ``a_j + I``; after the last list (``e``) it sends
    the fused scores through the link slots, takes the neighbours' scores at ``e + 1``, searches
    the seeds for ``I`` steps and sends them at ``w_0 = e + 1 + I``. Concept neurons fire at
    ``w_0 + 1 + 2t``, the memory layer walks at ``w_0 + 2 + 2t``; after the last walk step ``f``
    it searches the concept spread's candidates (``I`` steps, applied at ``f + I``) and then the
    results (``I`` more steps): the result spikes at ``f + 2I``, which is the period.
    """

    lists: int
    steps: int
    iterations: int = 0

    def list_arrival(self, j: int) -> int:
        return 2 + j * (self.iterations + 1)

    @property
    def link_send(self) -> int:
        return self.list_arrival(self.lists - 1) + self.iterations

    @property
    def seed(self) -> int:
        return self.link_send + 1 + self.iterations

    def concept_steps(self) -> list[int]:
        return [self.seed + 1 + 2 * t for t in range(self.steps)]

    def walk_steps(self) -> list[int]:
        return [self.seed + 2 + 2 * t for t in range(self.steps)]

    @property
    def result(self) -> int:
        return self.seed + 2 * self.steps + 2 * self.iterations

    @property
    def period(self) -> int:
        return self.result

    def phase(self, time_step: int) -> tuple[int, int]:
        """``(question index, τ)`` of a global 1-based time step."""
        b, r = divmod(int(time_step) - 1, self.period)
        return b, r + 1
