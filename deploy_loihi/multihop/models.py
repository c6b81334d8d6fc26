"""Hierarchical model of :class:`~deploy_loihi.multihop.process.MultiHopRecall`.

Tag-free: every inner Process takes its ``floating_pt`` or ``fixed_pt`` model from the run
configuration.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements
from lava.magma.core.model.sub.model import AbstractSubProcessModel
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import Dense

from deploy_loihi.encoder.process import GradedEncoder
from deploy_loihi.fixed import PROJECTION_WEIGHT, PROJECTION_WEIGHT_EXP
from deploy_loihi.kwta.process import KWTA
from deploy_loihi.multihop.process import MultiHopRecall
from deploy_loihi.readout.process import WinnerReadout


@implements(proc=MultiHopRecall, protocol=LoihiProtocol)
class SubMultiHopRecallModel(AbstractSubProcessModel):
    """Builds the unrolled layer stack and aliases each readout's records."""

    def __init__(self, proc: MultiHopRecall) -> None:
        pp = proc.proc_params
        x, p = pp["vectors"], pp["projection"]
        stored, w = pp["stored_winners"], pp["weights"]
        k, hops, cap, steps = pp["k"], pp["hops"], pp["w_cap"], pp["num_steps"]
        n, m = p.shape[0], stored.shape[0]
        c = np.zeros((m, n), dtype=np.int64)
        c[np.arange(m)[:, None], stored] = 1
        w_eff_t = np.minimum(w, cap).T  # Dense weights are [post, pre]

        self.encoder = GradedEncoder(vectors=x, period=1, num_message_bits=pp["num_message_bits"])
        self.projection = Dense(
            weights=PROJECTION_WEIGHT * p.astype(np.int64),
            weight_exp=PROJECTION_WEIGHT_EXP,
            num_message_bits=pp["num_message_bits"],
        )
        self.encoder.s_out.connect(self.projection.s_in)
        prev_dense = self.projection
        for t in range(hops + 1):
            if t > 0:
                relay = self._add(f"relay_{t}", KWTA(shape=(n,), k=k, positive_only=True))
                prev_dense.a_out.connect(relay.a_in)
                hop = self._add(f"hop_{t}", Dense(weights=w_eff_t))
                relay.s_out.connect(hop.s_in)
                prev_dense = hop
            code = self._add(f"code_{t}", KWTA(shape=(n,), k=k, positive_only=t > 0))
            prev_dense.a_out.connect(code.a_in)
            to_mem = self._add(f"to_memory_{t}", Dense(weights=c))
            code.s_out.connect(to_mem.s_in)
            mem = self._add(f"memory_{t}", KWTA(shape=(m,), k=1, positive_only=True))
            to_mem.a_out.connect(mem.a_in)
            r_code = self._add(f"readout_code_{t}", WinnerReadout(shape=(n,), k=k, num_steps=steps))
            r_mem = self._add(f"readout_memory_{t}", WinnerReadout(shape=(m,), k=1, num_steps=steps))
            code.s_out.connect(r_code.s_in)
            mem.s_out.connect(r_mem.s_in)
            getattr(proc.vars, f"code_winners_{t}").alias(r_code.vars.winners)
            getattr(proc.vars, f"memory_winners_{t}").alias(r_mem.vars.winners)
            if t < hops:
                back = self._add(f"to_relay_{t + 1}", Dense(weights=c.T.copy()))
                mem.s_out.connect(back.s_in)
                prev_dense = back

    def _add(self, name: str, process):
        """Keep a sub-Process as an attribute (Lava finds sub-Processes among attributes)."""
        setattr(self, name, process)
        return process
