"""``hhmem snn roundtrip`` and ``hhmem snn lif-baseline`` run end to end (small settings) and write
JSON + Markdown + PNG."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from hybrid.cli import main

#: Round-trip rows expected with the sweeps below: rate 2 + latency 2 + sigma-delta 2 + Bernoulli 1.
N_ROWS = 7


def _files(out):
    return sorted(p.suffix for p in out.iterdir())


def test_roundtrip_hash_encoder_small(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"sentence {i} about thing {i % 5} and place {i % 3}" for i in range(30)))
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["snn", "roundtrip", "--corpus", str(corpus), "--model", "hash-64",
                                    "--steps", "8,32", "--bits", "4,8", "--bernoulli-steps", "64",
                                    "--no-progress", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert _files(out) == [".json", ".md", ".png"]
    rep = json.loads((out / "roundtrip.json").read_text())
    assert len(rep["rows"]) == N_ROWS
    assert rep["seed"] == 0 and "torch" in rep["versions"]
    assert "| latency | T=32 |" in (out / "roundtrip.md").read_text()


def test_roundtrip_bad_corpus_is_a_clean_error(tmp_path):
    res = CliRunner().invoke(main, ["snn", "roundtrip", "--corpus", str(tmp_path / "none.txt"), "--model", "hash-64"])
    assert res.exit_code != 0 and "does not exist" in res.output
    res = CliRunner().invoke(main, ["snn", "roundtrip", "--model", "hash-64", "--steps", "4,x"])
    assert res.exit_code != 0 and "--steps" in res.output


@pytest.mark.slow
def test_lif_baseline_small(tmp_path):
    out = tmp_path / "rep"
    res = CliRunner().invoke(main, ["snn", "lif-baseline", "--model", "hash-64", "--pairs", "5", "--background", "0,10",
                                    "--steps", "20,200", "--timing-repeats", "2", "--no-progress", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert _files(out) == [".json", ".md", ".png"]
    rep = json.loads((out / "lif_baseline.json").read_text())
    assert len(rep["claims"]) == 4
    assert {r["background"] for r in rep["peers"]} == {0, 10}
