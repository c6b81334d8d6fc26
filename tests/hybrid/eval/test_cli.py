"""``hhmem eval`` end to end on the fixtures with the hash stand-in encoder (plumbing, not quality)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from hybrid.cli import main

DATA = Path(__file__).resolve().parents[2] / "data" / "eval"
BASELINES = {"flat", "bm25", "rrf", "hhmem", "hhmem-dense", "fusion-v1"}


def _run(args, tmp_path):
    res = CliRunner().invoke(main, ["eval", *args, "--model", "hash-64", "--cache-dir", str(tmp_path / "cache"),
                                    "--quiet"])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res


def test_locomo_report_files_and_cache(tmp_path):
    out = tmp_path / "r" / "locomo.json"
    _run(["locomo", str(DATA / "locomo_tiny.json"), "--json", str(out), "--no-ablations"], tmp_path)
    rep = json.loads(out.read_text())
    assert out.with_suffix(".md").is_file() and out.with_suffix(".png").stat().st_size > 0
    assert BASELINES <= set(rep["methods"])
    assert rep["counts"]["skipped"] == {"no usable evidence (open-domain)": 1}
    assert rep["counts"]["queries"] == 6 and rep["versions"]["bm25s"] != "absent"
    turn = rep["methods"]["bm25"]["levels"]["turn"]
    assert {"overall", "single-hop", "multi-hop", "temporal", "open-domain", "adversarial"} <= set(turn)
    assert turn["overall"]["n"] == 6 and 0.0 <= turn["overall"]["recall_all@10"] <= 1.0
    # Corpora of <= 10 turns: every method finds every evidence turn in its top 10.
    for name, m in rep["methods"].items():
        assert m["levels"]["turn"]["overall"]["recall_all@10"] == 1.0, name
    # Second run: everything comes from the embedding cache.
    _run(["locomo", str(DATA / "locomo_tiny.json"), "--json", str(out), "--no-ablations"], tmp_path)
    rep2 = json.loads(out.read_text())
    assert rep2["counts"]["embedding_cache"]["misses"] == 0


def test_longmemeval_and_beir_commands(tmp_path):
    out = tmp_path / "lme.json"
    _run(["longmemeval", str(DATA / "longmemeval_tiny.json"), "--json", str(out), "--no-ablations"], tmp_path)
    rep = json.loads(out.read_text())
    assert rep["counts"]["skipped"] == {"abstention (_abs)": 1, "no evidence in indexed turns": 1}
    lv = rep["methods"]["flat"]["levels"]
    assert set(lv) == {"turn", "session"}
    assert {f"recall_all@{k}" for k in (1, 3, 5, 10, 30, 50)} <= set(lv["turn"]["overall"])
    assert "answer_in_top@10" in rep["methods"]["flat"]["extra"]["overall"]
    out = tmp_path / "beir.json"
    _run(["beir", str(DATA / "beir_tiny"), "--json", str(out), "--no-ablations"], tmp_path)
    rep = json.loads(out.read_text())
    doc = rep["methods"]["bm25"]["levels"]["doc"]["overall"]
    assert {"ndcg@10", "mrr@10", "recall_all@10", "recall_any@1"} <= set(doc)
    # q1 "beagle" and q2 "pottery ... clay" are exact word matches: BM25 ranks d1 and d2 first.
    assert doc["mrr@10"] == 1.0


def test_bad_arguments_are_named(tmp_path):
    res = CliRunner().invoke(main, ["eval", "locomo", str(DATA / "locomo_tiny.json"), "--conversations", "0,x",
                                    "--model", "hash-64", "--quiet"])
    assert res.exit_code != 0 and "--conversations" in res.output
    res = CliRunner().invoke(main, ["eval", "locomo", str(DATA / "locomo_tiny.json"), "--conversations", "7",
                                    "--model", "hash-64", "--quiet", "--cache-dir", str(tmp_path)])
    assert res.exit_code != 0 and "conversations: index 7" in res.output
