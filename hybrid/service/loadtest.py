"""Load test of the HTTP API on loopback: many concurrent clients mixing writes and searches.

A real ``hhmem serve`` subprocess is started on a fresh store (pre-loaded with ``preload`` memories),
``clients`` threads each send requests over their own HTTP connection until ``duration_s`` has passed
or ``max_requests`` have been sent (both bounds always apply). A request is a write (add one memory)
with probability ``write_fraction``, else a search (k=5) for a generated question. Afterwards every
acknowledged write is read back page by page and counted:

.. math::

    \\text{lost} = |\\{ (id, text) \\text{ acknowledged} \\} \\setminus \\{ (id, text) \\text{ stored} \\}|,
    \\qquad \\text{throughput} = \\frac{\\#\\text{successful requests}}{t_\\text{last} - t_\\text{first}}

The peer, measured in the same run: the same workload on the same number of threads calling
:class:`hybrid.Memory` in-process (no HTTP, no JSON, no second process), which shows what the
service layer costs.

Run: ``hhmem serve-loadtest`` or ``python -m hybrid.service.loadtest --help``; writes
``load.json``, ``load.md`` and ``load.png`` to ``--out``.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__

_SUBJECTS = ("Maria", "the build server", "our landlord", "the cat", "Dr. Okafor", "the delivery van", "grandpa",
             "the finance team", "the old router", "Kenji", "the school bus", "the garden hose")
_VERBS = ("moved", "broke down", "was repainted", "arrived", "was upgraded", "went missing", "was booked",
          "got renamed", "was inspected", "left early")
_WHENS = ("on Monday", "last winter", "at dawn", "after lunch", "in March", "during the storm", "before the audit",
          "on the 3rd", "at midnight", "this weekend")
_WHERES = ("in Lisbon", "near the station", "behind the shed", "at the office", "in the cellar", "on floor 4",
           "by the river", "downtown", "in aisle 7", "at the clinic")


@dataclass(frozen=True)
class LoadConfig:
    """Workload of one load test.

    Attributes:
        clients: concurrent client threads (one HTTP connection each).
        duration_s: seconds of load (upper bound).
        max_requests: total requests (upper bound).
        write_fraction: probability that a request is a write.
        preload: memories stored before the load starts.
        namespaces: clients are spread round-robin over this many namespaces.
        k: results per search.
        seed: seed of every random choice.
        model: encoder of the store (``"default"``: MiniLM; ``"hash-512"`` for quick tests only).
        peer: also run the in-process peer (same workload, no HTTP).
    """

    clients: int = 16
    duration_s: float = 20.0
    max_requests: int = 5000
    write_fraction: float = 0.3
    preload: int = 500
    namespaces: int = 4
    k: int = 5
    seed: int = 0
    model: str = "default"
    peer: bool = True

    def __post_init__(self) -> None:
        from ..errors import InvalidInputError

        checks = {
            "clients": 1 <= self.clients <= 256, "duration_s": 0 < self.duration_s <= 600,
            "max_requests": self.max_requests >= 1, "write_fraction": 0 <= self.write_fraction <= 1,
            "preload": self.preload >= 0, "namespaces": 1 <= self.namespaces <= 64, "k": 1 <= self.k <= 100,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidInputError(f"LoadConfig.{name} out of range: {getattr(self, name)!r}")


def make_text(rng: np.random.Generator) -> str:
    """A seeded synthetic memory, e.g. 'the cat went missing behind the shed on Monday (ref 123456).'"""
    s, v, w, p = (str(rng.choice(x)) for x in (_SUBJECTS, _VERBS, _WHENS, _WHERES))
    return f"{s[0].upper() + s[1:]} {v} {p} {w} (ref {int(rng.integers(1_000_000))})."


def make_query(rng: np.random.Generator) -> str:
    s, v = str(rng.choice(_SUBJECTS)), str(rng.choice(_VERBS))
    return f"When did {s} get {v.split()[-1]}, and where?"


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"hhmem": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "torch", "sentence-transformers", "fastapi", "uvicorn", "httpx", "pydantic"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


class _Recorder:
    """Thread-safe record of every request: (op, start offset s, latency s, ok)."""

    def __init__(self, max_requests: int) -> None:
        self.lock = threading.Lock()
        self.max_requests = max_requests
        self.sent = 0
        self.rows: list[tuple[str, float, float, bool]] = []
        self.acked: dict[int, tuple[str, str]] = {}  # id -> (namespace, text)
        self.errors: list[str] = []

    def claim(self) -> bool:
        with self.lock:
            if self.sent >= self.max_requests:
                return False
            self.sent += 1
            return True


def _drive(cfg: LoadConfig, op_factory: Callable[[int], tuple[Callable, Callable]], rec: _Recorder) -> tuple[float, float]:
    """Run ``cfg.clients`` threads until the time or request bound; returns (t_first, t_last)."""
    t0 = time.perf_counter()
    deadline = t0 + cfg.duration_s

    def client(c: int) -> None:
        rng = np.random.default_rng([cfg.seed, 1, c])
        ns = f"load-{c % cfg.namespaces}"
        write, search = op_factory(c)
        while time.perf_counter() < deadline and rec.claim():
            is_write = rng.random() < cfg.write_fraction
            text = make_text(rng) if is_write else make_query(rng)
            start = time.perf_counter()
            try:
                if is_write:
                    mid = write(ns, text)
                    ok = mid is not None
                    if ok:
                        with rec.lock:
                            rec.acked[mid] = (ns, text)
                else:
                    ok = search(ns, text)
                err = None if ok else f"{'write' if is_write else 'search'} refused"
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none may pass silently
                ok, err = False, f"{type(exc).__name__}: {exc}"
            end = time.perf_counter()
            with rec.lock:
                rec.rows.append(("write" if is_write else "search", start - t0, end - start, ok))
                if err:
                    rec.errors.append(err)

    threads = [threading.Thread(target=client, args=(c,), daemon=True) for c in range(cfg.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(cfg.duration_s + 120)
    if any(t.is_alive() for t in threads):
        rec.errors.append("a client thread did not finish within duration + 120 s")
    return t0, time.perf_counter()


def _summarise(rec: _Recorder, elapsed_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"requests": len(rec.rows), "errors": sum(not r[3] for r in rec.rows) + 0,
                           "elapsed_s": elapsed_s}
    ok = [r for r in rec.rows if r[3]]
    out["throughput_rps"] = len(ok) / elapsed_s if elapsed_s > 0 else 0.0
    for op in ("write", "search", "all"):
        lat = np.array([r[2] for r in ok if op == "all" or r[0] == op]) * 1000.0
        out[op] = {
            "count": int(lat.size),
            "p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
            "p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
            "mean_ms": float(lat.mean()) if lat.size else None,
            "max_ms": float(lat.max()) if lat.size else None,
        }
    out["error_samples"] = rec.errors[:10]
    return out


def _start_server(store: Path, model: str, workdir: Path) -> tuple[subprocess.Popen, str, Path]:
    port_file = workdir / "port"
    log = workdir / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "hybrid.cli", "--model", model, "serve", "--store", str(store),
           "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        if port_file.is_file() and port_file.read_text().strip():
            url = f"http://127.0.0.1:{int(port_file.read_text())}"
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return proc, url, log
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"server did not start within 120 s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)
    return proc.returncode


def _preload(store: Path, cfg: LoadConfig) -> None:
    from ..memory import Memory

    rng = np.random.default_rng([cfg.seed, 0])
    with Memory.open(store, encoder=cfg.model) as mem:
        per_ns = [[] for _ in range(cfg.namespaces)]
        for i in range(cfg.preload):
            per_ns[i % cfg.namespaces].append(make_text(rng))
        for i, texts in enumerate(per_ns):
            if texts:
                mem.add(texts, namespace=f"load-{i}")
        mem.add(["load test store"], namespace="load-meta")


def _count_lost_http(url: str, rec: _Recorder) -> tuple[int, int]:
    """Read every namespace back page by page; returns (lost, stored in load namespaces)."""
    import httpx

    stored: dict[int, tuple[str, str]] = {}
    with httpx.Client(base_url=url, timeout=60) as http:
        for ns in sorted({ns for ns, _ in rec.acked.values()}):
            offset = 0
            while True:
                page = http.get(f"/v1/ns/{ns}/memories", params={"limit": 1000, "offset": offset})
                page.raise_for_status()
                items = page.json()["memories"]
                stored.update({x["id"]: (x["namespace"], x["text"]) for x in items})
                if len(items) < 1000:
                    break
                offset += 1000
    lost = sum(stored.get(i) != v for i, v in rec.acked.items())
    return lost, len(stored)


def run_http(cfg: LoadConfig, workdir: Path) -> dict[str, Any]:
    """The load against a real server subprocess; counts lost writes through the API afterwards."""
    import httpx

    store = workdir / "store-http"
    _preload(store, cfg)
    proc, url, log = _start_server(store, cfg.model, workdir)
    rec = _Recorder(cfg.max_requests)
    try:
        def factory(c: int):
            http = httpx.Client(base_url=url, timeout=60)

            def write(ns: str, text: str) -> int | None:
                r = http.post(f"/v1/ns/{ns}/memories", json={"memories": [{"text": text}]})
                return r.json()["ids"][0] if r.status_code == 201 else None

            def search(ns: str, query: str) -> bool:
                r = http.post(f"/v1/ns/{ns}/search", json={"query": query, "k": cfg.k})
                return r.status_code == 200 and isinstance(r.json()["results"], list)

            return write, search

        t0, t1 = _drive(cfg, factory, rec)
        lost, stored = _count_lost_http(url, rec)
    finally:
        code = _stop(proc)
    out = _summarise(rec, t1 - t0)
    out.update({"acknowledged_writes": len(rec.acked), "lost_writes": lost, "stored_in_load_namespaces": stored,
                "server_exit_code": code})
    return out


def run_direct(cfg: LoadConfig, workdir: Path) -> dict[str, Any]:
    """The peer: the same workload on threads calling one in-process Memory."""
    from ..memory import Memory

    store = workdir / "store-direct"
    _preload(store, cfg)
    rec = _Recorder(cfg.max_requests)
    with Memory.open(store, encoder=cfg.model) as mem:
        def factory(c: int):
            def write(ns: str, text: str) -> int | None:
                return mem.add([text], namespace=ns)[0]

            def search(ns: str, query: str) -> bool:
                return isinstance(mem.search(query, cfg.k, namespace=ns), list)

            return write, search

        t0, t1 = _drive(cfg, factory, rec)
        stored = {r.id: (r.namespace, r.text) for ns in {n for n, _ in rec.acked.values()}
                  for r in mem.list(namespace=ns, limit=10**9)}
    out = _summarise(rec, t1 - t0)
    out.update({"acknowledged_writes": len(rec.acked), "lost_writes": sum(stored.get(i) != v for i, v in rec.acked.items())})
    return out


def run_load(cfg: LoadConfig, workdir: Path | None = None) -> dict[str, Any]:
    """Both runs; the returned dict is what ``load.json`` holds."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="hhmem-load-")
        workdir = Path(tmp.name)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        load_before = os.getloadavg()
        http = run_http(cfg, workdir)
        load_mid = os.getloadavg()
        direct = run_direct(cfg, workdir) if cfg.peer else None
        load_after = os.getloadavg()
    finally:
        if tmp is not None:
            tmp.cleanup()
    result: dict[str, Any] = {
        "benchmark": "service_load",
        "config": asdict(cfg),
        "versions": library_versions(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    # 1-minute load averages: other work on a shared machine skews absolute figures
                    "loadavg_1m": {"before": load_before[0], "after_http": load_mid[0],
                                   "after_direct": load_after[0] if cfg.peer else None}},
        "http": http,
        "direct": direct,
        "errors": http["errors"],
        "lost_writes": http["lost_writes"],
        "primary_metric": "http.throughput_rps",
    }
    if direct and direct["throughput_rps"]:
        result["http_over_direct_throughput"] = http["throughput_rps"] / direct["throughput_rps"]
    a = http["all"]
    result["summary_line"] = (
        f"HTTP: {http['requests']} requests in {http['elapsed_s']:.1f} s, {http['throughput_rps']:.1f} req/s, "
        f"p50 {a['p50_ms'] or 0:.1f} ms, p99 {a['p99_ms'] or 0:.1f} ms, errors {http['errors']}, "
        f"acknowledged writes {http['acknowledged_writes']}, lost {http['lost_writes']}"
        + (f"; in-process peer {direct['throughput_rps']:.1f} req/s" if direct else "")
    )
    return result


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def to_markdown(result: dict[str, Any], command: str) -> str:
    cfg = result["config"]
    lines = [
        "# Service load test", "",
        f"Command: `{command}`", "",
        f"Config: {cfg['clients']} clients, ≤ {cfg['duration_s']} s, ≤ {cfg['max_requests']} requests, "
        f"write fraction {cfg['write_fraction']}, preload {cfg['preload']}, {cfg['namespaces']} namespaces, "
        f"k={cfg['k']}, model `{cfg['model']}`, seed {cfg['seed']}.", "",
        f"Machine: {result['machine']['cpus']} CPUs, {result['machine']['platform']}, 1-minute load average "
        f"{', '.join(f'{k} {v:.1f}' for k, v in result['machine']['loadavg_1m'].items() if v is not None)}. "
        f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}.", "",
        "| run | requests | req/s | op | count | p50 ms | p99 ms | mean ms | errors | acked writes | lost writes |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("http", "direct"):
        run = result.get(name)
        if not run:
            continue
        for op in ("all", "write", "search"):
            s = run[op]
            lines.append(
                f"| {name} | {run['requests']} | {run['throughput_rps']:.1f} | {op} | {s['count']} | {_fmt(s['p50_ms'])} | "
                f"{_fmt(s['p99_ms'])} | {_fmt(s['mean_ms'])} | {run['errors']} | {run['acknowledged_writes']} | "
                f"{run['lost_writes']} |"
            )
    if "http_over_direct_throughput" in result:
        lines += ["", f"HTTP / in-process throughput ratio: {result['http_over_direct_throughput']:.2f}"]
    return "\n".join(lines) + "\n"


