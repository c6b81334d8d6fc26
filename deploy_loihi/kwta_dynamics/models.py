"""Process models of :class:`~deploy_loihi.kwta_dynamics.process.ThresholdKWTA` (floating and bit-accurate)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.fixed import STATE_BITS, saturate
from deploy_loihi.kwta_dynamics.process import ThresholdKWTA


class _ThresholdSearch:
    """One step of the search; the subclasses fix the number type (``_latch``, ``_pow2``, ``_unit``)."""

    def _step(self, a: np.ndarray) -> np.ndarray:
        n = a.shape[0]
        out = np.zeros(n, dtype=bool)
        vb, fb, ib = int(self.value_bits[0]), int(self.frac_bits[0]), int(self.index_bits[0])
        value_iters = vb + fb
        total = value_iters + (ib if int(self.tie_break[0]) else 0)
        if not int(self.busy[0]):
            if not np.any(a != 0):
                return out
            self.v = self._latch(a)  # the neurons take up their currents
            self.theta[0] = -(1 << (vb - 1))
            self.j_index[0] = 0
            self.iteration[0] = 0
            self.busy[0] = 1
        elif np.any(a != 0):
            self.dropped[0] = int(self.dropped[0]) + 1
        it = int(self.iteration[0])
        k = int(self.k[0])
        if it < value_iters:  # value phase: test bit b of the threshold
            step = self._pow2(vb - 1 - it)
            if step is not None:
                trial = self.theta[0] + step
                spikes = self.v >= trial  # each neuron against the broadcast threshold
                self.count[0] = int(np.count_nonzero(spikes))  # counting neuron
                if int(self.count[0]) >= k:  # controller keeps the bit
                    self.theta[0] = trial
        elif it < total:  # tie phase: test bit c of the index threshold
            trial_j = int(self.j_index[0]) + (1 << (ib - 1 - (it - value_iters)))
            spikes = self._winners(trial_j)
            self.count[0] = int(np.count_nonzero(spikes))
            if int(self.count[0]) <= k:
                self.j_index[0] = trial_j
        else:  # output step
            out = self._winners(int(self.j_index[0])) if int(self.tie_break[0]) else self.v >= self.theta[0]
            self.busy[0] = 0
            self.searches[0] = int(self.searches[0]) + 1
            return out
        self.iteration[0] = it + 1
        return out

    def _winners(self, j: int) -> np.ndarray:
        theta = self.theta[0]
        above = self.v >= theta + self._unit()
        tied = (self.v >= theta) & (np.arange(self.v.shape[0]) < j)
        return above | tied


@implements(proc=ThresholdKWTA, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyThresholdKWTAModelFloat(_ThresholdSearch, PyLoihiProcessModel):
    """Real currents; the threshold grid goes down to ``2^{-frac_bits}``."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    k: np.ndarray = LavaPyType(np.ndarray, int)
    value_bits: np.ndarray = LavaPyType(np.ndarray, int)
    frac_bits: np.ndarray = LavaPyType(np.ndarray, int)
    index_bits: np.ndarray = LavaPyType(np.ndarray, int)
    tie_break: np.ndarray = LavaPyType(np.ndarray, int)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    theta: np.ndarray = LavaPyType(np.ndarray, float)
    j_index: np.ndarray = LavaPyType(np.ndarray, int)
    iteration: np.ndarray = LavaPyType(np.ndarray, int)
    busy: np.ndarray = LavaPyType(np.ndarray, int)
    count: np.ndarray = LavaPyType(np.ndarray, int)
    searches: np.ndarray = LavaPyType(np.ndarray, int)
    dropped: np.ndarray = LavaPyType(np.ndarray, int)

    def _latch(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a, dtype=np.float64).copy()

    def _pow2(self, b: int) -> float:
        return float(2.0**b)

    def _unit(self) -> float:
        return float(2.0 ** -int(self.frac_bits[0]))

    def run_spk(self) -> None:
        self.s_out.send(self._step(np.asarray(self.a_in.recv(), dtype=np.float64)).astype(np.float64))


@implements(proc=ThresholdKWTA, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyThresholdKWTAModelFixed(_ThresholdSearch, PyLoihiProcessModel):
    """Integer currents saturated to ``value_bits`` (≤ the 24-bit state); integer θ and J."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=STATE_BITS)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    k: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)
    value_bits: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=5)
    frac_bits: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=6)
    index_bits: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=5)
    tie_break: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    theta: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=STATE_BITS)
    j_index: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    iteration: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=8)
    busy: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    count: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    searches: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    dropped: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def _latch(self, a: np.ndarray) -> np.ndarray:
        return saturate(np.rint(np.asarray(a, dtype=np.float64)), int(self.value_bits[0])).astype(np.int32)

    def _pow2(self, b: int) -> int | None:
        return (1 << b) if b >= 0 else None  # below the integer grid: an idle step

    def _unit(self) -> int:
        return 1

    def run_spk(self) -> None:
        self.s_out.send(self._step(np.asarray(self.a_in.recv())).astype(np.int32))
