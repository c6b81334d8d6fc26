"""A separate process that writes to a store; used by the crash and concurrency tests.

Usage: python writer_process.py STORE TAG BATCHES BATCH_SIZE
Prints ``ACK <first id> <last id>`` after each committed batch (flushed), then ``DONE``.
"""

from __future__ import annotations

import sys

from hybrid import Memory


def main() -> None:
    store, tag, batches, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    mem = Memory.open(store, encoder="hash", device="cpu")
    for b in range(batches):
        texts = [f"{tag} batch {b} item {i} about topic {(b * size + i) % 17}" for i in range(size)]
        ids = mem.add(texts, metadata={"tag": tag, "batch": b})
        print(f"ACK {ids[0]} {ids[-1]}", flush=True)
    mem.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
