"""Measure what a person waits for: cold CLI commands and the first HTTP search after start-up.

Every figure is the wall time of a fresh process (or of the first request after ``/healthz``
reports ready), so it includes Python start-up, imports, opening the store and, for search, loading
the compiled kernels from the cache (``hybrid._numba``). The peer measured in the same run is the
floor that search cannot go below: a fresh process that loads the encoder and encodes one query.

Usage (builds a store of ``--memories`` synthetic notes with the real MiniLM when ``--store`` is
missing; about 30 s of encoding for 10K on a small CPU)::

    python docs/scripts/cold_start.py --store /tmp/cold-10k --memories 10000 --json reports/cold_start.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUERY = "who repaired the blue bicycle last spring?"
ENCODER_ONLY = (
    "from hybrid.encoder import load_encoder; e = load_encoder('default'); e.encode([{q!r}])"
)
WORDS = ("meeting garden bicycle doctor invoice kettle Oslo train sister recipe battery concert passport "
         "library dentist neighbour holiday laptop violin museum birthday bakery river mountain").split()


def env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env())
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return dt


def hhmem(store: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "hybrid.cli", "--store", str(store), *args]


def build_store(store: Path, n: int, seed: int) -> float:
    rng = random.Random(seed)
    lines = [f"Note {i}: the {rng.choice(WORDS)} and the {rng.choice(WORDS)} near the {rng.choice(WORDS)}, "
             f"{rng.choice(WORDS)} on day {rng.randint(1, 365)}" for i in range(n)]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
    try:
        return wall(hhmem(store, "add", "--file", fh.name, "-q"))
    finally:
        os.unlink(fh.name)


def repeat(cmd: list[str], times: int) -> list[float]:
    return [round(wall(cmd), 3) for _ in range(times)]


def http_first_search(store: Path) -> dict[str, float]:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        t0 = time.perf_counter()
        proc = subprocess.Popen(hhmem(store, "serve", "--port", "0", "--port-file", str(port_file)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
        try:
            while not (port_file.is_file() and port_file.read_text().strip()):
                if proc.poll() is not None:
                    raise SystemExit("hhmem serve exited during start-up")
                time.sleep(0.05)
            url = f"http://127.0.0.1:{int(port_file.read_text())}"
            while True:  # connections wait in the listen queue until the warm-up is done
                try:
                    health = httpx.get(url + "/healthz", timeout=120).json()
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            ready = time.perf_counter() - t0
            times = []
            for _ in range(5):
                t1 = time.perf_counter()
                r = httpx.post(url + "/v1/ns/default/search", json={"query": QUERY, "k": 5}, timeout=60)
                times.append(time.perf_counter() - t1)
                r.raise_for_status()
        finally:
            proc.terminate()
            proc.wait(30)
    return {"start_to_ready_s": round(ready, 3), "first_search_s": round(times[0], 3),
            "later_search_median_s": round(statistics.median(times[1:]), 3), "warm_up_s": health.get("warm_up_s")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--memories", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    out: dict = {"memories": args.memories, "query": QUERY, "python": sys.version.split()[0], "cpus": os.cpu_count()}
    if not (args.store / "manifest.json").is_file():
        out["build_s"] = round(build_store(args.store, args.memories, args.seed), 1)
    search = hhmem(args.store, "search", QUERY, "-k", "5", "--json")
    out["search_first_process_s"] = round(wall(search), 3)  # may compile (cold kernel cache) or not
    out["search_s"] = repeat(search, args.repeats)
    out["encoder_load_and_one_query_s"] = repeat([sys.executable, "-c", ENCODER_ONLY.format(q=QUERY)], args.repeats)
    out["search_over_encoder"] = round(statistics.median(out["search_s"]) /
                                       statistics.median(out["encoder_load_and_one_query_s"]), 2)
    out["get_s"] = repeat(hhmem(args.store, "get", "1", "--json"), args.repeats)
    out["stats_s"] = repeat(hhmem(args.store, "stats", "--json"), args.repeats)
    out["python_import_torch_s"] = repeat([sys.executable, "-c", "import torch"], args.repeats)
    try:
        out["http"] = http_first_search(args.store)
    except ImportError:
        out["http"] = "skipped: the service extra (fastapi, uvicorn, httpx) is not installed"
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
