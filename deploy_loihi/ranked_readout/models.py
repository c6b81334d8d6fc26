"""Process models of :class:`~deploy_loihi.ranked_readout.process.RankedReadout`."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.fixed import MAX_MESSAGE_BITS
from deploy_loihi.ranked_readout.process import RankedReadout


class _Rank:
    def run_spk(self) -> None:
        s = np.asarray(self.s_in.recv())
        b, r = divmod(self.time_step - 1, int(self.proc_params["period"]))
        if r + 1 != int(self.proc_params["offset"]) or b >= self.ids.shape[0]:
            return
        idx = np.flatnonzero(s != 0)
        order = idx[np.lexsort((idx, -s[idx]))][: self.ids.shape[1]]
        self.ids[b, : order.size] = order
        self.values[b, : order.size] = s[order]


@implements(proc=RankedReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyRankedReadoutModelFloat(_Rank, PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    ids: np.ndarray = LavaPyType(np.ndarray, int)
    values: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=RankedReadout, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyRankedReadoutModelFixed(_Rank, PyLoihiProcessModel):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=MAX_MESSAGE_BITS)
    ids: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    values: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=MAX_MESSAGE_BITS)
