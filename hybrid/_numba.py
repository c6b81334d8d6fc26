"""Optional numba compilation shared by the compiled kernels (associative recall, stage 2).

numba is a dependency, but every compiled kernel has a NumPy twin with the same results: without
numba, or with ``HHMEM_NO_NUMBA=1``, the twins run. ``cache=True`` stores the machine code next to
the calling module (``__pycache__``), so only the first process after an install pays the compile;
where that folder is read-only, numba compiles once per process instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any


def jit_or_none(*, fastmath: bool = False) -> Callable[[Any], Any] | None:
    """``numba.njit(cache=True, nogil=True)`` as a decorator, or None (numba absent or disabled).

    ``fastmath=True`` lets LLVM reorder float sums (vectorised dot products); results then differ
    from a sequential sum by rounding only.
    """
    if os.environ.get("HHMEM_NO_NUMBA"):
        return None
    try:
        import numba
    except ImportError:
        return None

    def jit(fn: Any) -> Any:
        try:
            return numba.njit(cache=True, nogil=True, fastmath=fastmath)(fn)
        except RuntimeError:  # no writable cache location
            return numba.njit(nogil=True, fastmath=fastmath)(fn)

    return jit
