"""Plastic synapses that learn the association matrix from (pre, post) code pairs."""

from __future__ import annotations

import numpy as np
from lava.magma.core.learning.learning_rule import Loihi2FLearningRule
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi.fixed import MAX_UNSIGNED_WEIGHT

#: The learning rule string: post-synaptic spike times the one-step pre-synaptic trace.
HEBBIAN_DW = "y0 * x1"
#: Decay constant of the pre trace ``x1``: tiny, so the trace lasts exactly one step
#: (``x1_tau = 0`` would mean *no* decay in Lava).
TRACE_TAU = 1e-9


def hebbian_rule(*, t_epoch: int = 1) -> Loihi2FLearningRule:
    """Loihi 2 sum-of-products rule ``dw = y0 · x1`` with a one-step pre trace.

    .. math::
        \\Delta w_{ij}[t] = y_i[t] \\, x_j[t]

    With binary spikes, pair ``b`` presented on one step (pre code on ``s_in``, post code on
    ``s_in_bap``) adds 1 to every synapse from an active pre unit ``j`` to an active post unit
    ``i``: after all pairs ``w = Σ_b y_b x_bᵀ`` (the production ``hebbian_update`` transposed).
    """
    if isinstance(t_epoch, bool) or not isinstance(t_epoch, (int, np.integer)) or t_epoch < 1:
        raise ValueError(f"t_epoch must be an int >= 1, got {t_epoch!r}")
    return Loihi2FLearningRule(dw=HEBBIAN_DW, x1_impulse=1, x1_tau=TRACE_TAU, t_epoch=int(t_epoch))


class HebbianAssociation(AbstractProcess):
    """Plastic all-to-all synapses ``w [n_post, n_pre]`` learning from pairs of binary codes.

    A pair is presented by sending the pre code's spikes to ``s_in`` and the post code's spikes
    to ``s_in_bap`` on the same time step. Learning is Lava's Loihi 2 learning engine
    (``LearningDense`` with :func:`hebbian_rule`):

    .. math::
        w_{ij} \\leftarrow w_{ij} + y_i[t] \\, x_j[t]

    In ``fixed_pt`` the weights are unsigned 8-bit and saturate at 255 (as the production
    counts do); in ``floating_pt`` they are exact real counts. The synapses also conduct:
    ``a_out[t+1] = w · s_in[t]``.

    Parameters
    ----------
    shape : tuple(int, int)
        ``(n_post, n_pre)``.
    weights : array, optional
        Initial weights ``[n_post, n_pre]``, integers in ``[0, 255]`` (default zeros).
    t_epoch : int, optional
        Steps per learning epoch (1: update every step).

    Ports
    -----
    s_in : InPort ``(n_pre,)``, s_in_bap : InPort ``(n_post,)``, a_out : OutPort ``(n_post,)``

    Vars
    ----
    weights : ``[n_post, n_pre]`` (alias of the inner ``LearningDense`` weights).
    """

    def __init__(
        self,
        *,
        shape: tuple[int, int],
        weights: np.ndarray | None = None,
        t_epoch: int = 1,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        if (
            not isinstance(shape, tuple)
            or len(shape) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in shape)
        ):
            raise ValueError(f"shape must be a 2-tuple (n_post, n_pre) of ints >= 1, got {shape!r}")
        shape = (int(shape[0]), int(shape[1]))
        w = np.zeros(shape) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != shape:
            raise ValueError(f"weights must have shape {shape}, got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0) or np.any(w > MAX_UNSIGNED_WEIGHT) or np.any(w != np.rint(w)):
            raise ValueError(f"weights must be integers in [0, {MAX_UNSIGNED_WEIGHT}]")
        hebbian_rule(t_epoch=t_epoch)  # validates t_epoch
        super().__init__(shape=shape, weights=w, t_epoch=int(t_epoch), name=name, log_config=log_config)
        self.s_in = InPort(shape=(shape[1],))
        self.s_in_bap = InPort(shape=(shape[0],))
        self.a_out = OutPort(shape=(shape[0],))
        self.weights = Var(shape=shape, init=w)
