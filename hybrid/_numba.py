"""Optional numba compilation of the kernels in :mod:`hybrid.kernels`, and where their cache lives.

numba is a dependency, but every compiled kernel has a NumPy twin with the same results: without
numba, or with ``HHMEM_NO_NUMBA=1``, the twins run.

The kernels are compiled once per machine: ``cache=True`` keeps the machine code in the user's
cache folder (:func:`cache_dir`: ``$NUMBA_CACHE_DIR``, else ``$HHMEM_CACHE/numba``, else
``$XDG_CACHE_HOME/hhmem/numba`` or ``~/.cache/hhmem/numba``), never inside the installed package,
and every later process loads it (about 0.1 s instead of seconds of compiling). The folder is kept
under :data:`CACHE_MAX_BYTES`: when it grows past that, the least recently written files go.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType

#: Environment variable naming hhmem's cache folder (the numba cache goes in ``numba/`` below it).
CACHE_ENV = "HHMEM_CACHE"
#: Set (to anything) to run the NumPy twins instead of the compiled kernels.
NO_NUMBA_ENV = "HHMEM_NO_NUMBA"
#: Size above which the numba cache folder is pruned, oldest files first (the kernels of one
#: hhmem version take about 10 MB; old versions and other numba users account for the rest).
CACHE_MAX_BYTES = 256 * 1024 * 1024


def cache_dir() -> Path:
    """The folder for compiled kernels: ``$NUMBA_CACHE_DIR``, ``$HHMEM_CACHE/numba``, or
    ``$XDG_CACHE_HOME/hhmem/numba`` (default ``~/.cache/hhmem/numba``)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"])
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "numba"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hhmem" / "numba"


def prune_cache(folder: Path, max_bytes: int = CACHE_MAX_BYTES) -> int:
    """Delete the least recently written files of ``folder`` until it holds at most ``max_bytes``.

    numba treats a missing cache file as a miss (it compiles and writes it again), so pruning
    never breaks a kernel. Returns the number of bytes freed.
    """
    files = []
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            files.append((st.st_mtime, st.st_size, path))
    total = sum(size for _, size, _ in files)
    freed = 0
    for _, size, path in sorted(files):
        if total - freed <= max_bytes:
            break
        try:
            os.remove(path)
            freed += size
        except OSError:
            pass
    return freed


def _usable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def configure_cache() -> Path | None:
    """Point numba's cache at :func:`cache_dir` (a per-user temporary folder when that is not
    writable), prune it, and return it; None when no writable folder exists (then nothing is
    compiled: the NumPy twins run).

    Must run before the kernels are defined; it also works when numba was imported already.
    """
    folder = cache_dir()
    if not _usable(folder):
        folder = Path(tempfile.gettempdir()) / f"hhmem-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "numba"
        if not _usable(folder):
            return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # numba read its configuration at import: update it too
        sys.modules["numba"].config.CACHE_DIR = str(folder)
    prune_cache(folder)
    return folder


_KERNELS: ModuleType | None = None
_LOADED = False


def load_kernels() -> ModuleType | None:
    """:mod:`hybrid.kernels` with its cache configured, or None (numba absent or disabled, or no
    writable cache folder)."""
    global _KERNELS, _LOADED
    if _LOADED:
        return _KERNELS
    _LOADED = True
    if os.environ.get(NO_NUMBA_ENV):
        return None
    if importlib.util.find_spec("numba") is None:
        return None
    if configure_cache() is None:
        return None
    from . import kernels

    _KERNELS = kernels
    return _KERNELS
