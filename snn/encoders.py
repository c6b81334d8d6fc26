"""Spike encoders and decoders as ``torch.nn.Module`` s, with frozen configs.

Encoders map ``[B, N]`` embeddings to time-first spikes ``[T, B, C]``; decoders map them back to
``[B, N]``. Encoders compose with snntorch: feed ``spikes[t]`` to any snntorch neuron in a time
loop (``tests/snn/test_encoders.py`` drives an ``snntorch.Leaky`` layer with them).

Example:
    >>> import torch
    >>> enc, dec = make_codec("latency", num_steps=32)
    >>> x = torch.nn.functional.normalize(torch.randn(2, 384), dim=1)
    >>> z = enc(x)                      # [32, 2, 768] ON/OFF spikes, at most one per channel
    >>> float(torch.nn.functional.cosine_similarity(dec(z), x).min()) > 0.99
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from . import functional as F
from .functional import Code, SignMode

if TYPE_CHECKING:  # pragma: no cover
    from hybrid.memory import Memory, SearchResult


@dataclass(frozen=True)
class RateConfig:
    """Deterministic integrate-and-fire rate code (subtractive reset, ``θ = 1``, ``v_0 = θ/2``).

    Attributes:
        num_steps: ``T``, time steps per vector (>= 1).
        x_max: full-scale value (``|x| >= x_max`` fires every step); ``None``: each row's max-abs.
        sign_mode: ``"on_off"`` (``[T, B, 2N]``) or ``"signed"`` (``[T, B, N]``).
    """

    num_steps: int = 32
    x_max: float | None = None
    sign_mode: SignMode = SignMode.ON_OFF

    def __post_init__(self) -> None:
        F.check_steps(self.num_steps)
        F.check_x_max(self.x_max)
        object.__setattr__(self, "sign_mode", SignMode(self.sign_mode))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "sign_mode": self.sign_mode.value}


@dataclass(frozen=True)
class LatencyConfig(RateConfig):
    """Linear time-to-first-spike code: one spike at ``t = T - round(m T)``, ``m = |x| / x_max``.

    Attributes: as :class:`RateConfig`.
    """


@dataclass(frozen=True)
class BernoulliConfig(RateConfig):
    """Stochastic rate code: spike probability ``m = |x| / x_max`` per step.

    Attributes:
        seed: seed of the module's ``torch.Generator`` (re-seeded by ``reset()``).
        (others as :class:`RateConfig`).
    """

    num_steps: int = 256
    seed: int = 0


@dataclass(frozen=True)
class SigmaDeltaConfig:
    """Sigma-delta code with an n-bit signed graded payload (Loihi 2 style).

    Attributes:
        num_steps: ``T`` (>= 1); a value that fits the full scale is sent at ``t = 0``.
        bits: payload width ``n`` in ``[2, 24]``; payload unit ``Δ = x_max / (2^{n-1} - 1)``.
        x_max: full-scale value, or ``None`` for each row's max-abs.
        threshold: residual threshold ``ϑ`` in full-scale units (``None``: ``Δ/2``).
    """

    num_steps: int = 4
    bits: int = 8
    x_max: float | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        F.check_steps(self.num_steps)
        F.check_bits(self.bits)
        F.check_x_max(self.x_max)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Base(nn.Module):
    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config

    @property
    def decode_scale(self) -> float:
        """The ``x_max`` a decoder multiplies by when no ``scale`` is given (1 under per-row scaling)."""
        return self.config.x_max if self.config.x_max is not None else 1.0

    def full_scale(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``[B]`` full scale the encoder uses for each row of ``x``: ``x_max``, or the row's max-abs.

        It is the magnitude the spikes do not carry: pass it to the decoder
        (``dec(spikes, scale=enc.full_scale(x))``) to get the vectors back at their own norm.
        """
        return F.full_scale(F.check_vectors(x), self.config.x_max)[:, 0]

    def _decoded(self, decode: Any, spikes: torch.Tensor, scale: torch.Tensor | np.ndarray | float | None,
                 *args: Any) -> torch.Tensor:
        """``decode(spikes, *args, x_max)`` in full-scale units times ``scale`` (``[B]``, ``[B, 1]`` or a
        number), or times :attr:`decode_scale` when ``scale`` is None."""
        if scale is None:
            return decode(spikes, *args, self.decode_scale)
        out = decode(spikes, *args, 1.0)
        s = torch.as_tensor(scale, dtype=out.dtype)
        if s.ndim == 0:
            s = s.expand(out.shape[0])
        s = s.reshape(-1)
        if s.shape[0] != out.shape[0] or not torch.isfinite(s).all() or (s <= 0).any():
            raise ValueError(f"scale must be a positive number or one per row ([{out.shape[0]}]), "
                             f"got shape {tuple(torch.as_tensor(scale).shape)}")
        return out * s[:, None]

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())


