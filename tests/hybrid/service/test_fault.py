"""Crash safety: `kill -9` of a real `hhmem serve` process in the middle of a write burst.

After a restart every acknowledged write must be present with its text, the store must open and
pass SQLite's integrity check, and no request may have been half-applied (a batch is all or nothing).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections import defaultdict

import httpx
import pytest

pytest.importorskip("fastapi")

pytestmark = pytest.mark.slow

MODEL = "hash-512"
NS = "crash"
#: Concurrent writer threads during the burst.
WRITERS = 4
#: Memories per add request (to check all-or-nothing batches).
BATCH = 3
#: Acknowledged requests to wait for before the kill.
ACKED_BEFORE_KILL = 30
#: Upper bounds that keep the test finite whatever happens.
MAX_REQUESTS_PER_WRITER = 400
BURST_DEADLINE_S = 90.0


def test_kill_9_during_write_burst_loses_no_acknowledged_write(tmp_path, servers):
    from hybrid import Memory

    store = tmp_path / "store"
    with Memory.open(store, encoder=MODEL, device="cpu") as mem:
        mem.add(["memory written before the server started"], namespace=NS)
    server = servers(store, model=MODEL)

    acked: dict[int, str] = {}  # id -> text of every write the server acknowledged (201 received)
    failed_requests = 0
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        nonlocal failed_requests
        with httpx.Client(base_url=server.url, timeout=10.0) as http:
            for n in range(MAX_REQUESTS_PER_WRITER):
                if stop.is_set():
                    return
                texts = [f"burst w{w} r{n} part {j} of {BATCH}" for j in range(BATCH)]
                try:
                    r = http.post(f"/v1/ns/{NS}/memories", json={"memories": [{"text": t} for t in texts]})
                except httpx.HTTPError:
                    with lock:
                        failed_requests += 1
                    return  # the server is gone
                if r.status_code == 201:
                    with lock:
                        acked.update(zip(r.json()["ids"], texts))

    threads = [threading.Thread(target=writer, args=(w,), daemon=True) for w in range(WRITERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + BURST_DEADLINE_S
    while len(acked) < ACKED_BEFORE_KILL * BATCH and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(acked) >= ACKED_BEFORE_KILL * BATCH, f"only {len(acked)} writes acknowledged before the deadline"
    os.kill(server.pid, signal.SIGKILL)  # the real thing: no shutdown handlers run
    server.proc.wait(30)
    assert server.proc.returncode == -signal.SIGKILL
    for t in threads:
        t.join(30)
    stop.set()
    assert not any(t.is_alive() for t in threads), "a writer thread did not finish"
    assert failed_requests >= 1, "the kill must land during the burst (some request must have been cut off)"

    # The store opens cleanly (Store.open runs quick_check) and passes a full integrity check.
    with Memory.open(store, encoder=MODEL, create=False, device="cpu") as mem:
        records = mem.list(namespace=NS, limit=1_000_000)
    conn = sqlite3.connect(str(store / "memory.db"))
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()

    present = {r.id: r.text for r in records}
    lost = {i: t for i, t in acked.items() if present.get(i) != t}
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged writes lost after kill -9: {list(lost.items())[:5]}"
    groups: dict[str, int] = defaultdict(int)
    for text in present.values():
        if text.startswith("burst "):
            groups[text.rsplit(" part ", 1)[0]] += 1
    half = {g: n for g, n in groups.items() if n != BATCH}
    assert not half, f"requests applied in part (a batch must be all or nothing): {half}"

    # A restarted server serves all of them, from its index as well as from the database.
    restarted = servers(store, model=MODEL)
    with restarted.client() as http:
        assert http.get(f"/v1/ns/{NS}/stats").json()["memories"] == len(present)
        for mid, text in list(acked.items())[:: max(1, len(acked) // 40)]:
            assert http.get(f"/v1/ns/{NS}/memories/{mid}").json()["text"] == text
            top = http.post(f"/v1/ns/{NS}/search", json={"query": text, "k": 1}).json()["results"]
            assert top and top[0]["id"] == mid, f"restarted server's index misses acknowledged write {mid}"
        r = http.post(f"/v1/ns/{NS}/memories", json={"memories": [{"text": "written after the restart"}]})
        assert r.status_code == 201 and r.json()["ids"][0] > max(present)
