"""``hhmem bench latency`` at tiny sizes: report structure and recall values (never speed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("faiss")
pytest.importorskip("hnswlib")

from hybrid.bench.cli import bench  # noqa: E402
from hybrid.bench.latency import (  # noqa: E402
    LatencyConfig,
    cheapest,
    exact_topk,
    matched_recall,
    near_queries,
    recall_at_k,
    run_latency,
    synthetic_vectors,
)

#: Exact methods must agree with brute force on these easy sets (ties aside).
MIN_EXACT_RECALL = 0.99
#: Both HNSW implementations at their largest ef_search on a 1.5K set (approximate, 10 queries).
MIN_ANN_RECALL = 0.95
#: Synthetic queries are built near a stored vector: cosine to it must be high but not 1.
MIN_QUERY_COS, MAX_QUERY_COS = 0.7, 0.99


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("latency")
    cfg = LatencyConfig(sizes=(1500,), ann_sizes=(1500,), minilm=200, model="hash", cache=str(out / "cache"),
                        queries=10, batch=8, batches=1, rounds=1, ef_search=(16, 64), nprobe=(2, 38), hop_size=1500, hops=(1,),
                        ingest_texts=40, dim=64)
    return run_latency(cfg, out, progress=False)


def test_report_files_and_sections(report):
    for key in ("json", "markdown", "plot"):
        assert report["paths"][key]
    data = json.loads(open(report["paths"]["json"]).read())
    assert data["config"]["seed"] == 0 and "faiss" in data["versions"]
    assert [e["set"] for e in data["exact"]] == ["synthetic-1500", "minilm-200"]
    md = open(report["paths"]["markdown"]).read()
    for title in ("## Exact search", "## Approximate stage 1", "## Multi-hop", "## Resident memory", "## Ingest"):
        assert title in md, f"markdown lacks {title}"


def test_exact_methods_recall_and_ratios(report):
    for e in report["exact"]:
        rec = e["recall_at_10"]
        assert set(rec) == set(e["single"]) == set(e["batch"])
        for m in ("faiss_flat", "hhmem_stage1"):
            assert rec[m] >= MIN_EXACT_RECALL, f"{e['set']} {m} recall {rec[m]} < MIN_EXACT_RECALL={MIN_EXACT_RECALL}"
        assert all(0.0 <= r <= 1.0 for r in rec.values())
        assert e["single"]["faiss_flat"]["ratio"] == pytest.approx(1.0)
        for row in e["single"].values():
            assert row["median_ms"] > 0 and row["p99_ms"] >= row["median_ms"] and row["ratio"] > 0


def test_ann_sweep_and_matched(report):
    (a,) = report["ann"]
    assert [r["ef_search"] for r in a["sweep"]] == [16, 64]
    for r in a["sweep"]:
        assert set(r["recall_at_10"]) >= {"hnswlib", "hhmem_hnsw_stage1", "hhmem_hnsw_two_stage", "hhmem_hnswlib_stage1"}
        assert all(0.0 <= v <= 1.0 for v in r["recall_at_10"].values())
    hi = a["sweep"][-1]["recall_at_10"]
    for m in ("hnswlib", "hhmem_hnsw_stage1", "hhmem_hnswlib_stage1"):
        assert hi[m] >= MIN_ANN_RECALL, f"{m} recall {hi[m]} < MIN_ANN_RECALL={MIN_ANN_RECALL}"
    # The peer is hhmem's own hnswlib graph: at ef 64 hhmem takes 20 candidates from the same
    # search whose best 10 the peer returns, and re-scores them exactly, so it cannot do worse.
    assert a["peer_is_hhmem_graph"] and a["build_s"]["hnswlib"] == a["build_s"]["hhmem_hnswlib"]
    assert hi["hhmem_hnswlib_stage1"] >= hi["hnswlib"], f"same graph, more candidates: {hi}"
    # IVF: 1500 keys -> 38 lists; nprobe 38 scans them all, so its stage 1 is exact.
    assert a["ivf_nlist"] == 38 and [r["nprobe"] for r in a["ivf_sweep"]] == [2, 38]
    assert a["ivf_sweep"][-1]["recall_at_10"]["hhmem_ivf_stage1"] == 1.0
    assert a["ivf_sweep"][0]["recall_at_10"]["hhmem_ivf_stage1"] < 1.0, "2 of 38 lists must miss some neighbours"
    assert set(a["matched"]) == {"hnsw", "ivf", "hnswlib"}
    for backend, mt in a["matched"].items():
        assert mt["target_recall"] == 0.98 and "ratio" in mt, f"{backend}: {mt}"
    assert a["matched"]["ivf"]["hhmem_param"] == 38


def test_hops_memory_ingest(report):
    h = report["hops"]
    assert set(h["timing"]) == {"hops=0", "hops=1", "spread of a full frontier"} and h["links"] > 0
    assert set(h["per_extra_hop_ms"]) == {1}
    assert 0 <= h["sources_spread_per_query"] <= h["frontier_size"], "one hop spreads at most one full frontier"
    mem = report["memory"]
    assert mem["float32"]["keys_bytes_per_memory"] == 64 * 4
    assert mem["float16"]["keys_bytes_per_memory"] == mem["bfloat16"]["keys_bytes_per_memory"] == 64 * 2
    g = report["ingest"]
    assert g["texts"] == 40 and g["memory_add_throughput_ratio"] > 0 and g["encoder_texts_per_s"] > 0


def test_helpers_against_brute_force():
    x = synthetic_vectors(3000, 32, seed=1)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    q = near_queries(x, 50, seed=1)
    top = exact_topk(x, q)
    brute = np.argsort(-(q.astype(np.float64) @ x.T.astype(np.float64)), axis=1)[:, :10]
    assert recall_at_k(top, brute) >= MIN_EXACT_RECALL
    cos = (q @ x.T).max(axis=1)
    assert MIN_QUERY_COS <= float(np.median(cos)) <= MAX_QUERY_COS, f"median query cosine {np.median(cos)}"
    assert recall_at_k(np.full((2, 10), -1), top[:2]) == 0.0


def test_matched_recall_picks_cheapest_point():
    def row(ef, rh, rp, th, tp):
        return {"ef_search": ef, "recall_at_10": {"hhmem_hnsw_stage1": rh, "hnswlib": rp},
                "timing": {"hhmem_hnsw_stage1": {"median_ms": th}, "hnswlib": {"median_ms": tp}}}
    rows = [row(16, 0.95, 0.99, 0.1, 0.2), row(32, 0.985, 0.995, 0.2, 0.3), row(64, 0.99, 1.0, 0.3, 0.4)]
    peer = cheapest(rows, "hnswlib", 0.98)
    m = matched_recall(rows, "hnsw", peer, 0.98)
    assert (m["hhmem_param"], m["hnswlib_ef"]) == (32, 16) and m["ratio"] == pytest.approx(1.0)
    assert "ratio" not in matched_recall(rows, "hnsw", cheapest(rows, "hnswlib", 0.999), 0.999)
    assert "hhmem_param" not in matched_recall(rows, "hnsw", peer, 0.995), "hhmem never reaches 0.995"


def test_bad_config_and_cli_errors():
    with pytest.raises(ValueError, match="sizes"):
        LatencyConfig(sizes=(10,))
    res = CliRunner().invoke(bench, ["latency", "--sizes", "20k"])
    assert res.exit_code != 0 and "comma-separated integers" in res.output


def test_ann_cache_reuses_the_built_graph(tmp_path):
    """With ``ann_cache`` the second run loads the graph the first one built and reports its build
    time; the measured recall is the same (same graph)."""
    from hybrid.bench.latency import bench_ann

    cfg = LatencyConfig(sizes=(800,), ann_sizes=(800,), minilm=0, model="hash", cache=str(tmp_path), queries=5, rounds=1,
                        ef_search=(32,), ann_backends=("hnswlib",), hop_size=0, ingest_texts=0, dim=32, ann_cache=True)
    x = synthetic_vectors(800, 32, seed=0)
    q = near_queries(x, 20, seed=1)
    first = bench_ann("synthetic-800", x, q, cfg, progress=False)
    second = bench_ann("synthetic-800", x, q, cfg, progress=False)
    assert first["build_cached"] == {"hnswlib": False} and second["build_cached"] == {"hnswlib": True}
    assert second["build_s"]["hhmem_hnswlib"] == pytest.approx(first["build_s"]["hhmem_hnswlib"], abs=1e-3)
    rec = [r["sweep"][0]["recall_at_10"]["hhmem_hnswlib_stage1"] for r in (first, second)]
    assert rec[0] == rec[1], f"the same graph must give the same recall: {rec}"


def test_postgres_row(tmp_path, pg_server):
    """The shared-store row on a real server: ingest on both backends, the sweep, the matched point."""
    cfg = LatencyConfig(sizes=(1500,), ann_sizes=(1500,), minilm=0, model="hash", cache=str(tmp_path / "cache"),
                        queries=10, rounds=1, ef_search=(16, 64), ann_backends=("hnswlib",), hop_size=0,
                        ingest_texts=0, dim=64, postgres=pg_server)
    rep = run_latency(cfg, tmp_path, progress=False)
    (row,) = rep["postgres"]
    assert row["n"] == 1500 and set(row["ingest_memories_per_s"]) == {"folder", "postgres"}
    assert all(v > 0 for v in row["ingest_memories_per_s"].values())
    assert row["resident_key_bytes"] == {"hhmem_hnswlib": 1500 * 64 * 4, "hhmem_pgvector": 0}
    for point in row["sweep"]:
        for method, recall in point["recall_at_10"].items():
            assert recall >= MIN_ANN_RECALL, f"{method} at ef {point['ef_search']}: recall@10 {recall}"
    assert row["matched"]["hhmem_pgvector"] is not None and row["matched"]["ratio"] > 0
    assert "Shared store: PostgreSQL" in (tmp_path / "latency.md").read_text()
    with pytest.raises(ValueError, match="postgres must be"):
        LatencyConfig(postgres="mysql://x")
