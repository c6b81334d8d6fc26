"""Everyday use of the CLI and the servers (issue 17): commands that need no model never load it,
global options after the sub-command, one hops limit, quiet output, warm servers, offline /docs."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import hybrid.encoder as encoder_mod
from hybrid import CallableEncoder, Memory
from hybrid.cli import main
from hybrid.encoder import LazyEncoder
from hybrid.memory import MAX_HOPS

#: A model name no machine has: loading it would fail, so a command that works never loaded it.
FAKE_MODEL = "no-such-org/no-such-model"
DIM = 16
#: Hard limit for the real-model subprocess.
REAL_MODEL_TIMEOUT_S = 300


def fake_encoder() -> CallableEncoder:
    def fn(texts):
        rng = np.random.default_rng([len(t) for t in texts])
        return rng.normal(size=(len(texts), DIM))

    return CallableEncoder(fn, dim=DIM, name=FAKE_MODEL)


@pytest.fixture
def fake_store(tmp_path):
    path = tmp_path / "store"
    with Memory.open(path, encoder=fake_encoder()) as mem:
        mem.add(["the spare key is under the blue pot", "Maya's dentist is Dr Ruiz", "Oslo is cold"])
    return path


@pytest.fixture
def no_model_loading(monkeypatch):
    """Any attempt to load a sentence-transformers model fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the encoder model was loaded")

    monkeypatch.setattr(encoder_mod, "SentenceTransformerEncoder", refuse)


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def test_commands_that_need_no_encoder_never_load_it(fake_store, no_model_loading):
    common = ["--store", str(fake_store), "--model", FAKE_MODEL]
    got = cli(*common, "get", "1", "--json")
    assert got.exit_code == 0, got.output
    assert json.loads(got.stdout)["text"] == "the spare key is under the blue pot"
    for args in (["list", "--json"], ["stats", "--json"], ["link", "1", "2"], ["delete", "3"]):
        res = cli(*common, *args)
        assert res.exit_code == 0, f"hhmem {' '.join(args)} failed: {res.output} {res.exception!r}"
    assert json.loads(cli(*common, "stats", "--json").stdout)["memories"] == 2
    searched = cli(*common, "search", "key")
    assert searched.exit_code != 0 and "encoder model was loaded" in repr(searched.exception), \
        "search does need the encoder: it must load it"


def test_lazy_encoder_loads_once_and_checks_the_store(fake_store):
    with Memory.open(fake_store, encoder=FAKE_MODEL) as mem:
        assert isinstance(mem.encoder, LazyEncoder) and not mem.encoder.loaded
        assert mem.encoder.dim == DIM and mem.get(1).text
    lazy = LazyEncoder("hash-32", name="hash-32", dim=DIM)
    with pytest.raises(encoder_mod.StoreMismatchError, match="dimension 32"):
        lazy.encode(["x"])


def test_global_options_after_the_sub_command(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    added = cli("add", "--store", str(a), "--model", "hash", "the red kettle is in the pantry", "--json")
    assert added.exit_code == 0, added.output
    assert added.stderr == "", "no progress bar or other noise with --json"
    assert cli("add", "the map is in the car", "--store", str(b), "--model", "hash", "-q").exit_code == 0
    found = cli("search", "kettle", "--store", str(a), "--model", "hash", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["text"] == "the red kettle is in the pantry"
    # After the sub-command wins over before it.
    got = cli("--store", str(a), "--model", "hash", "get", "1", "--store", str(b), "--json")
    assert json.loads(got.stdout)["text"] == "the map is in the car"
    stats = cli("stats", "--json", "--store", str(a), "--model", "hash", "--backend", "exact")
    assert json.loads(stats.stdout)["memories"] == 1


def test_one_hops_limit_everywhere(tmp_path):
    from hybrid.service import models

    assert models.MAX_HOPS == MAX_HOPS
    assert models.SearchRequest(query="x", hops=MAX_HOPS).hops == MAX_HOPS
    with pytest.raises(ValueError):
        models.SearchRequest(query="x", hops=MAX_HOPS + 1)
    cli("add", "--store", str(tmp_path / "s"), "--model", "hash", "one memory", "-q")
    ok = cli("search", "one", "--hops", str(MAX_HOPS), "--store", str(tmp_path / "s"), "--model", "hash")
    assert ok.exit_code == 0, ok.output
    refused = cli("search", "one", "--hops", str(MAX_HOPS + 1), "--store", str(tmp_path / "s"), "--model", "hash")
    assert refused.exit_code == 2 and f"0<=x<={MAX_HOPS}" in refused.output.replace(" ", "")


def test_bm25s_debug_lines_are_dropped(caplog):
    from hybrid._logging import quiet_library_loggers

    quiet_library_loggers()
    pytest.importorskip("bm25s")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("bm25s").debug("Building index from IDs objects")
        logging.getLogger("bm25s").warning("a real warning")
    assert [r.getMessage() for r in caplog.records if r.name == "bm25s"] == ["a real warning"]


@pytest.mark.slow
def test_real_model_prints_no_loading_bar(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "hybrid.cli", "add", "--store", str(tmp_path / "s"), "one memory", "two", "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=REAL_MODEL_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)["ids"] == [1, 2]
    assert proc.stderr.strip() == "", f"--json must leave stderr empty, got: {proc.stderr[-500:]}"
