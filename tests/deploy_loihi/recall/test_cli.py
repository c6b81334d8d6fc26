"""``hhmem loihi recall``: one question, a JSONL batch with its parity report, and bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("lava")
from hybrid.cli import main  # noqa: E402

from .conftest import QUESTIONS  # noqa: E402

pytestmark = pytest.mark.lava


def _run(args, store=None):
    pre = ["--model", "hash-64"] + (["--store", str(store)] if store is not None else [])
    return CliRunner().invoke(main, [*pre, "loihi", "recall", *args], catch_exceptions=False)


def test_one_question_prints_ranked_memories(recall_store_master):
    r = _run(["--json", "-k", "5", QUESTIONS[0]], recall_store_master)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["precision"] == "fixed_pt" and len(out["results"]) == 5
    assert [row["rank"] for row in out["results"]] == [1, 2, 3, 4, 5]
    assert "Alice Moreau" in out["results"][0]["text"]
    table = _run(["--precision", "floating_pt", QUESTIONS[0]], recall_store_master)
    assert table.exit_code == 0 and "rank" in table.stdout and "Alice Moreau" in table.stdout


def test_batch_writes_the_parity_report(recall_store_master, tmp_path):
    from hybrid import Memory
    from hybrid.encoder import HashEncoder

    with Memory.open(recall_store_master, encoder=HashEncoder(64)) as mem:
        rel = mem.search_ids(QUESTIONS[:4], 1)[1][:, 0].tolist()
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(json.dumps({"query": q, "relevant": [r]}) for q, r in zip(QUESTIONS[:4], rel)))
    out = tmp_path / "rep"
    r = _run(["--queries", str(qfile), "--out", str(out)], recall_store_master)
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "recall_parity.json").read_text())
    assert rep["parity"]["float"]["top10_overlap"] == 1.0
    assert 0.0 <= rep["parity"]["fixed"]["top10_overlap"] <= 1.0
    assert rep["recall_all_at_10"]["production"] == 1.0, "each question's own top-1 is its relevant memory"
    assert set(rep["recall_all_at_10"]) == {"production", "float", "fixed"}
    assert [s["memories"] for s in rep["resources"]["sizes"]] == [1_000, 20_000, 100_000, 1_000_000]
    assert rep["loihi_estimate"]["fixed"]["estimate"] is True
    assert (out / "recall_parity.png").stat().st_size > 10_000 and "top-10 overlap" in (out / "recall_parity.md").read_text()


@pytest.mark.parametrize(
    ("lines", "match"),
    [(["{not json"], "not JSON"), ([json.dumps({"query": ""})], "non-empty"),
     ([json.dumps({"query": "x", "relevant": ["a"]})], "relevant"), ([], "no queries")],
)
def test_bad_queries_file(recall_store_master, tmp_path, lines, match):
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("\n".join(lines))
    r = _run(["--queries", str(qfile)], recall_store_master)
    assert r.exit_code != 0 and match in r.output


def test_argument_errors(recall_store_master, tmp_path):
    r = _run([], recall_store_master)
    assert r.exit_code != 0 and "exactly one" in r.output
    r = _run(["--key-parts", "4", "q"], recall_store_master)
    assert r.exit_code != 0 and "key_parts" in r.output
    r = _run(["q"], tmp_path / "missing")
    assert r.exit_code != 0 and "Error" in r.output


def test_locomo_conversation_out_of_range(tmp_path, locomo_dev):
    r = _run(["--locomo", str(locomo_dev), "--conversation", "99", "--out", str(tmp_path)])
    assert r.exit_code != 0 and "out of range" in r.output
