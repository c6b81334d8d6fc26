"""Process models of :class:`~deploy_loihi.readout.process.WinnerReadout`."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.readout.process import WinnerReadout


class _Record:
    def _record(self, s: np.ndarray) -> None:
        idx = np.flatnonzero(np.asarray(s) != 0)
        self.total_spikes[0] = int(self.total_spikes[0]) + idx.size
        t = self.time_step - 1
        if t < self.counts.shape[0]:
            self.counts[t] = idx.size
            k = self.winners.shape[1]
            row = np.full(k, -1, dtype=self.winners.dtype)
            row[: min(k, idx.size)] = idx[:k]
            self.winners[t] = row


@implements(proc=WinnerReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyWinnerReadoutModelFloat(_Record, PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    winners: np.ndarray = LavaPyType(np.ndarray, int)
    counts: np.ndarray = LavaPyType(np.ndarray, int)
    total_spikes: np.ndarray = LavaPyType(np.ndarray, int)

    def run_spk(self) -> None:
        self._record(self.s_in.recv())


@implements(proc=WinnerReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyWinnerReadoutModelFixed(_Record, PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=1)
    winners: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    counts: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    total_spikes: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)

    def run_spk(self) -> None:
        self._record(self.s_in.recv())
