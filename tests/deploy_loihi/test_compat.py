"""The Python ≥ 3.11 fix for lava-nc 0.10.0 (deploy_loihi._compat)."""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deploy_loihi import _compat

#: ``CoreEncoder`` (3) + ``ChipEncoder`` (3) + ``AxonEncoder`` (2) defaults in lava-nc 0.10.0.
EXPECTED_REWRITES = 8
#: Seconds a fresh interpreter may take to import Lava's compiler module.
SUBPROCESS_TIMEOUT_S = 120

SAMPLE = textwrap.dedent(
    """\
    from dataclasses import dataclass, InitVar

    @dataclass
    class ByteEncoder:
        base: int = 0

    @dataclass
    class CoreEncoder:
        x: ByteEncoder = ByteEncoder()
        y:ByteEncoder=ByteEncoder()
    """
)


def _var_model_path() -> Path | None:
    spec = importlib.util.find_spec("lava")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "magma" / "compiler" / "var_model.py"
    return path if path.is_file() else None


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
    )


def test_patch_source_rewrites_defaults_and_import():
    new, n = _compat.patch_source(SAMPLE)
    assert n == 2, f"expected 2 rewritten defaults in the sample, got {n}"
    assert "ByteEncoder()" not in new.split("class CoreEncoder")[1]
    assert "from dataclasses import dataclass, InitVar, field" in new
    ns: dict = {}
    exec(compile(new, "<sample>", "exec"), ns)  # the patched class must be creatable
    a, b = ns["CoreEncoder"](), ns["CoreEncoder"]()
    assert a.x == ns["ByteEncoder"]() and a.x is not b.x, "each instance needs its own ByteEncoder"


def test_patch_source_is_idempotent():
    once, n1 = _compat.patch_source(SAMPLE)
    twice, n2 = _compat.patch_source(once)
    assert (n1, n2) == (2, 0) and once == twice


def test_patch_source_adds_import_when_missing():
    src = "import dataclasses\nclass C:\n    x: ByteEncoder = ByteEncoder()\n"
    new, n = _compat.patch_source(src)
    assert n == 1 and new.startswith("from dataclasses import field\n")


def test_sample_fails_unpatched_on_this_python():
    if not _compat.needs_fix():
        pytest.skip("Python < 3.11 accepts dataclass-instance defaults")
    with pytest.raises(ValueError, match="default_factory"):
        exec(compile(SAMPLE, "<sample>", "exec"), {})


@pytest.mark.parametrize(("version", "expected"), [((3, 10), False), ((3, 11), True), ((3, 12, 1), True)])
def test_needs_fix(version, expected):
    assert _compat.needs_fix(version) is expected


def test_install_is_noop_on_310(monkeypatch):
    was = _compat.installed()
    _compat.uninstall()
    try:
        monkeypatch.setattr(_compat, "needs_fix", lambda version=None: False)
        assert _compat.install() is False
        assert not _compat.installed(), "the hook must not be installed where no fix is needed"
    finally:
        monkeypatch.undo()
        if was and not _compat.installed():
            sys.meta_path.insert(0, _compat._FINDER)


def test_install_is_idempotent():
    if not _compat.needs_fix():
        pytest.skip("no hook on Python < 3.11")
    if not _compat.installed():
        sys.meta_path.insert(0, _compat._FINDER)  # e.g. removed by another test after Lava was imported
    _compat.install()
    _compat.install()
    assert sum(f is _compat._FINDER for f in sys.meta_path) == 1, "the hook must be installed exactly once"



def test_finder_ignores_other_modules():
    assert _compat._FINDER.find_spec("json", None) is None
    assert _compat._FINDER.find_spec("lava.magma.compiler.compiler", None) is None


def test_real_var_model_patch():
    path = _var_model_path()
    if path is None:
        pytest.skip("lava-nc is not installed")
    new, n = _compat.patch_source(path.read_text(encoding="utf-8"))
    assert n == EXPECTED_REWRITES, f"expected {EXPECTED_REWRITES} rewrites in {path}, got {n}"
    compile(new, str(path), "exec")


@pytest.mark.lava
def test_lava_imports_through_deploy_loihi_and_site_packages_untouched():
    path = _var_model_path()
    if path is None:
        pytest.skip("lava-nc is not installed")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    ok = _run(
        "import deploy_loihi, lava.magma.compiler.var_model as vm; "
        "from lava.magma.core.run_configs import Loihi2SimCfg; "
        "assert vm.CoreEncoder().x is not vm.CoreEncoder().x; print('ok')"
    )
    assert ok.returncode == 0 and ok.stdout.strip() == "ok", ok.stderr[-2000:]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before, f"{path} was modified on disk"
    if _compat.needs_fix():
        bare = _run("import lava.magma.compiler.var_model")
        assert bare.returncode != 0 and "default_factory" in bare.stderr, (
            "without the hook lava-nc 0.10.0 should fail on this Python; if it imports, the fix may be obsolete"
        )
