"""Process models of :class:`~deploy_loihi.kwta.process.KWTA`: floating point and bit-accurate."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.fixed import STATE_BITS, saturate, topk_mask
from deploy_loihi.kwta.process import KWTA


class _KWTAStep:
    """Shared dynamics: winners of the current input, gated by the burst limit."""

    def _step(self, a: np.ndarray) -> np.ndarray:
        self.a = a
        active = bool(np.any(a != 0))
        limit = int(self.max_burst[0])
        if active and limit > 0 and int(self.burst[0]) >= limit:
            active = False  # self-inhibition: one silent step ends the chain
            self.burst[0] = 0
        elif active:
            self.burst[0] = int(self.burst[0]) + 1
        else:
            self.burst[0] = 0
        if not active:
            return np.zeros(a.shape, dtype=bool)
        mask = topk_mask(a, int(self.k[0]))
        if int(self.positive_only[0]):
            mask &= a > 0
        return mask


@implements(proc=KWTA, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyKWTAModelFloat(_KWTAStep, PyLoihiProcessModel):
    """Real-valued currents; exact top-k with a stable sort."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    k: np.ndarray = LavaPyType(np.ndarray, int)
    max_burst: np.ndarray = LavaPyType(np.ndarray, int)
    positive_only: np.ndarray = LavaPyType(np.ndarray, int)
    burst: np.ndarray = LavaPyType(np.ndarray, int)
    a: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        a = np.asarray(self.a_in.recv(), dtype=np.float64)
        self.s_out.send(self._step(a).astype(np.float64))


@implements(proc=KWTA, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyKWTAModelFixed(_KWTAStep, PyLoihiProcessModel):
    """Integer currents saturated to the 24-bit neuron state; binary (1-bit) output spikes."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=STATE_BITS)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    k: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    max_burst: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    positive_only: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    burst: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    a: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)

    def run_spk(self) -> None:
        a = saturate(np.rint(np.asarray(self.a_in.recv(), dtype=np.float64)))
        self.s_out.send(self._step(a).astype(np.int32))
