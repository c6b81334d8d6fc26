"""Pure functions of the spiking path: neuron steps, spike codes and their decoders.

Every neuron step has the shape ``f(x, state, params) -> (out, state)``; every code has an
``encode`` that loops over such a step and a matching ``decode``. The classes in
:mod:`snn.encoders` only hold a frozen config and call these.

Conventions
-----------
- Spike tensors are time-first: ``[T, B, C]``.
- Embeddings are signed. A code either uses **ON/OFF channels** (``C = 2N``: channels ``0..N-1``
  carry the positive parts, ``N..2N-1`` the negative parts, all spikes are 0/1) or **signed
  spikes** (``C = N``, spikes in ``{-1, 0, +1}``). The sigma-delta code always sends signed
  graded spikes (integer payloads).
- Values are coded relative to a full-scale value ``x_max``: ``m = |x| / x_max``. With
  ``x_max=None`` every row is divided by its own max-abs first, so the whole range is used;
  the decoder then returns the vector in units of that row max (same direction, which is all
  that cosine similarity and retrieval see).

Symbols: ``T`` time steps, ``θ`` threshold, ``v`` membrane potential, ``β`` membrane decay,
``z`` spikes, ``Δ`` the sigma-delta payload unit.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import NamedTuple

import torch

#: Largest graded-payload width accepted (Loihi 2 graded spikes carry up to 24 bits).
MAX_BITS = 24
#: Residuals within this fraction of the payload unit of the threshold are not sent (float ties).
SIGMA_DELTA_TIE_TOL = 1e-3
#: Smallest payload width: 2 bits give the payloads {-1, 0, +1}.
MIN_BITS = 2


class SignMode(str, Enum):
    """How a binary code carries the sign of an embedding dimension."""

    ON_OFF = "on_off"  #: two channels per dimension, ``[T, B, 2N]`` of 0/1 spikes
    SIGNED = "signed"  #: one channel per dimension, ``[T, B, N]`` of -1/0/+1 spikes


class Code(str, Enum):
    """The spike codes of this package."""

    RATE = "rate"  #: deterministic integrate-and-fire rate code (subtractive reset)
    LATENCY = "latency"  #: linear time-to-first-spike code
    SIGMA_DELTA = "sigma_delta"  #: sigma-delta code with an n-bit graded payload
    BERNOULLI = "bernoulli"  #: stochastic (Bernoulli) rate code


# --------------------------------------------------------------------------- validation
def check_steps(num_steps: object, name: str = "num_steps") -> int:
    """``T`` must be an int >= 1."""
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
        raise ValueError(f"{name} must be an int >= 1 (time steps), got {num_steps!r}")
    return num_steps


def check_bits(bits: object) -> int:
    """The graded payload width must be an int in ``[MIN_BITS, MAX_BITS]``."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be an int in [{MIN_BITS}, {MAX_BITS}], got {bits!r}")
    return bits


def check_x_max(x_max: object) -> float | None:
    """``x_max`` is ``None`` (per-row max-abs) or a finite number > 0."""
    if x_max is None:
        return None
    if isinstance(x_max, bool) or not isinstance(x_max, (int, float)) or not math.isfinite(x_max) or x_max <= 0:
        raise ValueError(f"x_max must be None or a finite number > 0, got {x_max!r}")
    return float(x_max)


def check_vectors(x: object, name: str = "x") -> torch.Tensor:
    """A real, finite ``[B, N]`` tensor (a ``[N]`` vector becomes ``[1, N]``), as float32."""
    t = torch.as_tensor(x)
    if t.is_complex() or not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name} must hold real numbers, got dtype {t.dtype}")
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2 or t.shape[1] == 0:
        raise ValueError(f"{name} must have shape [B, N] (or [N]) with N >= 1, got {tuple(t.shape)}")
    t = t.float()
    if not torch.isfinite(t).all():
        bad = int(torch.nonzero(~torch.isfinite(t))[0][0])
        raise ValueError(f"{name}[{bad}] contains NaN or infinity")
    return t


def check_spikes(z: object, name: str = "spikes") -> torch.Tensor:
    """A finite time-first ``[T, B, C]`` spike tensor with ``T >= 1``, as float32."""
    t = torch.as_tensor(z)
    if t.ndim != 3:
        raise ValueError(f"{name} must be time-first [T, B, C], got shape {tuple(t.shape)}")
    if t.shape[0] < 1:
        raise ValueError(f"{name} must have T >= 1 time steps, got T={t.shape[0]}")
    t = t.float()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return t


