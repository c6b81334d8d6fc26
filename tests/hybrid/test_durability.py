"""Crash safety and concurrent writers, with real processes, real kill -9 and real concurrency, on
both backends: a store folder (SQLite) and a PostgreSQL database (processes standing in for hosts)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hybrid import Memory

WRITER = Path(__file__).with_name("writer_process.py")
pytestmark = pytest.mark.slow


def start_writer(store: Path | str, tag: str, batches: int, size: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(store), tag, str(batches), str(size)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def create_store(store: Path | str) -> None:
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


def assert_no_half_records(store: Path | str) -> None:
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        orphans = mem.store.query(
            "SELECT COUNT(*) FROM memories m WHERE NOT EXISTS (SELECT 1 FROM keys k WHERE k.memory_id = m.id)")[0][0]
        dangling = mem.store.query(
            "SELECT COUNT(*) FROM keys k WHERE NOT EXISTS (SELECT 1 FROM memories m WHERE m.id = k.memory_id)")[0][0]
        if mem.store.folder is not None:
            assert mem.store.query("PRAGMA integrity_check")[0][0] == "ok"
    assert orphans == 0, f"{orphans} memories without keys"
    assert dangling == 0, f"{dangling} keys without a memory"


def test_acknowledged_writes_survive_kill_9(store_location):
    store = store_location
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


def test_killed_mid_batch_reopens_with_whole_batches_only(store_location):
    store = store_location
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


@pytest.mark.parametrize("writers", [2, 4])
def test_processes_adding_at_once_lose_nothing(store_location, writers):
    store = store_location
    create_store(store)
    tags = ["alpha", "beta", "gamma", "delta"][:writers]
    procs = [start_writer(store, tag, batches=40, size=5) for tag in tags]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert out.strip().endswith("DONE")
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        assert mem.count() == 200 * writers, f"expected {200 * writers} memories from {writers} writers, found {mem.count()}"
        for tag in tags:
            assert len(mem.store.ids_matching(where={"tag": tag})) == 200
        # The change log numbers commits in order: replaying it from 0 names every memory once.
        assert mem.store.changes_since(0)[1] == sorted(r[0] for r in mem.store.query("SELECT id FROM memories"))
    assert_no_half_records(store)


def test_writes_of_another_process_are_visible_without_reopen(store_location):
    store = store_location
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        mem.add(["first memory of the reader"])
        proc = start_writer(store, "other", batches=3, size=2)
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        hits = mem.search("other batch 2 item 1 about topic 5", k=1)
        assert hits and hits[0].text == "other batch 2 item 1 about topic 5"
        assert len(mem.retriever) == 7


def test_two_hosts_see_each_other_without_reopening(store_location):
    """Two processes on one store (two hosts of a PostgreSQL store), each writing once and then
    searching with the memory it opened before the other's write."""
    store = store_location
    create_store(store)
    texts = ["host one parked the van at gate nine", "host two left the keys under the mat"]
    host = Path(__file__).with_name("host_process.py")
    procs = [subprocess.Popen([sys.executable, str(host), str(store), mine, theirs], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for mine, theirs in (texts, texts[::-1])]
    outs = [p.communicate(timeout=180) for p in procs]
    stored = {}
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        lines = out.split()
        assert lines[0] == "STORED" and lines[2] == "SAW", f"a host did not see the other's write: {out!r}"
        stored[int(lines[1])] = int(lines[3])
    a, b = stored
    assert stored == {a: b, b: a}, f"each host must find the other's memory: {stored}"
