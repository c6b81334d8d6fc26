"""Small frozen configuration objects (units and symbols in each docstring)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from enum import Enum

from .errors import InvalidInputError


class StorageDType(str, Enum):
    """Element type of the in-memory key matrix (``bfloat16``: fastest on CPUs with AMX; see docs/performance.md)."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"


@dataclass(frozen=True)
class HopfieldConfig:
    """Two-stage modern-Hopfield retriever settings.

    Attributes:
        beta: inverse temperature β of the settle softmax (dimensionless, > 0).
        max_steps: upper bound on settle updates ξ ← Xᵀ softmax(β X ξ); 0 disables stage 2.
        eps: stop rule: settle ends once ‖Δξ‖₂ < eps.
        candidates: K, the number of stage-1 candidates kept for stage 2.
        state_weight: α in [0, 1]; candidates are ranked by ``(1 - α) cos(x, q) + α cos(x, ξ*)``,
            the cue similarity blended with the similarity to the settled state ξ*. ``α = 1`` ranks
            by the settled state alone (the research design); ``α = 0`` (default) ranks by the cue
            and skips the settle. The default is measured: ranking by ξ* lowered recall@10 on every
            set we measured (LoCoMo: 0.43 -> 0.24 recall_all@10; docs/hopfield.md).
    """

    beta: float = 20.0
    max_steps: int = 3
    eps: float = 1e-4
    candidates: int = 20
    state_weight: float = 0.0

    def __post_init__(self) -> None:
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta > 0):
            raise InvalidInputError(f"HopfieldConfig.beta must be a finite number > 0, got {self.beta!r}")
        if not isinstance(self.max_steps, int) or self.max_steps < 0:
            raise InvalidInputError(f"HopfieldConfig.max_steps must be an int >= 0, got {self.max_steps!r}")
        if not (isinstance(self.eps, (int, float)) and self.eps >= 0):
            raise InvalidInputError(f"HopfieldConfig.eps must be >= 0, got {self.eps!r}")
        if not isinstance(self.candidates, int) or self.candidates < 1:
            raise InvalidInputError(f"HopfieldConfig.candidates must be an int >= 1, got {self.candidates!r}")
        if not (isinstance(self.state_weight, (int, float)) and 0.0 <= self.state_weight <= 1.0):
            raise InvalidInputError(f"HopfieldConfig.state_weight must be in [0, 1], got {self.state_weight!r}")

    def to_dict(self) -> dict:
        return asdict(self)


#: Longest text accepted as one memory, in characters (about 25k words).
MAX_TEXT_CHARS = 200_000
