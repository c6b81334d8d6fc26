"""Ranked readout: which neurons spiked at a question's result step, best payload first."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import InPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi._checks import check_shape


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return int(value)


class RankedReadout(AbstractProcess):
    """Records, at step ``b · period + offset`` for question ``b``, the ``k`` spiking neurons with the
    largest graded payload (ties: lower index) and their payloads.

    .. math::
        \\mathrm{ids}[b] = \\operatorname{argsort}_{i : s_i \\ne 0}(-s_i, i)_{[:k]}, \\qquad
        \\mathrm{values}[b] = s[\\mathrm{ids}[b]]

    Parameters
    ----------
    shape : tuple(int)
        ``(n,)`` of the observed population.
    k : int
        Slots per question, ``1 <= k <= n``.
    period, offset : int
        Steps per question and the result step inside it (``1 <= offset <= period``).
    questions : int
        Questions recorded.

    Ports
    -----
    s_in : InPort ``(n,)``

    Vars
    ----
    ids : ``[questions, k]`` int, ``-1`` padded.   values : ``[questions, k]`` payloads, ``0`` padded.
    """

    def __init__(
        self,
        *,
        shape: tuple[int, ...],
        k: int,
        period: int,
        offset: int,
        questions: int,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        (n,) = check_shape(shape)
        k, period, offset, questions = (_positive_int(a, v) for a, v in
                                        (("k", k), ("period", period), ("offset", offset), ("questions", questions)))
        if k > n:
            raise ValueError(f"k must be an int in [1, {n}], got {k}")
        if offset > period:
            raise ValueError(f"offset must be in [1, period={period}], got {offset}")
        super().__init__(shape=(n,), k=k, period=period, offset=offset, questions=questions, name=name,
                         log_config=log_config)
        self.s_in = InPort(shape=(n,))
        self.ids = Var(shape=(questions, k), init=-1)
        self.values = Var(shape=(questions, k), init=0)
