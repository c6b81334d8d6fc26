"""The research note's spiking Hopfield network, kept as a baseline (it does not work; see ``docs/snn.md``).

One leaky integrate-and-fire neuron per embedding dimension (``N = 384``), all-to-all Hebbian
weights among them, the cue injected as an input current, recall read out from the spike counts:

.. math::
    W = g_{rec} \\sum_\\mu \\xi^\\mu {\\xi^\\mu}^\\top,\\ W_{ii} = 0, \\qquad
    v_t = \\beta v_{t-1} + g_{in}\\, c_t\\, \\frac{q}{\\lVert q \\rVert_\\infty} + W z_{t-1} - z_{t-1}\\theta,
    \\qquad z_t = H(v_t - \\theta)

with ``c_t = 1`` for the first ``cue_steps`` steps and 0 afterwards (``cue_steps = None``: the cue is
held for the whole run). The recalled memory is the stored pattern with the highest cosine to the
spike-count vector ``r = Σ_t z_t``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from . import functional as F


@dataclass(frozen=True)
class LIFHopfieldConfig:
    """Recurrent LIF Hopfield settings.

    Attributes:
        beta: membrane decay ``β`` per step (the note: 0.9).
        threshold: firing threshold ``θ``.
        steps: simulation steps.
        input_gain: ``g_in``: the cue current is ``g_in · q / max|q|``.
        recurrent_gain: ``g_rec``: scale of the Hebbian weights ``Σ ξ ξᵀ``.
        cue_steps: steps during which the cue current is on (``None``: all steps).
    """

    beta: float = 0.9
    threshold: float = 1.0
    steps: int = 20
    input_gain: float = 0.5
    recurrent_gain: float = 1.0
    cue_steps: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.beta <= 1:
            raise ValueError(f"beta must be in (0, 1], got {self.beta!r}")
        F.check_steps(self.steps, "steps")
        if self.cue_steps is not None:
            F.check_steps(self.cue_steps, "cue_steps")
        for name in ("threshold", "input_gain"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def hebbian_weights(patterns: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """``W = gain · Σ_μ ξ^μ ξ^μᵀ`` with a zero diagonal, ``[N, N]`` from stored patterns ``[M, N]``."""
    w = gain * patterns.T @ patterns
    return w.fill_diagonal_(0.0)


def lif_hopfield_run(
    cues: torch.Tensor, weights: torch.Tensor, config: LIFHopfieldConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Simulate the recurrent LIF network for a batch of cues.

    Args:
        cues: ``[B, N]`` query embeddings.
        weights: ``[N, N]`` recurrent weights (:func:`hebbian_weights`).
        config: :class:`LIFHopfieldConfig`.

    Returns:
        ``(spikes, v)``: spikes ``[T, B, N]`` and the final membrane potentials ``[B, N]``.
    """
    q = F.check_vectors(cues, "cues")
    drive = config.input_gain * q / F.full_scale(q, None)
    state = F.LIFState(torch.zeros_like(q), torch.zeros_like(q))
    out = []
    for t in range(config.steps):
        cue_on = config.cue_steps is None or t < config.cue_steps
        current = (drive if cue_on else 0.0) + state.z @ weights.T
        z, state = F.lif_step(current, state, config.beta, config.threshold)
        out.append(z)
    return torch.stack(out), state.v


class LIFHopfield:
    """The baseline as an object with the retrieval contract ``search(queries, k) -> (scores, ids)``.

    Scores are cosines of the spike-count vector to each stored pattern.

    Example:
        >>> net = LIFHopfield(LIFHopfieldConfig(steps=5))
        >>> net.add(torch.eye(4), ids=[10, 11, 12, 13])
        >>> net.search(torch.eye(4)[:1], k=2)[1].shape
        (1, 2)
    """

    def __init__(self, config: LIFHopfieldConfig | None = None) -> None:
        self.config = config or LIFHopfieldConfig()
        self.patterns = torch.empty(0, 0)
        self.ids = np.empty(0, dtype=np.int64)
        self.weights = torch.empty(0, 0)
        self.last_spikes: torch.Tensor | None = None

    def add(self, patterns: torch.Tensor | np.ndarray, ids: list[int] | np.ndarray) -> None:
        """Store patterns ``[M, N]`` (L2-normalised here) and rebuild the Hebbian weights."""
        p = torch.nn.functional.normalize(F.check_vectors(patterns, "patterns"), dim=1)
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(p):
            raise ValueError(f"ids has {len(ids)} entries for {len(p)} patterns")
        self.patterns = p if self.patterns.numel() == 0 else torch.cat([self.patterns, p])
        self.ids = np.concatenate([self.ids, ids])
        self.weights = hebbian_weights(self.patterns, self.config.recurrent_gain)

    def readout(self, queries: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Spike-count vectors ``[B, N]`` after the run (the spikes are kept in ``last_spikes``)."""
        spikes, _ = lif_hopfield_run(torch.as_tensor(queries), self.weights, self.config)
        self.last_spikes = spikes
        return spikes.sum(0)

    def search(self, queries: torch.Tensor | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` ``[B, k]``: cosine of the spike counts to each stored pattern, padded."""
        from hybrid.functional import topk_padded

        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an int >= 1, got {k!r}")
        r = self.readout(queries)
        sims = torch.nn.functional.normalize(r, dim=1) @ self.patterns.T
        s, i = topk_padded(sims, k)
        ids = np.where(i.numpy() >= 0, self.ids[i.clamp_min(0).numpy()], -1)
        return s.numpy(), ids
