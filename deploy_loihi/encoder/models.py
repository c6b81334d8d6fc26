"""Process models of :class:`~deploy_loihi.encoder.process.GradedEncoder`."""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from deploy_loihi.encoder.process import GradedEncoder
from deploy_loihi.fixed import MAX_MESSAGE_BITS


def _row_for_step(time_step: int, period: int, rows: int) -> int:
    """Index of the cue sent at ``time_step`` (1-based), or -1."""
    t = time_step - 1
    if t % period:
        return -1
    b = t // period
    return b if b < rows else -1


@implements(proc=GradedEncoder, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGradedEncoderModelFloat(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    data: np.ndarray = LavaPyType(np.ndarray, float)
    qdata: np.ndarray = LavaPyType(np.ndarray, np.int32)
    period: np.ndarray = LavaPyType(np.ndarray, int)

    def run_spk(self) -> None:
        b = _row_for_step(self.time_step, int(self.period[0]), self.data.shape[0])
        out = self.data[b] if b >= 0 else np.zeros(self.data.shape[1])
        self.s_out.send(np.asarray(out, dtype=np.float64))


@implements(proc=GradedEncoder, protocol=LoihiProtocol)
@requires(CPU)
@tag("bit_accurate_loihi", "fixed_pt")
class PyGradedEncoderModelFixed(PyLoihiProcessModel):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=MAX_MESSAGE_BITS)
    data: np.ndarray = LavaPyType(np.ndarray, float)
    qdata: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=MAX_MESSAGE_BITS)
    period: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=16)

    def run_spk(self) -> None:
        b = _row_for_step(self.time_step, int(self.period[0]), self.qdata.shape[0])
        out = self.qdata[b] if b >= 0 else np.zeros(self.qdata.shape[1], dtype=np.int32)
        self.s_out.send(np.asarray(out, dtype=np.int32))
