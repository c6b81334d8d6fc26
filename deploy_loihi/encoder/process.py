"""Graded-spike source of embedding vectors, one cue every ``period`` time steps."""

from __future__ import annotations

import numpy as np
from lava.magma.core.process.ports.ports import OutPort
from lava.magma.core.process.process import AbstractProcess, LogConfig
from lava.magma.core.process.variable import Var

from deploy_loihi.fixed import DEFAULT_MESSAGE_BITS, MAX_MESSAGE_BITS, quantize_graded


class GradedEncoder(AbstractProcess):
    """Sends cue ``b`` (row ``b`` of ``vectors``) as one graded spike per dimension at step
    ``t = 1 + b·period``; all other steps send zeros.

    .. math::
        s[t] = \\begin{cases} x_b & t - 1 = b \\cdot P,\\; b < B \\\\ 0 & \\text{otherwise} \\end{cases}

    In ``floating_pt`` the payload is the real vector ``x_b``; in ``fixed_pt`` it is
    :func:`deploy_loihi.fixed.quantize_graded` ``(x_b, num_message_bits)``: a signed integer of
    ``num_message_bits`` bits, ``round(x·(2^{b-1}-1))`` (for the default 16 bits the production ``quantize_unit``).

    Parameters
    ----------
    vectors : array ``[B, d]``
        The cues (e.g. L2-normalised MiniLM embeddings); finite values.
    period : int
        Steps between cues, ``>= 1``.
    num_message_bits : int, optional
        Graded-spike payload bits in ``fixed_pt`` (2–24, default 16).

    Ports
    -----
    s_out : OutPort ``(d,)``
    """

    def __init__(
        self,
        *,
        vectors: np.ndarray,
        period: int,
        num_message_bits: int = DEFAULT_MESSAGE_BITS,
        name: str | None = None,
        log_config: LogConfig | None = None,
    ) -> None:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"vectors must be a non-empty [B, d] array, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError("vectors contains NaN or infinite values")
        if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
            raise ValueError(f"period must be an int >= 1, got {period!r}")
        if (
            isinstance(num_message_bits, bool)
            or not isinstance(num_message_bits, (int, np.integer))
            or not 2 <= num_message_bits <= MAX_MESSAGE_BITS
        ):
            raise ValueError(f"num_message_bits must be an int in [2, {MAX_MESSAGE_BITS}], got {num_message_bits!r}")
        super().__init__(
            vectors=x, period=int(period), num_message_bits=int(num_message_bits), name=name, log_config=log_config
        )
        b, d = x.shape
        self.s_out = OutPort(shape=(d,))
        self.data = Var(shape=(b, d), init=x)
        self.qdata = Var(shape=(b, d), init=quantize_graded(x, int(num_message_bits)))
        self.period = Var(shape=(1,), init=int(period))
