"""Argument checks shared by the Process declarations (kept free of Lava imports)."""

from __future__ import annotations

import numpy as np


def check_shape(shape: object) -> tuple[int]:
    """A population shape must be a 1-tuple ``(n,)`` with ``n >= 1``; returns it normalised."""
    if (
        not isinstance(shape, tuple)
        or len(shape) != 1
        or isinstance(shape[0], bool)
        or not isinstance(shape[0], (int, np.integer))
        or shape[0] < 1
    ):
        raise ValueError(f"shape must be a 1-tuple (n,) with n >= 1, got {shape!r}")
    return (int(shape[0]),)