class RateEncoder(_Base):
    """``[B, N] -> [T, B, C]`` deterministic IF rate code (:func:`snn.functional.rate_encode`)."""

    def __init__(self, config: RateConfig | None = None) -> None:
        super().__init__(config or RateConfig())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        return F.rate_encode(x, c.num_steps, c.x_max, c.sign_mode)


class RateDecoder(_Base):
    """``[T, B, C] -> [B, N]``: ``scale ·`` spike count / ``T`` (:func:`snn.functional.rate_decode`).

    ``scale``: the encoder's :meth:`full_scale` of the input (default ``x_max``, or 1 under per-row
    scaling: then the output has the input's direction but is in units of each row's max-abs).
    """

    def __init__(self, config: RateConfig | None = None) -> None:
        super().__init__(config or RateConfig())

    def forward(self, spikes: torch.Tensor, scale: torch.Tensor | np.ndarray | float | None = None) -> torch.Tensor:
        return self._decoded(lambda z, xm: F.rate_decode(z, xm, self.config.sign_mode), spikes, scale)


class LatencyEncoder(_Base):
    """``[B, N] -> [T, B, C]`` linear time-to-first-spike code (:func:`snn.functional.latency_encode`)."""

    def __init__(self, config: LatencyConfig | None = None) -> None:
        super().__init__(config or LatencyConfig())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        return F.latency_encode(x, c.num_steps, c.x_max, c.sign_mode)


class LatencyDecoder(_Base):
    """``[T, B, C] -> [B, N]``: ``scale · Σ_t z_t (T - t) / T`` (:func:`snn.functional.latency_decode`);
    ``scale`` as in :class:`RateDecoder`."""

    def __init__(self, config: LatencyConfig | None = None) -> None:
        super().__init__(config or LatencyConfig())

    def forward(self, spikes: torch.Tensor, scale: torch.Tensor | np.ndarray | float | None = None) -> torch.Tensor:
        return self._decoded(lambda z, xm: F.latency_decode(z, xm, self.config.sign_mode), spikes, scale)


class SigmaDeltaEncoder(_Base):
    """``[B, N] -> [T, B, N]`` integer graded payloads (:func:`snn.functional.sigma_delta_encode`)."""

    def __init__(self, config: SigmaDeltaConfig | None = None) -> None:
        super().__init__(config or SigmaDeltaConfig())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        return F.sigma_delta_encode(x, c.num_steps, c.bits, c.x_max, c.threshold)


class SigmaDeltaDecoder(_Base):
    """``[T, B, N] -> [B, N]``: ``scale · Δ Σ_t p_t`` (:func:`snn.functional.sigma_delta_decode`);
    ``scale`` as in :class:`RateDecoder`."""

    def __init__(self, config: SigmaDeltaConfig | None = None) -> None:
        super().__init__(config or SigmaDeltaConfig())

    def forward(self, spikes: torch.Tensor, scale: torch.Tensor | np.ndarray | float | None = None) -> torch.Tensor:
        return self._decoded(lambda z, xm: F.sigma_delta_decode(z, self.config.bits, xm), spikes, scale)


class BernoulliEncoder(_Base):
    """``[B, N] -> [T, B, C]`` stochastic rate code with a seeded generator (``reset()`` re-seeds)."""

    def __init__(self, config: BernoulliConfig | None = None) -> None:
        super().__init__(config or BernoulliConfig())
        self.generator = torch.Generator()
        self.reset()

    def reset(self) -> None:
        """Re-seed, so the next call repeats the first call's spikes."""
        self.generator.manual_seed(int(self.config.seed))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        return F.bernoulli_encode(x, c.num_steps, c.x_max, c.sign_mode, generator=self.generator)


