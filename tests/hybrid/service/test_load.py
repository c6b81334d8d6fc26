"""A small, bounded load test against a real server subprocess: no errors and no lost writes."""

from __future__ import annotations

import json
import signal

import pytest

pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow

#: Both must be exactly zero (acknowledged writes are counted back after the run).
MAX_ERRORS = 0
MAX_LOST_WRITES = 0
#: Bounds that keep the test short whatever the machine's load.
CLIENTS = 8
DURATION_S = 4.0
MAX_REQUESTS = 240


def test_bounded_load_has_no_errors_and_no_lost_writes(tmp_path):
    from hybrid.service.loadtest import LoadConfig, run_and_report

    cfg = LoadConfig(clients=CLIENTS, duration_s=DURATION_S, max_requests=MAX_REQUESTS, write_fraction=0.4,
                     preload=40, model="hash-512", seed=3, peer=True)
    result = run_and_report(cfg, tmp_path / "out", command="pytest test_load")
    http = result["http"]
    assert http["errors"] <= MAX_ERRORS, f"{http['errors']} errors > {MAX_ERRORS}: {http['error_samples']}"
    assert http["lost_writes"] <= MAX_LOST_WRITES, f"{http['lost_writes']} lost writes > {MAX_LOST_WRITES}"
    assert http["requests"] <= MAX_REQUESTS and http["write"]["count"] > 0 and http["search"]["count"] > 0
    assert http["acknowledged_writes"] == http["write"]["count"], "every successful write was counted back"
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: -15 is a clean stop, not a crash.
    assert http["server_exit_code"] in (0, -signal.SIGTERM), f"server exit code {http['server_exit_code']}"
    assert result["direct"]["errors"] <= MAX_ERRORS and result["direct"]["lost_writes"] <= MAX_LOST_WRITES
    saved = json.loads((tmp_path / "out" / "load.json").read_text())
    assert saved["http"]["all"]["p99_ms"] >= saved["http"]["all"]["p50_ms"]
    assert (tmp_path / "out" / "load.md").read_text().startswith("# Service load test")
    assert (tmp_path / "out" / "load.png").stat().st_size > 0


def test_load_config_rejects_bad_values():
    from hybrid.errors import InvalidInputError
    from hybrid.service.loadtest import LoadConfig

    for bad in ({"clients": 0}, {"duration_s": 0}, {"write_fraction": 1.5}, {"max_requests": 0}):
        with pytest.raises(InvalidInputError, match=next(iter(bad))):
            LoadConfig(**bad)
