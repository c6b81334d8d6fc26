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
from deploy_loihi.recall_functional import RecallParams, Schedule, make_math, pool_keys


class _Stages:
    """The schedule: which stage runs at which step of a question's period (shared by both models)."""

    _math = None

    def _setup(self) -> None:
        if self._math is None:
            p = RecallParams(**self.proc_params["recall"])
            self._math = make_math(self.precision_tag, p)
            self._sched = Schedule(int(self.list_weights.shape[0]), p.steps)
            self._state = None

    def _emit(self, port, values: np.ndarray, fanout: np.ndarray | None, dtype) -> None:
        live = values != 0
        self.spikes[0] = int(self.spikes[0]) + int(live.sum())
        if fanout is not None:
            self.syn_events[0] = int(self.syn_events[0]) + int(fanout[live].sum())
        port.send(np.asarray(values, dtype=dtype))

    def run_spk(self) -> None:
        self._setup()
        m, sched, math_ = self.linked.shape[0], self._sched, self._math
        a_key, a_lex = self.a_key.recv(), self.a_lex.recv()
        a_link, a_walk = self.a_link.recv(), self.a_walk.recv()
        _, tau = sched.phase(self.time_step)
        zero = np.zeros(m, dtype=self.out_dtype)
        link_out, walk_out, out = zero, zero, zero
        if tau == 2:
            self._state = math_.start(m)
            math_.lexical_list(self._state, self._as_state(a_lex))
        st = self._state
        if 2 <= tau <= sched.lists + 1:
            math_.dense_list(st, pool_keys(self._as_state(a_key), self.key_owner.astype(np.int64), m),
                             float(self.list_weights[tau - 2]))
        if tau == sched.link_send:
            link_out = st.score
        if tau == sched.seed:
            slots = self._as_state(a_link).reshape(m, -1)
            math_.link(st, slots, slots > 0)
            math_.seed(st)
            walk_out = st.x
        if tau in sched.walk_steps():
            math_.walk(st, self._as_state(a_walk))
            if tau != sched.result:
                walk_out = st.x
        if tau == sched.result:
            math_.finish(st, self.linked.astype(bool), True)
            idx, _ = math_.result(st, int(self.proc_params["k"]))
            out = np.zeros(m, dtype=self.out_dtype)
            # a graded spike carries the score (at least one unit, so a zero score still spikes)
            out[idx] = np.maximum(st.score[idx], self.unit)
            self.searches[0] = int(self.searches[0]) + st.searches
        self._emit(self.s_link, link_out, self.fanout_link, self.out_dtype)
        self._emit(self.s_walk, walk_out, self.fanout_walk, self.out_dtype)
        self._emit(self.s_out, out, None, self.out_dtype)


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
