"""Hierarchical model of :class:`~deploy_loihi.hebbian.process.HebbianAssociation`.

The model is tag-free: the inner ``LearningDense`` takes Lava's ``floating_pt`` or
bit-accurate ``fixed_pt`` model from the run configuration.
"""

from __future__ import annotations

from lava.magma.core.decorator import implements
from lava.magma.core.model.sub.model import AbstractSubProcessModel
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol
from lava.proc.dense.process import LearningDense

from deploy_loihi.hebbian.process import HebbianAssociation, hebbian_rule


@implements(proc=HebbianAssociation, protocol=LoihiProtocol)
class SubHebbianAssociationModel(AbstractSubProcessModel):
    """``s_in → LearningDense(dw = y0·x1) → a_out``, post spikes into ``s_in_bap``."""

    def __init__(self, proc: HebbianAssociation) -> None:
        params = proc.proc_params
        self.synapses = LearningDense(
            weights=params["weights"],
            learning_rule=hebbian_rule(t_epoch=params["t_epoch"]),
            num_message_bits=0,
        )
        proc.in_ports.s_in.connect(self.synapses.in_ports.s_in)
        proc.in_ports.s_in_bap.connect(self.synapses.in_ports.s_in_bap)
        self.synapses.out_ports.a_out.connect(proc.out_ports.a_out)
        proc.vars.weights.alias(self.synapses.vars.weights)
