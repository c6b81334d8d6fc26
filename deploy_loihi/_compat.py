"""Python ≥ 3.11 compatibility fix for lava-nc 0.10.0, applied by an import hook.

lava-nc 0.10.0 declares ``Requires-Python <3.11``. On 3.11 exactly one module fails to import:
``lava/magma/compiler/var_model.py`` gives three dataclasses (``CoreEncoder``, ``ChipEncoder``,
``AxonEncoder``) fields whose default is a *dataclass instance*, ``ByteEncoder()``. Python 3.11
treats unhashable dataclass instances as mutable defaults and raises ``ValueError: mutable
default ... use default_factory`` when the class is created, which breaks ``import lava.magma...``.

The fix rewrites that module's source *in memory* while it is imported:

.. code-block:: text

    x: ByteEncoder = ByteEncoder()   ->   x: ByteEncoder = field(default_factory=ByteEncoder)

and adds ``field`` to the module's ``dataclasses`` import. Semantics are unchanged (each instance
gets its own fresh ``ByteEncoder``, which is what a default factory gives). Nothing on disk is
touched and no bytecode is cached for the patched module, so the installed package stays pristine.

:func:`install` puts a :class:`~importlib.abc.MetaPathFinder` at the front of ``sys.meta_path``
that only answers for :data:`TARGET`; every other import goes through Python's normal machinery.
It is a no-op on Python < 3.11 (where the module imports as is) and idempotent. Lava's CPU runtime
starts its process models with ``fork``, so children inherit the already-imported, fixed module.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
from types import ModuleType

#: The one Lava module that needs the fix.
TARGET = "lava.magma.compiler.var_model"
#: First Python version that rejects the dataclass-instance defaults.
FIX_FROM = (3, 11)

# ``name: ByteEncoder = ByteEncoder()`` (any indentation and spacing).
_DEFAULT_RE = re.compile(r"^(?P<lead>[ \t]+\w+[ \t]*:[ \t]*ByteEncoder[ \t]*=[ \t]*)ByteEncoder\(\)[ \t]*$", re.M)
_IMPORT_RE = re.compile(r"^from dataclasses import (?P<names>[^\n]+)$", re.M)


def needs_fix(version: tuple[int, ...] | None = None) -> bool:
    """True when this Python (or ``version``) rejects dataclass-instance field defaults."""
    v = tuple(sys.version_info[:2]) if version is None else tuple(version[:2])
    return v >= FIX_FROM


def patch_source(source: str) -> tuple[str, int]:
    """Rewrite ``var_model.py``'s source; returns ``(new_source, number_of_defaults_rewritten)``.

    Idempotent: already patched source comes back unchanged with a count of 0.
    """
    new, n = _DEFAULT_RE.subn(r"\g<lead>field(default_factory=ByteEncoder)", source)
    if n:
        m = _IMPORT_RE.search(new)
        if m is None:
            new = "from dataclasses import field\n" + new
        else:
            names = [s.strip() for s in m.group("names").split(",")]
            if "field" not in names:
                names.append("field")
                new = new[: m.start()] + "from dataclasses import " + ", ".join(names) + new[m.end() :]
    return new, n


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    """Loads :data:`TARGET` from its file with :func:`patch_source` applied; never uses ``.pyc``."""

    #: Number of defaults rewritten at the last load (for tests and diagnostics).
    rewritten = 0

    def get_code(self, fullname: str):  # type: ignore[override]
        path = self.get_filename(fullname)
        source = self.get_data(path).decode("utf-8")
        patched, n = patch_source(source)
        type(self).rewritten = n
        return compile(patched, path, "exec", dont_inherit=True)


class _Finder(importlib.abc.MetaPathFinder):
    """Answers only for :data:`TARGET`, delegating the file lookup to the normal path finder."""

    def find_spec(self, fullname: str, path=None, target: ModuleType | None = None):
        if fullname != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return None
        loader = _PatchingLoader(fullname, spec.origin)
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)


_FINDER = _Finder()


def installed() -> bool:
    """True when the hook sits in ``sys.meta_path``."""
    return any(f is _FINDER for f in sys.meta_path)


def install() -> bool:
    """Install the hook (idempotent). Returns True when the hook is (now) active.

    Returns False on Python < 3.11, where Lava needs no fix, and when ``var_model`` was already
    imported successfully before the hook (nothing left to fix).
    """
    if not needs_fix():
        return False
    if TARGET in sys.modules and not installed():
        return False
    if not installed():
        sys.meta_path.insert(0, _FINDER)
    return True


def uninstall() -> None:
    """Remove the hook (modules already imported stay as they are)."""
    while installed():
        sys.meta_path.remove(_FINDER)