def full_scale(x: torch.Tensor, x_max: float | None) -> torch.Tensor:
    """The full-scale value per row, ``[B, 1]``: ``x_max``, or each row's max-abs (1 for a zero row)."""
    if x_max is not None:
        return torch.full((x.shape[0], 1), float(x_max), dtype=x.dtype, device=x.device)
    s = x.abs().amax(dim=1, keepdim=True)
    return torch.where(s > 0, s, torch.ones_like(s))


def _magnitude_sign(x: torch.Tensor, x_max: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    v = x / full_scale(x, x_max)
    return v.abs().clamp(max=1.0), torch.sign(v)


def _with_sign(z: torch.Tensor, sign: torch.Tensor, mode: SignMode) -> torch.Tensor:
    """Unsigned spikes ``[T, B, N]`` of magnitudes -> ON/OFF ``[T, B, 2N]`` or signed ``[T, B, N]``."""
    if mode == SignMode.SIGNED:
        return z * sign
    return torch.cat([z * (sign > 0), z * (sign < 0)], dim=2)


def _signed_channels(z: torch.Tensor, mode: SignMode, name: str = "spikes") -> torch.Tensor:
    """Inverse of :func:`_with_sign` on any per-channel readout ``[..., C]`` -> signed ``[..., N]``."""
    if mode == SignMode.SIGNED:
        return z
    c = z.shape[-1]
    if c % 2:
        raise ValueError(f"{name} has {c} channels; an ON/OFF code needs an even count (2N)")
    return z[..., : c // 2] - z[..., c // 2 :]


# --------------------------------------------------------------------------- neuron steps
class IFState(NamedTuple):
    """Integrate-and-fire state: membrane potential ``v`` ``[B, C]``."""

    v: torch.Tensor


def if_step(current: torch.Tensor, state: IFState, threshold: float = 1.0) -> tuple[torch.Tensor, IFState]:
    """One step of a non-leaky integrate-and-fire neuron with subtractive reset.

    .. math::
        v \\leftarrow v + I, \\quad z = H(v - \\theta), \\quad v \\leftarrow v - z\\,\\theta

    A spike is emitted when ``v >= θ``. With ``0 <= I <= θ`` and ``v_0 = θ/2`` the spike count
    after ``T`` steps is ``floor(T I / θ + 1/2)``.

    Args:
        current: input current ``I`` ``[B, C]``.
        state: :class:`IFState`.
        threshold: ``θ > 0``.

    Returns:
        ``(z, state)``: 0/1 spikes ``[B, C]`` and the new state.

    Example:
        >>> z, s = if_step(torch.tensor([[0.5]]), IFState(torch.tensor([[0.5]])))
        >>> z.item(), s.v.item()
        (1.0, 0.0)
    """
    v = state.v + current
    z = (v >= threshold).to(current.dtype)
    return z, IFState(v - z * threshold)


class LIFState(NamedTuple):
    """Leaky integrate-and-fire state: membrane ``v`` and last spikes ``z`` (for the delayed reset)."""

    v: torch.Tensor
    z: torch.Tensor


def lif_step(
    current: torch.Tensor, state: LIFState, beta: float = 0.9, threshold: float = 1.0
) -> tuple[torch.Tensor, LIFState]:
    """One step of a leaky integrate-and-fire neuron, as ``snntorch.Leaky`` (subtract reset, delayed).

    .. math::
        v_t = \\beta v_{t-1} + I_t - z_{t-1}\\theta, \\qquad z_t = H(v_t - \\theta)\\ (v_t > \\theta)

    Args:
        current: ``I_t`` ``[B, C]``.
        state: :class:`LIFState` (``v_{t-1}``, ``z_{t-1}``).
        beta: membrane decay ``β`` per step (``0 < β <= 1``).
        threshold: ``θ``.

    Returns:
        ``(z_t, state)``.

    Example:
        >>> zero = torch.zeros(1, 1)
        >>> z, s = lif_step(torch.tensor([[1.5]]), LIFState(zero, zero))
        >>> z.item(), s.v.item()
        (1.0, 1.5)
    """
    v = beta * state.v + current - state.z * threshold
    z = (v > threshold).to(current.dtype)
    return z, LIFState(v, z)


class LatencyState(NamedTuple):
    """Latency-neuron state: ``fired`` ``[B, C]`` (bool), true once the neuron has spiked."""

    fired: torch.Tensor


def latency_step(
    m: torch.Tensor, state: LatencyState, t: int, num_steps: int
) -> tuple[torch.Tensor, LatencyState]:
    """One step of a linear time-to-first-spike neuron: a constant input against a falling threshold.

    .. math::
        \\theta_t = \\frac{T - t - 1/2}{T}, \\qquad z_t = H(m - \\theta_t)\\,[\\text{not fired yet}]

    so a magnitude ``m ∈ [0, 1]`` fires once, at ``t = T - floor(m T + 1/2)``, and not at all when
    it rounds to 0.

    Args:
        m: magnitudes in ``[0, 1]``, ``[B, C]``.
        state: :class:`LatencyState`.
        t: the current step ``0 <= t < T``.
        num_steps: ``T``.

    Returns:
        ``(z_t, state)``.
    """
    theta = (num_steps - t - 0.5) / num_steps
    z = (m >= theta) & ~state.fired
    return z.to(m.dtype), LatencyState(state.fired | z)


class SigmaDeltaState(NamedTuple):
    """Sigma-delta state: ``sent`` ``[B, N]``, the value reconstructed so far by the receiver."""

    sent: torch.Tensor


def sigma_delta_step(
    x: torch.Tensor, state: SigmaDeltaState, unit: float, max_payload: int, threshold: float
) -> tuple[torch.Tensor, SigmaDeltaState]:
    """One step of a sigma-delta encoder with an integer graded payload (Loihi 2 style).

    .. math::
        r = x - \\hat x, \\quad p = \\operatorname{clip}(\\operatorname{sgn}(r)\\lfloor |r|/\\Delta + 1/2\\rfloor,
        \\pm p_{max})\\,[|r| > \\vartheta], \\quad \\hat x \\leftarrow \\hat x + p\\Delta

    The receiver's sigma (accumulator) ``x̂`` is mirrored in the state, so a value that does not
    fit one payload is finished in later steps.

    Args:
        x: input ``[B, N]`` (in full-scale units).
        state: :class:`SigmaDeltaState`.
        unit: payload unit ``Δ``.
        max_payload: ``p_max = 2^{n-1} - 1`` for an n-bit payload.
        threshold: ``ϑ``: residuals with ``|r| <= ϑ`` send nothing (``Δ/2`` by default).

    Returns:
        ``(p, state)``: integer payloads as float ``[B, N]`` (0 = no spike) and the new state.
    """
    r = x - state.sent
    p = torch.sign(r) * torch.floor(r.abs() / unit + 0.5)
    # A residual within float rounding of ϑ counts as ϑ (not sent): otherwise a value halfway between
    # two payload levels would be corrected back and forth for ever (a limit cycle).
    send = r.abs() > threshold + SIGMA_DELTA_TIE_TOL * unit
    p = torch.where(send, p.clamp(-max_payload, max_payload), torch.zeros_like(p))
    return p, SigmaDeltaState(state.sent + p * unit)


# --------------------------------------------------------------------------- codes
def rate_encode(
    x: torch.Tensor, num_steps: int, x_max: float | None = None, sign_mode: SignMode | str = SignMode.ON_OFF
) -> torch.Tensor:
    """Deterministic integrate-and-fire rate code.

    Each channel is an :func:`if_step` neuron with ``θ = 1``, ``v_0 = 1/2`` driven by the constant
    current ``m = |x| / x_max`` (clipped to 1), so it emits ``round(m T)`` spikes in ``T`` steps.

    Args:
        x: ``[B, N]`` (or ``[N]``) real vectors.
        num_steps: ``T >= 1``.
        x_max: full scale, or ``None`` for each row's max-abs.
        sign_mode: :class:`SignMode`.

    Returns:
        Spikes ``[T, B, 2N]`` (ON/OFF) or ``[T, B, N]`` (signed).

    Example:
        >>> rate_encode(torch.tensor([[0.5, -0.25]]), 4, x_max=1.0).sum(0).tolist()
        [[2.0, 0.0, 0.0, 1.0]]
    """
    x, num_steps, x_max, mode = check_vectors(x), check_steps(num_steps), check_x_max(x_max), SignMode(sign_mode)
    m, sign = _magnitude_sign(x, x_max)
    state = IFState(torch.full_like(m, 0.5))
    out = []
    for _ in range(num_steps):
        z, state = if_step(m, state, 1.0)
        out.append(z)
    return _with_sign(torch.stack(out), sign, mode)


def rate_decode(
    spikes: torch.Tensor, x_max: float = 1.0, sign_mode: SignMode | str = SignMode.ON_OFF
) -> torch.Tensor:
    """Decode a rate code (deterministic or Bernoulli): ``x̂ = x_max · count / T``.

    Args:
        spikes: ``[T, B, C]``.
        x_max: the full scale used by the encoder (``1`` for per-row scaling).
        sign_mode: :class:`SignMode` of the encoder.

    Returns:
        ``[B, N]``.
    """
    z, mode = check_spikes(spikes), SignMode(sign_mode)
    x_max = check_x_max(x_max) or 1.0
    return _signed_channels(z.mean(0), mode) * x_max


def latency_encode(
    x: torch.Tensor, num_steps: int, x_max: float | None = None, sign_mode: SignMode | str = SignMode.ON_OFF
) -> torch.Tensor:
    """Linear time-to-first-spike code: at most one spike per channel, earlier = larger.

    ``m = |x| / x_max`` fires at ``t = T - round(m T)`` (see :func:`latency_step`); the decoder
    reads ``m̂ = (T - t) / T``, so the code has ``T + 1`` levels per sign.

    Args:
        x: ``[B, N]`` real vectors.
        num_steps: ``T >= 1``.
        x_max: full scale, or ``None`` for each row's max-abs.
        sign_mode: :class:`SignMode`.

    Returns:
        Spikes ``[T, B, 2N]`` or ``[T, B, N]``.

    Example:
        >>> z = latency_encode(torch.tensor([[0.5, -0.25, 0.0]]), 4, x_max=1.0)
        >>> z.argmax(0).tolist(), z.sum(0).tolist()
        ([[2, 0, 0, 0, 3, 0]], [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]])
    """
    x, num_steps, x_max, mode = check_vectors(x), check_steps(num_steps), check_x_max(x_max), SignMode(sign_mode)
    m, sign = _magnitude_sign(x, x_max)
    state = LatencyState(torch.zeros_like(m, dtype=torch.bool))
    out = []
    for t in range(num_steps):
        z, state = latency_step(m, state, t, num_steps)
        out.append(z)
    return _with_sign(torch.stack(out), sign, mode)


def latency_weights(num_steps: int, device: torch.device | None = None) -> torch.Tensor:
    """The decoding weight of a spike at each step, ``(T - t) / T`` for ``t = 0..T-1``, shape ``[T]``.

    A current-based neuron whose synaptic current never decays integrates exactly these weights
    (a spike at ``t`` contributes for ``T - t`` steps).
    """
    return (num_steps - torch.arange(num_steps, dtype=torch.float32, device=device)) / num_steps


def latency_decode(
    spikes: torch.Tensor, x_max: float = 1.0, sign_mode: SignMode | str = SignMode.ON_OFF
) -> torch.Tensor:
    """Decode a linear latency code: ``x̂ = x_max · Σ_t z_t (T - t) / T`` (only the first spike counts).

    Args:
        spikes: ``[T, B, C]``.
        x_max: full scale of the encoder (``1`` for per-row scaling).
        sign_mode: :class:`SignMode` of the encoder.

    Returns:
        ``[B, N]``.
    """
    z, mode = check_spikes(spikes), SignMode(sign_mode)
    x_max = check_x_max(x_max) or 1.0
    first = (z.abs().cumsum(0) > 0).float()
    first = torch.diff(first, dim=0, prepend=torch.zeros_like(first[:1])) * torch.sign(z)
    w = latency_weights(z.shape[0], z.device)
    return _signed_channels(torch.einsum("tbc,t->bc", first, w), mode) * x_max


def sigma_delta_params(bits: int, x_max: float = 1.0) -> tuple[float, int]:
    """``(Δ, p_max)`` for an n-bit signed payload covering ``[-x_max, x_max]`` in one spike."""
    p_max = 2 ** (check_bits(bits) - 1) - 1
    return x_max / p_max, p_max


def sigma_delta_encode(
    x: torch.Tensor, num_steps: int, bits: int = 8, x_max: float | None = None, threshold: float | None = None
) -> torch.Tensor:
    """Sigma-delta code with an n-bit graded payload: signed integer spikes ``[T, B, N]``.

    The value is sent at ``t = 0`` rounded to the payload unit ``Δ = 1 / (2^{n-1} - 1)`` (in
    full-scale units); values beyond the full scale (possible with a fixed ``x_max``) are finished
    in later steps. A static input therefore costs at most one spike per dimension when it fits.

    Args:
        x: ``[B, N]`` real vectors.
        num_steps: ``T >= 1``.
        bits: payload width ``n`` in ``[2, 24]``.
        x_max: full scale, or ``None`` for each row's max-abs.
        threshold: ``ϑ`` in full-scale units (default ``Δ / 2``: send whenever it rounds to non-zero).

    Returns:
        Integer payloads as float ``[T, B, N]``; multiply by ``Δ · x_max`` and sum over time to decode.

    Example:
        >>> sigma_delta_encode(torch.tensor([[0.6, -0.2, 0.0, 0.9]]), 2, bits=3, x_max=1.0).tolist()
        [[[2.0, -1.0, 0.0, 3.0]], [[0.0, 0.0, 0.0, 0.0]]]
    """
    x, num_steps, x_max = check_vectors(x), check_steps(num_steps), check_x_max(x_max)
    unit, p_max = sigma_delta_params(bits)
    if threshold is None:
        threshold = unit / 2
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    v = x / full_scale(x, x_max)
    state = SigmaDeltaState(torch.zeros_like(v))
    out = []
    for _ in range(num_steps):
        p, state = sigma_delta_step(v, state, unit, p_max, float(threshold))
        out.append(p)
    return torch.stack(out)


def sigma_delta_decode(spikes: torch.Tensor, bits: int = 8, x_max: float = 1.0) -> torch.Tensor:
    """Decode a sigma-delta code: ``x̂ = x_max · Δ · Σ_t p_t`` (the receiver's sigma).

    Args:
        spikes: integer payloads ``[T, B, N]``.
        bits: payload width of the encoder.
        x_max: full scale of the encoder (``1`` for per-row scaling).

    Returns:
        ``[B, N]``.
    """
    z = check_spikes(spikes)
    x_max = check_x_max(x_max) or 1.0
    unit, p_max = sigma_delta_params(bits)
    if (z.abs() > p_max).any() or (z != torch.round(z)).any():
        raise ValueError(f"spikes must be integer payloads in [-{p_max}, {p_max}] for bits={bits}")
    return z.sum(0) * unit * x_max


def bernoulli_encode(
    x: torch.Tensor,
    num_steps: int,
    x_max: float | None = None,
    sign_mode: SignMode | str = SignMode.ON_OFF,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Stochastic rate code: each step each channel spikes with probability ``m = |x| / x_max``.

    Decode with :func:`rate_decode`. Unbiased, but the error only falls as ``1/sqrt(T)``.

    Args:
        x: ``[B, N]`` real vectors.
        num_steps: ``T >= 1``.
        x_max: full scale, or ``None`` for each row's max-abs.
        sign_mode: :class:`SignMode`.
        generator: a seeded ``torch.Generator`` for reproducible spikes.

    Returns:
        Spikes ``[T, B, 2N]`` or ``[T, B, N]``.
    """
    x, num_steps, x_max, mode = check_vectors(x), check_steps(num_steps), check_x_max(x_max), SignMode(sign_mode)
    m, sign = _magnitude_sign(x, x_max)
    u = torch.rand((num_steps, *m.shape), generator=generator, dtype=m.dtype, device=m.device)
    return _with_sign((u < m).to(m.dtype), sign, mode)


# --------------------------------------------------------------------------- metrics
def spikes_per_dimension(spikes: torch.Tensor, dim: int) -> float:
    """Mean number of spike events (non-zero entries, graded or not) per vector per embedding dimension."""
    z = check_spikes(spikes)
    return float((z != 0).sum()) / (z.shape[1] * dim)


def rowwise_cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of matching rows ``[B, N] x [B, N] -> [B]`` (0 for a zero row)."""
    num = (a * b).sum(1)
    den = torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b, dim=1)
    return torch.where(den > 0, num / den.clamp_min(1e-30), torch.zeros_like(num))