class BernoulliDecoder(RateDecoder):
    """``[T, B, C] -> [B, N]``: spike count / ``T``, as :class:`RateDecoder`."""

    def __init__(self, config: BernoulliConfig | None = None) -> None:
        _Base.__init__(self, config or BernoulliConfig())


_CODECS: dict[Code, tuple[type, type, type]] = {
    Code.RATE: (RateConfig, RateEncoder, RateDecoder),
    Code.LATENCY: (LatencyConfig, LatencyEncoder, LatencyDecoder),
    Code.SIGMA_DELTA: (SigmaDeltaConfig, SigmaDeltaEncoder, SigmaDeltaDecoder),
    Code.BERNOULLI: (BernoulliConfig, BernoulliEncoder, BernoulliDecoder),
}


def make_config(code: Code | str, **kwargs: Any) -> Any:
    """The config of ``code`` built from keyword arguments (``ValueError`` on an unknown code)."""
    try:
        code = Code(code)
    except ValueError:
        raise ValueError(f"code must be one of {[c.value for c in Code]}, got {code!r}") from None
    return _CODECS[code][0](**kwargs)


def make_codec(code: Code | str, config: Any = None, **kwargs: Any) -> tuple[nn.Module, nn.Module]:
    """``(encoder, decoder)`` sharing one config, for ``code`` in :class:`snn.functional.Code`.

    Example:
        >>> enc, dec = make_codec("sigma_delta", bits=6)
        >>> type(enc).__name__, enc.config.bits
        ('SigmaDeltaEncoder', 6)
    """
    cfg = config if config is not None else make_config(code, **kwargs)
    _, enc_cls, dec_cls = _CODECS[Code(code)]
    return enc_cls(cfg), dec_cls(cfg)


def round_trip(x: torch.Tensor | np.ndarray, code: Code | str, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode then decode ``x`` at its own scale (the decoder gets the encoder's
    :meth:`~_Base.full_scale`, so the decoded rows have the input's norm up to the code's
    quantisation); returns ``(decoded [B, N], spikes [T, B, C])``."""
    enc, dec = make_codec(code, **kwargs)
    xt = torch.as_tensor(x)
    z = enc(xt)
    return dec(z, scale=enc.full_scale(xt)), z


def decode_cue(spikes: torch.Tensor, decoder: nn.Module) -> np.ndarray:
    """Decode a spike-encoded cue to float32 ``[B, N]`` query vectors for a :class:`hybrid.memory.Memory`."""
    out = decoder(spikes).detach().cpu().numpy().astype(np.float32)
    zero = ~np.any(out != 0, axis=1)
    if zero.any():
        raise ValueError(f"spike cue {int(np.argmax(zero))} decodes to the zero vector (no spikes); nothing to search for")
    return out


def search_spikes(memory: Memory, spikes: torch.Tensor, decoder: nn.Module, k: int = 5) -> list[list[SearchResult]]:
    """Query a Memory with spike-encoded cues ``[T, B, C]``: decode, then ``memory.search_batch``.

    Returns one list of :class:`hybrid.memory.SearchResult` per cue.
    """
    return memory.search_batch(decode_cue(spikes, decoder), k)


def search_spikes_ids(
    memory: Memory, spikes: torch.Tensor, decoder: nn.Module, k: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """The retrieval contract for spike cues: ``(scores, ids)`` ``[B, k]`` from ``memory.search_ids``."""
    return memory.search_ids(decode_cue(spikes, decoder), k)


__all__: Sequence[str] = [
    "BernoulliConfig",
    "BernoulliDecoder",
    "BernoulliEncoder",
    "LatencyConfig",
    "LatencyDecoder",
    "LatencyEncoder",
    "RateConfig",
    "RateDecoder",
    "RateEncoder",
    "SigmaDeltaConfig",
    "SigmaDeltaDecoder",
    "SigmaDeltaEncoder",
    "decode_cue",
    "make_codec",
    "make_config",
    "round_trip",
    "search_spikes",
    "search_spikes_ids",
]
