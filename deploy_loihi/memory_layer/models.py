"""Process models of :class:`~deploy_loihi.memory_layer.process.MemoryLayer` (floating and bit-accurate)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.fixed import MAX_MESSAGE_BITS
from deploy_loihi.memory_layer.process import MemoryLayer
from deploy_loihi.recall_functional import RecallParams, Schedule, ThresholdSearch, make_math, pool_keys


class _Stages:
    """One question is a generator: each ``yield`` ends a time step with the outputs to send and
    resumes with the next step's inputs, so the stages and their step-by-step searches read in order."""

    _math = None

    def _setup(self) -> None:
        if self._math is None:
            p = RecallParams(**self.proc_params["recall"])
            self._math = make_math(self.precision_tag, p)
            self._sched = Schedule(int(self.list_weights.shape[0]), p.steps, int(self.proc_params["iterations"]))
            self._gen = None

    def _search(self, st, searches):
        """Run ``searches`` in parallel, one iteration per step from this one; returns the winner masks
        and the inputs of the step after the last iteration (None when the search took no step)."""
        runs = [ThresholdSearch(s, fixed=self._math.fixed) for s in searches]
        inp = None
        m = self.linked.shape[0]
        for _ in range(self._sched.iterations):
            for r in runs:
                r.step()
            inp = yield {}
        masks = [r.run() for r in runs]
        spikes = sum(r.spikes for r in runs)
        # each neuron's spike reaches the counting neuron; the controller broadcasts each tested bit to all
        self.spikes[0] = int(self.spikes[0]) + spikes + len(runs) * self._sched.iterations
        self.syn_events[0] = int(self.syn_events[0]) + spikes + len(runs) * self._sched.iterations * m
        st.searches += len(runs)
        return masks, inp

    def _question(self):
        math_, sched, m = self._math, self._sched, self.linked.shape[0]
        owner = self.key_owner.astype(np.int64)
        inp = yield {}  # τ = 1: the host sends; the Dense layers deliver at τ = 2
        st = math_.start(m)
        for j in range(sched.lists):
            if j > 0:
                inp = yield {}
            pooled = pool_keys(self._as_state(inp["key"]), owner, m)
            searches = math_.dense_list_searches(st, pooled)
            lex = self._as_state(inp["lex"]) if j == 0 else None
            if lex is not None:
                searches += math_.lexical_list_searches(st, lex)
            masks, nxt = yield from self._search(st, searches)
            inp = nxt or inp
            math_.dense_list(st, pooled, float(self.list_weights[j]), masks[:1])
            if lex is not None:
                math_.lexical_list(st, lex, masks[1:])
        inp = yield {"link": st.score}
        slots = self._as_state(inp["link"]).reshape(m, -1)
        math_.link(st, slots, slots > 0)
        masks, nxt = yield from self._search(st, math_.seed_searches(st))
        inp = nxt or inp
        math_.seed(st, masks)
        out = {"walk": st.x}
        for t in range(sched.steps):
            yield out  # the concept layer fires next step
            inp = yield {}
            math_.walk(st, self._as_state(inp["walk"]))
            out = {"walk": st.x} if t < sched.steps - 1 else {}
        linked = self.linked.astype(bool)
        masks, _ = yield from self._search(st, math_.finish_searches(st, linked))
        math_.finish(st, linked, masks)
        k = int(self.proc_params["k"])
        masks, _ = yield from self._search(st, math_.result_searches(st, k))
        idx, _ = math_.result(st, k, masks)
        res = np.zeros(m, dtype=self.out_dtype)
        # a graded spike carries the score (at least one unit, so a zero score still spikes)
        res[idx] = np.maximum(st.score[idx], self.unit)
        self.searches[0] = int(self.searches[0]) + st.searches
        yield {"out": res}

    def _emit(self, port, values: np.ndarray | None, fanout: np.ndarray | None) -> None:
        if values is None:
            values = np.zeros(self.linked.shape[0], dtype=self.out_dtype)
        live = values != 0
        self.spikes[0] = int(self.spikes[0]) + int(live.sum())
        if fanout is not None:
            self.syn_events[0] = int(self.syn_events[0]) + int(fanout[live].sum())
        port.send(np.asarray(values, dtype=self.out_dtype))

    def run_spk(self) -> None:
        self._setup()
        inp = {"key": self.a_key.recv(), "lex": self.a_lex.recv(), "link": self.a_link.recv(),
               "walk": self.a_walk.recv()}
        _, tau = self._sched.phase(self.time_step)
        if tau == 1:
            self._gen = self._question()
            out = next(self._gen)
        else:
            out = self._gen.send(inp) if self._gen is not None else {}
        self._emit(self.s_link, out.get("link"), self.fanout_link)
        self._emit(self.s_walk, out.get("walk"), self.fanout_walk)
        self._emit(self.s_out, out.get("out"), None)


@implements(proc=MemoryLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyMemoryLayerModelFloat(_Stages, PyLoihiProcessModel):
    a_key: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_lex: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_link: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_walk: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_link: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_walk: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    key_owner: np.ndarray = LavaPyType(np.ndarray, int)
    linked: np.ndarray = LavaPyType(np.ndarray, int)
    list_weights: np.ndarray = LavaPyType(np.ndarray, float)
    fanout_link: np.ndarray = LavaPyType(np.ndarray, int)
    fanout_walk: np.ndarray = LavaPyType(np.ndarray, int)
    spikes: np.ndarray = LavaPyType(np.ndarray, int)
    syn_events: np.ndarray = LavaPyType(np.ndarray, int)
    searches: np.ndarray = LavaPyType(np.ndarray, int)

    precision_tag = "floating_pt"
    out_dtype = np.float64
    unit = 1e-12

    @staticmethod
    def _as_state(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float64)


@implements(proc=MemoryLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyMemoryLayerModelFixed(_Stages, PyLoihiProcessModel):
    # Dendritic currents arrive as int64 accumulators of the Dense layers (before saturation).
    a_key: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    a_lex: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    a_link: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    a_walk: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    s_link: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    s_walk: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    key_owner: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    linked: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    list_weights: np.ndarray = LavaPyType(np.ndarray, float)
    fanout_link: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    fanout_walk: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    spikes: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=48)
    syn_events: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=48)
    searches: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)

    precision_tag = "fixed_pt"
    out_dtype = np.int64
    unit = 1

    @staticmethod
    def _as_state(a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.int64)
