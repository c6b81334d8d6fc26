"""Concept-cell layer of the neuromorphic recall: relays the walk's activation and adds the question's own concepts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi._checks import check_shape


class ConceptLayer(AbstractProcess):
    """One neuron per concept cell. At ``τ = 1`` of a question it latches the question's concept
    activation ``γ q̂`` from ``a_query`` (sent by the host); at each concept step of the
    :class:`~deploy_loihi.recall_functional.Schedule` it fires the sum of the walk's input and
    that activation as a graded spike:

    .. math::
        c[\\tau] = a^{in}[\\tau] + \\gamma \\hat q, \\qquad \\tau = w_0 + 1 + 2t,\\; t = 0..T-1

    Parameters
    ----------
    shape : tuple(int)
        ``(C,)`` concept cells.
    lists : int
        Dense lists per question (``L``, fixes the schedule).
    recall : mapping
        :class:`~deploy_loihi.recall_functional.RecallParams` fields.
    fanout : int array ``[C]``
        Synapses each concept neuron drives (for the synaptic-event count).
    iterations : int, optional
        Time steps of the memory layer's threshold searches (fixes the schedule).

    Ports
    -----
    a_in : InPort ``(C,)`` (from the memory→concept Dense)   a_query : InPort ``(C,)`` (from the host)
    s_out : OutPort ``(C,)``

    Vars
    ----
    spikes, syn_events : ``(1,)`` counters.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        lists: int,
        recall: Mapping[str, Any],
        fanout: np.ndarray,
        iterations: int = 0,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        (c,) = check_shape(shape)
        if isinstance(lists, bool) or not isinstance(lists, (int, np.integer)) or lists < 1:
            raise ValueError(f"lists must be an int >= 1, got {lists!r}")
        f = np.asarray(fanout)
        if f.shape != (c,) or f.dtype.kind not in "iu" or (f.size and f.min() < 0):
            raise ValueError(f"fanout must be a non-negative int array of shape ({c},), got {f.dtype} {f.shape}")
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
        super().__init__(shape=(c,), lists=int(lists), recall=dict(recall), iterations=int(iterations), name=name,
                         log_config=log_config)
        self.a_in = InPort(shape=(c,))
        self.a_query = InPort(shape=(c,))
        self.s_out = OutPort(shape=(c,))
        self.fanout = Var(shape=(c,), init=f.astype(np.int64))
        self.spikes = Var(shape=(1,), init=0)
        self.syn_events = Var(shape=(1,), init=0)
