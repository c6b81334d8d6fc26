"""Spike readout: the winners of a population on every time step."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi._checks import check_shape


class WinnerReadout(AbstractProcess):
    """Records the indices of the neurons that spiked at each step (a k-WTA layer's winners).

    .. math::
        \\mathrm{winners}[t-1] = \\operatorname{sort}\\{ i : s_i[t] \\ne 0 \\}_{[:k]} \\;\\text{padded with } -1,
        \\qquad \\mathrm{counts}[t-1] = |\\{ i : s_i[t] \\ne 0 \\}|

    Steps past ``num_steps`` are counted in ``total_spikes`` only.

    Parameters
    ----------
    shape : tuple(int)
        ``(n,)`` of the observed population.
    k : int
        Slots per step (the layer's winners), ``1 <= k <= n``.
    num_steps : int
        Steps recorded, ``>= 1``.

    Ports
    -----
    s_in : InPort ``(n,)``

    Vars
    ----
    winners : ``[num_steps, k]`` int, ``-1`` padded.
    counts : ``[num_steps]`` int, spikes per step.
    total_spikes : ``(1,)`` int.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        k: int,
        num_steps: int,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        shape = check_shape(shape)
        n = shape[0]
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
            raise ValueError(f"k must be an int in [1, {n}], got {k!r}")
        if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
            raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")
        super().__init__(shape=(n,), k=int(k), num_steps=int(num_steps), name=name, log_config=log_config)
        self.s_in = InPort(shape=(n,))
        self.winners = Var(shape=(int(num_steps), int(k)), init=-1)
        self.counts = Var(shape=(int(num_steps),), init=0)
        self.total_spikes = Var(shape=(1,), init=0)
