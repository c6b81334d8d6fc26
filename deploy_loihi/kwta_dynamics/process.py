"""Threshold-search k-WTA: winner selection from neuron dynamics over time steps (no global sort)."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi._checks import check_shape
from deploy_loihi.fixed import STATE_BITS, index_bits_for


def search_steps(n: int, value_bits: int, frac_bits: int = 0, tie_break: bool = True) -> int:
    """Search iterations (one per time step) of a :class:`ThresholdKWTA` of ``n`` neurons."""
    return int(value_bits) + int(frac_bits) + (index_bits_for(n) if tie_break else 0)


class ThresholdKWTA(AbstractProcess):
    """k-winner-take-all selected by a bit-serial threshold search run by neuron dynamics.

    Each of the ``n`` neurons holds its input current ``v_i`` (latched on the first step with a
    non-zero input) and, on every step, compares it with a threshold that a controller neuron
    broadcasts; a counting neuron sums the resulting spikes and the controller keeps or drops the
    tested bit. No neuron sees another neuron's state and nothing is sorted.

    **Value phase** (``value_bits + frac_bits`` steps, MSB first, grid unit
    ``u = 2^{-frac_bits}``; ``θ`` starts at ``-2^{value_bits-1}``):

    .. math::
        s_i[t] = [\\, v_i \\ge θ + 2^{b_t} \\,], \\qquad
        θ \\leftarrow θ + 2^{b_t} \\;\\text{ if }\\; \\textstyle\\sum_i s_i[t] \\ge k,
        \\qquad b_t = \\text{value\\_bits} - 1, \\dots, -\\text{frac\\_bits}

    After it, ``θ`` is the k-th largest current rounded down to the grid: fewer than ``k``
    neurons have ``v_i ≥ θ + u`` and at least ``k`` have ``v_i ≥ θ``.

    **Tie phase** (``tie_break``, ``ceil(log2(n+1))`` steps): neurons in the last bin
    ``θ ≤ v_i < θ + u`` compete by index with a broadcast index threshold ``J`` (each neuron
    knows its own index ``i``, a constant), MSB first from ``J = 0``:

    .. math::
        s_i[t] = [\\, v_i \\ge θ + u \\,] \\lor [\\, v_i \\ge θ \\land i < J + 2^{c_t} \\,], \\qquad
        J \\leftarrow J + 2^{c_t} \\;\\text{ if }\\; \\textstyle\\sum_i s_i[t] \\le k

    **Output** (one step after the last iteration): the winners spike once,
    ``s_i = [v_i ≥ θ + u] ∨ [v_i ≥ θ ∧ i < J]`` (exactly ``k`` neurons, the lower index winning
    among equal values: the production ``kwta`` rule for integer currents); without the tie phase
    ``s_i = [v_i ≥ θ]`` (``k`` or more neurons when values tie at ``θ``).

    A search therefore takes :func:`search_steps` steps plus the output step; inputs that arrive
    while a search runs are dropped (counted in ``dropped``), so cues must be at least
    ``search_steps + 1`` steps apart. On Loihi 2 the counter and the broadcast are synaptic
    connections that add one step of delay each, so a search would take about two time steps per
    iteration; this model advances one iteration per step.

    In ``fixed_pt`` the currents are integers saturated to the ``value_bits`` signed range
    (at most the 24-bit neuron state), ``θ`` and ``J`` are integers and ``frac_bits`` steps are
    idle (the grid unit is 1). In ``floating_pt`` the currents are real and ``frac_bits`` refine
    ``θ`` below 1; values closer than ``2^{-frac_bits}`` count as tied.

    Parameters
    ----------
    shape : tuple(int)
        ``(n,)``.
    k : int
        Winners, ``1 <= k <= n``.
    value_bits : int, optional
        Integer bits of the threshold search, sign included (2–24, default 24: the neuron state).
    frac_bits : int, optional
        Fractional bits searched after the integer ones (0–32, default 0; floating point only).
    tie_break : bool, optional
        Run the tie phase (default True).

    Ports
    -----
    a_in : InPort ``(n,)``
    s_out : OutPort ``(n,)``  binary spikes of the winners, on the output step only.

    Vars
    ----
    v : ``(n,)`` latched currents.  theta, j_index : ``(1,)`` thresholds.  iteration, busy : ``(1,)``.
    count : ``(1,)`` last spike count seen by the counting neuron.  searches, dropped : ``(1,)`` counters.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        k: int,
        value_bits: int = STATE_BITS,
        frac_bits: int = 0,
        tie_break: bool = True,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        shape = check_shape(shape)
        n = shape[0]
        for label, val, lo, hi in (("k", k, 1, n), ("value_bits", value_bits, 2, STATE_BITS), ("frac_bits", frac_bits, 0, 32)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or not lo <= val <= hi:
                raise ValueError(f"{label} must be an int in [{lo}, {hi}], got {val!r}")
        if not isinstance(tie_break, (bool, np.bool_)):
            raise ValueError(f"tie_break must be a bool, got {tie_break!r}")
        super().__init__(
            shape=(n,), k=int(k), value_bits=int(value_bits), frac_bits=int(frac_bits), tie_break=bool(tie_break),
            name=name, log_config=log_config,
        )
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        self.k = Var(shape=(1,), init=int(k))
        self.value_bits = Var(shape=(1,), init=int(value_bits))
        self.frac_bits = Var(shape=(1,), init=int(frac_bits))
        self.index_bits = Var(shape=(1,), init=index_bits_for(n))
        self.tie_break = Var(shape=(1,), init=int(bool(tie_break)))
        self.v = Var(shape=(n,), init=0)
        self.theta = Var(shape=(1,), init=0)
        self.j_index = Var(shape=(1,), init=0)
        self.iteration = Var(shape=(1,), init=0)
        self.busy = Var(shape=(1,), init=0)
        self.count = Var(shape=(1,), init=0)
        self.searches = Var(shape=(1,), init=0)
        self.dropped = Var(shape=(1,), init=0)
        self.num_steps_per_search = search_steps(n, int(value_bits), int(frac_bits), bool(tie_break))