def plot(result: dict[str, Any], path: Path, samples: dict[str, dict[str, list[float]]] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    runs = [r for r in ("http", "direct") if result.get(r)]
    ops = ("write", "search")
    width = 0.8 / (2 * len(runs))
    for i, run in enumerate(runs):
        for j, stat in enumerate(("p50_ms", "p99_ms")):
            vals = [result[run][op][stat] or 0 for op in ops]
            xs = np.arange(len(ops)) + (2 * i + j) * width
            ax.bar(xs, vals, width, label=f"{run} {stat[:3]}")
    ax.set_xticks(np.arange(len(ops)) + width * (2 * len(runs) - 1) / 2, ops)
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"hhmem service load: {result['config']['clients']} clients, model {result['config']['model']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run_and_report(cfg: LoadConfig, out: Path, command: str | None = None) -> dict[str, Any]:
    """Run the load test and write ``load.json``, ``load.md`` and ``load.png`` to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    if command is None:
        prog = {"cli.py": "python -m hybrid.cli", "loadtest.py": "python -m hybrid.service.loadtest"}
        name = Path(sys.argv[0]).name
        command = " ".join([prog.get(name, name)] + sys.argv[1:])
    print(f"service load test: {cfg}", file=sys.stderr)
    result = run_load(cfg)
    result["command"] = command
    (out / "load.json").write_text(json.dumps(result, indent=2))
    (out / "load.md").write_text(to_markdown(result, command))
    plot(result, out / "load.png")
    print(f"wrote {out / 'load.json'}, load.md, load.png", file=sys.stderr)
    return result


def main(argv: list[str] | None = None) -> None:
    """``python -m hybrid.service.loadtest`` runs the same click command as ``hhmem serve-loadtest``."""
    from .cli import serve_loadtest

    serve_loadtest.main(args=argv, prog_name="python -m hybrid.service.loadtest", obj={"store": None, "model": "default"})


if __name__ == "__main__":  # pragma: no cover
    main()
