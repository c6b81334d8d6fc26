"""A spiking retrieval that works: one neuron per stored memory, a race to threshold, lateral inhibition.

Two phases, all in spikes:

1. **Integration** (``T`` steps, the cue's spike code): memory neuron ``m`` has input weights equal
   to its stored pattern ``ξ^m`` (ON/OFF channels get ``+ξ^m`` / ``-ξ^m``: a one-shot Hebbian
   write of the pattern into the synapses). It integrates the coded cue without firing
   (current-based, non-leaky). For the linear latency code the synaptic current does not decay
   (``α = 1``), so a spike at step ``t`` contributes for ``T - t`` steps, exactly its decoding
   weight; for rate codes the current decays at once (``α = 0``) and the membrane averages; for
   sigma-delta graded spikes the payload is the current. At the end ``v_m = ξ^m · x̂`` where ``x̂`` is
   the decoded cue: every memory neuron holds its similarity to the cue.
2. **Race** (at most ``R`` steps): all memory neurons receive the same rising bias ``2t/R`` and fire
   when ``v_m + 2t/R >= θ = 1``; the first to fire wins, ties within a step go to the highest
   potential, and after ``k`` winners a counting inhibitory neuron silences the rest (lateral
   inhibition). The winners arrive best first, so the readout is first-to-fire order.

Since ``v_m`` is the inner product with the decoded cue, the winners are the exact top-``k`` of the
decoded cue: the design inherits the round-trip fidelity of the code (``hhmem snn roundtrip``)
instead of fighting an attractor landscape. It holds memories as neurons, ``M`` neurons and
``M · C`` synapses, rather than ``N²`` recurrent weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from . import functional as F
from .encoders import make_codec
from .functional import Code, SignMode


@dataclass(frozen=True)
class SpikingRetrievalConfig:
    """Settings of :class:`SpikingRetriever`.

    Attributes:
        code: spike code of the cue (``latency``, ``rate``, ``sigma_delta`` or ``bernoulli``).
        num_steps: ``T``, integration steps (the cue's code length).
        bits: sigma-delta payload width (used by that code only).
        x_max: full scale of the cue code. A fixed value keeps the membrane in cosine units, so the
            race range ``[-1, 1]`` is known in advance (unit-norm MiniLM components stay below 0.25).
        race_steps: ``R``: the bias sweeps the whole cosine range ``[-1, 1]`` in ``R`` steps; ties
            within a step are broken by potential.
    """

    code: Code = Code.LATENCY
    num_steps: int = 32
    bits: int = 8
    x_max: float = 0.25
    race_steps: int = 64

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", Code(self.code))
        F.check_steps(self.num_steps)
        F.check_steps(self.race_steps, "race_steps")
        F.check_bits(self.bits)
        F.check_x_max(self.x_max)

    def codec_kwargs(self) -> dict[str, Any]:
        if self.code == Code.SIGMA_DELTA:
            return {"num_steps": self.num_steps, "bits": self.bits, "x_max": self.x_max}
        return {"num_steps": self.num_steps, "x_max": self.x_max, "sign_mode": SignMode.ON_OFF}

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "code": self.code.value}


class CubaState(NamedTuple):
    """Current-based neuron state: synaptic current ``i`` and membrane ``v``, both ``[B, M]``."""

    i: torch.Tensor
    v: torch.Tensor


def cuba_step(inp: torch.Tensor, state: CubaState, alpha: float, scale: float) -> tuple[torch.Tensor, CubaState]:
    """One integration step of a non-leaky current-based neuron that does not fire yet.

    .. math::
        i_t = \\alpha\\, i_{t-1} + W z_t, \\qquad v_t = v_{t-1} + s\\, i_t

    Args:
        inp: weighted input ``W z_t`` ``[B, M]``.
        state: :class:`CubaState`.
        alpha: synaptic current decay (1: never decays, 0: decays at once).
        scale: ``s``, membrane gain per step.

    Returns:
        ``(v_t, state)``.
    """
    i = alpha * state.i + inp
    v = state.v + scale * i
    return v, CubaState(i, v)


class RaceState(NamedTuple):
    """Race-phase state: ``fired`` ``[B, M]`` bool, ``order`` ``[B, M]`` (fire rank, -1 if silent),
    ``count`` ``[B]`` winners so far."""

    fired: torch.Tensor
    order: torch.Tensor
    count: torch.Tensor


def race_step(v: torch.Tensor, state: RaceState, t: int, race_steps: int, k: int) -> tuple[torch.Tensor, RaceState]:
    """One step of the first-to-fire race with k-winner lateral inhibition.

    .. math::
        \\text{candidates}_m = [v_m + 2(t+1)/R \\ge 1] \\wedge \\neg\\text{fired}_m

    The candidates fire in order of potential until ``k`` neurons have fired in total; then the
    inhibitory counter silences all others.

    Args:
        v: integrated potentials ``[B, M]``.
        state: :class:`RaceState`.
        t: race step ``0 <= t < R``.
        race_steps: ``R``.
        k: winners wanted.

    Returns:
        ``(z_t, state)``: spikes ``[B, M]`` of this step.
    """
    cand = (v + 2.0 * (t + 1) / race_steps >= 1.0) & ~state.fired
    room = (k - state.count).clamp_min(0)
    pri = torch.where(cand, v, torch.full_like(v, float("-inf")))
    rank = torch.argsort(torch.argsort(pri, dim=1, descending=True, stable=True), dim=1)
    z = cand & (rank < room[:, None])
    order = torch.where(z, state.count[:, None] + rank, state.order)
    return z.to(v.dtype), RaceState(state.fired | z, order, state.count + z.sum(1))


class SpikingRetriever:
    """Spiking k-nearest-memory retrieval with the contract ``search(queries, k) -> (scores, ids)``.

    Scores are the memory neurons' integrated potentials ``ξ^m · x̂`` (cosine units); ids are padded
    with ``-1`` / scores with ``-inf`` when fewer than ``k`` neurons fire.

    Example:
        >>> r = SpikingRetriever()
        >>> r.add(torch.eye(4), ids=[10, 11, 12, 13])
        >>> r.search(torch.tensor([[0.9, 0.1, 0.0, 0.0]]), k=2)[1].tolist()
        [[10, 11]]
    """

    def __init__(self, config: SpikingRetrievalConfig | None = None) -> None:
        self.config = config or SpikingRetrievalConfig()
        self.encoder, self.decoder = make_codec(self.config.code, **self.config.codec_kwargs())
        self.patterns = torch.empty(0, 0)
        self.ids = np.empty(0, dtype=np.int64)
        self.last_steps = 0
        self.last_spikes_in = 0

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, patterns: torch.Tensor | np.ndarray, ids: list[int] | np.ndarray) -> None:
        """Add one memory neuron per pattern ``[M, N]`` (L2-normalised here) with its id."""
        p = torch.nn.functional.normalize(F.check_vectors(patterns, "patterns"), dim=1)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(p):
            raise ValueError(f"ids has {len(ids)} entries for {len(p)} patterns")
        if self.patterns.numel() and p.shape[1] != self.patterns.shape[1]:
            raise ValueError(f"patterns have dimension {p.shape[1]}; the retriever holds {self.patterns.shape[1]}")
        self.patterns = p if self.patterns.numel() == 0 else torch.cat([self.patterns, p])
        self.ids = np.concatenate([self.ids, ids])

    def input_weights(self) -> tuple[torch.Tensor, float, float]:
        """``(W_in [M, C], α, s)`` for the cue's code: ``[ξ, -ξ]`` for ON/OFF, ``ξ`` for graded spikes."""
        c = self.config
        if c.code == Code.SIGMA_DELTA:
            unit, _ = F.sigma_delta_params(c.bits, c.x_max)
            return self.patterns, 0.0, unit
        w = torch.cat([self.patterns, -self.patterns], dim=1) * c.x_max
        alpha = 1.0 if c.code == Code.LATENCY else 0.0
        return w, alpha, 1.0 / c.num_steps

    def integrate(self, spikes: torch.Tensor) -> torch.Tensor:
        """Phase 1: potentials ``[B, M]`` after integrating a coded cue ``[T, B, C]``."""
        z = F.check_spikes(spikes)
        w, alpha, scale = self.input_weights()
        if z.shape[2] != w.shape[1]:
            raise ValueError(f"spikes have {z.shape[2]} channels; this code needs {w.shape[1]}")
        state = CubaState(torch.zeros(z.shape[1], len(self)), torch.zeros(z.shape[1], len(self)))
        v = state.v
        for t in range(z.shape[0]):
            v, state = cuba_step(z[t] @ w.T, state, alpha, scale)
        return v

    def race(self, v: torch.Tensor, k: int) -> tuple[torch.Tensor, int]:
        """Phase 2: fire ranks ``[B, M]`` (-1 = silent) and the race steps used (max over the batch)."""
        b, m = v.shape
        state = RaceState(torch.zeros(b, m, dtype=torch.bool), torch.full((b, m), -1), torch.zeros(b, dtype=torch.long))
        kk = min(k, m)
        used = 0
        for t in range(self.config.race_steps):
            _, state = race_step(v, state, t, self.config.race_steps, kk)
            used = t + 1
            if bool((state.count >= kk).all()):
                break
        return state.order, used

    def search_spikes(self, spikes: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Retrieve for coded cues ``[T, B, C]``: ``(scores, ids)`` ``[B, k]``."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        b = spikes.shape[1] if spikes.ndim == 3 else 0
        scores = np.full((b, k), -np.inf, dtype=np.float32)
        ids = np.full((b, k), -1, dtype=np.int64)
        if len(self) == 0:
            return scores, ids
        v = self.integrate(spikes)
        order, used = self.race(v, k)
        self.last_steps = int(spikes.shape[0]) + used
        self.last_spikes_in = int((spikes != 0).sum())
        for r in range(b):
            fired = torch.nonzero(order[r] >= 0).flatten()
            fired = fired[torch.argsort(order[r, fired])]
            n = len(fired)
            ids[r, :n] = self.ids[fired.numpy()]
            scores[r, :n] = v[r, fired].numpy()
        return scores, ids

    def search(self, queries: torch.Tensor | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Spike-encode ``queries`` ``[B, N]`` with the configured code, then :meth:`search_spikes`."""
        q = F.check_vectors(queries, "queries")
        if len(self) and q.shape[1] != self.patterns.shape[1]:
            raise ValueError(f"queries have dimension {q.shape[1]}; the retriever holds {self.patterns.shape[1]}")
        q = torch.nn.functional.normalize(q, dim=1)
        return self.search_spikes(self.encoder(q), k)
