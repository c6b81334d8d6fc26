"""``hhmem bench synthetic`` runs end to end (tiny sizes, hash encoder) and writes its reports."""

from __future__ import annotations

import json

from click.testing import CliRunner

from hybrid.bench.synthetic import make_corpus, paraphrase_queries
from hybrid.cli import main

#: At these tiny sizes the associative path must recall every chain and association.
MIN_WTA_RECALL = 0.99
MIN_EXACT_CHAINS = 0.99


def test_corpus_is_seeded_and_distinct():
    a, fa = make_corpus(300, seed=1)
    b, _ = make_corpus(300, seed=1)
    assert a == b and len(set(a)) == 300
    qs = paraphrase_queries(fa, 20, seed=1)
    assert len(qs) == 20 and all(q.endswith(("?", ".")) for q, _ in qs)
    assert all(fa[t]["name"] in q for q, t in qs), "each paraphrase names its memory's person"


def test_bench_synthetic_cli_writes_reports(tmp_path):
    out = tmp_path / "rep"
    args = ["bench", "synthetic", "--out", str(out), "--sizes", "100,300", "--chain-size", "210", "--chains", "20",
            "--queries", "30", "--model", "hash", "--cache", str(tmp_path / "cache"), "--code-dim", "1024", "-k", "8", "-q"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "synthetic.json").read_text())
    assert (out / "synthetic.md").is_file() and (out / "synthetic.png").stat().st_size > 0
    assert rep["config"]["seed"] == 0 and "torch" in rep["versions"]
    assert {r["keys"] for r in rep["paraphrase"]["rows"]} >= {"none", "all", "question"}
    for row in rep["capacity"]:
        assert row["wta_recall"] >= MIN_WTA_RECALL, f"capacity row {row} below {MIN_WTA_RECALL}"
        assert row["wta_recall"] >= row["flat_hebbian_recall"]
    assert rep["chains"]["exact_chain_fraction"] >= MIN_EXACT_CHAINS
    assert len(rep["chains"]["mean_cosine_per_hop"]) == 6
    assert rep["noise"]["hopfield_recall"] >= rep["noise"]["flat_hebbian_recall"]
    assert rep["cost"]["w_dense_bytes"] == 1024 * 1024


def test_bench_rejects_bad_sizes(tmp_path):
    res = CliRunner().invoke(main, ["bench", "synthetic", "--sizes", "5", "--out", str(tmp_path)])
    assert res.exit_code != 0 and "sizes" in res.output
