"""hhmem's spiking path: spike codes for embeddings, the LIF Hopfield baseline and a spiking retrieval.

- :mod:`snn.functional`: pure neuron steps ``f(x, state, params) -> (out, state)`` and codes.
- :mod:`snn.encoders`: ``nn.Module`` encoders/decoders with frozen configs.
- :mod:`snn.lif_hopfield`: the research note's recurrent LIF Hopfield (kept as a baseline).
- :mod:`snn.spiking_retrieval`: one LIF neuron per stored memory with lateral inhibition.
- :mod:`snn.nir_export`: export to / import from NIR.

See ``docs/snn.md``.
"""

from __future__ import annotations

from .encoders import (
    BernoulliConfig,
    BernoulliDecoder,
    BernoulliEncoder,
    LatencyConfig,
    LatencyDecoder,
    LatencyEncoder,
    RateConfig,
    RateDecoder,
    RateEncoder,
    SigmaDeltaConfig,
    SigmaDeltaDecoder,
    SigmaDeltaEncoder,
    make_codec,
    round_trip,
    search_spikes,
    search_spikes_ids,
)
from .functional import Code, SignMode

__all__ = [
    "BernoulliConfig",
    "BernoulliDecoder",
    "BernoulliEncoder",
    "Code",
    "LatencyConfig",
    "LatencyDecoder",
    "LatencyEncoder",
    "RateConfig",
    "RateDecoder",
    "RateEncoder",
    "SigmaDeltaConfig",
    "SigmaDeltaDecoder",
    "SigmaDeltaEncoder",
    "SignMode",
    "make_codec",
    "round_trip",
    "search_spikes",
    "search_spikes_ids",
]
