"""Fixtures of the service tests: an in-process TestClient and real `hhmem serve` subprocesses on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

#: Seconds a subprocess server gets to come up (imports + store open) before the test fails.
SERVER_START_TIMEOUT_S = 60.0
#: Seconds a test waits for a server to exit after SIGTERM before SIGKILL.
SERVER_STOP_TIMEOUT_S = 10.0


def hhmem_cmd(*args: str, store: Path | None = None, model: str = "hash") -> list[str]:
    """Command line of the hhmem CLI run by this interpreter."""
    cmd = [sys.executable, "-m", "hybrid.cli", "--model", model]
    if store is not None:
        cmd += ["--store", str(store)]
    return cmd + list(args)


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class ServerProcess:
    proc: subprocess.Popen
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(SERVER_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(SERVER_STOP_TIMEOUT_S)


def start_server(store: Path, workdir: Path, *extra: str, model: str = "hash") -> ServerProcess:
    """Start `hhmem serve --port 0` on 127.0.0.1 and wait until /healthz answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    n = len(list(workdir.glob("port-*")))
    port_file = workdir / f"port-{n}"
    log = workdir / f"server-{n}.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            hhmem_cmd("serve", "--store", str(store), "--port", "0", "--port-file", str(port_file), *extra, model=model),
            stdout=fh, stderr=subprocess.STDOUT, env=subprocess_env(),
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    server = None
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            if port_file.is_file() and port_file.read_text().strip():
                server = ServerProcess(proc, f"http://127.0.0.1:{int(port_file.read_text())}", log)
                try:
                    if httpx.get(server.url + "/healthz", timeout=2.0).status_code == 200:
                        return server
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer within {SERVER_START_TIMEOUT_S} s: {log.read_text()[-2000:]}")
    except BaseException:
        proc.kill()
        proc.wait()
        raise


@pytest.fixture
def servers(tmp_path):
    """A factory ``servers(store, *args)`` of subprocess servers, all stopped (or killed) after the test."""
    started: list[ServerProcess] = []

    def factory(store: Path, *extra: str, model: str = "hash") -> ServerProcess:
        s = start_server(store, tmp_path / "run", *extra, model=model)
        started.append(s)
        return s

    yield factory
    for s in started:
        try:
            s.stop()
        except Exception:  # pragma: no cover - best effort; kill below
            s.proc.kill()


@pytest.fixture
def api_client(store_path, hash_encoder):
    """A TestClient over a fresh hash-encoder memory, no authentication."""
    from fastapi.testclient import TestClient

    from hybrid import Memory
    from hybrid.service.api import create_app

    mem = Memory.open(store_path, encoder=hash_encoder, device="cpu")
    try:
        with TestClient(create_app(mem)) as client:
            yield client
    finally:
        mem.close()


@pytest.fixture
def cli():
    """``cli(*args, store=..., model="hash")`` -> CompletedProcess of the hhmem CLI in a subprocess."""

    def run(*args: str, store: Path | None = None, model: str = "hash", check: bool = True, timeout: float = 120):
        res = subprocess.run(hhmem_cmd(*args, store=store, model=model), capture_output=True, text=True,
                             env=subprocess_env(), timeout=timeout)
        if check and res.returncode != 0:
            raise AssertionError(f"hhmem {' '.join(args)} failed ({res.returncode}): {res.stderr[-2000:]}")
        return res

    return run


@pytest.fixture
def mcp_command():
    """``mcp_command(store, namespace)`` -> (executable, args, env) of `hhmem mcp` for an MCP stdio client."""

    def build(store: Path, namespace: str, model: str = "hash") -> tuple[str, list[str], dict[str, str]]:
        cmd = hhmem_cmd("mcp", "--store", str(store), "--namespace", namespace, model=model)
        return cmd[0], cmd[1:], subprocess_env()

    return build


@pytest.fixture
def cli_popen():
    """``cli_popen(*args, store=..., stdin_text=None)`` -> started Popen of the hhmem CLI (killed after the test)."""
    procs: list[subprocess.Popen] = []

    def start(*args: str, store: Path | None = None, model: str = "hash") -> subprocess.Popen:
        p = subprocess.Popen(hhmem_cmd(*args, store=store, model=model), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env())
        procs.append(p)
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
