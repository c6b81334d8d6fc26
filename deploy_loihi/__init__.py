"""Neuromorphic deployment of hhmem's pattern separation and Hebbian chains on Lava / Loihi 2.

Importing this package installs the Python ≥ 3.11 compatibility fix for lava-nc 0.10.0
(:mod:`deploy_loihi._compat`) *before* anything imports Lava; import ``deploy_loihi`` (or any of
its sub-packages) before ``lava``. Lava itself is only imported by the Process sub-packages
(``deploy_loihi.kwta``, ``deploy_loihi.hebbian``, ``deploy_loihi.multihop``,
``deploy_loihi.readout``) and the simulation driver, never by this ``__init__``.
"""

from __future__ import annotations

from . import _compat

_compat.install()


def lava_available() -> bool:
    """True when lava-nc can be imported (after the compatibility fix)."""
    try:
        import lava.magma.core.run_configs  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not usable here"
        return False
    return True


__all__ = ["lava_available"]
