"""The compiled kernels are compiled once per machine: a second fresh process loads every one of
them from the cache folder and compiles nothing (numba issue 6264 made closures miss every time)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hybrid import _numba

pytest.importorskip("numba")

#: Hard limit for one child process (a cold one compiles every kernel: about 10 s here).
CHILD_TIMEOUT_S = 300
#: The kernels the child calls directly, each through the code path that uses it.
ENTRY_POINTS = ("unit_rows", "search_f32", "topk_sorted", "settle_rank", "spread_bits", "spread_bytes",
                "hop_input_bits")

CHILD = r"""
import json
import numpy as np
import torch
from hybrid import Memory, functional as F
from hybrid._numba import cache_dir, load_kernels
from hybrid.associative import AssociativeConfig, AssociativeIndex

kn = load_kernels()
with Memory.open(STORE, encoder="hash-32") as mem:              # unit_rows, search_f32
    mem.add([f"memory {i} on topic {i % 7}" for i in range(60)])
    mem.search("topic 3", k=3)
x = np.random.default_rng(0).normal(size=(80, 32)).astype(np.float32)
q = torch.from_numpy(x[:2] / np.linalg.norm(x[:2], axis=1, keepdims=True))
keys = torch.from_numpy(x / np.linalg.norm(x, axis=1, keepdims=True))
F._stage2_compiled(q @ keys.T, None, q, keys, 3, 8, 1.0, 5, 1e-4, 1.0)   # topk_sorted, settle_rank
for cfg in (dict(code_dim=256, k=8), dict(code_dim=256, k=8, w_cap=3)):  # spread_bits, spread_bytes
    idx = AssociativeIndex(32, AssociativeConfig(**cfg))
    idx.set_codes(list(range(80)), x)
    idx._reindex()
    idx.link([(i, i + 1) for i in range(79)])
    idx.spread([0, 5, 9], m=5)
    idx.hop_winners(idx.code_of(0)[None])                            # hop_input_bits
stats = {}
for name in dir(kn):
    fn = getattr(kn, name)
    if hasattr(fn, "stats"):
        stats[name] = [sum(fn.stats.cache_hits.values()), sum(fn.stats.cache_misses.values())]
print(json.dumps({"cache_dir": str(cache_dir()), "stats": stats}))
"""


def run_child(tmp_path: Path, n: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", _numba.NO_NUMBA_ENV)}
    env[_numba.CACHE_ENV] = str(tmp_path / "cache")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    code = f"STORE = {str(tmp_path / f'store{n}')!r}\n" + CHILD
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_second_process_compiles_nothing(tmp_path):
    first = run_child(tmp_path, 1)
    assert first["cache_dir"] == str(tmp_path / "cache" / "numba")
    for name in ENTRY_POINTS:
        assert first["stats"][name][1] >= 1, f"{name} was not compiled by the first process: {first['stats']}"
    second = run_child(tmp_path, 2)
    misses = {name: m for name, (_, m) in second["stats"].items() if m}
    assert not misses, f"the second process compiled kernels again (cache misses): {misses}"
    for name in ENTRY_POINTS:
        assert second["stats"][name][0] >= 1, f"{name} was not loaded from the cache: {second['stats']}"
    cached = list((tmp_path / "cache" / "numba").rglob("*.nbc"))
    assert cached, "no compiled kernel was written to the cache folder"


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv(_numba.CACHE_ENV, str(tmp_path / "c"))
    assert _numba.cache_dir() == tmp_path / "c" / "numba"
    monkeypatch.delenv(_numba.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert _numba.cache_dir() == tmp_path / "x" / "hhmem" / "numba"
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "n"))
    assert _numba.cache_dir() == tmp_path / "n"


def test_prune_cache_keeps_the_newest_files_under_the_limit(tmp_path):
    for i in range(5):
        f = tmp_path / "sub" / f"k{i}.nbc"
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"x" * 100)
        os.utime(f, (1000 + i, 1000 + i))
    freed = _numba.prune_cache(tmp_path, max_bytes=250)
    assert freed == 300
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["k3.nbc", "k4.nbc"]
