"""Process models of :class:`~deploy_loihi.concept_layer.process.ConceptLayer` (floating and bit-accurate)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.concept_layer.process import ConceptLayer
from deploy_loihi.fixed import MAX_MESSAGE_BITS
from deploy_loihi.recall_functional import RecallParams, Schedule, make_math


class _Relay:
    _math = None

    def run_spk(self) -> None:
        if self._math is None:
            p = RecallParams(**self.proc_params["recall"])
            self._math = make_math(self.precision_tag, p)
            self._sched = Schedule(int(self.proc_params["lists"]), p.steps, int(self.proc_params["iterations"]))
            self._q = np.zeros(self.fanout.shape[0], dtype=self.out_dtype)
        a, q = self.a_in.recv(), self.a_query.recv()
        _, tau = self._sched.phase(self.time_step)
        if tau == 1:
            self._q = np.asarray(q, dtype=self.out_dtype)
        out = np.zeros(self.fanout.shape[0], dtype=self.out_dtype)
        if tau in self._sched.concept_steps():
            out = self._math.concept(np.asarray(a, dtype=self.out_dtype), self._q)
            live = out != 0
            self.spikes[0] = int(self.spikes[0]) + int(live.sum())
            self.syn_events[0] = int(self.syn_events[0]) + int(self.fanout[live].sum())
        self.s_out.send(out)


@implements(proc=ConceptLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyConceptLayerModelFloat(_Relay, PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_query: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    fanout: np.ndarray = LavaPyType(np.ndarray, int)
    spikes: np.ndarray = LavaPyType(np.ndarray, int)
    syn_events: np.ndarray = LavaPyType(np.ndarray, int)

    precision_tag = "floating_pt"
    out_dtype = np.float64


@implements(proc=ConceptLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyConceptLayerModelFixed(_Relay, PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    a_query: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    fanout: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    spikes: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=48)
    syn_events: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=48)

    precision_tag = "fixed_pt"
    out_dtype = np.int64
