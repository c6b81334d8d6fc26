"""k-WTA neuron population: the ``k`` units with the largest input current spike."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi._checks import check_shape


class KWTA(AbstractProcess):
    """k-winner-take-all population of ``n`` neurons.

    Every time step the population reads its summed input current ``a`` (all connections into
    ``a_in`` add up) and, when any input is non-zero, the ``k`` neurons with the largest current
    emit a binary spike; ties go to the lower index (the production rule ``hybrid.functional.kwta``):

    .. math::
        s_i[t] = [\\, a[t] \\ne 0 \\,] \\cdot
                 [\\, |\\{ j : a_j > a_i \\lor (a_j = a_i \\land j < i) \\}| < k \\,]

    A step with all-zero input emits nothing. With ``positive_only`` a winner whose current is
    ``<= 0`` stays silent (it only filled the ``k`` slots; the production clean-up ignores such
    winners), so a step may emit fewer than ``k`` spikes. With ``max_burst = B > 0`` the population emits on
    at most ``B`` consecutive steps and then stays silent for one step (a self-inhibition that
    ends a recurrent hop chain ``KWTA → Dense(W) → KWTA`` after ``B - 1`` hops, so cues can be
    streamed one after another).

    In ``fixed_pt`` the current is saturated to the 24-bit neuron state of Loihi 2.

    Parameters
    ----------
    shape : tuple(int)
        ``(n,)``, the code dimension.
    k : int
        Winners per step, ``1 <= k <= n``.
    max_burst : int, optional
        Longest run of consecutive active steps (``0``, the default, means unlimited).
    positive_only : bool, optional
        Silence winners with non-positive current (default False).
    name, log_config : optional
        As for every Lava Process.

    Ports
    -----
    a_in : InPort ``(n,)``
        Input current (graded, real in ``floating_pt``, integer in ``fixed_pt``).
    s_out : OutPort ``(n,)``
        Binary spikes of the winners.

    Vars
    ----
    k, max_burst, positive_only : ``(1,)`` int
    a : ``(n,)`` the last input current (for inspection).
    burst : ``(1,)`` current run length of active steps.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        k: int,
        max_burst: int = 0,
        positive_only: bool = False,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        shape = check_shape(shape)
        n = shape[0]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= n:
            raise ValueError(f"k must be an int in [1, {n}] for shape {shape}, got {k!r}")
        if isinstance(max_burst, bool) or not isinstance(max_burst, (int, np.integer)) or max_burst < 0:
            raise ValueError(f"max_burst must be an int >= 0 (0 = unlimited), got {max_burst!r}")
        if not isinstance(positive_only, (bool, np.bool_)):
            raise ValueError(f"positive_only must be a bool, got {positive_only!r}")
        super().__init__(
            shape=shape,
            k=int(k),
            max_burst=int(max_burst),
            positive_only=bool(positive_only),
            name=name,
            log_config=log_config,
        )
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.k = Var(shape=(1,), init=int(k))
        self.max_burst = Var(shape=(1,), init=int(max_burst))
        self.positive_only = Var(shape=(1,), init=int(bool(positive_only)))
        self.burst = Var(shape=(1,), init=0)
        self.a = Var(shape=shape, init=0)
