"""A process standing in for one host of a shared store: it stores its own memory, then searches
(without reopening) until the memory another host stores shows up.

Usage: python host_process.py STORE MINE THEIRS
Prints ``STORED <id>`` once its memory is committed, then ``SAW <id>`` (or ``MISSED`` after 60 s).
"""

from __future__ import annotations

import sys
import time

from hybrid import Memory
from hybrid.recall import RecallConfig


def main() -> None:
    store, mine, theirs = sys.argv[1:4]
    with Memory.open(store, encoder="hash", device="cpu") as mem:
        print(f"STORED {mem.add([mine])[0]}", flush=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            hits = mem.search(theirs, k=1, recall=RecallConfig.dense())
            if hits and hits[0].text == theirs:
                print(f"SAW {hits[0].id}", flush=True)
                return
            time.sleep(0.05)
        print("MISSED", flush=True)


if __name__ == "__main__":
    main()
