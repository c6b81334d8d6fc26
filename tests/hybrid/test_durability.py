"""Crash safety and concurrent writers, with real processes, real kill -9 and real concurrency."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybrid import Memory

WRITER = Path(__file__).with_name("writer_process.py")
pytestmark = pytest.mark.slow


def start_writer(store: Path, tag: str, batches: int, size: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(store), tag, str(batches), str(size)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def create_store(store: Path) -> None:
    Memory.open(store, encoder="hash", device="cpu").close()


def read_acks(proc: subprocess.Popen, n: int, timeout: float = 60.0) -> list[tuple[int, int]]:
    acks, deadline = [], time.monotonic() + timeout
    while len(acks) < n and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("ACK"):
            _, a, b = line.split()
            acks.append((int(a), int(b)))
    return acks


def assert_no_half_records(store: Path) -> None:
    conn = sqlite3.connect(store / "memory.db")
    try:
        orphans = conn.execute("SELECT COUNT(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM keys k WHERE k.memory_id = m.id)").fetchone()[0]
        dangling = conn.execute("SELECT COUNT(*) FROM keys k WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = k.memory_id)").fetchone()[0]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert orphans == 0, f"{orphans} memories without keys"
    assert dangling == 0, f"{dangling} keys without a memory"


def test_acknowledged_writes_survive_kill_9(tmp_path):
    store = tmp_path / "s"
    create_store(store)
    proc = start_writer(store, "k9", batches=10_000, size=1)
    try:
        acks = read_acks(proc, 25)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(acks) == 25, proc.stderr.read()
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        acked = [a for a, _ in acks]
        present = {r.id for r in mem.store.get_many(acked)}
        assert present == set(acked), f"lost acknowledged writes: {sorted(set(acked) - present)}"
        # The index loaded from disk finds them too.
        assert mem.search(mem.get(acked[-1]).text, k=1)[0].id == acked[-1]
    assert_no_half_records(store)


def test_killed_mid_batch_reopens_with_whole_batches_only(tmp_path):
    store = tmp_path / "s"
    create_store(store)
    size = 400
    proc = start_writer(store, "mid", batches=1000, size=size)
    try:
        acks = read_acks(proc, 2)
        time.sleep(0.15)  # land the kill inside a later batch
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert len(acks) == 2, proc.stderr.read()
    assert_no_half_records(store)
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        n = mem.count()
        assert n % size == 0, f"{n} memories is not a whole number of {size}-memory batches: a half batch survived"
        assert n >= 2 * size
        for a, b in acks:
            assert len(mem.store.get_many(range(a, b + 1))) == size
        assert len(mem.retriever) == n


def test_two_processes_adding_at_once_lose_nothing(tmp_path):
    store = tmp_path / "s"
    create_store(store)
    procs = [start_writer(store, tag, batches=40, size=5) for tag in ("alpha", "beta")]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip().endswith("DONE")
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        assert mem.count() == 400, f"expected 400 memories from two writers, found {mem.count()}"
        for tag in ("alpha", "beta"):
            assert len(mem.store.ids_matching(where={"tag": tag})) == 200
    assert_no_half_records(store)


def test_writes_of_another_process_are_visible_without_reopen(tmp_path):
    store = tmp_path / "s"
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        mem.add(["first memory of the reader"])
        proc = start_writer(store, "other", batches=3, size=2)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        hits = mem.search("other batch 2 item 1 about topic 5", k=1)
        assert hits and hits[0].text == "other batch 2 item 1 about topic 5"
        assert len(mem.retriever) == 7
    assert os.path.exists(store / "memory.db")
