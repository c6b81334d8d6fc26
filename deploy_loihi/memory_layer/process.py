"""Memory layer of the neuromorphic recall: fuses the seed lists, spreads over links and walks the concept graph."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi._checks import check_shape


def _int_array(name: str, value: object, lo: int, hi: int) -> np.ndarray:
    a = np.asarray(value)
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and (a.min() < lo or a.max() >= hi)):
        raise ValueError(f"{name} must be a 1-d int array with values in [{lo}, {hi}), got {a.dtype} {a.shape}")
    return a.astype(np.int64)


class MemoryLayer(AbstractProcess):
    """One neuron per memory; each question runs through the stages of
    :mod:`deploy_loihi.recall_functional` at the time steps of its
    :class:`~deploy_loihi.recall_functional.Schedule`.

    .. math::
        s_m \\mathrel{+}= w_l \\max(\\max_{r: o(r) = m} a^{key}_r, 0)\\,[m \\in \\mathrm{top}_D] \\quad (\\tau = 2 + l)

        s'_m = s_m + \\gamma_L \\max_j a^{link}_{m,j} \\quad (\\tau = L + 2), \\qquad
        x_m = (1 - r)\\, a^{walk}_m + r\\, p_{0,m} \\quad (\\tau = L + 4 + 2t)

    with the seed distribution ``p_0`` (softmax of the best ``S`` scores), the walk's gain and the
    ceiling below the best score applied after the last walk step; then the ``k`` best neurons send
    their score as a graded spike on ``s_out``. Every selection (top-``D`` of a list, the seeds,
    the walk's candidates, the results, a list's maximum) is a bit-serial threshold search run
    over ``iterations`` time steps: each step the neurons at or above the broadcast threshold
    spike to a counting neuron, which keeps or drops the tested bit.

    Parameters
    ----------
    shape : tuple(int)
        ``(M,)`` memories.
    key_owner : int array ``[R]``
        Neuron of each key (the key layer's output ``r`` feeds the max-compartment of neuron ``key_owner[r]``).
    link_width : int
        Neighbour slots per neuron (``a_link`` has ``M · link_width`` entries, slot ``j`` of neuron ``m`` at ``m · S + j``).
    linked : bool array ``[M]``
        Memories that share a concept cell with another memory (only they can gain from the walk).
    list_weights : float array ``[L]``
        Weight of each dense list (question, nameless cue, content cue).
    recall : mapping
        :class:`~deploy_loihi.recall_functional.RecallParams` fields.
    k : int
        Results per question.
    fanout_link, fanout_walk : int arrays ``[M]``
        Synapses each neuron drives on its link and walk outputs (for the synaptic-event count).
    iterations : int, optional
        Time steps of each threshold search (:class:`~deploy_loihi.recall_functional.ThresholdSearch`,
        one bit per step); 0 runs a search within the step that starts it.

    Ports
    -----
    a_key : InPort ``(R,)``   a_lex : InPort ``(M,)``   a_link : InPort ``(M·S,)``   a_walk : InPort ``(M,)``
    s_link : OutPort ``(M,)``   s_walk : OutPort ``(M,)``   s_out : OutPort ``(M,)``

    Vars
    ----
    spikes, syn_events, searches : ``(1,)`` counters over the run.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        key_owner: np.ndarray,
        link_width: int,
        linked: np.ndarray,
        list_weights: np.ndarray,
        recall: Mapping[str, Any],
        k: int,
        fanout_link: np.ndarray,
        fanout_walk: np.ndarray,
        iterations: int = 0,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        (m,) = check_shape(shape)
        owner = _int_array("key_owner", key_owner, 0, m)
        if owner.size == 0:
            raise ValueError("key_owner must name at least one key")
        if isinstance(link_width, bool) or not isinstance(link_width, (int, np.integer)) or link_width < 1:
            raise ValueError(f"link_width must be an int >= 1, got {link_width!r}")
        lk = np.asarray(linked)
        if lk.shape != (m,) or lk.dtype != bool:
            raise ValueError(f"linked must be a bool array of shape ({m},), got {lk.dtype} {lk.shape}")
        w = np.asarray(list_weights, dtype=np.float64)
        if w.ndim != 1 or w.size < 1 or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(f"list_weights must be a non-empty 1-d array of finite weights >= 0, got {list_weights!r}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= m:
            raise ValueError(f"k must be an int in [1, {m}], got {k!r}")
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)) or iterations < 0:
            raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
        fl = _int_array("fanout_link", fanout_link, 0, 1 << 31)
        fw = _int_array("fanout_walk", fanout_walk, 0, 1 << 31)
        if fl.shape != (m,) or fw.shape != (m,):
            raise ValueError(f"fanout_link and fanout_walk must have shape ({m},)")
        super().__init__(shape=(m,), link_width=int(link_width), recall=dict(recall), k=int(k),
                         iterations=int(iterations), name=name,
                         log_config=log_config)
        r = owner.shape[0]
        self.a_key = InPort(shape=(r,))
        self.a_lex = InPort(shape=(m,))
        self.a_link = InPort(shape=(m * int(link_width),))
        self.a_walk = InPort(shape=(m,))
        self.s_link = OutPort(shape=(m,))
        self.s_walk = OutPort(shape=(m,))
        self.s_out = OutPort(shape=(m,))
        self.key_owner = Var(shape=(r,), init=owner)
        self.linked = Var(shape=(m,), init=lk.astype(np.int64))
        self.list_weights = Var(shape=(w.size,), init=w)
        self.fanout_link = Var(shape=(m,), init=fl)
        self.fanout_walk = Var(shape=(m,), init=fw)
        self.spikes = Var(shape=(1,), init=0)
        self.syn_events = Var(shape=(1,), init=0)
        self.searches = Var(shape=(1,), init=0)
