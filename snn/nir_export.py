"""Export to the Neuromorphic Intermediate Representation (NIR) and re-import.

What NIR carries, and what it cannot (see ``docs/snn.md``):

- The **IF rate encoder** maps onto ``Input → Affine([I; -I] / x_max) → IF(r=1, θ=1) → Output``.
  NIR's ``IF`` is continuous-time and resets *to* ``v_reset``; our encoder is discrete-time (dt = 1
  step), resets by *subtraction* and starts at ``v_0 = θ/2``. These are recorded in the ``IF`` node's
  ``metadata`` (``reset``, ``v_init``, ``dt``, ``num_steps``), which :func:`import_rate_encoder`
  honours and other NIR consumers ignore: there, spike counts can differ by one per channel.
- The **memory layer of the spiking retrieval** maps onto ``Input → Linear(W_in) → IF`` with a
  recurrent ``Linear`` of lateral inhibition (``-w_inh`` off the diagonal) back into the ``IF``:
  the static WTA. The rising race bias, the first-``k`` counting inhibitory neuron and the
  latency-code synapse that never decays are not NIR primitives.
- Not representable at all: the linear latency code (its threshold falls over time), sigma-delta
  graded payloads, Bernoulli spikes, per-row max-abs scaling (``x_max=None``) and the decoders
  (time-weighted readouts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from . import functional as F
from .encoders import RateConfig, RateEncoder
from .functional import SignMode

#: Format marker written into the graph metadata.
NIR_FORMAT = "hhmem.snn/1"


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - depends on the optional extra
        raise ImportError("NIR export needs the 'snn' extra: pip install 'hhmem[snn]'") from exc
    return nir


def export_rate_encoder(encoder: RateEncoder, dim: int) -> Any:
    """The IF rate encoder as a ``nir.NIRGraph`` for ``dim``-dimensional inputs.

    Args:
        encoder: a :class:`snn.encoders.RateEncoder` with a fixed ``x_max`` (NIR has no per-row scaling).
        dim: embedding dimension ``N``.

    Raises:
        ValueError: ``x_max`` is ``None``, or the encoder uses signed spikes (NIR spikes are 0/1).
    """
    nir = _nir()
    c = encoder.config
    if not isinstance(encoder, RateEncoder) or type(c) is not RateConfig:
        raise ValueError(f"encoder must be a RateEncoder with a RateConfig, got {type(encoder).__name__}")
    if c.x_max is None:
        raise ValueError("encoder.config.x_max is None (per-row scaling); NIR needs a fixed x_max, e.g. 0.25")
    if c.sign_mode != SignMode.ON_OFF:
        raise ValueError(f"sign_mode must be 'on_off' for NIR (0/1 spikes), got {c.sign_mode.value!r}")
    F.check_steps(dim, "dim")
    eye = np.eye(dim, dtype=np.float32) / c.x_max
    n2 = 2 * dim
    nodes = {
        "input": nir.Input(input_type=np.array([dim])),
        "onoff": nir.Affine(weight=np.concatenate([eye, -eye]), bias=np.zeros(n2, dtype=np.float32)),
        "if": nir.IF(
            r=np.ones(n2, dtype=np.float32),
            v_threshold=np.ones(n2, dtype=np.float32),
            v_reset=np.zeros(n2, dtype=np.float32),
            metadata={"reset": "subtractive", "v_init": 0.5, "dt": 1.0, "num_steps": c.num_steps},
        ),
        "output": nir.Output(output_type=np.array([n2])),
    }
    edges = [("input", "onoff"), ("onoff", "if"), ("if", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"format": NIR_FORMAT, "kind": "rate_encoder",
                                                            "x_max": c.x_max, "num_steps": c.num_steps})


class NIRRateEncoder(nn.Module):
    """A rate encoder rebuilt from a NIR graph (``Affine → IF``), simulated in discrete time.

    ``forward(x [B, N]) -> spikes [T, B, 2N]``; reset and initial state from the IF node's metadata
    (reset to ``v_reset`` and ``v_0 = 0`` when the metadata is absent, as NIR itself defines).
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, r: np.ndarray, v_threshold: np.ndarray,
                 v_reset: np.ndarray, meta: dict[str, Any]) -> None:
        super().__init__()
        self.register_buffer("weight", torch.as_tensor(np.asarray(weight), dtype=torch.float32))
        self.register_buffer("bias", torch.as_tensor(np.asarray(bias), dtype=torch.float32))
        self.register_buffer("r", torch.as_tensor(np.asarray(r), dtype=torch.float32))
        self.register_buffer("v_threshold", torch.as_tensor(np.asarray(v_threshold), dtype=torch.float32))
        self.register_buffer("v_reset", torch.as_tensor(np.asarray(v_reset), dtype=torch.float32))
        self.subtractive = meta.get("reset") == "subtractive"
        self.v_init = float(meta.get("v_init", 0.0))
        self.num_steps = F.check_steps(int(meta.get("num_steps", 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.check_vectors(x)
        cur = (x @ self.weight.T + self.bias) * self.r
        # Saturate as the encoder does (|x| >= x_max spikes every step); only matters for a non-subtractive reset.
        cur = cur.clamp(max=float(self.v_threshold.max()))
        v = torch.full_like(cur, self.v_init) * self.v_threshold
        out = []
        for _ in range(self.num_steps):
            v = v + cur
            z = (v >= self.v_threshold).float()
            v = v - z * self.v_threshold if self.subtractive else torch.where(z > 0, self.v_reset.expand_as(v), v)
            out.append(z)
        return torch.stack(out)


def import_rate_encoder(graph: Any) -> NIRRateEncoder:
    """Rebuild a rate encoder from a graph written by :func:`export_rate_encoder` (or read from a file)."""
    nir = _nir()
    aff = [n for n in graph.nodes.values() if isinstance(n, nir.Affine)]
    ifs = [n for n in graph.nodes.values() if isinstance(n, nir.IF)]
    if len(aff) != 1 or len(ifs) != 1:
        raise ValueError(f"expected one Affine and one IF node, got {len(aff)} and {len(ifs)}")
    a, n = aff[0], ifs[0]
    v_reset = n.v_reset if n.v_reset is not None else np.zeros_like(n.v_threshold)
    return NIRRateEncoder(a.weight, a.bias, n.r, n.v_threshold, v_reset, dict(n.metadata or {}))


def export_wta(patterns: np.ndarray | torch.Tensor, *, x_max: float = 0.25, threshold: float = 1.0,
               inhibition: float = 1.0) -> Any:
    """The spiking retrieval's memory layer with lateral inhibition as a ``nir.NIRGraph``.

    ``Input(2N ON/OFF spikes) → Linear(W_in = x_max [ξ, -ξ]) → IF(θ)``, plus the recurrent edge
    ``IF → Linear(-inhibition (1 - I)) → IF`` (each winner inhibits every other memory neuron).
    """
    nir = _nir()
    p = F.check_vectors(torch.as_tensor(patterns), "patterns")
    p = torch.nn.functional.normalize(p, dim=1).numpy()
    m, d = p.shape
    if not (np.isfinite(inhibition) and inhibition >= 0):
        raise ValueError(f"inhibition must be a finite number >= 0, got {inhibition!r}")
    w_in = (x_max * np.concatenate([p, -p], axis=1)).astype(np.float32)
    w_inh = (-inhibition * (1.0 - np.eye(m))).astype(np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([2 * d])),
        "synapses": nir.Linear(weight=w_in),
        "memory": nir.IF(r=np.ones(m, dtype=np.float32), v_threshold=np.full(m, threshold, dtype=np.float32),
                         v_reset=np.zeros(m, dtype=np.float32), metadata={"dt": 1.0}),
        "inhibition": nir.Linear(weight=w_inh),
        "output": nir.Output(output_type=np.array([m])),
    }
    edges = [("input", "synapses"), ("synapses", "memory"), ("memory", "inhibition"), ("inhibition", "memory"),
             ("memory", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"format": NIR_FORMAT, "kind": "wta", "x_max": x_max})


def import_wta(graph: Any) -> dict[str, np.ndarray]:
    """The arrays of a graph written by :func:`export_wta`: ``patterns [M, N]``, ``inhibition [M, M]``,
    ``threshold [M]`` (the patterns are recovered from ``W_in`` and the graph's ``x_max``)."""
    nir = _nir()
    syn, inh, mem = graph.nodes.get("synapses"), graph.nodes.get("inhibition"), graph.nodes.get("memory")
    if not (isinstance(syn, nir.Linear) and isinstance(inh, nir.Linear) and isinstance(mem, nir.IF)):
        raise ValueError("not a WTA graph: expected Linear 'synapses', Linear 'inhibition' and IF 'memory' nodes")
    if ("inhibition", "memory") not in [tuple(e) for e in graph.edges]:
        raise ValueError("WTA graph lacks the recurrent edge inhibition -> memory")
    w = np.asarray(syn.weight)
    d = w.shape[1] // 2
    return {"patterns": w[:, :d] / float(graph.metadata["x_max"]), "inhibition": np.asarray(inh.weight),
            "threshold": np.asarray(mem.v_threshold)}


def write(graph: Any, path: str | Path) -> Path:
    """Write a NIR graph to an HDF5 file (``nir.write``); returns the path."""
    _nir().write(str(path), graph)
    return Path(path)


def read(path: str | Path) -> Any:
    """Read a NIR graph; a missing or foreign file raises ``ValueError`` naming the path."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"NIR file {str(p)!r} does not exist")
    try:
        return _nir().read(str(p))
    except Exception as exc:  # noqa: BLE001 - h5py raises several types on a foreign file
        raise ValueError(f"{p} is not a readable NIR file: {exc}") from exc
